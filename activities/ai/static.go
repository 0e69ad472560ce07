package ai

import (
	"context"

	"tandem/activities/store"
)

// StaticSource serves a fixed set of articles as every tenant's knowledge
// base (version 1): for evaluations and tests that need no database.
type StaticSource struct {
	Articles []store.Article
}

// KBVersion is always 1.
func (StaticSource) KBVersion(context.Context, string) (int64, error) { return 1, nil }

// PublishedArticles returns the articles.
func (s StaticSource) PublishedArticles(context.Context, string) (int64, []store.Article, error) {
	return 1, s.Articles, nil
}

// Similarity scores how alike two texts are: the cosine of their TF-IDF
// vectors, terms weighed by their rarity in a corpus.
type Similarity struct {
	analyzer analyzer
	index    *index
}

// NewSimilarity learns term weights from a corpus.
func NewSimilarity(corpus []string) (*Similarity, error) {
	sc, err := loadScripts()
	if err != nil {
		return nil, err
	}
	a := analyzer{scripts: sc}
	arts := make([]Article, len(corpus))
	for i, text := range corpus {
		arts[i] = Article{Title: text}
	}
	return &Similarity{analyzer: a, index: buildIndex(a, arts)}, nil
}

// Score returns the cosine similarity of a and b, from 0 to 1.
func (s *Similarity) Score(a, b string) float64 {
	va := s.index.weigh(termFreq(s.analyzer.terms(a)))
	vb := s.index.weigh(termFreq(s.analyzer.terms(b)))
	var dot float64
	for t, w := range va {
		dot += w * vb[t]
	}
	return dot
}

// Emotion scores a message on its own, as Respond does.
func (l *Local) Emotion(text string) Emotion {
	return emotion(text, l.analyzer.normalize(text))
}
