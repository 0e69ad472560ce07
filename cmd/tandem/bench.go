package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
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
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/activities/webhooks"
	"tandem/policies"
	"tandem/policies/service"
	"tandem/workflows"
)

// runBench opens N cases through the running API at concurrency C, then runs
// N bare workflows of K no-op activities through the same Temporal server
// from this process, so the cost of Tandem's own work is visible as a ratio.
func runBench(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "-burst" {
		return runBurst(ctx, cfg, args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 200, "cases (and bare workflows) to run")
	conc := fs.Int("c", 20, "concurrency")
	apiURL := fs.String("api", "http://"+cfg.HTTPAddr, "base URL of the running API")
	tenant := fs.String("tenant", demoTenant, "tenant to open cases in")
	bareActs := fs.String("bare-activities", "1,3", "activity counts of the bare workflows to compare with")
	hooks := fs.Bool("webhooks", false, "also run the message scenario with a webhook endpoint on loopback taking every event, and measure delivery lag")
	openFirst := fs.Int("open", 0, "first open this many cases and leave them open (AI handling, SLA timers armed), then run the scenarios")
	slaTarget := fs.Duration("sla", 0, "with -open: give the open cases this resolution target (warned at half, around the clock), so their SLA timers fire during the run, and report how late they fire")
	metricsURL := fs.String("metrics", "http://127.0.0.1:9464/metrics", "the served process's /metrics, for its memory and workflow cache (\"\": none)")
	floorPayload := fs.Int("floor-payload", 0, "also run the two-activity floor with payloads of this many bytes in the update's argument, each local activity's result and the update's result, as a message carries")
	temporalDB := fs.String("temporal-db", ".data/temporal.db", "the dev server's SQLite file, for Temporal's bytes per case (\"\": none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *conc < 1 {
		return errors.New("bench: -n and -c must be positive")
	}
	var counts []int
	for _, f := range strings.Split(*bareActs, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 0 {
			return fmt.Errorf("bench: -bare-activities must be a list of whole numbers, got %q", *bareActs)
		}
		counts = append(counts, k)
	}

	// A throwaway API key for the run, revoked at the end.
	st, err := openStore(ctx, cfg) // the refund scenario puts orders in the order book
	if err != nil {
		return err
	}
	defer st.Close()
	apiKey, key, err := st.CreateAPIKey(ctx, *tenant, "bench", policies.RoleService)
	if err != nil {
		return fmt.Errorf("bench: create API key (does tenant %q exist? run tandem seed): %w", *tenant, err)
	}
	defer st.RevokeAPIKey(context.WithoutCancel(ctx), *tenant, key.ID) //nolint:errcheck // best effort

	tc, _, err := dialTemporal(ctx, cfg, log, st, observe{})
	if err != nil {
		return err
	}
	defer tc.Close()
	// The baselines run here, on a queue of their own, on the same server.
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	queue := "tandem-bench-" + hex.EncodeToString(suffix)
	w := worker.New(tc, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: "BenchBare"})
	w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: "BenchFloor"})
	w.RegisterActivity(noopActivity)
	if err := w.Start(); err != nil {
		return fmt.Errorf("bench worker: %w", err)
	}
	defer w.Stop()

	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}
	var mu sync.Mutex
	var caseIDs []string
	customerOf := map[string]string{}
	openCase := func(ctx context.Context, i int) error {
		body, _ := json.Marshal(map[string]string{
			"customer_ref": "bench-" + strconv.Itoa(i), "channel": "api",
			"subject": "benchmark", "message": "Where is my order?",
		})
		var out struct {
			Case struct{ ID string } `json:"case"`
		}
		if err := postJSON(ctx, httpc, *apiURL+"/v1/cases", apiKey, body, http.StatusCreated, &out); err != nil {
			return err
		}
		mu.Lock()
		caseIDs = append(caseIDs, out.Case.ID)
		customerOf[out.Case.ID] = "bench-" + strconv.Itoa(i)
		mu.Unlock()
		return nil
	}
	fmt.Fprintf(stdout, "%-28s %8s %10s %9s %9s %7s\n", "scenario", "n", "per_sec", "p50_ms", "p99_ms", "errors")
	var openIDs []string // closed at the end, with the rest
	restoreSLA := func() {}
	if *openFirst > 0 {
		if *slaTarget > 0 {
			if restoreSLA, err = shortSLA(ctx, st, *tenant, *slaTarget); err != nil {
				return err
			}
			defer restoreSLA() // also when the run fails before the openings end
			fmt.Fprintf(stdout, "the next %d cases get a resolution target of %s, warned at half of it\n", *openFirst, *slaTarget)
		}
		res := measure(ctx, *openFirst, *conc, func(ctx context.Context, i int) error {
			body, _ := json.Marshal(map[string]string{"customer_ref": "bench-open-" + strconv.Itoa(i), "channel": "api",
				"subject": "benchmark", "message": "Where is my order?"})
			var out struct {
				Case struct{ ID string } `json:"case"`
			}
			if err := postJSON(ctx, httpc, *apiURL+"/v1/cases", apiKey, body, http.StatusCreated, &out); err != nil {
				return err
			}
			mu.Lock()
			openIDs = append(openIDs, out.Case.ID)
			mu.Unlock()
			return nil
		})
		res.print(stdout, fmt.Sprintf("open %d cases, left open", *openFirst))
		if *slaTarget > 0 {
			restoreSLA() // the cases below get the tenant's own policy
		}
		if err := printScale(ctx, st, *metricsURL, *temporalDB, stdout); err != nil {
			return err
		}
	}
	cpuBeforeOpen := cpuByProcess()
	caseRes := measure(ctx, *n, *conc, openCase)
	caseRes.print(stdout, "open case (HTTP)")
	if caseRes.errors > 0 {
		return fmt.Errorf("bench: %d of %d case openings failed; no figures to compare", caseRes.errors, *n)
	}
	fmt.Fprintf(stdout, "  open case: %s\n", cpuText(cpuBeforeOpen, cpuByProcess(), *n))

	// A customer message to each case (with its reply), then one asking for a
	// person to half of them: the case is in its queue when the call returns.
	// (The demo knowledge base answers both questions, from different articles.)
	probe := workflows.CaseWorkflowID(*tenant, caseIDs[len(caseIDs)-1]) // answered by the AI, never escalated
	beforeMsg, err := historyCounts(ctx, tc, probe, "")
	if err != nil {
		return err
	}
	cpuBefore := cpuByProcess()
	waitsBefore, waitedBefore, poolBefore := poolWaits(ctx, *metricsURL)
	msgWindow := [2]time.Time{time.Now()}
	msgRes := measure(ctx, len(caseIDs), *conc, func(ctx context.Context, i int) error {
		return postJSON(ctx, httpc, *apiURL+"/v1/cases/"+caseIDs[i]+"/messages", apiKey,
			[]byte(`{"body":"How long does a refund take?"}`), http.StatusOK, nil)
	})
	msgWindow[1] = time.Now()
	msgRes.print(stdout, "message + AI reply (HTTP)")
	msgCPU := cpuText(cpuBefore, cpuByProcess(), len(caseIDs))
	waitsAfter, waitedAfter, poolAfter := poolWaits(ctx, *metricsURL)
	afterMsg, err := historyCounts(ctx, tc, probe, "")
	if err != nil {
		return err
	}
	floor, floorStart, floorCounts, floorCPU, err := benchFloor(ctx, tc, queue, len(caseIDs), *conc, 1, 0)
	if err != nil {
		return err
	}
	floor.print(stdout, "floor: update + 1 local act.")
	// The same with two local activities, as a message runs (the AI turn,
	// the projection write): what a second one costs.
	floor2, _, _, floor2CPU, err := benchFloor(ctx, tc, queue, len(caseIDs), *conc, 2, 0)
	if err != nil {
		return err
	}
	floor2.print(stdout, "floor: update + 2 local act.")
	var floorPadCPU string
	if *floorPayload > 0 { // and with payloads as large as a message's
		var padded benchResult
		padded, _, _, floorPadCPU, err = benchFloor(ctx, tc, queue, len(caseIDs), *conc, 2, *floorPayload)
		if err != nil {
			return err
		}
		padded.print(stdout, fmt.Sprintf("  the same, %d-byte payloads", *floorPayload))
	}
	if *openFirst > 0 { // the cache after the messages
		if err := printScale(ctx, st, *metricsURL, "", stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "  history of one message + AI reply: %s\n", countsText(afterMsg, beforeMsg))
	fmt.Fprintf(stdout, "  history of one floor update:      %s\n", countsText(floorCounts, floorStart))
	fmt.Fprintf(stdout, "  message + AI reply: %s\n", msgCPU)
	if poolBefore && poolAfter {
		fmt.Fprintf(stdout, "  message + AI reply: waits for a PostgreSQL connection %.2f per message, %.2f ms each on average\n",
			(waitsAfter-waitsBefore)/float64(len(caseIDs)), 1000*(waitedAfter-waitedBefore)/max(waitsAfter-waitsBefore, 1))
	}
	fmt.Fprintf(stdout, "  floor update: %s\n", floorCPU)
	fmt.Fprintf(stdout, "  floor update, 2 local act.: %s\n", floor2CPU)
	if floorPadCPU != "" {
		fmt.Fprintf(stdout, "  floor update, 2 local act., %d-byte payloads: %s\n", *floorPayload, floorPadCPU)
	}
	if floor.perSec > 0 && floor.p50 > 0 {
		fmt.Fprintf(stdout, "%-28s %8s %9.2fx %8.2fx %8.2fx (throughput, p50, p99: message / floor)\n", "  message / floor", "",
			msgRes.perSec/floor.perSec, float64(msgRes.p50)/float64(floor.p50), float64(msgRes.p99)/float64(floor.p99))
	}
	if *hooks {
		if err := benchWebhooks(ctx, cfg, st, tc, *tenant, caseIDs, *conc, msgRes, stdout, func(ctx context.Context, i int) error {
			return postJSON(ctx, httpc, *apiURL+"/v1/cases/"+caseIDs[i]+"/messages", apiKey,
				[]byte(`{"body":"What payment methods do you accept?"}`), http.StatusOK, nil)
		}); err != nil {
			return err
		}
	}
	half := caseIDs[:len(caseIDs)/2]
	escRes := measure(ctx, len(half), *conc, func(ctx context.Context, i int) error {
		return postJSON(ctx, httpc, *apiURL+"/v1/cases/"+half[i]+"/messages", apiKey,
			[]byte(`{"body":"I want to talk to a human"}`), http.StatusOK, nil)
	})
	escRes.print(stdout, "escalating message (HTTP)")

	// A refund under the auto-approve limit on an order of each case's
	// customer: asked for over HTTP (the case starts the saga as its child),
	// then followed until paid: checked, approved, booked, paid through the
	// simulated gateway, posted.
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	var refundIDs []string
	refundRes := measure(ctx, len(caseIDs), *conc, func(ctx context.Context, i int) error {
		order := "bench-" + hex.EncodeToString(run) + "-" + strconv.Itoa(i)
		if err := st.PutOrder(ctx, *tenant, order, customerOf[caseIDs[i]], "EUR", "100.00", time.Now()); err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"order_ref": order, "amount": "10.00", "currency": "EUR", "reason_code": "benchmark"})
		var out struct {
			Refund struct {
				RefundID string `json:"refund_id"`
			} `json:"refund"`
		}
		if err := postJSON(ctx, httpc, *apiURL+"/v1/cases/"+caseIDs[i]+"/refunds", apiKey, body, http.StatusAccepted, &out); err != nil {
			return err
		}
		mu.Lock()
		refundIDs = append(refundIDs, out.Refund.RefundID)
		mu.Unlock()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			var got struct {
				Refund struct{ Status string } `json:"refund"`
			}
			if err := getJSON(ctx, httpc, *apiURL+"/v1/refunds/"+out.Refund.RefundID, apiKey, &got); err != nil {
				return err
			}
			switch got.Refund.Status {
			case workflows.RefundPaid:
				return nil
			case workflows.RefundRejected, workflows.RefundFailed:
				return fmt.Errorf("refund %s %s", out.Refund.RefundID, got.Refund.Status)
			}
		}
		return fmt.Errorf("refund %s not paid in 30 s", out.Refund.RefundID)
	})
	refundRes.print(stdout, "refund asked → paid (HTTP)")

	// Whole AI-resolved cases: opened, answered by the AI, and resolved by
	// the customer marking the answer helpful.
	var resolvedIDs []string
	cpuBeforeResolved := cpuByProcess()
	resolvedRes := measure(ctx, *n, *conc, func(ctx context.Context, i int) error {
		body, _ := json.Marshal(map[string]string{"customer_ref": "bench-ai-" + strconv.Itoa(i), "channel": "api",
			"subject": "benchmark", "message": "How do I reset my password?"})
		var out struct {
			Case  struct{ ID string } `json:"case"`
			Reply struct {
				Seq        int64
				AuthorKind string `json:"author_kind"`
			} `json:"reply"`
		}
		if err := postJSON(ctx, httpc, *apiURL+"/v1/cases", apiKey, body, http.StatusCreated, &out); err != nil {
			return err
		}
		if out.Reply.AuthorKind != "ai" {
			return fmt.Errorf("case %s: the AI did not answer (is the demo knowledge base seeded?)", out.Case.ID)
		}
		mu.Lock()
		resolvedIDs = append(resolvedIDs, out.Case.ID)
		mu.Unlock()
		return postJSON(ctx, httpc, fmt.Sprintf("%s/v1/cases/%s/messages/%d/feedback", *apiURL, out.Case.ID, out.Reply.Seq), apiKey,
			[]byte(`{"helpful":true}`), http.StatusOK, nil)
	})
	resolvedRes.print(stdout, "AI-resolved case (HTTP x2)")
	fmt.Fprintf(stdout, "  AI-resolved case: %s\n", cpuText(cpuBeforeResolved, cpuByProcess(), *n))

	if len(caseIDs) > 1 && len(resolvedIDs) > 0 {
		for _, c := range []struct{ name, id string }{
			{"with the AI (open, 1 message, 1 refund)", caseIDs[len(caseIDs)-1]},
			{"escalated (open, 1 message, asking for a person, 1 refund)", caseIDs[0]},
			{"AI-resolved (open, helpful)", resolvedIDs[0]},
		} {
			n, err := historyEvents(ctx, tc, workflows.CaseWorkflowID(*tenant, c.id))
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "history events, case %s: %d\n", c.name, n)
		}
	}
	if len(refundIDs) > 0 {
		n, err := historyEvents(ctx, tc, workflows.RefundWorkflowID(*tenant, refundIDs[0]))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "history events, refund saga (auto-approved, paid): %d\n", n)
		rec, err := payments.Reconcile(ctx, st, &payments.Simulated{Store: st}, *tenant, store.DefaultStuckAfter)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ledger of %s: balanced %v, reconciled with the provider %v, refunds stuck %d\n", *tenant, rec.Balanced, rec.Reconciled, len(rec.Stuck))
	}
	for _, k := range counts {
		cpuBefore := cpuByProcess()
		res := measure(ctx, *n, *conc, func(ctx context.Context, i int) error {
			run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: queue + "-" + strconv.Itoa(k) + "-" + strconv.Itoa(i), TaskQueue: queue,
			}, "BenchBare", k)
			if err != nil {
				return err
			}
			return run.Get(ctx, nil)
		})
		res.print(stdout, fmt.Sprintf("bare workflow, %d activit%s", k, map[bool]string{true: "y", false: "ies"}[k == 1]))
		fmt.Fprintf(stdout, "  bare workflow: %s\n", cpuText(cpuBefore, cpuByProcess(), *n))
		if res.perSec > 0 {
			fmt.Fprintf(stdout, "%-28s %8s %9.2fx\n", "  open case / bare", "", caseRes.perSec/res.perSec)
			fmt.Fprintf(stdout, "%-28s %8s %9.2fx\n", "  AI-resolved case / bare", "", resolvedRes.perSec/res.perSec)
		}
	}

	if *slaTarget > 0 && len(openIDs) > 0 {
		if err := printTimers(ctx, st, *tenant, openIDs, *slaTarget, msgWindow, stdout); err != nil {
			return err
		}
	}

	// Close the benchmark's cases so they do not linger as running workflows.
	all := slices.Concat(caseIDs, resolvedIDs, openIDs)
	closeRes := measure(ctx, len(all), *conc, func(ctx context.Context, i int) error {
		return postJSON(ctx, httpc, *apiURL+"/v1/cases/"+all[i]+"/close", apiKey,
			[]byte(`{"reason":"benchmark"}`), http.StatusOK, nil)
	})
	closeRes.print(stdout, "close case (HTTP)")
	return nil
}

