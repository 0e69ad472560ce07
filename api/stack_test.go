package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"tandem/activities"
	"tandem/activities/ai"
	"tandem/activities/auditlog"
	"tandem/activities/consistency"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
	"tandem/activities/webhooks"
	"tandem/api"
	"tandem/api/telemetry"
	"tandem/policies"
	"tandem/workflows"
	"tandem/workflows/codec"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	code := m.Run()
	storetest.StopObjects()
	os.Exit(code)
}

// stack is the real thing for one test: its own PostgreSQL database, a worker
// on its own task queue of the shared Temporal dev server, and the API over HTTP.
type stack struct {
	t        testing.TB
	store    *store.Store
	temporal client.Client
	// workerClient shares temporal's connection with the worker's converters.
	workerClient client.Client
	url          string
	handler      http.Handler // the API, for tests that read its routes
	keysMu       sync.Mutex
	keys         map[string]string // tenant → service API key, made on first use
	stepUps      map[string]string // "tenant/role" → step-up token, made on first use

	temporalAddr string
	queue        string              // the worker's task queue
	worker       worker.Worker       // the worker; a test may stop it and start another
	gateway      *payments.Simulated // the worker's payment gateway, to be told how to behave
	engine       ai.Engine
	llm          ai.Engine
	due          *webhooks.DeliveriesDue
	codec        *codec.Codec // the stack's payload codec, with its store's data keys
	metrics      *telemetry.Metrics
}

// auditPub and auditKey sign and check the test stacks' audit checkpoints.
var auditPub, auditKey, _ = ed25519.GenerateKey(rand.Reader)

// auditSigner and auditVerifier are that key as a checkpoint signer and verifier.
var auditSigner, _ = auditlog.Signer(auditKey)
var auditVerifier, _ = auditlog.Verifier(auditPub)

// testPayloadKey encrypts the test stacks' workflow payloads that no customer
// owns. Test-only key; it must match the one in workflows/replay_test.go,
// which replays histories recorded here (recordHistory re-seals customers'
// payloads under it, since their keys live in the stack's own database).
var testPayloadKey = codec.Key{ID: "test", Key: []byte("test-only-payload-key-32-bytes!!")}

// payloadCodec opens what testPayloadKey sealed.
var payloadCodec, _ = codec.New(nil, testPayloadKey)

// tokens is the JWT configuration of every test stack: development tokens
// (HS256). Tests of an identity provider's tokens configure its keys too.
var tokens = api.TokenConfig{Secret: []byte("test-only-secret-0123456789abcdef"), Issuer: "tandem-test", Audience: "tandem"}

