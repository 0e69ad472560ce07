package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tandem/activities/store"
	"tandem/activities/webhooks"
	"tandem/policies/service"
	"tandem/workflows"
)

// benchWebhooks registers an endpoint on loopback taking every event, sends
// each case another message with it on, and reports the throughput against
// the same scenario without it (off, measured just before) and the delay
// from each AI reply's transition to its delivery.
func benchWebhooks(ctx context.Context, cfg config, st *store.Store, tc client.Client, tenant string, caseIDs []string, conc int,
	off benchResult, stdout io.Writer, message func(context.Context, int) error) error {
	var mu sync.Mutex
	var lags []time.Duration
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Type       string
			OccurredAt time.Time `json:"occurred_at"`
		}
		if json.NewDecoder(r.Body).Decode(&ev) == nil && ev.Type == "message.created" {
			mu.Lock()
			lags = append(lags, time.Since(ev.OccurredAt))
			mu.Unlock()
		}
	}))
	defer rcv.Close()
	if err := st.AllowPrivateWebhooks(ctx, tenant, true); err != nil {
		return err
	}
	secret, err := webhooks.NewSecret()
	if err != nil {
		return err
	}
	hook, err := st.CreateWebhook(ctx, tenant, "bench", store.WebhookSpec{URL: rcv.URL, EventTypes: store.WebhookEventTypes}, secret)
	if err != nil {
		return err
	}
	defer st.DeleteWebhook(context.WithoutCancel(ctx), tenant, hook.ID) //nolint:errcheck // best effort; its workflow then ends
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WebhookWorkflowID(tenant, hook.ID), TaskQueue: cfg.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}, workflows.WebhookWorkflowName,
		workflows.WebhookInput{TenantID: tenant, EndpointID: hook.ID}); err != nil {
		return err
	}
	on := measure(ctx, len(caseIDs), conc, message)
	on.print(stdout, "message, webhooks on (HTTP)")
	if off.perSec > 0 && off.p50 > 0 {
		fmt.Fprintf(stdout, "%-28s %8s %9.2fx %8.2fx (throughput, p50: on / off)\n", "  webhooks on / off", "",
			on.perSec/off.perSec, float64(on.p50)/float64(off.p50))
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		n := len(lags)
		mu.Unlock()
		if n >= len(caseIDs) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lags) == 0 {
		return errors.New("bench: no webhook arrived")
	}
	slices.Sort(lags)
	fmt.Fprintf(stdout, "webhook delivery (transition → receiver): %d replies, p50 %.1f ms, p99 %.1f ms\n", len(lags),
		float64(lags[len(lags)/2].Microseconds())/1000, float64(lags[min(len(lags)-1, len(lags)*99/100)].Microseconds())/1000)
	return nil
}

// shortSLA gives the tenant's cases opened from now a resolution target of d,
// warned at half of it, on a clock that runs around the clock; the returned
// func puts the tenant's policy back (as a new version), once.
func shortSLA(ctx context.Context, st *store.Store, tenant string, d time.Duration) (func(), error) {
	prior, err := st.ServicePolicy(ctx, tenant)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(prior)
	if err != nil {
		return nil, err
	}
	p, err := service.Parse(raw) // a deep copy
	if err != nil {
		return nil, err
	}
	p.SLA.Resolution = map[string]service.Duration{}
	for _, prio := range []string{"low", "normal", "high", "urgent"} {
		p.SLA.Resolution[prio] = service.Duration(d)
	}
	p.SLA.WarnAt, p.SLA.OnBreach = []float64{0.5}, "raise_priority"
	p.BusinessHours = service.BusinessHours{TimeZone: "UTC", Weekdays: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"},
		Open: "00:00", Close: "24:00"}
	if bad := p.Validate(); len(bad) > 0 {
		return nil, fmt.Errorf("bench: the short SLA policy is invalid: %s", strings.Join(bad, "; "))
	}
	if _, err := st.SetServicePolicy(ctx, tenant, p, "bench"); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if _, err := st.SetServicePolicy(context.WithoutCancel(ctx), tenant, prior, "bench"); err != nil {
				fmt.Fprintf(os.Stderr, "bench: put the service policy back: %v\n", err)
			}
		})
	}, nil
}

