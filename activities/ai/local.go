package ai

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tandem/activities/ai/lang"
	"tandem/activities/store"
)

// LocalEngineName and LocalEngineVersion identify the local engine in every
// recorded decision.
const (
	LocalEngineName    = "local"
	LocalEngineVersion = "tfidf-1"
)

// Source is where the local engine reads a tenant's knowledge base;
// *store.Store is one.
type Source interface {
	KBVersion(ctx context.Context, tenantID string) (int64, error)
	PublishedArticles(ctx context.Context, tenantID string) (int64, []store.Article, error)
}

// Local is the default engine: retrieval over the tenant's articles and
// their example questions, lexicon-based emotion, script-aware language
// detection. It keeps one index per tenant and rebuilds it when the
// knowledge-base version moves, checking at most once per RecheckEvery.
type Local struct {
	source       Source
	analyzer     lang.Analyzer
	recheckEvery time.Duration
	// outOfScopeBelow: a best retrieval match under this cosine means the
	// knowledge base has nothing on the question; minConfidence is the same
	// where a classifier ranks the intents.
	outOfScopeBelow float64
	minConfidence   float64

	models map[string]*binaryModel // learned emotion models, by name

	mu      sync.Mutex
	tenants map[string]*tenantIndex
}

type tenantIndex struct {
	mu      sync.Mutex // serialises rebuilds of this tenant's index
	version int64
	checked time.Time
	index   *index
}

// LocalOptions tune the local engine; zero values take the defaults.
type LocalOptions struct {
	RecheckEvery    time.Duration // default 1s
	OutOfScopeBelow float64       // retrieval alone: the cosine under which nothing matches; default 0.4
	MinConfidence   float64       // with a classifier: the confidence under which nothing matches; default 0.36
}

// DefaultMinConfidence was chosen on CLINC150's val and oos_val rows (see
// tandem eval): the highest in-scope accuracy with at least 60% of
// out-of-scope questions caught.
const DefaultMinConfidence = 0.36

// NewLocal returns the local engine reading from source.
func NewLocal(source Source, opts LocalOptions) (*Local, error) {
	sc, err := lang.LoadScripts()
	if err != nil {
		return nil, err
	}
	if opts.RecheckEvery <= 0 {
		opts.RecheckEvery = time.Second
	}
	if opts.OutOfScopeBelow <= 0 {
		opts.OutOfScopeBelow = 0.4
	}
	if opts.MinConfidence <= 0 {
		opts.MinConfidence = DefaultMinConfidence
	}
	models, err := loadModels()
	if err != nil {
		return nil, err
	}
	return &Local{source: source, analyzer: lang.Analyzer{Scripts: sc}, recheckEvery: opts.RecheckEvery, models: models,
		outOfScopeBelow: opts.OutOfScopeBelow, minConfidence: opts.MinConfidence, tenants: map[string]*tenantIndex{}}, nil
}

