// Package eval measures the AI layer on public data laid out as in
// ../shared/eval/: one folder per data set holding public.jsonl. Each
// protocol is fixed, so figures from different commits compare; where a
// threshold is chosen, it is chosen on one part of the data and reported on
// the other.
package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"tandem/activities/ai"
	"tandem/activities/store"
)

// Result is one figure of the evaluation.
type Result struct {
	Dataset string  `json:"dataset"`
	Metric  string  `json:"metric"`
	Value   float64 `json:"value"`
	N       int     `json:"n"`                // queries or rows measured
	Target  float64 `json:"target,omitempty"` // the target, where it sets one
	Met     bool    `json:"met"`
	Note    string  `json:"note,omitempty"`
}

// row is a line of public.jsonl; Label is a string or a number there.
type row struct {
	ID          string          `json:"id"`
	Text        string          `json:"text"`
	TextA       string          `json:"text_a"`
	TextB       string          `json:"text_b"`
	RawLabel    json.RawMessage `json:"label"`
	SourceSplit string          `json:"source_split"`
	Label       string          `json:"-"`
}

// ErrNoData means the folder holds none of the data sets.
var ErrNoData = errors.New("no evaluation data found")

// Run evaluates every data set present under dir and returns the figures in
// a fixed order; absent sets are left out.
func Run(ctx context.Context, dir string) ([]Result, error) {
	var out []Result
	type step struct {
		folder string
		run    func(context.Context, []row) ([]Result, error)
	}
	steps := []step{
		{"banking77_en", banking77},
		{"clinc150_oos_en", clinc150},
		{"bitext_customer_support_en", bitext},
		{"lcqmc_zh", lcqmc},
		{"bq_corpus_zh", pairs("bq_corpus_zh")},
		{"zh_hant_s2twp_converted/bq_corpus_zh", pairs("bq_corpus_zh (zh-Hant)")},
		{"twitter_us_airline_sentiment_en", negativeVsNot("twitter_us_airline_sentiment_en", "negative-vs-not accuracy", 0.86)},
		{"smp2020_ewect_zh", distress("smp2020_ewect_zh")},
		{"zh_hant_s2twp_converted/smp2020_ewect_zh", distress("smp2020_ewect_zh (zh-Hant)")},
		{"waimai_10k_zh", negativeVsNot("waimai_10k_zh", "pos/neg accuracy", 0.88)},
		{"zh_hant_s2twp_converted/waimai_10k_zh", negativeVsNot("waimai_10k_zh (zh-Hant)", "pos/neg accuracy", 0.88)},
	}
	for _, s := range steps {
		rows, err := load(filepath.Join(dir, s.folder, "public.jsonl"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		res, err := s.run(ctx, rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.folder, err)
		}
		out = append(out, res...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoData, dir)
	}
	return out, nil
}

func load(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var s string
		if json.Unmarshal(r.RawLabel, &s) == nil {
			r.Label = s
		} else {
			r.Label = strings.Trim(string(r.RawLabel), `"`)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

func result(dataset, metric string, value float64, n int, target float64, note string) Result {
	return Result{Dataset: dataset, Metric: metric, Value: value, N: n, Target: target, Met: value >= target, Note: note}
}

// engine builds the local engine over articles made from labelled rows: one
// article per label, its rows as example questions.
func engine(kb []row, locale string) (*ai.Local, error) {
	byLabel := map[string][]string{}
	for _, r := range kb {
		byLabel[r.Label] = append(byLabel[r.Label], r.Text)
	}
	labels := make([]string, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	arts := make([]store.Article, 0, len(labels))
	for _, l := range labels {
		arts = append(arts, store.Article{ID: l, Intent: l, Title: strings.ReplaceAll(l, "_", " "), Answer: l,
			Questions: byLabel[l], Locale: locale, Domain: "general", Version: 1, Published: true})
	}
	return ai.NewLocal(ai.StaticSource{Articles: arts}, ai.LocalOptions{})
}

// intentAccuracy asks the engine each query and counts the right intents
// among in-scope queries and the out-of-scope flags among the others.
func intentAccuracy(ctx context.Context, eng *ai.Local, queries []row, oos string) (inScope float64, nIn int, oosRecall float64, nOOS int, err error) {
	right, flagged := 0, 0
	for _, q := range queries {
		res, err := eng.Respond(ctx, ai.Request{TenantID: "eval", Message: q.Text})
		if err != nil {
			return 0, 0, 0, 0, err
		}
		if q.Label == oos {
			nOOS++
			if res.OutOfScope {
				flagged++
			}
			continue
		}
		nIn++
		if !res.OutOfScope && res.Intent == q.Label {
			right++
		}
	}
	return ratio(right, nIn), nIn, ratio(flagged, nOOS), nOOS, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func split(rows []row, isKB func(row) bool) (kb, queries []row) {
	for _, r := range rows {
		if isKB(r) {
			kb = append(kb, r)
		} else {
			queries = append(queries, r)
		}
	}
	return kb, queries
}

// intentResult measures top-1 intent accuracy with a knowledge base of kb.
func intentResult(ctx context.Context, dataset string, kb, queries []row, target float64, note string) ([]Result, error) {
	eng, err := engine(kb, "en")
	if err != nil {
		return nil, err
	}
	acc, n, _, _, err := intentAccuracy(ctx, eng, queries, "")
	if err != nil {
		return nil, err
	}
	return []Result{result(dataset, "top-1 intent accuracy", acc, n, target, note)}, nil
}

func banking77(ctx context.Context, rows []row) ([]Result, error) {
	kb, queries := split(rows, func(r row) bool { return r.SourceSplit == "train" })
	return intentResult(ctx, "banking77_en", kb, queries, 0.90, "KB: train rows; queries: the rest")
}

func clinc150(ctx context.Context, rows []row) ([]Result, error) {
	var kb, queries []row
	for _, r := range rows {
		switch r.SourceSplit {
		case "train":
			kb = append(kb, r)
		case "test", "oos_test":
			queries = append(queries, r)
		}
	}
	eng, err := engine(kb, "en")
	if err != nil {
		return nil, err
	}
	acc, n, recall, nOOS, err := intentAccuracy(ctx, eng, queries, "oos")
	if err != nil {
		return nil, err
	}
	return []Result{
		result("clinc150_oos_en", "in-scope accuracy", acc, n, 0.90, "KB: train; queries: test"),
		result("clinc150_oos_en", "out-of-scope recall", recall, nOOS, 0.60, "oos_test, same threshold"),
	}, nil
}

// bitext holds out 30% of each intent (rows 0–2 of every 10, by ID) as queries.
func bitext(ctx context.Context, rows []row) ([]Result, error) {
	byLabel := map[string][]row{}
	for _, r := range rows {
		byLabel[r.Label] = append(byLabel[r.Label], r)
	}
	var kb, queries []row
	for _, rs := range byLabel {
		slices.SortFunc(rs, func(a, b row) int { return strings.Compare(a.ID, b.ID) })
		for i, r := range rs {
			if i%10 < 3 {
				queries = append(queries, r)
			} else {
				kb = append(kb, r)
			}
		}
	}
	slices.SortFunc(queries, func(a, b row) int { return strings.Compare(a.ID, b.ID) })
	return intentResult(ctx, "bitext_customer_support_en", kb, queries, 0.95, "30% of each intent held out")
}

// lcqmc retrieves, for each positive pair's text_a, the text_b among all.
func lcqmc(ctx context.Context, rows []row) ([]Result, error) {
	ids := map[string]string{} // text_b → article ID
	var arts []store.Article
	for _, r := range rows {
		if _, ok := ids[r.TextB]; !ok {
			id := fmt.Sprintf("b%d", len(ids))
			ids[r.TextB] = id
			arts = append(arts, store.Article{ID: id, Intent: id, Title: r.TextB, Answer: r.TextB, Locale: "zh-Hans", Domain: "general", Version: 1, Published: true})
		}
	}
	eng, err := ai.NewLocal(ai.StaticSource{Articles: arts}, ai.LocalOptions{})
	if err != nil {
		return nil, err
	}
	hits, n := 0, 0
	for _, r := range rows {
		if r.Label != "1" {
			continue
		}
		n++
		res, err := eng.Respond(ctx, ai.Request{TenantID: "eval", Message: r.TextA})
		if err != nil {
			return nil, err
		}
		if res.Intent == ids[r.TextB] {
			hits++
		}
	}
	return []Result{result("lcqmc_zh", "retrieval hit@1", ratio(hits, n), n, 0.85, fmt.Sprintf("among %d distinct text_b", len(arts)))}, nil
}

// pairs measures same/different accuracy by a similarity threshold chosen on
// the dev split and applied to the test split.
func pairs(name string) func(context.Context, []row) ([]Result, error) {
	return func(_ context.Context, rows []row) ([]Result, error) {
		corpus := make([]string, 0, 2*len(rows))
		for _, r := range rows {
			corpus = append(corpus, r.TextA, r.TextB)
		}
		sim, err := ai.NewSimilarity(corpus)
		if err != nil {
			return nil, err
		}
		var dev, test []scored
		for _, r := range rows {
			s := scored{score: sim.Score(r.TextA, r.TextB), positive: r.Label == "1"}
			if r.SourceSplit == "dev" {
				dev = append(dev, s)
			} else {
				test = append(test, s)
			}
		}
		t := bestThreshold(dev, accuracy)
		return []Result{result(name, "pair accuracy", accuracy(test, t), len(test), 0.75,
			fmt.Sprintf("similarity ≥ %.2f, chosen on dev", t))}, nil
	}
}

type scored struct {
	score    float64
	positive bool
}

func accuracy(s []scored, t float64) float64 {
	right := 0
	for _, x := range s {
		if (x.score >= t) == x.positive {
			right++
		}
	}
	return ratio(right, len(s))
}

func f1(s []scored, t float64) float64 {
	tp, fp, fn := 0, 0, 0
	for _, x := range s {
		pred := x.score >= t
		switch {
		case pred && x.positive:
			tp++
		case pred:
			fp++
		case x.positive:
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	p, r := float64(tp)/float64(tp+fp), float64(tp)/float64(tp+fn)
	return 2 * p * r / (p + r)
}

// bestThreshold tries thresholds from 0 to 1 in steps of 0.01.
func bestThreshold(s []scored, metric func([]scored, float64) float64) float64 {
	best, bestT := -1.0, 0.5
	for i := 1; i < 100; i++ {
		t := float64(i) / 100
		if m := metric(s, t); m > best {
			best, bestT = m, t
		}
	}
	return bestT
}

// halves splits rows by the parity of their position, a fixed split.
func halves(s []scored) (even, odd []scored) {
	for i, x := range s {
		if i%2 == 0 {
			even = append(even, x)
		} else {
			odd = append(odd, x)
		}
	}
	return even, odd
}

func emotionEngine() (*ai.Local, error) {
	return ai.NewLocal(ai.StaticSource{}, ai.LocalOptions{})
}

// distress: angry, fear or sad vs the rest, by the strongest of anger,
// anxiety and sadness; threshold chosen on the eval split, F1 on test.
func distress(name string) func(context.Context, []row) ([]Result, error) {
	return func(_ context.Context, rows []row) ([]Result, error) {
		eng, err := emotionEngine()
		if err != nil {
			return nil, err
		}
		var tune, report []scored
		for _, r := range rows {
			e := eng.Emotion(r.Text)
			s := scored{score: e.Distress, positive: r.Label == "angry" || r.Label == "fear" || r.Label == "sad"}
			if r.SourceSplit == "eval" {
				tune = append(tune, s)
			} else {
				report = append(report, s)
			}
		}
		t := bestThreshold(tune, f1)
		return []Result{result(name, "distress F1", f1(report, t), len(report), 0.80,
			fmt.Sprintf("distress ≥ %.2f, chosen on eval", t))}, nil
	}
}

// negativeVsNot: rows labelled negative against the rest, by the negativity
// score; threshold chosen on even rows, reported on odd.
func negativeVsNot(name, metric string, target float64) func(context.Context, []row) ([]Result, error) {
	return func(_ context.Context, rows []row) ([]Result, error) {
		eng, err := emotionEngine()
		if err != nil {
			return nil, err
		}
		s := make([]scored, 0, len(rows))
		for _, r := range rows {
			s = append(s, scored{score: eng.Emotion(r.Text).Negativity, positive: r.Label == "negative"})
		}
		tune, report := halves(s)
		t := bestThreshold(tune, accuracy)
		return []Result{result(name, metric, accuracy(report, t), len(report), target,
			fmt.Sprintf("negativity ≥ %.2f, chosen on even rows, reported on odd", t))}, nil
	}
}
