package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/workflows"
)

// BenchmarkExportCases exports a tenant's cases a page at a time and
// reports the largest Go heap seen while it ran, for 5,000 cases and for
// TANDEM_BENCH_EXPORT_CASES (50,000 by default) in one process: an export
// whose memory does not grow with the cases reports about the same peak.
//
//	go test -run '^$' -bench ExportCases -benchtime 1x ./activities/store/
func BenchmarkExportCases(b *testing.B) {
	large := 50_000
	if v, err := strconv.Atoi(os.Getenv("TANDEM_BENCH_EXPORT_CASES")); err == nil && v > 0 {
		large = v
	}
	st := storetestNew(b)
	ctx := context.Background()
	now := time.Now().UTC()
	// The cases are copies of one written before encryption at rest, so
	// that filling a table of them takes one statement.
	if err := st.Owner(b).Exec(`INSERT INTO cases (tenant_id, id, workflow_id, customer_ref, subject, channel, priority, status,
			last_seq, opened_at, updated_at, customer_hash, tags, fields)
		SELECT 'acme', gen_random_uuid(), 'case:acme:' || i, 'cust-' || i, 'subject ' || i, 'web_chat', 'normal', ?, 1,
			?::timestamptz + i * interval '1 millisecond', ?, '\x00'::bytea, '["bulk"]', '{"tier":"gold"}'
		FROM generate_series(1, ?) AS i`, workflows.StatusResolved, now, now, large).Error; err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{5_000, large} {
		to := now.Add(time.Duration(n+1) * time.Millisecond)
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			for range b.N {
				runtime.GC()
				var peak atomic.Uint64
				done := make(chan struct{})
				go func() {
					var m runtime.MemStats
					for {
						runtime.ReadMemStats(&m)
						if m.HeapAlloc > peak.Load() {
							peak.Store(m.HeapAlloc)
						}
						select {
						case <-done:
							return
						case <-time.After(5 * time.Millisecond):
						}
					}
				}()
				rows := 0
				enc := json.NewEncoder(io.Discard)
				err := st.ExportCases(ctx, "acme", store.ListFilter{OpenedTo: &to}, func(r store.ExportRow) error {
					rows++
					return enc.Encode(r)
				})
				close(done)
				if err != nil || rows != n {
					b.Fatalf("exported %d of %d: %v", rows, n, err)
				}
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "cases/s")
			}
		})
	}
}
