package ai

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"tandem/activities/store"
)

// syntheticKB makes n articles of q example questions each from a vocabulary
// of made-up words with a Zipf-like spread, seeded so every run is the same.
func syntheticKB(n, q int) []store.Article {
	rng := rand.New(rand.NewPCG(7, 7))
	vocab := make([]string, 20000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%x", i*2654435761%1000003)
	}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 3)), 1.1, 1, uint64(len(vocab)-1))
	sentence := func() string {
		words := make([]string, 6+rng.IntN(8))
		for i := range words {
			words[i] = vocab[zipf.Uint64()]
		}
		return strings.Join(words, " ")
	}
	arts := make([]store.Article, n)
	for i := range arts {
		qs := make([]string, q)
		for j := range qs {
			qs[j] = sentence()
		}
		arts[i] = store.Article{ID: fmt.Sprint(i), Intent: fmt.Sprintf("intent-%d", i), Title: sentence(), Answer: "answer",
			Questions: qs, Locale: "en", Domain: "general", Version: 1, Published: true}
	}
	return arts
}

func benchEngine(b *testing.B, n, q int) {
	eng, err := NewLocal(StaticSource{Articles: syntheticKB(n, q)}, LocalOptions{RecheckEvery: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	if _, err := eng.Respond(ctx, Request{TenantID: "t", Message: "warm up"}); err != nil { // builds the index
		b.Fatal(err)
	}
	build := time.Since(start)
	queries := syntheticKB(200, 1)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if _, err := eng.Respond(ctx, Request{TenantID: "t", Message: queries[i%len(queries)].Questions[0]}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(build.Seconds(), "build-s") // after the loop: ResetTimer drops reported metrics
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkRespond10kArticles: retrieval over 10,000 articles of three
// questions (more intents than the classifier trains on).
func BenchmarkRespond10kArticles(b *testing.B) { benchEngine(b, 10000, 3) }

// BenchmarkRespond1kIntentsClassifier: 1,000 intents of ten questions, with
// the classifier.
func BenchmarkRespond1kIntentsClassifier(b *testing.B) { benchEngine(b, 1000, 10) }
