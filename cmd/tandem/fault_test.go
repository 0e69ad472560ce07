package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
)

// The fault tests run Tandem as real processes against a PostgreSQL
// cluster and a Temporal dev server of their own, put load on it, and
// while it runs kill or restart one part by PID: the Tandem process, the
// Temporal server, PostgreSQL, or one of two API and two worker processes.
// Then they check what a user relies on (invariants 8 and 9). They need
// the pinned Temporal CLI and PostgreSQL's server binaries, and take a few
// minutes: `make test-faults` (run by `make test`) sets TANDEM_FAULTS=1.

// faultLoad is the load each fault runs under: cases opened at concurrency
// faultConcurrency, each with a follow-up message (half ask for a person),
// a quarter asking for a refund; every request retried with its own
// Idempotency-Key until it is answered 2xx.
const (
	faultCases       = 200
	faultConcurrency = 20
)

func TestFaultKillTandem(t *testing.T) {
	runFault(t, faultSpec{name: "kill -9 tandem dev", topology: oneProcess, temporal: devServer, inject: func(h *harness) {
		h.killTandem(0)
		h.startTandem(0)
	}})
}

func TestFaultKillTemporal(t *testing.T) {
	runFault(t, faultSpec{name: "kill -9 temporal dev server", topology: oneProcess, temporal: devServer, inject: func(h *harness) {
		h.temporal.kill(t)
		h.temporal.start(t)
	}})
}

func TestFaultRestartPostgres(t *testing.T) {
	runFault(t, faultSpec{name: "restart postgresql (immediate)", topology: oneProcess, temporal: devServer, inject: func(h *harness) {
		h.pg.restart(t)
	}})
}

func TestFaultKillOneServeAndOneWorker(t *testing.T) {
	runFault(t, faultSpec{name: "kill -9 one serve and one worker of two each (dev server)", topology: twoServeTwoWorkers, temporal: devServer,
		inject: killOneServeAndOneWorker})
}

// On a Temporal server built from go.temporal.io/server with PostgreSQL
// persistence: Tandem as it runs in production.
func TestFaultClusterKillOneServeAndOneWorker(t *testing.T) {
	runFault(t, faultSpec{name: "kill -9 one serve and one worker of two each (cluster)", topology: twoServeTwoWorkers, temporal: cluster,
		inject: killOneServeAndOneWorker})
}

func TestFaultClusterKillTemporal(t *testing.T) {
	runFault(t, faultSpec{name: "kill -9 temporal server (cluster)", topology: twoServeTwoWorkers, temporal: cluster, inject: func(h *harness) {
		h.temporal.kill(t)
		h.temporal.start(t)
	}})
}

func killOneServeAndOneWorker(h *harness) {
	h.killTandem(0) // a serve
	h.killTandem(2) // a worker
	h.startTandem(0)
	h.startTandem(2)
}

type topology int

const (
	oneProcess         topology = iota // tandem dev
	twoServeTwoWorkers                 // tandem serve ×2, tandem worker ×2
)

type temporalKind int

const (
	devServer temporalKind = iota // temporal server start-dev (SQLite)
	cluster                       // go.temporal.io/server on PostgreSQL
)

type faultSpec struct {
	name     string
	topology topology
	temporal temporalKind
	inject   func(*harness)
}

func runFault(t *testing.T, spec faultSpec) {
	if os.Getenv("TANDEM_FAULTS") == "" {
		t.Skip("fault tests run with TANDEM_FAULTS=1 (make test-faults, which make test runs)")
	}
	// Registered first, so run last: after the processes' logs, which
	// would otherwise bury why the test failed at the end of CI's output.
	var h *harness
	t.Cleanup(func() {
		if h != nil && len(h.problems) > 0 {
			t.Logf("%s failed:\n%s", spec.name, strings.Join(h.problems, "\n"))
		}
	})
	h = newHarness(t, spec.topology, spec.temporal)
	rec := &recorder{}
	clients := h.loadClients(rec)

	results := make([]caseRun, faultCases)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		var wg sync.WaitGroup
		next := make(chan int)
		for range faultConcurrency {
			wg.Go(func() {
				for i := range next {
					results[i] = clients.run(i)
				}
			})
		}
		for i := range faultCases {
			next <- i
		}
		close(next)
		wg.Wait()
	}()
	// If the fault cannot be injected (t.Fatal below), the clients give up
	// at once instead of retrying into the next test.
	t.Cleanup(func() { clients.stop(); <-loadDone })

	// The fault strikes 0.5 to 2 s after the first acknowledgement (a
	// cluster's first tasks can take seconds on two busy cores), with
	// requests in flight; on the test's goroutine, so that a fault that
	// fails to inject (a server that does not come back) ends the test.
	for deadline := time.Now().Add(time.Minute); rec.acksBefore() == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500*time.Millisecond + time.Duration(randInt(1500))*time.Millisecond)
	at := time.Now()
	rec.mark(at)
	spec.inject(h)
	<-loadDone

	rec.report(h, spec.name)
	if rec.acksBefore() == 0 {
		h.errorf("nothing was acknowledged before the fault: the test did not test a crash under load")
	}
	if failed := failedCases(results); len(failed) > 0 {
		h.fatalf("%s", strings.Join(failed, "\n"))
	}
	h.check(results)
}