// historyEvents counts the events of a workflow's current run.
func historyEvents(ctx context.Context, tc client.Client, wfID string) (int, error) {
	it := tc.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

func bareWorkflow(ctx workflow.Context, activities int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for range activities {
		if err := workflow.ExecuteActivity(ctx, noopActivity).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func noopActivity(context.Context) error { return nil }

// floorPing is the floor update's argument: how many no-op local
// activities to run (the floor is one) and a payload that each of them and
// the update return.
type floorPing struct {
	LocalActivities int    `json:"local_activities"`
	Payload         []byte `json:"payload,omitempty"`
}

// floorWorkflow is the floor under a customer's message: a workflow that
// answers an Update by running no-op local activities one after another, as
// a case answers a message by running its AI turn and projection write. It
// waits for updates until it is terminated.
func floorWorkflow(ctx workflow.Context) error {
	err := workflow.SetUpdateHandler(ctx, "ping", func(ctx workflow.Context, in floorPing) ([]byte, error) {
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second})
		for range in.LocalActivities {
			if err := workflow.ExecuteLocalActivity(ctx, echoActivity, in.Payload).Get(ctx, nil); err != nil {
				return nil, err
			}
		}
		return in.Payload, nil
	})
	if err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return false })
}

func echoActivity(_ context.Context, payload []byte) ([]byte, error) { return payload, nil }

