// Command tandem is Tandem's one binary: the HTTP API, the Temporal worker,
// both at once for development, schema migrations and a benchmark.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // service policies name time zones; the binary must not depend on the host's

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"tandem/activities"
	"tandem/activities/ai"
	"tandem/activities/consistency"
	"tandem/activities/envelope"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/activities/webhooks"
	"tandem/api"
	"tandem/api/telemetry"
	"tandem/policies"
	"tandem/workflows"
)

// version is set at build time by .ci/stack.sh (git describe).
var version = "dev"

const usage = `usage: tandem <command>

commands:
  serve                 run the HTTP API
  worker                run the Temporal worker
  dev                   run the API and the worker in one process
  migrate up|down [N]|status
                        apply, revert (default 1) or list schema migrations
  seed                  create the demo tenant (idempotent)
  token -tenant T -sub S -roles R[,R] [-ttl 8h]
                        print a signed JWT for a person (needs TANDEM_JWT_SECRET or _FILE)
  token revoke -tenant T -jti J | -sub S
                        revoke one token, or every token of a person issued until now
  apikey create -tenant T -name N | list -tenant T | revoke -tenant T -id ID
                        manage service clients' API keys
  audit verify [-tenant T] | checkpoint [-tenant T] | keygen | verify-key [-export]
                        check audit logs against every checkpoint (exit 1 naming the
                        first broken entry or checkpoint), sign checkpoints now, make
                        a signing key, or print the configured key's public half
  audit verify-export -export-key K -audit-key K [-witness VKEY]... [-quorum N] FILE
                        check a trail export offline with only the public keys
  witness -state DIR -log-key K [-addr :8091]
                        cosign the audit log's checkpoints that extend the last one seen
  reconcile [-tenant T] [-stuck-after 15m]
                        check that each ledger balances and agrees with the payment
                        gateway, payment by payment, and that no refund is stuck
                        (exit 1 listing mismatches and stuck refunds)
  doctor [-tenant T] [-repair]
                        compare each open case's record with its workflow's state;
                        -repair makes the records agree (exit 1 while any differ)
  totp-code [-in 30s] URL
                        the code an authenticator app shows for an otpauth URL (development)
  codec-server          serve the Temporal Web UI's codec endpoint on TANDEM_CODEC_ADDR
  retention run         purge the content of cases past their tenant's retention period now
  search reindex [-tenant T]
                        rebuild the search index of every case (erased customers' stay empty)
  keys generate | rotate
                        make a master key; re-wrap every data key with the current one
  bench [flags]         measure case throughput against a running stack (tandem bench -h)
  bench -burst [flags]  a tenant's burst at 10× the steady rate against a running stack:
                        goodput, refusals, errors, lost acknowledgements, recovery
  eval [-data DIR] [-json]
                        measure the AI layer on public data (default ../shared/eval)
  train-emotion [-data DIR] [-out DIR]
                        train the emotion models from that data (written to activities/ai/models)
  version               print the version

configuration is read from the environment; see README.md`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tandem:", err)
		if errors.Is(err, envelope.ErrWrongMasterKey) {
			fmt.Fprintln(os.Stderr, "tandem: this database was keyed by another master key (TANDEM_MASTER_KEY or _FILE): configure the key it was made with "+
				"(for make run, restore the .data/ key files of the checkout that made it), or, for a development database only, start afresh with `make reset`")
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "version":
		fmt.Fprintln(stdout, "tandem", version)
		return nil
	case "totp-code":
		return runTOTPCode(args[1:], stdout)
	case "eval":
		return runEval(ctx, args[1:], stdout)
	case "train-emotion":
		return runTrainEmotion(args[1:], stdout)
	case "witness":
		return runWitness(ctx, args[1:], stdout)
	}
	if len(args) > 1 && args[0] == "audit" && args[1] == "verify-export" {
		return runVerifyExport(args[2:], stdout) // on a machine with only the export and the public keys
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	switch args[0] {
	case "serve", "worker", "dev":
		log.Info("tandem starting", append([]any{"command", args[0], "version", version}, cfg.logAttrs()...)...)
		return runServices(ctx, cfg, log, args[0])
	case "migrate":
		return runMigrate(ctx, cfg, args[1:], stdout)
	case "seed":
		return runSeed(ctx, cfg, stdout)
	case "token":
		return runToken(ctx, cfg, args[1:], stdout)
	case "apikey":
		return runAPIKey(ctx, cfg, args[1:], stdout)
	case "audit":
		return runAudit(ctx, cfg, args[1:], stdout)
	case "keys":
		return runKeys(ctx, cfg, args[1:], stdout)
	case "retention":
		return runRetention(ctx, cfg, args[1:], stdout)
	case "reconcile":
		return runReconcile(ctx, cfg, args[1:], stdout)
	case "search":
		return runSearch(ctx, cfg, args[1:], stdout)
	case "doctor":
		return runDoctor(ctx, cfg, log, args[1:], stdout)
	case "codec-server":
		return runCodecServer(ctx, cfg, log)
	case "bench":
		return runBench(ctx, cfg, log, args[1:], stdout)
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}

func newLogger(cfg config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// runServices runs the API, the worker or both until ctx is cancelled, then
// shuts down gracefully: the API stops accepting and drains, then the worker
// stops polling and lets running tasks finish.
func runServices(ctx context.Context, cfg config, log *slog.Logger, mode string) error {
	metrics, err := telemetry.New(log)
	if err != nil {
		return err
	}
	tp, stopTracing, err := telemetry.Tracing(ctx, cfg.TracesURL, "tandem-"+mode)
	if err != nil {
		return err
	}
	defer func() { _ = stopTracing(context.Background()) }()
	obs := observe{metrics: metrics.Temporal()}
	if cfg.TracesURL != "" { // off, the interceptor would still write every call's headers
		tracing, err := telemetry.TemporalTracing(tp)
		if err != nil {
			return err
		}
		obs.interceptors = []interceptor.ClientInterceptor{tracing}
	}
	st, tc, pc, err := connectWith(ctx, cfg, log, obs)
	if err != nil {
		return err
	}
	if cfg.TracesURL != "" {
		if err := st.UseTracer(tp.Tracer("tandem/store")); err != nil {
			return err
		}
	}
	defer st.Close()
	defer tc.Close()
	pool, err := st.DB().DB()
	if err != nil {
		return err
	}
	if err := metrics.WatchPool(pool); err != nil {
		return err
	}

	// Policies live in PostgreSQL: the defaults as policies/ has them now,
	// and each tenant's own rules.
	defaults, err := policies.DefaultRules()
	if err != nil {
		return err
	}
	if _, err := st.SyncDefaultPolicyRules(ctx, defaults); err != nil {
		return err
	}
	authz := &policies.Authorizer{}
	policyVersion, err := api.SyncPolicies(ctx, st, authz, -1)
	if err != nil {
		return err
	}

	// One engine, one index per tenant, shared by the worker's AI turns and
	// the API's knowledge-base console.
	engine, err := ai.NewLocal(st, ai.LocalOptions{})
	if err != nil {
		return err
	}
	var w worker.Worker
	var due *webhooks.DeliveriesDue
	if mode == "worker" || mode == "dev" {
		// One cache for the process's workers: a cached case costs about
		// 70 kB (docs/benchmarks.md), so the cache bounds the worker's memory.
		worker.SetStickyWorkflowCacheSize(cfg.WorkflowCacheSize)
		wc, err := workerClient(tc, pc, cfg, log, obs)
		if err != nil {
			return err
		}
		defer wc.Close()
		w = worker.New(wc, cfg.TaskQueue, worker.Options{
			WorkerStopTimeout: cfg.ShutdownTimeout,
			// With a fixed two pollers, new cases' first workflow tasks waited
			// up to ~50 s on the normal queue while the pollers sat on the
			// sticky one; autoscaling keeps a poll open on each.
			WorkflowTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
		})
		workflows.Register(w)
		// The simulated gateway until a real payment service provider is plugged in (see activities/payments).
		due = webhooks.NewDeliveriesDue(cfg.DatabaseURL, log)
		if err := watchDeliveriesDue(metrics, due); err != nil {
			return err
		}
		// Activities send updates with the client that answers errors, not the
		// worker's, which fails a workflow task when a key cannot be read.
		acts := &activities.Activities{Store: st, AI: engine, Gateway: &payments.Simulated{Store: st}, Due: due, Temporal: tc}
		if cfg.LLMBaseURL != "" {
			llm, err := ai.NewLLM(ai.LLMConfig{BaseURL: cfg.LLMBaseURL, Model: cfg.LLMModel, APIKey: cfg.LLMAPIKey, Timeout: cfg.LLMTimeout}, engine)
			if err != nil {
				return err
			}
			acts.LLM = llm
		}
		acts.Register(w)
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		log.Info("worker polling", "task_queue", cfg.TaskQueue)
	}

	// Background loops end with loopCtx; shutdown waits for them.
	loopCtx, stopLoop := context.WithCancel(ctx)
	var loops sync.WaitGroup
	defer func() { stopLoop(); loops.Wait() }()
	// The worker side signs audit checkpoints, when it holds the key.
	if w != nil && cfg.AuditSigningKey != nil {
		cp, err := newCheckpointer(st, cfg, metrics.Meter("tandem/audit"), log)
		if err != nil {
			w.Stop()
			return err
		}
		loops.Go(func() { every(loopCtx, cfg.AuditCheckpointGap, cp.run) })
	}
	if w != nil {
		loops.Go(func() { every(loopCtx, 200*time.Millisecond, sequencer(st, metrics.Meter("tandem/audit"), log)) })
		loops.Go(func() { due.Listen(loopCtx) })
		loops.Go(func() { every(loopCtx, time.Hour, retention(st, cfg.UploadTTL, log)) })
		loops.Go(func() { every(loopCtx, time.Hour, eventPruner(st, cfg.EventBacklog, log)) })
		checker := &consistency.Checker{Store: st, Temporal: tc, Namespace: cfg.TemporalNamespace, Rate: float64(cfg.ConsistencyRate)}
		loops.Go(func() { every(loopCtx, 200*time.Millisecond, eventSettler(checker, log)) })
		loops.Go(func() { every(loopCtx, cfg.ConsistencyEvery, consistencyRepairer(st, checker, log)) })
	}

	var srv *http.Server
	serveErr := make(chan error, 1)
	var apiKeys *store.KeyCache
	if mode == "serve" || mode == "dev" {
		tokens := cfg.tokens()
		if tokens.Keys, err = cfg.keySet(loopCtx, log); err != nil {
			if w != nil {
				w.Stop()
			}
			return err
		}
		loops.Go(func() { every(loopCtx, 5*time.Second, policySyncer(st, authz, policyVersion, log)) })
		// API keys are checked from memory while their changes are heard.
		apiKeys = st.KeyCache(log)
		loops.Go(func() { apiKeys.Listen(loopCtx) })
		if err := watchListening(metrics.Meter("tandem/api"), "tandem_api_keys_listening",
			"1 while the API hears of API key changes and checks keys from memory; 0 while every request reads its key", apiKeys.Listening); err != nil {
			return err
		}
		var cp *checkpointer
		if cfg.AuditSigningKey != nil {
			if cp, err = newCheckpointer(st, cfg, metrics.Meter("tandem/audit"), log); err != nil {
				if w != nil {
					w.Stop()
				}
				return err
			}
		}
		auditLog := cfg.auditLog(cp)
		gin.SetMode(gin.ReleaseMode)
		srv = &http.Server{
			Addr: cfg.HTTPAddr,
			Handler: api.New(api.Config{
				Store: st, APIKeys: apiKeys, Temporal: tc, TaskQueue: cfg.TaskQueue, Namespace: cfg.TemporalNamespace, Logger: log,
				Authorizer: authz, Tokens: tokens, Audit: auditLog, ExportSigner: cfg.ExportSigningKey,
				MaxBodyBytes: cfg.MaxBodyBytes, MaxAttachmentBytes: cfg.MaxAttachment, MaxAttachmentsPerMessage: int(cfg.MaxFiles), RequestTimeout: cfg.RequestTimeout, HistoryLimit: int(cfg.HistoryLimit),
				PerKeyLimit: cfg.PerKeyLimit, PerTenantLimit: cfg.PerTenantLimit, Admission: cfg.Admission, TrustedProxies: cfg.TrustedProxies,
				AI: engine, Meter: metrics.Meter("tandem/api"), Tracer: tp.Tracer("tandem/api"),
				Console: api.ConsoleConfig{DevUsers: cfg.ConsoleDevUsers, OIDC: cfg.OIDC}, ForgetKeys: pc.Forget,
				Payments: &payments.Simulated{Store: st},
			}),
			// A slow client may not hold a connection: headers in 10 s, the
			// body in 30 s, the answer written within the request's own bound.
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      cfg.RequestTimeout + 15*time.Second,
			IdleTimeout:       2 * time.Minute,
		}
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			if w != nil {
				w.Stop()
			}
			return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
		}
		log.Info("API listening", "addr", "http://"+ln.Addr().String())
		go func() { serveErr <- srv.Serve(ln) }()
	}

	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		if metricsSrv, err = startMetricsServer(cfg.MetricsAddr, cfg.Pprof, metrics, log, serveErr); err != nil {
			return err
		}
	}
	var codecSrv *http.Server
	if mode == "dev" && cfg.CodecAddr != "" {
		if codecSrv, err = startCodecServer(cfg, st, log, serveErr); err != nil {
			return err
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	}
	for _, s := range []*http.Server{srv, codecSrv, metricsSrv} {
		if s == nil {
			continue
		}
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		if err := s.Shutdown(sctx); err != nil {
			log.Warn("HTTP server did not drain in time", "addr", s.Addr, "err", err)
		}
		cancel()
	}
	if w != nil {
		w.Stop()
	}
	log.Info("stopped")
	return runErr
}

// every runs fn every d until ctx ends. Background work of the worker and
// the API uses it; runServices waits for each before it returns.
func every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// watchDeliveriesDue exports whether the worker receives PostgreSQL's
// notifications of webhook deliveries: while it does not, every endpoint's
// loop polls every 50 ms.
func watchDeliveriesDue(m *telemetry.Metrics, due *webhooks.DeliveriesDue) error {
	return watchListening(m.Meter("tandem/worker"), "tandem_webhook_notifications_listening",
		"1 while the worker receives PostgreSQL's notifications of webhook deliveries; 0 while its delivery loops poll", due.Listening)
}

// watchListening reports a LISTEN session's state as a 0/1 gauge.
func watchListening(meter metric.Meter, name, description string, listening func() bool) error {
	_, err := meter.Int64ObservableGauge(name, metric.WithDescription(description),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			v := int64(0)
			if listening() {
				v = 1
			}
			o.Observe(v)
			return nil
		}))
	return err
}

