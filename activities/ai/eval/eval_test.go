package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// write makes a data set folder with the given JSON lines.
func write(t *testing.T, dir, name string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "public.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The protocols run on data laid out as ../shared/eval is and measure what
// they say: small hand-made sets whose right answers are known.
func TestRunMeasuresEachProtocol(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "banking77_en",
		`{"id":"1","text":"my card has not arrived","label":"card_arrival","source_split":"train"}`,
		`{"id":"2","text":"how do I top up my account","label":"top_up","source_split":"train"}`,
		`{"id":"3","text":"card still has not arrived","label":"card_arrival","source_split":"test"}`,
		`{"id":"4","text":"top up my account please","label":"top_up","source_split":"test"}`)
	write(t, dir, "clinc150_oos_en",
		`{"id":"1","text":"what is the weather today","label":"weather","source_split":"train"}`,
		`{"id":"2","text":"set an alarm for seven","label":"alarm","source_split":"train"}`,
		`{"id":"3","text":"weather today please","label":"weather","source_split":"test"}`,
		`{"id":"4","text":"who won the football match","label":"oos","source_split":"oos_test"}`,
		`{"id":"5","text":"set alarm","label":"oos","source_split":"oos_train"}`)
	write(t, dir, "twitter_us_airline_sentiment_en",
		`{"id":"1","text":"worst airline ever, furious","label":"negative"}`,
		`{"id":"2","text":"thanks, great flight","label":"positive"}`,
		`{"id":"3","text":"absolutely terrible and rude staff","label":"negative"}`,
		`{"id":"4","text":"lovely crew, thank you","label":"positive"}`)
	results, err := Run(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for _, r := range results {
		got[r.Dataset+"/"+r.Metric] = r
	}
	for key, want := range map[string]float64{
		"banking77_en/top-1 intent accuracy":                       1,
		"clinc150_oos_en/in-scope accuracy":                        1,
		"clinc150_oos_en/out-of-scope recall":                      1,
		"twitter_us_airline_sentiment_en/negative-vs-not accuracy": 1,
	} {
		r, ok := got[key]
		if !ok || r.Value != want {
			t.Errorf("%s = %+v, want %v", key, r, want)
		}
	}
	if len(results) != 4 {
		t.Errorf("%d figures, want 4: absent sets are left out", len(results))
	}
}

func TestRunWithoutData(t *testing.T) {
	if _, err := Run(context.Background(), t.TempDir()); !errors.Is(err, ErrNoData) {
		t.Fatalf("empty folder: %v, want ErrNoData", err)
	}
}

func TestBestThreshold(t *testing.T) {
	s := []scored{{0.1, false}, {0.2, false}, {0.6, true}, {0.9, true}}
	if th := bestThreshold(s, accuracy); accuracy(s, th) != 1 || th <= 0.2 || th > 0.6 {
		t.Fatalf("threshold %v", th)
	}
	if f := f1([]scored{{0.9, true}, {0.9, false}, {0.1, true}}, 0.5); f != 0.5 {
		t.Fatalf("f1 = %v, want 0.5", f)
	}
}
