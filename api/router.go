// Package api is Tandem's HTTP surface: the gin router, handlers, request and
// response types, caller identification and the mapping of errors to HTTP.
package api

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"tandem/activities/ai"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/policies"
	"tandem/workflows"
)

// Config holds the dependencies and limits of the API.
type Config struct {
	Store Records
	// APIKeys authenticates API keys from memory (its Listen running); nil:
	// every request reads its key.
	APIKeys      *store.KeyCache
	Temporal     client.Client
	Authorizer   *policies.Authorizer
	Tokens       TokenConfig
	Audit        AuditLog           // how the audit log is checked and proved
	ExportSigner ed25519.PrivateKey // signs trail exports (not the checkpoints' key); nil: exports are refused
	TaskQueue    string
	Namespace    string // the Temporal namespace; "": default
	Logger       *slog.Logger
	MaxBodyBytes int64 // larger request bodies get 413
	// MaxAttachmentBytes bounds an uploaded file (0: DefaultMaxAttachmentBytes).
	MaxAttachmentBytes int64
	// MaxAttachmentsPerMessage bounds the files one message carries (0:
	// DefaultMaxAttachments; at most workflows.MaxAttachments).
	MaxAttachmentsPerMessage int
	HistoryLimit             int           // history length at which cases continue as new; 0: the workflow's default
	RequestTimeout           time.Duration // bound on each request's work, Temporal round trips included
	// Admission bounds the requests in flight, per process and per tenant;
	// zero: none (the binary configures DefaultAdmission's figures).
	Admission      Admission
	PerKeyLimit    RateLimit // requests per credential (an API key, a person); zero: none
	PerTenantLimit RateLimit // requests per tenant, all credentials together; zero: none
	// BadCredentialLimit bounds failed authentications per client address;
	// zero: DefaultBadCredentialLimit.
	BadCredentialLimit RateLimit
	// TrustedProxies are the addresses (IPs or CIDRs) of the proxies whose
	// X-Forwarded-For names the client; none: the connection's peer is the
	// client, and no header can change that.
	TrustedProxies []string
	AI             ai.Engine // for the knowledge-base search console; nil: 503 there
	// Payments is the payment provider reconciliation asks about each
	// payment (the worker's: the built-in simulated one over the store);
	// nil: reconciliation answers 503.
	Payments payments.Gateway
	// ForgetKeys drops destroyed data keys from this process's payload
	// codec (codec.Codec.Forget) when an erasure destroys them; nil: none.
	ForgetKeys func(keyIDs ...string)
	Meter      metric.Meter  // HTTP metrics; nil: none
	Tracer     trace.Tracer  // a span per request; nil: none
	Console    ConsoleConfig // how people sign in to the console
}

// Server serves the HTTP API.
type Server struct {
	store         Records
	apiKeys       *store.KeyCache
	temporal      client.Client
	authz         *policies.Authorizer
	tokens        TokenConfig
	auditLog      AuditLog
	exportSigner  ed25519.PrivateKey
	taskQueue     string
	namespace     string
	log           *slog.Logger
	maxBody       int64
	maxAttachment int64
	maxFiles      int // per message
	historyLimit  int
	timeout       time.Duration
	ai            ai.Engine
	payments      payments.Gateway
	forgetKeys    func(keyIDs ...string)
	perKey        *limiters
	perTenant     *limiters
	admission     *admission
	badCreds      *limiters
	streams       streamCounts // open event streams per caller
	metrics       *httpMetrics
	console       ConsoleConfig
	oidc          *oidcClient
}