// failedCases says how many customers gave up, and the first few reasons.
func failedCases(results []caseRun) []string {
	var out []string
	n := 0
	for _, r := range results {
		if r.failed == "" {
			continue
		}
		if n++; len(out) < 5 {
			out = append(out, fmt.Sprintf("case %d: %s", r.i, r.failed))
		}
	}
	if n > 0 {
		out = append(out, fmt.Sprintf("%d of %d customers gave up", n, len(results)))
	}
	return out
}

// harness owns the processes of one fault test.
type harness struct {
	t        *testing.T
	pg       *pgCluster
	temporal temporalProcess
	bin      string
	env      []string
	addrs    []string // the API addresses clients use
	procs    []*tandemProc
	apiKey   string
	staff    string // a token with every staff role
	store    *store.Store
	problems []string // what failed, said again after the processes' logs
}

func (h *harness) errorf(format string, args ...any) {
	h.t.Helper()
	msg := fmt.Sprintf(format, args...)
	h.problems = append(h.problems, msg)
	h.t.Error(msg)
}

func (h *harness) fatalf(format string, args ...any) {
	h.t.Helper()
	msg := fmt.Sprintf(format, args...)
	h.problems = append(h.problems, msg)
	h.t.Fatal(msg)
}

type tandemProc struct {
	mode, addr string
	cmd        *exec.Cmd
	log        *bytes.Buffer
}