// policySyncer picks up policy changes other instances made.
func policySyncer(st *store.Store, authz *policies.Authorizer, have int64, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		v, err := api.SyncPolicies(ctx, st, authz, have)
		if err != nil {
			log.Warn("policy reload failed; keeping the rules we have", "err", err)
			return
		}
		if v != have {
			log.Info("policy reloaded", "version", v)
		}
		have = v
	}
}

// demoTenant is the tenant `make run` seeds for the README walkthrough.
const demoTenant = "demo"

// startMetricsServer serves /metrics on its own address, so that the API's
// port never exposes them; with pprof, Go's profiles too (/debug/pprof/).
func startMetricsServer(addr string, withPprof bool, metrics *telemetry.Metrics, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("metrics listening", "addr", "http://"+ln.Addr().String()+"/metrics")
	go func() { errc <- srv.Serve(ln) }()
	return srv, nil
}

// eventPruner bounds the event backlog (the live stream's and the webhook
// deliveries' history): events older than keep that no endpoint still owes go.
func eventPruner(st *store.Store, keep time.Duration, log *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		n, err := st.PruneEvents(ctx, keep)
		if err != nil {
			log.Warn("pruning events failed", "err", err)
			return
		}
		if n > 0 {
			log.Info("pruned events", "events", n, "older_than", keep.String())
		}
	}
}