// cred turns a test's "who" into an Authorization value: "" sends none,
// "acme" is acme's service API key, "acme/agent" a JWT for a person with
// that role (subject "<role>-1", or the one after a colon: "acme/agent:agent-2"),
// "raw:X" sends X as it is.
func (s *stack) cred(who string) string {
	s.t.Helper()
	if who == "" {
		return ""
	}
	if raw, ok := strings.CutPrefix(who, "raw:"); ok {
		return raw
	}
	if base, ok := strings.CutSuffix(who, "+totp"); ok {
		return "Bearer " + s.steppedUp(base)
	}
	tenant, role, isUser := strings.Cut(who, "/")
	if !isUser {
		s.keysMu.Lock()
		defer s.keysMu.Unlock()
		key, ok := s.keys[tenant]
		if !ok {
			var err error
			if key, _, err = s.store.CreateAPIKey(context.Background(), tenant, "test", "service"); err != nil {
				s.t.Fatal(err)
			}
			s.keys[tenant] = key
		}
		return "Bearer " + key
	}
	subject := role + "-1"
	if r, sub, ok := strings.Cut(role, ":"); ok {
		role, subject = r, sub
	}
	tok, err := api.MintToken(tokens, tenant, subject, []string{role}, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return "Bearer " + tok
}

const (
	tenantA = "acme"
	tenantB = "globex"
)

func newStack(t *testing.T) *stack { return newStackWith(t, 0) }

// newStackWith is newStack with cases continuing as new at historyLimit events.
func newStackWith(t testing.TB, historyLimit int) *stack {
	t.Helper()
	return newStackTraced(t, historyLimit, nil, true)
}

// newStackTraced is newStackWith with the API, the Temporal client and
// worker, and the store tracing to tp (nil: no tracing), and metrics
// recorded or not.
func newStackTraced(t testing.TB, historyLimit int, tp trace.TracerProvider, withMetrics bool) *stack {
	t.Helper()
	return newStackAll(t, historyLimit, tp, withMetrics, nil)
}

// newStackAll is newStackTraced with the console configured by console,
// given the server's URL (nil: no console sign-in).
func newStackAll(t testing.TB, historyLimit int, tp trace.TracerProvider, withMetrics bool, console func(url string) api.ConsoleConfig, setup ...func(*store.Store)) *stack {
	t.Helper()
	db := storetest.New(t)
	st := db.Store
	for _, f := range setup { // before the worker and the API use st
		f(st)
	}
	ctx := context.Background()
	for _, id := range []string{tenantA, tenantB} {
		if err := st.EnsureTenant(ctx, id, id); err != nil {
			t.Fatal(err)
		}
		if _, err := ai.SeedDemo(ctx, st, id); err != nil {
			t.Fatal(err)
		}
	}
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		addr = "127.0.0.1:7233"
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pc, err := codec.New(st, testPayloadKey) // customers' payloads under their data keys, in st
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := telemetry.New(log)
	if err != nil {
		t.Fatal(err)
	}
	opts := client.Options{HostPort: addr, Logger: nopLogger{}, DataConverter: pc.DataConverter(), FailureConverter: pc.FailureConverter()}
	var meter metric.Meter
	if withMetrics {
		opts.MetricsHandler, meter = metrics.Temporal(), metrics.Meter("tandem/api")
		pool, err := st.DB().DB()
		if err != nil {
			t.Fatal(err)
		}
		if err := metrics.WatchPool(pool); err != nil {
			t.Fatal(err)
		}
	}
	var tracer trace.Tracer
	if tp != nil {
		tracing, err := telemetry.TemporalTracing(tp)
		if err != nil {
			t.Fatal(err)
		}
		opts.Interceptors = []interceptor.ClientInterceptor{tracing}
		if err := st.UseTracer(tp.Tracer("tandem/store")); err != nil {
			t.Fatal(err)
		}
		tracer = tp.Tracer("tandem/api")
	}
	tc, err := client.DialContext(dialCtx, opts)
	if err != nil {
		t.Fatalf("Temporal is not reachable at %s (run the tests with `make test`, which starts it): %v", addr, err)
	}
	t.Cleanup(tc.Close)

	wopts := opts
	wopts.DataConverter, wopts.FailureConverter = pc.WorkerDataConverter(), pc.WorkerFailureConverter()
	wtc, err := client.NewClientFromExisting(tc, wopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wtc.Close)
	queue := "test-" + randomHex(6)
	w := worker.New(wtc, queue, worker.Options{})
	workflows.Register(w)
	engine, err := ai.NewLocal(st, ai.LocalOptions{RecheckEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in for an OpenAI-compatible endpoint, for tenants whose policy
	// chooses the LLM engine: it answers from the first article it is given.
	llmSrv := httptest.NewServer(http.HandlerFunc(fakeChatCompletions))
	t.Cleanup(llmSrv.Close)
	llm, err := ai.NewLLM(ai.LLMConfig{BaseURL: llmSrv.URL, Model: "fake-llm"}, engine)
	if err != nil {
		t.Fatal(err)
	}
	gateway := &payments.Simulated{Store: st}
	// Webhook loops wake on PostgreSQL's notifications; with the recheck an
	// hour the webhook tests rely on them (until the listener has connected,
	// loops poll).
	due := webhooks.NewDeliveriesDue(db.AppURL, log)
	listenCtx, stopListening := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() { due.Listen(listenCtx); close(listening) }()
	t.Cleanup(func() { stopListening(); <-listening })
	// Case events are held until their workflow task is known committed,
	// as the worker's settler does every 200 ms.
	settling := make(chan struct{})
	go func() {
		defer close(settling)
		checker := &consistency.Checker{Store: st, Temporal: tc}
		for listenCtx.Err() == nil {
			if _, err := checker.SettleEvents(listenCtx); err != nil && listenCtx.Err() == nil {
				log.Warn("settling webhook events", "err", err)
			}
			select {
			case <-listenCtx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { stopListening(); <-settling })
	(&activities.Activities{Store: st, AI: engine, LLM: llm, Gateway: gateway, Due: due, WebhookRecheck: time.Hour, Temporal: tc}).Register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewUnstartedServer(nil)
	extra := api.Config{Meter: meter, Tracer: tracer, Payments: gateway, ForgetKeys: pc.Forget}
	if console != nil {
		extra.Console = console("http://" + srv.Listener.Addr().String())
	}
	handler := newAPIWith(t, st, tc, queue, log, 15*time.Second, historyLimit, extra)
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)
	s := &stack{t: t, store: st, temporal: tc, workerClient: wtc, codec: pc, metrics: metrics, url: srv.URL, handler: handler, keys: map[string]string{}, stepUps: map[string]string{}, temporalAddr: addr, queue: queue,
		worker: w, gateway: gateway, engine: engine, llm: llm, due: due}
	t.Cleanup(func() { s.worker.Stop() })
	return s
}

// restartWorker stops the stack's worker, as a crash would, and starts a
// new one on the same task queue with the given gateway.
func (s *stack) restartWorker(gateway payments.Gateway) {
	s.t.Helper()
	s.worker.Stop()
	s.worker = worker.New(s.workerClient, s.queue, worker.Options{})
	workflows.Register(s.worker)
	(&activities.Activities{Store: s.store, AI: s.engine, LLM: s.llm, Gateway: gateway, Due: s.due, WebhookRecheck: time.Hour,
		Temporal: s.temporal}).Register(s.worker)
	if err := s.worker.Start(); err != nil {
		s.t.Fatal(err)
	}
}

func newAPI(t testing.TB, st *store.Store, tc client.Client, queue string, log *slog.Logger, timeout time.Duration, historyLimit int) http.Handler {
	return newAPIWith(t, st, tc, queue, log, timeout, historyLimit, api.Config{})
}

// newAPIWith is newAPI with the rate limits, telemetry, console and payment provider of extra.
func newAPIWith(t testing.TB, st *store.Store, tc client.Client, queue string, log *slog.Logger, timeout time.Duration, historyLimit int, extra api.Config) http.Handler {
	defaults, err := policies.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SyncDefaultPolicyRules(context.Background(), defaults); err != nil {
		t.Fatal(err)
	}
	engine, err := ai.NewLocal(st, ai.LocalOptions{RecheckEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	authz := &policies.Authorizer{}
	if _, err := api.SyncPolicies(context.Background(), st, authz, -1); err != nil {
		t.Fatal(err)
	}
	toks := tokens
	if extra.Tokens.Issuer != "" {
		toks = extra.Tokens
	}
	audit := api.AuditLog{VerifyKey: auditPub, Checkpoint: func(ctx context.Context, tenantID string) error {
		_, err := st.CheckpointAudit(ctx, tenantID, auditSigner, auditPub, nil)
		return err
	}}
	if extra.Audit.External != nil {
		audit = extra.Audit
	}
	// Keys are authenticated from memory, as in the binary, once their
	// changes are heard.
	keys := st.KeyCache(log)
	listen, stop := context.WithCancel(context.Background())
	listening := make(chan struct{})
	go func() { defer close(listening); keys.Listen(listen) }()
	t.Cleanup(func() { stop(); <-listening })
	for deadline := time.Now().Add(10 * time.Second); !keys.Listening(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the API key cache does not listen")
		}
	}
	return api.New(api.Config{
		Store: st, APIKeys: keys, Temporal: tc, Authorizer: authz, Tokens: toks, Audit: audit, ExportSigner: auditKey, TaskQueue: queue, Logger: log,
		MaxBodyBytes: 64 << 10, RequestTimeout: timeout, HistoryLimit: historyLimit, AI: engine,
		PerKeyLimit: extra.PerKeyLimit, PerTenantLimit: extra.PerTenantLimit, Meter: extra.Meter, Tracer: extra.Tracer, Console: extra.Console,
		Payments: extra.Payments, ForgetKeys: extra.ForgetKeys, BadCredentialLimit: extra.BadCredentialLimit,
	})
}

// totpCode is what an authenticator app holding the otpauth URL shows at t.
func totpCode(t testing.TB, otpauthURL string, at time.Time) string {
	t.Helper()
	key, err := otp.NewKeyFromURL(otpauthURL)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(key.Secret(), at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// steppedUp enrols the person who ("tenant/role") through the API, confirms
// with this step's code, steps up with the next step's, and returns the
// step-up token.
func (s *stack) steppedUp(who string) string { return s.steppedUpFor(who, api.StepUpClasses...) }

// steppedUpFor enrols who (once) and steps up for the action classes given;
// a person steps up once per stack.
func (s *stack) steppedUpFor(who string, classes ...string) string {
	s.t.Helper()
	s.keysMu.Lock()
	tok, ok := s.stepUps[who]
	s.keysMu.Unlock()
	if ok {
		return tok
	}
	var enrol struct {
		URL string `json:"otpauth_url"`
	}
	r := s.do("POST", "/v1/auth/totp/enrol", who, nil)
	if r.Status != http.StatusCreated {
		s.t.Fatalf("enrol %s: %d %s", who, r.Status, r.Body)
	}
	r.decode(s.t, &enrol)
	now := time.Now()
	if r := s.do("POST", "/v1/auth/totp/confirm", who, api.TOTPCodeRequest{Code: totpCode(s.t, enrol.URL, now)}); r.Status != http.StatusOK {
		s.t.Fatalf("confirm %s: %d %s", who, r.Status, r.Body)
	}
	var up api.StepUpToken
	r = s.do("POST", "/v1/auth/step-up", who, api.StepUpRequest{Code: totpCode(s.t, enrol.URL, now.Add(30*time.Second)), For: classes})
	if r.Status != http.StatusOK {
		s.t.Fatalf("step up %s: %d %s", who, r.Status, r.Body)
	}
	r.decode(s.t, &up)
	s.keysMu.Lock()
	s.stepUps[who] = up.Token
	s.keysMu.Unlock()
	return up.Token
}

// escalate has the customer ask for a person, which queues the case in the
// general queue.
func (s *stack) escalate(tenant, caseID string) {
	s.t.Helper()
	r := s.do("POST", "/v1/cases/"+caseID+"/messages", tenant, api.PostMessageRequest{Body: "I want to talk to a human"})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"status":"queued"`) {
		s.t.Fatalf("escalate: %d %s", r.Status, r.Body)
	}
}

// handTo escalates a case and has the agent who (a "tenant/agent[:subject]")
// claim it from the general queue, which a supervisor lets them work.
func (s *stack) handTo(who, caseID string) {
	s.t.Helper()
	tenant, rest, _ := strings.Cut(who, "/")
	subject := "agent-1"
	if _, sub, ok := strings.Cut(rest, ":"); ok {
		subject = sub
	}
	s.escalate(tenant, caseID)
	if r := s.do("PUT", "/v1/agents/"+subject+"/queues", tenant+"/supervisor", api.QueuesRequest{Queues: []string{"general"}}); r.Status != http.StatusOK {
		s.t.Fatalf("queues: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+caseID+"/claim", who, nil); r.Status != http.StatusOK {
		s.t.Fatalf("claim: %d %s", r.Status, r.Body)
	}
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// errorCode returns the machine-readable code of an error response.
func (r response) errorCode(t testing.TB) string {
	t.Helper()
	var e struct {
		Error api.Error `json:"error"`
	}
	r.decode(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body without code and message: %s", r.Body)
	}
	return e.Error.Code
}

// do sends a request as who (see cred); body is sent as-is when it is
// []byte or string, and as JSON otherwise.
func (s *stack) do(method, path, who string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c := s.cred(who); c != "" {
		req.Header.Set("Authorization", c)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	checkContract(s.t, req, resp.StatusCode, resp.Header, raw)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// openCase opens a case in tenant and fails the test unless it gets 201.
func (s *stack) openCase(tenant string, req api.OpenCaseRequest) api.ExchangeJSON {
	s.t.Helper()
	r := s.do("POST", "/v1/cases", tenant, req)
	if r.Status != http.StatusCreated {
		s.t.Fatalf("open case: status %d: %s", r.Status, r.Body)
	}
	var out api.ExchangeJSON
	r.decode(s.t, &out)
	return out
}

// inScopeQuestions are customer questions the demo knowledge base answers,
// each from a different article, so that the AI answers every one of them.
var inScopeQuestions = []string{
	"How long does a refund take?", "How do I change my delivery address?", "I forgot my password",
	"How do I cancel my order?", "What payment methods do you accept?", "What are your opening hours?",
	"My item arrived broken",
}

// inScope returns the i-th in-scope question, cycling; consecutive ones differ.
func inScope(i int) string { return inScopeQuestions[i%len(inScopeQuestions)] }

func sampleCase() api.OpenCaseRequest {
	return api.OpenCaseRequest{
		CustomerRef: "cust-42", Channel: "web_chat", Subject: "Order never arrived",
		Message: "My order #1001 has not arrived yet.",
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// nopLogger keeps the SDK's worker chatter out of test output.
type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}

// recordHistory writes the workflow's history to workflows/testdata/ for the
// replay test when TANDEM_RECORD_HISTORIES=1 (`make histories`); otherwise it
// does nothing.
func (s *stack) recordHistory(wfID, name string) {
	s.t.Helper()
	if os.Getenv("TANDEM_RECORD_HISTORIES") != "1" {
		return
	}
	it := s.temporal.GetWorkflowHistory(context.Background(), wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var hist historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	// The replay test has the payload key, not this stack's data keys.
	err := proxy.VisitPayloads(context.Background(), &hist, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			plain, err := s.codec.Decode(ps)
			if err != nil {
				return nil, err
			}
			return payloadCodec.Encode(plain)
		}})
	if err != nil {
		s.t.Fatal(err)
	}
	raw, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&hist)
	if err != nil {
		s.t.Fatal(err)
	}
	typ := workflows.CaseWorkflowName
	switch {
	case strings.HasPrefix(wfID, "refund:"):
		typ = workflows.RefundWorkflowName
	case strings.HasPrefix(wfID, "webhook:"):
		typ = workflows.WebhookWorkflowName
	case strings.HasPrefix(wfID, "bulk:"):
		typ = workflows.BulkWorkflowName
	}
	path := "../workflows/testdata/" + typ + "_" + name + ".json"
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("recorded %d events to %s", len(hist.Events), path)
}

// staffCase reads a case as the tenant's supervisor sees it: with the
// escalation reason, queue and assignee a front end does not see.
func (s *stack) staffCase(tenant, id string) api.CaseJSON {
	s.t.Helper()
	var got api.CaseWithMessages
	if r := s.do("GET", "/v1/cases/"+id, tenant+"/supervisor", nil); r.Status != http.StatusOK {
		s.t.Fatalf("read case %s: %d %s", id, r.Status, r.Body)
	} else {
		r.decode(s.t, &got)
	}
	return got.Case
}

// ptr returns a pointer to v, for optional request fields.
func ptr[T any](v T) *T { return &v }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// fakeChatCompletions answers a chat completion from the first article in
// the system prompt, citing it, as a grounded model would.
// llmPrompts holds the instructions the fake LLM was given, by the
// customer's message it answered.
var llmPrompts sync.Map

func fakeChatCompletions(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []struct{ Content string }
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	system := req.Messages[0].Content
	llmPrompts.Store(req.Messages[len(req.Messages)-1].Content, system)
	_, arts, _ := strings.Cut(system, "Articles:\n[")
	id, rest, _ := strings.Cut(arts, "] ")
	_, answer, _ := strings.Cut(rest, "\n")
	answer, _, _ = strings.Cut(answer, "\n")
	_ = json.NewEncoder(w).Encode(map[string]any{"choices": []map[string]any{{"message": map[string]string{
		"role": "assistant", "content": "In short: " + answer + " [" + id + "]"}}}})
}

// stream is an open GET /v1/events: its answer's status and headers, and
// the events read from it.
type stream struct {
	response
	events chan sseEvent
	cancel context.CancelFunc
}

type sseEvent struct {
	ID, Type, Data string
}

// openStream opens the live stream as who (lastID: Last-Event-ID, "" for
// none); it closes when the test ends.
func (s *stack) openStream(who, lastID string) *stream {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", s.url+"/v1/events", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if c := s.cred(who); c != "" {
		req.Header.Set("Authorization", c)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	st := &stream{response: response{Status: resp.StatusCode, Header: resp.Header}, events: make(chan sseEvent, 1000), cancel: cancel}
	if resp.StatusCode != http.StatusOK {
		st.Body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return st
	}
	go func() {
		defer resp.Body.Close()
		defer close(st.events)
		var ev sseEvent
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Type != "" {
					st.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	return st
}

// next waits for the stream's next event of a type in types (any, if none given).
func (st *stream) next(t *testing.T, types ...string) sseEvent {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-st.events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if len(types) == 0 || slices.Contains(types, ev.Type) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event on the stream", types)
		}
	}
}
