package ai

import (
	"maps"
	"math"
	"slices"
	"sort"

	"tandem/activities/ai/lang"
)

// Article is a knowledge-base entry the local engine answers from.
type Article struct {
	ID        string   `json:"id"`
	Intent    string   `json:"intent"` // shared by an article's versions in other languages
	Title     string   `json:"title"`
	Answer    string   `json:"answer"`
	Questions []string `json:"questions"` // example questions customers ask
	Locale    string   `json:"locale"`    // en, zh-Hans, zh-Hant
	Domain    string   `json:"domain"`    // general, finance, medical, legal, ...
	Version   int64    `json:"version"`
}

// index is an immutable TF-IDF index over a tenant's articles: each title and
// example question is a document pointing at its article. Built once per
// knowledge-base version and then read by any number of goroutines.
type index struct {
	articles []Article
	docs     []int // document → article
	postings map[string][]posting
	idf      map[string]float64
	// unseenIDF weighs query terms no document has, as if one had: they
	// match nothing but still count against the match.
	unseenIDF float64
	// clf classifies messages into intents (intents[label]); nil where the
	// knowledge base is too small or too sparse to learn from.
	clf     *classifier
	intents []string
}

// Bounds within which the engine trains a classifier: at least two intents,
// at most maxClassifierIntents, and on average two examples an intent.
const maxClassifierIntents = 2000

type posting struct {
	doc    int
	weight float64 // of the term in the length-normalised document vector
}

// match is an article's score for a query: the cosine of the query and the
// article's closest document.
type match struct {
	article int
	score   float64
}

func buildIndex(a lang.Analyzer, articles []Article) *index {
	ix := &index{articles: articles, postings: map[string][]posting{}, idf: map[string]float64{}}
	var docTerms []map[string]float64
	for i, art := range articles {
		for _, text := range append([]string{art.Title}, art.Questions...) {
			tf := termFreq(a.Terms(text))
			if len(tf) == 0 {
				continue
			}
			ix.docs = append(ix.docs, i)
			docTerms = append(docTerms, tf)
		}
	}
	df := map[string]int{}
	for _, tf := range docTerms {
		for t := range tf {
			df[t]++
		}
	}
	n := float64(len(docTerms))
	for t, d := range df {
		ix.idf[t] = math.Log(1 + n/float64(d))
	}
	ix.unseenIDF = math.Log(1 + n)
	for doc, tf := range docTerms {
		vec := ix.weigh(tf)
		for _, t := range slices.Sorted(maps.Keys(vec)) {
			ix.postings[t] = append(ix.postings[t], posting{doc: doc, weight: vec[t]})
		}
	}
	ix.train(a)
	return ix
}

// train fits the intent classifier on every title and example question.
func (ix *index) train(a lang.Analyzer) {
	label := map[string]int{}
	var examples []example
	for _, art := range ix.articles {
		if _, ok := label[art.Intent]; !ok {
			label[art.Intent] = len(ix.intents)
			ix.intents = append(ix.intents, art.Intent)
		}
		for _, text := range append([]string{art.Title}, art.Questions...) {
			if f := features(a.ClassifierTerms(a.Normalize(text))); len(f) > 0 {
				examples = append(examples, example{features: f, label: label[art.Intent]})
			}
		}
	}
	n := len(ix.intents)
	if n < 2 || n > maxClassifierIntents || len(examples) < 2*n {
		ix.intents = nil
		return
	}
	ix.clf = trainClassifier(examples, n, 1, kbEpochs)
}

// classify returns the intents in order of probability, with it.
func (ix *index) classify(feats []string) []intentScore {
	p := ix.clf.predict(feats)
	out := make([]intentScore, len(p))
	for i, v := range p {
		out[i] = intentScore{intent: ix.intents[i], p: v}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].p > out[j].p })
	return out
}

// articleOf returns the first article of an intent.
func (ix *index) articleOf(intent string) Article {
	for _, a := range ix.articles {
		if a.Intent == intent {
			return a
		}
	}
	return Article{}
}

type intentScore struct {
	intent string
	p      float64
}

func termFreq(terms []string) map[string]float64 {
	tf := map[string]float64{}
	for _, t := range terms {
		tf[t]++
	}
	return tf
}

// weigh turns term counts into a unit vector of sublinear tf × idf.
func (ix *index) weigh(tf map[string]float64) map[string]float64 {
	vec := make(map[string]float64, len(tf))
	var norm float64
	for t, c := range tf {
		idf, ok := ix.idf[t]
		if !ok {
			idf = ix.unseenIDF
		}
		w := (1 + math.Log(c)) * idf
		vec[t] = w
		norm += w * w
	}
	norm = math.Sqrt(norm)
	for t := range vec {
		vec[t] /= norm
	}
	return vec
}

// search returns the articles closest to the query terms, best first, at
// most limit of them. Scores accumulate in dense arrays indexed by document
// and article, touching only what the query's postings reach.
func (ix *index) search(terms []string, limit int) []match {
	q := ix.weigh(termFreq(terms))
	if len(q) == 0 || limit <= 0 {
		return nil
	}
	docScore := make([]float64, len(ix.docs))
	var touched []int32
	for _, t := range slices.Sorted(maps.Keys(q)) { // a fixed order: float sums come out the same every time
		qw := q[t]
		for _, p := range ix.postings[t] {
			if docScore[p.doc] == 0 {
				touched = append(touched, int32(p.doc))
			}
			docScore[p.doc] += qw * p.weight
		}
	}
	best := make([]float64, len(ix.articles))
	var arts []int32
	for _, d := range touched {
		art := ix.docs[d]
		if best[art] == 0 {
			arts = append(arts, int32(art))
		}
		best[art] = max(best[art], docScore[d])
	}
	// Keep the limit best in a small sorted slice: the knowledge base may
	// have thousands of candidates, the caller wants a handful.
	out := make([]match, 0, limit+1)
	better := func(a, b match) bool { return a.score > b.score || (a.score == b.score && a.article < b.article) }
	for _, art := range arts {
		m := match{article: int(art), score: best[art]}
		if len(out) == limit && !better(m, out[limit-1]) {
			continue
		}
		i := sort.Search(len(out), func(i int) bool { return better(m, out[i]) })
		out = append(out, match{})
		copy(out[i+1:], out[i:])
		out[i] = m
		if len(out) > limit {
			out = out[:limit]
		}
	}
	return out
}