// indexFor returns the tenant's current index, rebuilding it if the
// knowledge base changed. Concurrent callers share one rebuild.
func (l *Local) indexFor(ctx context.Context, tenantID string) (*index, int64, error) {
	l.mu.Lock()
	t := l.tenants[tenantID]
	if t == nil {
		t = &tenantIndex{version: -1}
		l.tenants[tenantID] = t
	}
	l.mu.Unlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.index != nil && time.Since(t.checked) < l.recheckEvery {
		return t.index, t.version, nil
	}
	v, err := l.source.KBVersion(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	if t.index == nil || v != t.version {
		v, rows, err := l.source.PublishedArticles(ctx, tenantID)
		if err != nil {
			return nil, 0, err
		}
		arts := make([]Article, 0, len(rows))
		for _, r := range rows {
			arts = append(arts, Article{ID: r.ID, Intent: r.Intent, Title: r.Title, Answer: r.Answer,
				Questions: r.Questions, Locale: r.Locale, Domain: r.Domain, Version: r.Version})
		}
		t.index, t.version = buildIndex(l.analyzer, arts), v
	}
	t.checked = time.Now()
	return t.index, t.version, nil
}

// Respond reads the message and answers it from the knowledge base.
func (l *Local) Respond(ctx context.Context, req Request) (Response, error) {
	ix, kbVersion, err := l.indexFor(ctx, req.TenantID)
	if err != nil {
		return Response{}, fmt.Errorf("knowledge base: %w", err)
	}
	return l.respond(ix, kbVersion, req), nil
}

func (l *Local) respond(ix *index, kbVersion int64, req Request) Response {
	norm := l.analyzer.Normalize(req.Message)
	terms := l.analyzer.TermsOfNormalized(norm)
	language := l.analyzer.Scripts.DetectLanguage(req.Message)
	res := Response{
		Engine:         LocalEngineName,
		Model:          LocalEngineVersion + "/kb-" + strconv.FormatInt(kbVersion, 10),
		Language:       language,
		Emotion:        l.emotion(req.Message, norm, language),
		SensitiveTopic: sensitiveTopic(norm),
		Repeated:       repeats(l.analyzer, terms, req.Previous),
	}
	best, confidence, alternatives, found := l.match(ix, terms, norm)
	res.Confidence = round3(confidence)
	if !found {
		res.OutOfScope = true
		return res
	}
	answer := l.answerIn(ix, best, language)
	res.Answer = answer.Answer
	res.ArticleID, res.ArticleVersion, res.Intent, res.Domain = answer.ID, answer.Version, best.Intent, best.Domain
	res.Alternatives = alternatives
	if res.SensitiveTopic == "" && best.Domain != "" && best.Domain != "general" && best.Domain != "finance" {
		res.SensitiveTopic = best.Domain // medical, legal, …: answered only by people or vetted articles
	}
	res.Intents = l.severalIntents(ix, norm)
	return res
}

// match finds the article for the message. Where the knowledge base trained
// a classifier, its ten likeliest intents are ranked again by the mean of
// their probability and their closest example's cosine, and the confidence
// is the geometric mean of that score and the best cosine overall: the
// classifier tells intents apart, retrieval says whether the words are the
// knowledge base's at all. Elsewhere retrieval alone decides (confidence: the
// closest example's cosine). found is false when the message is out of scope.
func (l *Local) match(ix *index, terms []string, norm string) (best Article, confidence float64, alts []Alternative, found bool) {
	if ix.clf != nil {
		ranked := ix.classify(features(l.analyzer.ClassifierTerms(norm)))
		near := map[string]float64{}
		matches := ix.search(terms, 30)
		for _, m := range matches {
			in := ix.articles[m.article].Intent
			near[in] = max(near[in], m.score)
		}
		top := 0.0
		if len(matches) > 0 {
			top = matches[0].score
		}
		cands := slices.Clone(ranked[:min(10, len(ranked))])
		score := func(c intentScore) float64 { return (c.p + near[c.intent]) / 2 }
		slices.SortStableFunc(cands, func(a, b intentScore) int { return cmp.Compare(score(b), score(a)) })
		for _, c := range cands[1:min(4, len(cands))] {
			a := ix.articleOf(c.intent)
			alts = append(alts, Alternative{ArticleID: a.ID, Intent: a.Intent, Confidence: round3(score(c))})
		}
		confidence = math.Sqrt(score(cands[0]) * top)
		if len(terms) == 0 || confidence < l.minConfidence {
			return Article{}, confidence, nil, false
		}
		return ix.articleOf(cands[0].intent), confidence, alts, true
	}
	matches := ix.search(terms, 4)
	if len(matches) == 0 || matches[0].score < l.outOfScopeBelow {
		if len(matches) > 0 {
			confidence = matches[0].score
		}
		return Article{}, confidence, nil, false
	}
	best = ix.articles[matches[0].article]
	for _, m := range matches[1:] {
		if a := ix.articles[m.article]; a.Intent != best.Intent {
			alts = append(alts, Alternative{ArticleID: a.ID, Intent: a.Intent, Confidence: round3(m.score)})
		}
	}
	return best, matches[0].score, alts, true
}

// answerIn returns the version of the article in the customer's language:
// the same intent's article in that locale, else the other Chinese script
// converted, else the article as matched.
func (l *Local) answerIn(ix *index, best Article, language string) Article {
	var other *Article
	for i, a := range ix.articles {
		if a.Intent != best.Intent {
			continue
		}
		if a.Locale == language {
			return a
		}
		if strings.HasPrefix(a.Locale, "zh") && strings.HasPrefix(language, "zh") {
			other = &ix.articles[i]
		}
	}
	if other != nil {
		a := *other
		if language == lang.Traditional {
			a.Answer = l.analyzer.Scripts.ToTraditional(a.Answer)
		} else {
			a.Answer = l.analyzer.Scripts.ToSimplified(a.Answer)
		}
		return a
	}
	return best
}

// clauseBreak splits a message into the parts that may each ask something.
var clauseBreak = regexp.MustCompile(`[.?!;。？！；\n]+|\balso\b|\band then\b|另外|还有|以及|并且|顺便`)

// severalIntents returns the distinct intents of a message's clauses when at
// least two clauses each match an article well; nil otherwise.
func (l *Local) severalIntents(ix *index, norm string) []string {
	var intents []string
	for _, clause := range clauseBreak.Split(norm, -1) {
		terms := l.analyzer.TermsOfNormalized(clause)
		if len(terms) < 2 {
			continue
		}
		m := ix.search(terms, 1)
		if len(m) == 0 || m[0].score < 0.5 {
			continue
		}
		intent := ix.articles[m[0].article].Intent
		if !slices.Contains(intents, intent) {
			intents = append(intents, intent)
		}
	}
	if len(intents) < 2 {
		return nil
	}
	return intents
}

// repeats reports whether the message asks what an earlier one asked:
// most of its terms appear in one of them and vice versa.
func repeats(a lang.Analyzer, terms []string, previous []string) bool {
	cur := termFreq(terms)
	if len(cur) == 0 {
		return false
	}
	for _, p := range previous {
		prev := termFreq(a.Terms(p))
		shared := 0
		for t := range cur {
			if prev[t] > 0 {
				shared++
			}
		}
		union := len(cur) + len(prev) - shared
		if union > 0 && float64(shared)/float64(union) >= 0.7 {
			return true
		}
	}
	return false
}

func round3(x float64) float64 {
	return float64(int64(x*1000+0.5)) / 1000
}
