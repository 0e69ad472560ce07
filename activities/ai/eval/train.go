package eval

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"tandem/activities/ai"
)

// TrainEmotion trains the engine's emotion models from the data in dir and
// writes them to out (activities/ai/models). Each learns only from rows the
// evaluation does not report on: the even rows of the sets whose odd rows it
// reports, the eval split of SMP2020 (reported on test), and sets it does not
// evaluate at all. It returns what it wrote.
func TrainEmotion(dir, out string) ([]string, error) {
	type source struct {
		folder string
		use    func(i int, r row) bool // the rows to learn from
		yes    func(r row) bool
	}
	even := func(i int, _ row) bool { return i%2 == 0 }
	all := func(int, row) bool { return true }
	negative := func(r row) bool { return r.Label == "negative" }
	models := []struct {
		name    string
		sources []source
	}{
		{"negativity_en", []source{{"twitter_us_airline_sentiment_en", even, negative}}},
		{"negativity_zh", []source{
			{"waimai_10k_zh", even, negative},
			{"ChnSentiCorp_htl_all_zh", all, negative},
			{"online_shopping_10_cats_zh", all, negative},
		}},
		{"distress_zh", []source{
			{"smp2020_ewect_zh", func(_ int, r row) bool { return r.SourceSplit == "eval" },
				func(r row) bool { return r.Label == "angry" || r.Label == "fear" || r.Label == "sad" }},
			{"clue_emotion2020_zh", all,
				func(r row) bool { return r.Label == "anger" || r.Label == "fear" || r.Label == "sadness" }},
		}},
	}
	var wrote []string
	for _, m := range models {
		var texts []string
		var yes []bool
		provenance := "trained by tandem train-emotion on"
		for _, s := range m.sources {
			rows, err := load(filepath.Join(dir, s.folder, "public.jsonl"))
			if errors.Is(err, fs.ErrNotExist) {
				return wrote, fmt.Errorf("%s needs %s: %w", m.name, s.folder, err)
			}
			if err != nil {
				return wrote, err
			}
			n := 0
			for i, r := range rows {
				if s.use(i, r) {
					texts, yes = append(texts, r.Text), append(yes, s.yes(r))
					n++
				}
			}
			provenance += fmt.Sprintf(" %s (%d rows)", s.folder, n)
		}
		path := filepath.Join(out, m.name+".tsv")
		f, err := os.Create(path)
		if err != nil {
			return wrote, err
		}
		err = ai.TrainEmotionModel(m.name, provenance, texts, yes, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return wrote, fmt.Errorf("%s: %w", m.name, err)
		}
		wrote = append(wrote, path)
	}
	return wrote, nil
}