// benchFloor starts n floor workflows (not measured), then measures one
// Update to each at concurrency c, running las local activities with
// payloads of pad random bytes, and terminates them. It also returns what
// one of their histories held before and after its update.
func benchFloor(ctx context.Context, tc client.Client, queue string, n, c, las, pad int) (res benchResult, before, after map[string]int, cpu string, err error) {
	id := func(i int) string { return fmt.Sprintf("%s-floor%d-%d-%d", queue, las, pad, i) }
	started := measure(ctx, n, c, func(ctx context.Context, i int) error {
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id(i), TaskQueue: queue}, "BenchFloor")
		return err
	})
	if started.errors > 0 {
		return benchResult{}, nil, nil, "", fmt.Errorf("bench: starting the floor's workflows: %w", started.firstErr)
	}
	defer func() {
		for i := range n {
			_ = tc.TerminateWorkflow(context.WithoutCancel(ctx), id(i), "", "benchmark over")
		}
	}()
	if before, err = historyCounts(ctx, tc, id(0), "WORKFLOW_TASK_COMPLETED"); err != nil {
		return benchResult{}, nil, nil, "", err
	}
	ping := floorPing{LocalActivities: las, Payload: make([]byte, pad)}
	_, _ = rand.Read(ping.Payload) // incompressible, as sealed payloads are
	cpuBefore := cpuByProcess()
	res = measure(ctx, n, c, func(ctx context.Context, i int) error {
		h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id(i), UpdateName: "ping", Args: []any{ping},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	})
	cpu = cpuText(cpuBefore, cpuByProcess(), n)
	after, err = historyCounts(ctx, tc, id(0), "")
	return res, before, after, cpu, err
}

