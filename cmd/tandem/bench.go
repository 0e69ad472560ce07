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
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tandem/activities/payments"
	"tandem/policies"
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
		rec, err := payments.Reconcile(ctx, st, &payments.Simulated{Store: st}, *tenant, payments.DefaultStuckAfter)
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