func newHarness(t *testing.T, topo topology, kind temporalKind) *harness {
	h := &harness{t: t}
	h.pg = startPostgres(t)
	if kind == cluster {
		h.temporal = newTemporalCluster(t, h.pg)
	} else {
		h.temporal = &temporalServer{bin: temporalBinary(t), db: filepath.Join(t.TempDir(), "temporal.db"), addr: freeAddr(t)}
	}
	h.temporal.start(t)
	t.Cleanup(func() {
		h.temporal.kill(t)
		if t.Failed() {
			t.Logf("--- temporal server log:\n%s", tail(h.temporal.output(), 4000))
		}
	})
	h.bin = buildBinary(t)

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	auditSeed := make([]byte, 32)
	_, _ = rand.Read(auditSeed)
	master := storetest.TestMasterKey.ID + ":" + base64.StdEncoding.EncodeToString(storetest.TestMasterKey.Key)
	h.env = []string{
		"DATABASE_URL=" + h.pg.url, "TANDEM_MIGRATE_DATABASE_URL=" + h.pg.url, "TANDEM_APP_DB_ROLE=",
		"TEMPORAL_ADDRESS=" + h.temporal.address(), "TANDEM_TASK_QUEUE=faults",
		"TANDEM_JWT_SECRET=" + base64.StdEncoding.EncodeToString(secret),
		"TANDEM_AUDIT_SIGNING_KEY=" + base64.StdEncoding.EncodeToString(auditSeed), // verification needs its key
		"TANDEM_MASTER_KEY=" + master,
		"TANDEM_PAYLOAD_KEY=test:" + base64.StdEncoding.EncodeToString([]byte("test-only-payload-key-32-bytes!!")),
		"TANDEM_LOG_LEVEL=warn", "TANDEM_REQUEST_TIMEOUT=10s", "TANDEM_CODEC_ADDR=",
	}
	h.tandem("migrate", "up")
	h.tandem("seed")
	h.apiKey = strings.TrimSpace(h.tandem("apikey", "create", "-tenant", demoTenant, "-name", "faults"))
	h.staff = strings.TrimSpace(h.tandem("token", "-tenant", demoTenant, "-sub", "staff-1", "-roles", "supervisor,finance,compliance,admin", "-ttl", "1h"))

	st, err := store.Open(context.Background(), h.pg.url)
	if err != nil {
		t.Fatal(err)
	}
	st.UseKeyring(storetest.Keyring(t))
	t.Cleanup(func() { st.Close() })
	h.store = st
	for i := range faultCases {
		if err := st.PutOrder(context.Background(), demoTenant, fmt.Sprintf("fo-%d", i), fmt.Sprintf("fault-cust-%d", i), "EUR", "100.00", time.Now().Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	modes := []string{"dev"}
	if topo == twoServeTwoWorkers {
		modes = []string{"serve", "serve", "worker", "worker"}
	}
	for _, m := range modes {
		p := &tandemProc{mode: m, addr: freeAddr(t), log: &bytes.Buffer{}}
		h.procs = append(h.procs, p)
		if m != "worker" {
			h.addrs = append(h.addrs, p.addr)
		}
	}
	for i := range h.procs {
		h.startTandem(i)
	}
	t.Cleanup(func() {
		for _, p := range h.procs {
			if p.cmd != nil && p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				_ = p.cmd.Wait()
			}
		}
		if t.Failed() {
			for _, p := range h.procs {
				t.Logf("--- tandem %s %s log:\n%s", p.mode, p.addr, tail(p.log.String(), 4000))
			}
		}
	})
	return h
}

// tandem runs a one-shot command of the binary and returns its output.
func (h *harness) tandem(args ...string) string {
	h.t.Helper()
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(os.Environ(), h.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("tandem %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func (h *harness) startTandem(i int) {
	h.t.Helper()
	p := h.procs[i]
	p.cmd = exec.Command(h.bin, p.mode)
	p.cmd.Env = append(os.Environ(), append(h.env, "TANDEM_HTTP_ADDR="+p.addr)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	if p.mode == "worker" {
		return // ready when it polls; the API's readiness says nothing of it
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + p.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	h.t.Fatalf("tandem %s did not become ready:\n%s", p.mode, p.log)
}

// killTandem kills the process this test started, by its PID.
func (h *harness) killTandem(i int) {
	h.t.Helper()
	p := h.procs[i]
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		h.t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// caseRun is what one simulated customer was told.
type caseRun struct {
	i        int
	caseID   string
	acked    []string // bodies of the customer's messages answered 2xx, in order
	refundID string   // the refund answered 202, if one was asked for
	failed   string   // why the customer gave up, if they did
}

type loadClients struct {
	h       *harness
	rec     *recorder
	run     func(i int) caseRun
	stopped chan struct{}
	once    sync.Once
}

// stop makes every client give up instead of retrying.
func (lc *loadClients) stop() { lc.once.Do(func() { close(lc.stopped) }) }

func (h *harness) loadClients(rec *recorder) *loadClients {
	lc := &loadClients{h: h, rec: rec, stopped: make(chan struct{})}
	client := &http.Client{Timeout: 15 * time.Second}
	// do sends one request until it is answered 2xx: a connection error or
	// 503 is retried with the same Idempotency-Key, on the next API process.
	do := func(i int, method, path, key string, body any, out any) (int, error) {
		raw, _ := json.Marshal(body)
		began := time.Now()
		deadline := began.Add(3 * time.Minute)
		for attempt := 0; ; attempt++ {
			addr := h.addrs[(i+attempt)%len(h.addrs)]
			req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+h.apiKey)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := client.Do(req)
			if err != nil {
				rec.result(0)
			} else {
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				rec.result(resp.StatusCode)
				switch {
				case resp.StatusCode/100 == 2:
					rec.answered(began)
					return resp.StatusCode, json.Unmarshal(data, out)
				case resp.StatusCode == http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" {
						return resp.StatusCode, errors.New("503 without Retry-After")
					}
				default:
					return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
				}
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s %s: no answer in 3 minutes", method, path)
			}
			select {
			case <-lc.stopped:
				return 0, errors.New("the test stopped")
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	lc.run = func(i int) caseRun {
		r := caseRun{i: i}
		opening := fmt.Sprintf("Case %d: my order fo-%d has not arrived.", i, i)
		var ex struct {
			Case struct{ ID string } `json:"case"`
		}
		if _, err := do(i, "POST", "/v1/cases", fmt.Sprintf("open-%d", i),
			map[string]string{"customer_ref": fmt.Sprintf("fault-cust-%d", i), "channel": "api", "message": opening}, &ex); err != nil {
			r.failed = err.Error()
			return r
		}
		r.caseID, r.acked = ex.Case.ID, append(r.acked, opening)
		follow := fmt.Sprintf("How long does a refund take? (case %d)", i)
		if i%2 == 0 {
			follow = fmt.Sprintf("I want to talk to a human agent please (case %d)", i)
		}
		var msg struct{}
		if _, err := do(i, "POST", "/v1/cases/"+r.caseID+"/messages", fmt.Sprintf("msg-%d", i), map[string]string{"body": follow}, &msg); err != nil {
			r.failed = err.Error()
			return r
		}
		r.acked = append(r.acked, follow)
		if i%4 == 1 {
			var rf struct {
				Refund struct {
					RefundID string `json:"refund_id"`
				} `json:"refund"`
			}
			if _, err := do(i, "POST", "/v1/cases/"+r.caseID+"/refunds", fmt.Sprintf("refund-%d", i),
				map[string]string{"order_ref": fmt.Sprintf("fo-%d", i), "amount": "10.00", "currency": "EUR", "reason_code": "damaged"}, &rf); err != nil {
				r.failed = err.Error()
				return r
			}
			r.refundID = rf.Refund.RefundID
		}
		return r
	}
	return lc
}

// check asserts what a user relies on after the fault.
func (h *harness) check(results []caseRun) {
	t := h.t
	t.Helper()
	ctx := context.Background()
	db := h.store.DB()

	// One case per opening key, one row per acknowledged message: exactly
	// once, in the order acknowledged.
	var cases int64
	if err := db.Raw(`SELECT count(*) FROM cases WHERE tenant_id = ?`, demoTenant).Scan(&cases).Error; err != nil {
		h.fatalf("%v", err)
	}
	if cases != faultCases {
		h.errorf("%d cases for %d opening keys", cases, faultCases)
	}
	for _, r := range results {
		_, msgs, err := h.store.GetCase(ctx, demoTenant, r.caseID)
		if err != nil {
			h.fatalf("case %d: %v", r.i, err)
		}
		var said []string
		for _, m := range msgs {
			if m.AuthorKind == "customer" {
				said = append(said, m.Body)
			}
		}
		if !slices.Equal(said, r.acked) {
			h.errorf("case %d (%s): the records hold %q, the customer was answered for %q", r.i, r.caseID, said, r.acked)
		}
		// The trail has one entry per acknowledged message's committed sequence.
		var dup []struct {
			Seq string
			N   int
		}
		if err := db.Raw(`SELECT details::jsonb->>'message_seq' AS seq, count(*) AS n FROM audit_events
			WHERE tenant_id = ? AND case_id = ? AND action IN ('case.open', 'case.message')
			GROUP BY 1 HAVING count(*) > 1`, demoTenant, r.caseID).Scan(&dup).Error; err != nil {
			h.fatalf("%v", err)
		}
		if len(dup) > 0 {
			h.errorf("case %d: messages audited more than once: %+v", r.i, dup)
		}
	}

	// Every refund asked for is paid, once.
	for _, r := range results {
		if r.refundID == "" {
			continue
		}
		status := ""
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && status != "paid"; time.Sleep(250 * time.Millisecond) {
			var out struct {
				Refund struct{ Status string } `json:"refund"`
			}
			if code := h.get("/v1/refunds/"+r.refundID, &out); code == http.StatusOK {
				status = out.Refund.Status
			}
		}
		if status != "paid" {
			h.errorf("refund %s of case %d stands %q, want paid", r.refundID, r.i, status)
		}
		var payments int64
		if err := db.Raw(`SELECT count(*) FROM gateway_payments WHERE tenant_id = ? AND idempotency_key = ?`, demoTenant, r.refundID).Scan(&payments).Error; err != nil {
			h.fatalf("%v", err)
		}
		if payments != 1 {
			h.errorf("refund %s: %d payments, want 1", r.refundID, payments)
		}
	}
	var rec payments.Reconciliation
	if code := h.get("/v1/ledger/reconciliation?stuck_after=1s", &rec); code != http.StatusOK || !rec.OK() {
		h.errorf("reconciliation: %d %+v", code, rec)
	}

	// The records agree with the workflows: clean at once, or after the one
	// repair pass the worker would run (the conflicts it repaired are counted).
	var rep struct {
		Clean       bool
		Repaired    int
		Conflicts   int64 `json:"conflicts_recorded"`
		Differences []any
	}
	// Right after a worker dies, queries to the workflows it held wait for
	// Temporal to give up on it, and the check may answer 503: retry, as the
	// answer says.
	code := h.get("/v1/admin/consistency?limit=10000", &rep)
	for try := 0; code == http.StatusServiceUnavailable && try < 5; try++ {
		time.Sleep(5 * time.Second)
		code = h.get("/v1/admin/consistency?limit=10000", &rep)
	}
	if code != http.StatusOK {
		h.fatalf("consistency: %d", code)
	}
	if !rep.Clean {
		t.Logf("consistency: %d differences before repair: %v", len(rep.Differences), rep.Differences)
		if code := h.post("/v1/admin/consistency/repair?limit=10000", &rep); code != http.StatusOK || !rep.Clean {
			h.errorf("consistency after repair: %d %+v", code, rep)
		}
		if code := h.get("/v1/admin/consistency?limit=10000", &rep); code != http.StatusOK || !rep.Clean {
			h.errorf("consistency after repair: %d %+v", code, rep)
		}
	}
	t.Logf("projection conflicts detected and repaired: %d", rep.Conflicts)

	var v store.Verification
	if code := h.get("/v1/audit/verify", &v); code != http.StatusOK || !v.OK {
		h.errorf("audit chain: %d %+v", code, v)
	}
}

func (h *harness) get(path string, out any) int  { return h.staffCall("GET", path, out) }
func (h *harness) post(path string, out any) int { return h.staffCall("POST", path, out) }

func (h *harness) staffCall(method, path string, out any) int {
	req, _ := http.NewRequest(method, "http://"+h.addrs[0]+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.staff)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: %v", method, path, err)
		}
	} else {
		h.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// recorder counts every answer clients got, and when.
type recorder struct {
	mu      sync.Mutex
	fault   time.Time
	before  int            // 2xx before the fault
	byCode  map[int]int    // answers after the fault, by status (0: no connection)
	lastBad time.Duration  // from the fault to the last answer that was not 2xx
	longest time.Duration  // the longest a request answered after the fault waited, retries included
	other   map[string]int // non-2xx answers other than 503, by status
}

func (r *recorder) mark(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = at
}

func (r *recorder) result(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byCode == nil {
		r.byCode, r.other = map[int]int{}, map[string]int{}
	}
	if r.fault.IsZero() {
		if code/100 == 2 {
			r.before++
		}
	} else {
		r.byCode[code]++
		if code/100 != 2 {
			r.lastBad = time.Since(r.fault)
		}
	}
	if code != 0 && code/100 != 2 && code != http.StatusServiceUnavailable {
		r.other[strconv.Itoa(code)]++
	}
}

// answered notes how long a request begun at began waited for its 2xx.
func (r *recorder) answered(began time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.fault.IsZero() {
		r.longest = max(r.longest, time.Since(began))
	}
}

func (r *recorder) acksBefore() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.before
}

// report fails on any answer that was neither 2xx nor 503, and logs how
// the service answered through the fault and how soon it recovered.
func (r *recorder) report(h *harness, name string) {
	h.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.other) > 0 {
		h.errorf("%s: answers other than 2xx and 503: %v", name, r.other)
	}
	codes := make([]int, 0, len(r.byCode))
	for c := range r.byCode {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		label := strconv.Itoa(c)
		if c == 0 {
			label = "no connection"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", label, r.byCode[c]))
	}
	h.t.Logf("%s: %d acknowledged before the fault; after it: %s; the last refusal %.1fs after the fault; the longest wait for a 2xx %.1fs",
		name, r.before, strings.Join(parts, ", "), r.lastBad.Seconds(), r.longest.Seconds())
}

// pgCluster is a PostgreSQL cluster of the test's own, on a free port,
// which the test may restart without touching anyone else's.
type pgCluster struct {
	bin, dir, data, url string
	port                int
	runAs               []string // runuser -u postgres --, when the test runs as root
}

func startPostgres(t *testing.T) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin): make test-faults installs Debian's postgresql")
	}
	sort.Strings(bins)
	c := &pgCluster{bin: filepath.Dir(bins[len(bins)-1])}
	var err error
	if c.dir, err = os.MkdirTemp("", "tandem-fault-pg-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(c.dir) })
	c.data = filepath.Join(c.dir, "data")
	addr := freeAddr(t)
	c.port, _ = strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	if os.Geteuid() == 0 { // initdb refuses root: the cluster is the postgres user's
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := os.Chmod(c.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.run(t, "initdb", "-D", c.data, "-U", "tandem", "--auth=trust", "-E", "UTF8", "--no-sync")
	c.start(t)
	t.Cleanup(func() {
		c.ctl(t, "stop", "-m", "immediate")
		if t.Failed() {
			// Less the refusals while it starts, which the clients saw as 503s.
			log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
			var keep []string
			for _, line := range strings.Split(string(log), "\n") {
				if !strings.Contains(line, "FATAL:  the database system is") && !strings.Contains(line, "DETAIL:  Consistent recovery state") {
					keep = append(keep, line)
				}
			}
			t.Logf("--- postgresql log:\n%s", tail(strings.Join(keep, "\n"), 4000))
		}
	})
	db, err := sql.Open("pgx", fmt.Sprintf("postgres://tandem@127.0.0.1:%d/postgres?sslmode=disable", c.port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE tandem`); err != nil {
		t.Fatal(err)
	}
	c.url = fmt.Sprintf("postgres://tandem@127.0.0.1:%d/tandem?sslmode=disable", c.port)
	return c
}

func (c *pgCluster) run(t *testing.T, tool string, args ...string) {
	t.Helper()
	argv := append(append(slices.Clone(c.runAs), filepath.Join(c.bin, tool)), args...)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
}

func (c *pgCluster) ctl(t *testing.T, args ...string) {
	t.Helper()
	c.run(t, "pg_ctl", append([]string{"-D", c.data, "-w", "-l", filepath.Join(c.dir, "log")}, args...)...)
}

func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	c.ctl(t, "start", "-o", fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=200", c.port, c.dir))
}

// restart stops the cluster as a crash would (immediate: no checkpoint,
// every connection cut) and starts it again, replaying its WAL.
func (c *pgCluster) restart(t *testing.T) {
	t.Helper()
	c.ctl(t, "stop", "-m", "immediate")
	time.Sleep(time.Second)
	c.start(t)
}

// temporalProcess is a Temporal server the test started, kills and starts again.
type temporalProcess interface {
	start(t *testing.T)
	kill(t *testing.T)
	address() string
	output() string // what it logged
}

// temporalServer is a Temporal dev server of the test's own, on its own
// SQLite file, which the test kills and starts again.
type temporalServer struct {
	bin, db, addr string
	cmd           *exec.Cmd
	log           bytes.Buffer
}

func temporalBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("TANDEM_TEMPORAL_BIN"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("temporal"); err == nil {
		return bin
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "temporal")
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("the Temporal CLI is missing: make test-faults installs it (TANDEM_TEMPORAL_BIN names another)")
	}
	return bin
}

func (s *temporalServer) address() string { return s.addr }
func (s *temporalServer) output() string  { return s.log.String() }

func (s *temporalServer) start(t *testing.T) {
	t.Helper()
	host, port, _ := strings.Cut(s.addr, ":")
	s.cmd = exec.Command(s.bin, "server", "start-dev", "--ip", host, "--port", port, "--headless",
		"--db-filename", s.db, "--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL",
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1", "--log-level", "error")
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !awaitTemporal(s.addr, false) {
		t.Fatalf("temporal dev server did not come up:\n%s", tail(s.log.String(), 4000))
	}
}

// awaitTemporal waits up to a minute for the server at addr to answer, and
// with namespace set for the default namespace to take requests.
func awaitTemporal(addr string, namespace bool) bool {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			if err == nil && namespace {
				_, err = c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", PageSize: 1})
			}
			c.Close()
		}
		cancel()
		if err == nil {
			return true
		}
	}
	return false
}

// temporalCluster is a Temporal server built from go.temporal.io/server
// (all four services in one process) on the test's own PostgreSQL, its
// schema set up with Temporal's SQL tool, on ports of its own.
type temporalCluster struct {
	dir, root, addr string
	cmd             *exec.Cmd
	log             bytes.Buffer
}

func newTemporalCluster(t *testing.T, pg *pgCluster) *temporalCluster {
	t.Helper()
	dir := os.Getenv("TANDEM_TEMPORAL_SERVER_DIR")
	if dir == "" {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		dir = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "temporal-server-1.29.1")
	}
	if _, err := os.Stat(filepath.Join(dir, "server")); err != nil {
		t.Fatalf("the Temporal server is not built in %s: make test-faults builds it (TANDEM_TEMPORAL_SERVER_DIR names another)", dir)
	}
	c := &temporalCluster{dir: dir, root: t.TempDir(), addr: freeAddr(t)}
	pgAddr := fmt.Sprintf("127.0.0.1:%d", pg.port)
	for db, schema := range map[string]string{"tandem_temporal": "postgresql/v12/temporal", "tandem_temporal_visibility": "postgresql/v12/visibility"} {
		for _, args := range [][]string{{"create-database"}, {"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", schema}} {
			argv := append([]string{"--plugin", "postgres12", "--ep", "127.0.0.1", "-p", strconv.Itoa(pg.port), "-u", "tandem", "--db", db}, args...)
			if out, err := exec.Command(filepath.Join(dir, "sql"), argv...).CombinedOutput(); err != nil {
				t.Fatalf("temporal sql tool %v: %v\n%s", args, err, out)
			}
		}
	}
	tmpl, err := os.ReadFile("../../.ci/temporal-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Temporal keeps membership ports in a smallint column: freeAddr's are below 32768.
	port := func() string { _, p, _ := strings.Cut(freeAddr(t), ":"); return p }
	_, frontend, _ := strings.Cut(c.addr, ":")
	http := port()
	cfg := strings.NewReplacer("127.0.0.1:5432", pgAddr, "@HOST@", "127.0.0.1", "@PORT@", frontend, "@HTTP@", http,
		"@HISTORY@", port(), "@MATCHING@", port(), "@WORKER@", port(), "@MPORT@", port(), "@MHISTORY@", port(),
		"@MMATCHING@", port(), "@MWORKER@", port(), "@ROOT@", c.root).Replace(string(tmpl))
	if err := os.MkdirAll(filepath.Join(c.root, "config", "dynamicconfig"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.root, "config", "cluster.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	dyn := "matching.numTaskqueueReadPartitions:\n  - value: 1\nmatching.numTaskqueueWritePartitions:\n  - value: 1\n"
	if err := os.WriteFile(filepath.Join(c.root, "config", "dynamicconfig", "cluster.yaml"), []byte(dyn), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.kill(t) })
	return c
}

func (c *temporalCluster) address() string { return c.addr }
func (c *temporalCluster) output() string  { return c.log.String() }

func (c *temporalCluster) start(t *testing.T) {
	t.Helper()
	// Once in CI the server did not come up, with only a stack in its log;
	// the same commit passed next time. What the tests check begins once
	// the server is up, so a start that fails is logged and tried once more.
	for attempt := 1; ; attempt++ {
		c.cmd = exec.Command(filepath.Join(c.dir, "server"), "--root", c.root, "--config", "config", "--env", "cluster", "--allow-no-auth", "start")
		c.cmd.Stdout, c.cmd.Stderr = &c.log, &c.log
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if awaitTemporal(c.addr, false) {
			break
		}
		if attempt == 2 {
			t.Fatalf("temporal server did not come up, twice:\n%s", tail(c.log.String(), 4000))
		}
		t.Logf("temporal server did not come up; starting it again. Its log:\n%s", tail(c.log.String(), 4000))
		c.kill(t)
		c.log.Reset()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := client.NewNamespaceClient(client.Options{HostPort: c.addr, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: "default", WorkflowExecutionRetentionPeriod: durationpb.New(72 * time.Hour)})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		t.Fatalf("register namespace: %v", err)
	}
	if !awaitTemporal(c.addr, true) {
		t.Fatalf("namespace default did not become usable:\n%s", tail(c.log.String(), 4000))
	}
}

// kill kills the server this test started, by its PID.
func (c *temporalCluster) kill(t *testing.T) {
	if c.cmd == nil || c.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(c.cmd.Process.Pid, syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// kill kills the server this test started, by its PID.
func (s *temporalServer) kill(t *testing.T) {
	if s.cmd == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

func randInt(n int) int {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	v, _ := strconv.ParseUint(hex.EncodeToString(b), 16, 32)
	return int(v % uint64(n))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