// New returns the API's HTTP handler.
func New(cfg Config) http.Handler {
	s := &Server{
		store:         cfg.Store,
		apiKeys:       cfg.APIKeys,
		temporal:      cfg.Temporal,
		authz:         cfg.Authorizer,
		tokens:        cfg.Tokens,
		auditLog:      cfg.Audit,
		exportSigner:  cfg.ExportSigner,
		taskQueue:     cfg.TaskQueue,
		namespace:     cmp.Or(cfg.Namespace, "default"),
		log:           cfg.Logger,
		maxBody:       cfg.MaxBodyBytes,
		maxAttachment: cmp.Or(cfg.MaxAttachmentBytes, DefaultMaxAttachmentBytes),
		maxFiles:      min(cmp.Or(cfg.MaxAttachmentsPerMessage, DefaultMaxAttachments), workflows.MaxAttachments),
		historyLimit:  cfg.HistoryLimit,
		timeout:       cfg.RequestTimeout,
		perKey:        newLimiters(cfg.PerKeyLimit),
		perTenant:     newLimiters(cfg.PerTenantLimit),
		admission:     newAdmission(cfg.Admission, cfg.Meter),
		badCreds:      newLimiters(cmp.Or(cfg.BadCredentialLimit, DefaultBadCredentialLimit)),
		ai:            cfg.AI,
		payments:      cfg.Payments,
		forgetKeys:    cfg.ForgetKeys,
		metrics:       newHTTPMetrics(cfg.Meter),
		console:       cfg.Console,
	}
	if cfg.Console.OIDC != nil {
		s.oidc = newOIDCClient(*cfg.Console.OIDC)
	}
	r := gin.New()
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		panic(fmt.Sprintf("trusted proxies %v: %v", cfg.TrustedProxies, err)) // checked when the configuration is read
	}
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(traceRequests(cfg.Tracer), s.requestLog, s.recoverPanic, s.limits)
	r.NoRoute(func(c *gin.Context) {
		respondError(c, s.log, errorf(http.StatusNotFound, "route_not_found", "no such endpoint"))
	})
	r.NoMethod(func(c *gin.Context) {
		respondError(c, s.log, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this endpoint"))
	})

	// The console (console.go): pages, sign-in and the session, behind its
	// own session and CSRF checks.
	s.routeConsole(r)

	// Every other route is registered from its row in Endpoints (contract.go).
	// Every /v1 route authenticates, then checks the caller's roles for its
	// (object, action) and step-up class there; handlers then scope every
	// read to the caller's tenant.
	v1 := r.Group("/v1", s.badCredentialsGate, s.authenticate, s.rateLimit, s.admit, s.checkPathIDs, s.checkQueryText, s.authorize)
	for _, e := range Endpoints {
		if e.Handle == nil {
			continue // the console's, above
		}
		handle := func(c *gin.Context) error { return e.Handle(s, c) }
		if path, ok := strings.CutPrefix(e.Path, "/v1/"); ok {
			v1.Handle(e.Method, "/"+path, s.h(handle))
		} else {
			r.Handle(e.Method, e.Path, s.h(handle))
		}
	}
	return r
}

// handlerFunc is a handler that returns its error; h writes it (respondError).
type handlerFunc func(c *gin.Context) error

// h is the one place a handler's error becomes the response.
func (s *Server) h(fn handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			respondError(c, s.log, err)
		}
	}
}

const requestIDHeader = "X-Request-ID"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader(requestIDHeader)
	if !requestIDPattern.MatchString(id) {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Header(requestIDHeader, id)
	c.Next()
	s.metrics.record(c, time.Since(start))
	p, _ := c.Get(principalKey)
	who, _ := p.(Principal)
	s.log.InfoContext(c.Request.Context(), "http request",
		"request_id", id,
		"method", c.Request.Method,
		"route", c.FullPath(),
		"status", c.Writer.Status(),
		"duration_ms", time.Since(start).Milliseconds(),
		"tenant", who.Tenant,
		"principal", who.ID,
	)
}

func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(c.Request.Context(), "panic in handler", "route", c.FullPath(), "panic", p)
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": errInternal})
		}
	}()
	c.Next()
}

// limits bounds the body size and the time a request may take.
func (s *Server) limits(c *gin.Context) {
	limit := s.maxBody
	switch c.FullPath() {
	case "/v1/kb/import": // a whole knowledge base at once
		limit = max(limit, maxImportBodySize)
	case "/v1/bulk": // up to 10,000 case IDs
		limit = max(limit, maxBulkBodySize)
	case "/v1/cases/:id/attachments": // a file, and its multipart framing
		limit = max(limit, s.maxAttachment+64<<10)
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if c.FullPath() == "/v1/events" { // a stream: it bounds its own life
		c.Next()
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.timeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

func (s *Server) healthz(c *gin.Context) error {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
	return nil
}

// readyz reports whether PostgreSQL and Temporal answer; load balancers route
// traffic only to ready instances.
func (s *Server) readyz(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := gin.H{"postgres": "ok", "temporal": "ok"}
	ready := true
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: postgres", "err", err)
		checks["postgres"], ready = "unavailable", false
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		s.log.WarnContext(ctx, "readiness: temporal", "err", err)
		checks["temporal"], ready = "unavailable", false
	}
	if !ready {
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
		return nil
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": checks})
	return nil
}
