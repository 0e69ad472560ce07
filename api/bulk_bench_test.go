package api_test

import (
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"tandem/api"
)

// BenchmarkMessageDuringBulk is what a bulk action costs live traffic:
// customers' messages (4 at a time, each answered by the AI) with no bulk
// action running, then while a supervisor's bulk close of
// TANDEM_BENCH_BULK_CASES cases (10,000 by default) runs at its default
// rate (from its hundredth case on), then with none again, in one process
// against the real stack:
//
//	go test -run '^$' -bench MessageDuringBulk -benchtime 1x ./api/
//
// It reports each phase's p50 and p99 and the p50 during the bulk action
// over the mean of the two without. A bulk action's load is its rate (20
// cases a second), not its size: a larger one lasts longer at the same load.
func BenchmarkMessageDuringBulk(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("TANDEM_BENCH_BULK_CASES")); err == nil && v > 0 {
		n = v
	}
	s := newStackWith(b, 0)
	var live []string
	for i := range 20 {
		live = append(live, s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-live", Channel: "web_chat", Message: inScope(i)}).Case.ID)
	}
	stale := make([]string, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				stale[i] = s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-stale", Channel: "email", Message: inScope(i)}).Case.ID
			}
		})
	}
	wg.Wait()
	phase := func(name string, messages int) time.Duration {
		lat := make([]time.Duration, messages)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < messages; i += 4 {
					start := time.Now()
					if r := s.do("POST", "/v1/cases/"+live[i%len(live)]+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}); r.Status != http.StatusOK {
						b.Errorf("message: %d %s", r.Status, r.Body)
					}
					lat[i] = time.Since(start)
				}
			})
		}
		wg.Wait()
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.Logf("%s: p50 %.1f ms, p99 %.1f ms over %d messages", name, ms(p50), ms(p99), messages)
		b.ReportMetric(ms(p50), name+"-p50-ms")
		return p50
	}
	for range b.N {
		before := phase("without", 400)
		r := s.do("POST", "/v1/bulk", tenantA+"/supervisor", api.BulkRequest{Action: "close", CaseIDs: stale, Reason: "stale"})
		if r.Status != http.StatusAccepted {
			b.Fatalf("bulk: %d %s", r.Status, r.Body)
		}
		var bulk api.BulkBody
		r.decode(b, &bulk)
		// Measured once the action runs at its rate, for 1,200 messages
		// (about ten seconds, a few hundred cases).
		for bulk.Bulk.Counts["done"] < 100 {
			time.Sleep(500 * time.Millisecond)
			s.do("GET", "/v1/bulk/"+bulk.Bulk.ID+"?limit=1", tenantA+"/supervisor", nil).decode(b, &bulk)
		}
		during := phase("during", 1200)
		s.do("GET", "/v1/bulk/"+bulk.Bulk.ID, tenantA+"/supervisor", nil).decode(b, &bulk)
		if bulk.Bulk.Status != "running" {
			b.Logf("the bulk action finished during the phase (%v): the phase measured less than its whole", bulk.Bulk.Counts)
		}
		b.Logf("bulk progress at the end of the phase: %v of %d", bulk.Bulk.Counts, bulk.Bulk.Total)
		s.do("POST", "/v1/bulk/"+bulk.Bulk.ID+"/cancel", tenantA+"/supervisor", nil)
		time.Sleep(6 * time.Second) // the cancellation reaches the page with its next heartbeat
		after := phase("after", 400)
		b.ReportMetric(float64(during)/float64((before+after)/2), "during/without-p50")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