// historyCounts counts a workflow's history events by type; with until, it
// waits until an event of that type is there (a just-started workflow's
// first task).
func historyCounts(ctx context.Context, tc client.Client, wfID, until string) (map[string]int, error) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		counts := map[string]int{}
		it := tc.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, err
			}
			counts[strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")]++
		}
		if until == "" || counts[until] > 0 || time.Now().After(deadline) {
			return counts, nil
		}
	}
}

// countsText is what a history gained between before and after: events in
// all, workflow tasks, local activities (markers) and the rest by type.
func countsText(after, before map[string]int) string {
	total, parts := 0, []string{}
	for _, t := range slices.Sorted(maps.Keys(after)) {
		if d := after[t] - before[t]; d > 0 {
			total += d
			parts = append(parts, fmt.Sprintf("%s %d", strings.ToLower(t), d))
		}
	}
	return fmt.Sprintf("%d events (%s)", total, strings.Join(parts, ", "))
}

type benchResult struct {
	n, errors int
	perSec    float64
	p50, p99  time.Duration
	firstErr  error
}

func (r benchResult) print(w io.Writer, name string) {
	fmt.Fprintf(w, "%-28s %8d %10.1f %9.1f %9.1f %7d\n", name, r.n, r.perSec, ms(r.p50), ms(r.p99), r.errors)
	if r.firstErr != nil {
		fmt.Fprintf(w, "  first error: %v\n", r.firstErr)
	}
}

// measure runs op n times on c goroutines and reports throughput and latency.
func measure(ctx context.Context, n, c int, op func(context.Context, int) error) benchResult {
	jobs := make(chan int)
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				t := time.Now()
				errs[i] = op(ctx, i)
				lat[i] = time.Since(t)
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)

	res := benchResult{n: n, perSec: float64(n) / elapsed.Seconds()}
	var ok []time.Duration
	for i, err := range errs {
		if err != nil {
			res.errors++
			if res.firstErr == nil {
				res.firstErr = err
			}
			continue
		}
		ok = append(ok, lat[i])
	}
	res.p50, res.p99 = percentiles(ok)
	return res
}

func postJSON(ctx context.Context, c *http.Client, url, apiKey string, body []byte, want int, out any) error {
	return call(ctx, c, http.MethodPost, url, apiKey, body, want, out)
}

func getJSON(ctx context.Context, c *http.Client, url, apiKey string, out any) error {
	return call(ctx, c, http.MethodGet, url, apiKey, nil, http.StatusOK, out)
}

func call(ctx context.Context, c *http.Client, method, url, apiKey string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, url, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

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
