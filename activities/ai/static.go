package ai

import (
	"context"

	"tandem/activities/ai/lang"
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
	analyzer lang.Analyzer
	index    *index
}

// NewSimilarity learns term weights from a corpus.
func NewSimilarity(corpus []string) (*Similarity, error) {
	sc, err := lang.LoadScripts()
	if err != nil {
		return nil, err
	}
	a := lang.Analyzer{Scripts: sc}
	arts := make([]Article, len(corpus))
	for i, text := range corpus {
		arts[i] = Article{Title: text}
	}
	return &Similarity{analyzer: a, index: buildIndex(a, arts)}, nil
}

// Score returns the cosine similarity of a and b, from 0 to 1.
func (s *Similarity) Score(a, b string) float64 {
	va := s.index.weigh(termFreq(s.analyzer.Terms(a)))
	vb := s.index.weigh(termFreq(s.analyzer.Terms(b)))
	var dot float64
	for t, w := range va {
		dot += w * vb[t]
	}
	return dot
}

// Emotion scores a message on its own, as Respond does.
func (l *Local) Emotion(text string) Emotion {
	return l.emotion(text, l.analyzer.Normalize(text), l.analyzer.Scripts.DetectLanguage(text))
}

// emotion combines the lexicons (which name the emotion and see negation,
// intensity, capitals and emoji) with the learned models (calibrated on real
// complaints and posts): negativity is the model's probability where one
// exists for the script, distress the strongest of the named emotions and,
// for Chinese, the distress model's probability.
func (l *Local) emotion(raw, norm, language string) Emotion {
	e := emotion(raw, norm)
	feats := features(l.analyzer.ClassifierTerms(norm))
	negModel, distressModel := modelNegativityZH, modelDistressZH
	if isEnglish(language) {
		negModel, distressModel = modelNegativityEN, ""
	}
	if m := l.models[negModel]; m != nil {
		e.Negativity = round3(max(m.prob(feats), e.Anger, e.Anxiety, e.Sadness))
	}
	e.Distress = max(e.Anger, e.Anxiety, e.Sadness)
	if m := l.models[distressModel]; m != nil {
		e.Distress = max(e.Distress, m.prob(feats))
	}
	e.Distress = round3(e.Distress)
	return e
}