// printTimers waits (at most the target again) until every open case's
// resolution timer has fired, then reports how late the breaches were
// recorded after their deadlines, as the workflows saw them, and how many
// SLA timers fired while the messages were measured.
func printTimers(ctx context.Context, st *store.Store, tenant string, ids []string, d time.Duration, msgWindow [2]time.Time, stdout io.Writer) error {
	var opened struct{ Last time.Time }
	if err := st.DB().WithContext(ctx).Raw(`SELECT max(opened_at) AS last FROM cases WHERE tenant_id = ? AND id::text IN ?`, tenant, ids).
		Scan(&opened).Error; err != nil {
		return err
	}
	count := func() (int64, error) {
		var n int64
		err := st.DB().WithContext(ctx).Raw(`SELECT count(*) FROM audit_events WHERE tenant_id = ? AND action = ? AND case_id IN ?`,
			tenant, workflows.AuditSLABreach, ids).Scan(&n).Error
		return n, err
	}
	giveUp := opened.Last.Add(2 * d)
	for {
		n, err := count()
		if err != nil {
			return err
		}
		if n >= int64(len(ids)) || time.Now().After(giveUp) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	var lags []float64
	if err := st.DB().WithContext(ctx).Raw(`SELECT extract(epoch FROM a.occurred_at - (c.opened_at + ?::interval)) * 1000
		FROM audit_events a JOIN cases c ON c.tenant_id = a.tenant_id AND c.id::text = a.case_id
		WHERE a.tenant_id = ? AND a.action = ? AND a.case_id IN ? ORDER BY 1`,
		fmt.Sprintf("%d milliseconds", d.Milliseconds()), tenant, workflows.AuditSLABreach, ids).Scan(&lags).Error; err != nil {
		return err
	}
	var during int64
	if err := st.DB().WithContext(ctx).Raw(`SELECT count(*) FROM audit_events WHERE tenant_id = ? AND action IN ? AND case_id IN ?
		AND occurred_at BETWEEN ? AND ?`, tenant, []string{workflows.AuditSLAWarning, workflows.AuditSLABreach}, ids,
		msgWindow[0], msgWindow[1]).Scan(&during).Error; err != nil {
		return err
	}
	if len(lags) == 0 {
		fmt.Fprintf(stdout, "timers: no breach recorded for the %d open cases\n", len(ids))
		return nil
	}
	fmt.Fprintf(stdout, "timers: %d of %d resolution breaches recorded; after the deadline p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d SLA timers fired while the messages were measured\n",
		len(lags), len(ids), lags[len(lags)/2], lags[min(len(lags)-1, len(lags)*99/100)], lags[len(lags)-1], during)
	return nil
}

// printScale reports what open cases cost: the served process's memory and
// workflow cache, PostgreSQL's and Temporal's bytes per case.
func printScale(ctx context.Context, st *store.Store, metricsURL, temporalDB string, stdout io.Writer) error {
	var cases int64
	var pgBytes int64
	if err := st.DB().WithContext(ctx).Raw(`SELECT count(*) FROM cases`).Scan(&cases).Error; err != nil {
		return err
	}
	if err := st.DB().WithContext(ctx).Raw(`SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'`).Scan(&pgBytes).Error; err != nil {
		return err
	}
	fmt.Fprintf(stdout, "scale: %d cases in the database; PostgreSQL %.1f MB, %.0f bytes per case\n", cases, float64(pgBytes)/1e6, float64(pgBytes)/float64(max(cases, 1)))
	if temporalDB != "" {
		var size int64
		for _, f := range []string{temporalDB, temporalDB + "-wal"} {
			if fi, err := os.Stat(f); err == nil {
				size += fi.Size()
			}
		}
		if size > 0 {
			fmt.Fprintf(stdout, "scale: Temporal's SQLite %.1f MB, %.0f bytes per case (all workflows it holds, over the cases)\n", float64(size)/1e6, float64(size)/float64(max(cases, 1)))
		}
	}
	if metricsURL == "" {
		return nil
	}
	value, err := scrapeMetrics(ctx, metricsURL)
	if err != nil {
		fmt.Fprintf(stdout, "scale: no metrics at %s (%v)\n", metricsURL, err)
		return nil
	}
	hit, miss := value("temporal_sticky_cache_hit_total"), value("temporal_sticky_cache_miss_total")
	fmt.Fprintf(stdout, "scale: worker RSS %.1f MB, Go heap %.1f MB, workflows cached %.0f, sticky cache hits %.0f of %.0f (%.1f%%)\n",
		value("process_resident_memory_bytes")/1e6, value("go_memstats_heap_inuse_bytes")/1e6, value("temporal_sticky_cache_size"),
		hit, hit+miss, 100*hit/max(hit+miss, 1))
	return nil
}

// scrapeMetrics reads the served process's /metrics once; the function it
// returns sums a metric's samples (0 for one it does not have).
func scrapeMetrics(ctx context.Context, url string) (func(name string) float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(body), "\n")
	return func(name string) float64 {
		total := 0.0
		for _, line := range lines {
			if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
				fields := strings.Fields(line)
				if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
					total += v
				}
			}
		}
		return total
	}, nil
}

// poolWaits is how often, and how long in all, the served process's
// queries waited for a PostgreSQL connection; ok is false without its
// metrics (a figure of none would read as no waits).
func poolWaits(ctx context.Context, url string) (count, seconds float64, ok bool) {
	if url == "" {
		return 0, 0, false
	}
	value, err := scrapeMetrics(ctx, url)
	if err != nil {
		return 0, 0, false
	}
	return value("go_sql_wait_count_total"), value("go_sql_wait_duration_seconds_total"), true
}

// cpuByProcess sums the CPU time (user and system) of this machine's
// processes by name — the Temporal server ("temporal"), PostgreSQL
// ("postgres", every backend), Tandem ("tandem", this benchmark excluded) —
// from /proc, so a scenario's cost can be split between them; this
// benchmark's own (its HTTP clients, the floor's worker) is "bench".
func cpuByProcess() map[string]time.Duration {
	out := map[string]time.Duration{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15), counted after the ")".
		stat := string(raw)
		open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		name := stat[open+1 : end]
		if e.Name() == self {
			name = "bench"
		}
		if name != "temporal" && name != "postgres" && name != "tandem" && name != "bench" {
			continue
		}
		fields := strings.Fields(stat[end+1:])
		if len(fields) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		out[name] += time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return out
}

// cpuText is the CPU each process group spent between two samples, per operation.
func cpuText(before, after map[string]time.Duration, ops int) string {
	var parts []string
	var total time.Duration
	for _, name := range []string{"tandem", "temporal", "postgres", "bench"} {
		d := after[name] - before[name]
		total += d
		parts = append(parts, fmt.Sprintf("%s %.2f ms", name, float64(d.Microseconds())/1000/float64(max(ops, 1))))
	}
	return fmt.Sprintf("CPU per operation: %s (total %.2f ms)", strings.Join(parts, ", "), float64(total.Microseconds())/1000/float64(max(ops, 1)))
}
