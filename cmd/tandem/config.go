package main

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"golang.org/x/mod/sumdb/note"

	"tandem/activities/auditlog"
	"tandem/activities/envelope"
	"tandem/api"
	"tandem/workflows"
	"tandem/workflows/codec"
)

// settings is what the environment sets: each field's variable and
// default, read by caarlos0/env. A secret may instead be read from the file
// its _FILE variable names. loadConfig checks them and derives the rest.
type settings struct {
	// The roles `make run` creates: dev-only credentials.
	DatabaseURL       string        `env:"DATABASE_URL" envDefault:"postgres://tandem_app:tandem-app-dev-only@127.0.0.1:5432/tandem?sslmode=disable"`        // the application's role: rows, no DDL
	MigrateURL        string        `env:"TANDEM_MIGRATE_DATABASE_URL" envDefault:"postgres://tandem:tandem-dev-only@127.0.0.1:5432/tandem?sslmode=disable"` // the owner's role: migrations
	AppDBRole         string        `env:"TANDEM_APP_DB_ROLE"`                                                                                               // the role `migrate up` grants to; set to "": none
	TemporalAddress   string        `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string        `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TaskQueue         string        `env:"TANDEM_TASK_QUEUE"`
	HTTPAddr          string        `env:"TANDEM_HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	MaxBodyBytes      int64         `env:"TANDEM_MAX_BODY_BYTES" envDefault:"65536"`
	MaxAttachment     int64         `env:"TANDEM_MAX_ATTACHMENT_BYTES" envDefault:"10485760"`
	MaxFiles          int64         `env:"TANDEM_MAX_ATTACHMENTS_PER_MESSAGE" envDefault:"5"`
	UploadTTL         time.Duration `env:"TANDEM_UNSENT_UPLOAD_TTL" envDefault:"24h"` // an upload no message carried by then is deleted
	HistoryLimit      int64         `env:"TANDEM_HISTORY_LIMIT"`
	RequestTimeout    time.Duration `env:"TANDEM_REQUEST_TIMEOUT" envDefault:"15s"`
	ShutdownTimeout   time.Duration `env:"TANDEM_SHUTDOWN_TIMEOUT" envDefault:"20s"`
	LogLevel          slog.Level    `env:"TANDEM_LOG_LEVEL" envDefault:"info"`
	LogFormat         string        `env:"TANDEM_LOG_FORMAT" envDefault:"text"`

	JWTSecret      string        `env:"TANDEM_JWT_SECRET"` // HS256 secret for people's tokens; empty disables JWTs
	JWTSecretFile  string        `env:"TANDEM_JWT_SECRET_FILE,file"`
	JWTIssuer      string        `env:"TANDEM_JWT_ISSUER" envDefault:"tandem-dev"`
	JWTAudience    string        `env:"TANDEM_JWT_AUDIENCE" envDefault:"tandem"`
	JWTMaxLifetime time.Duration `env:"TANDEM_JWT_MAX_LIFETIME"` // the longest a person's token may live
	JWKSFile       string        `env:"TANDEM_JWKS_FILE"`        // RS256/ES256 keys of people's tokens, from a file
	JWKSURL        string        `env:"TANDEM_JWKS_URL"`         // … or from an identity provider, refreshed
	JWKSRefresh    time.Duration `env:"TANDEM_JWKS_REFRESH" envDefault:"10m"`

	// Console: development sign-ins (make run only) and the OIDC provider.
	ConsoleDevUsers bool     `env:"TANDEM_CONSOLE_DEV_USERS"`
	TrustedProxies  []string `env:"TANDEM_TRUSTED_PROXIES"` // proxies whose X-Forwarded-For names the client
	OIDCIssuer      string   `env:"TANDEM_OIDC_ISSUER"`
	OIDCClientID    string   `env:"TANDEM_OIDC_CLIENT_ID"`
	OIDCSecret      string   `env:"TANDEM_OIDC_CLIENT_SECRET"`
	OIDCSecretFile  string   `env:"TANDEM_OIDC_CLIENT_SECRET_FILE,file"`
	OIDCRedirectURL string   `env:"TANDEM_OIDC_REDIRECT_URL"`
	OIDCTenantClaim string   `env:"TANDEM_OIDC_TENANT_CLAIM"`
	OIDCRolesClaim  string   `env:"TANDEM_OIDC_ROLES_CLAIM"`
	OIDCTenant      string   `env:"TANDEM_OIDC_TENANT"`

	// The audit trail's keys: Ed25519 seeds, base64.
	AuditSigningSeed      string `env:"TANDEM_AUDIT_SIGNING_KEY"`
	AuditSigningSeedFile  string `env:"TANDEM_AUDIT_SIGNING_KEY_FILE,file"`
	AuditVerifyKeyB64     string `env:"TANDEM_AUDIT_VERIFY_KEY"`
	ExportSigningSeed     string `env:"TANDEM_EXPORT_SIGNING_KEY"`
	ExportSigningSeedFile string `env:"TANDEM_EXPORT_SIGNING_KEY_FILE,file"`
	// AuditCheckpointDir keeps signed checkpoints outside the database
	// (auditlog.DirLog); "": none.
	AuditCheckpointDir string        `env:"TANDEM_AUDIT_CHECKPOINT_DIR"`
	AuditCheckpointGap time.Duration `env:"TANDEM_AUDIT_CHECKPOINT_EVERY" envDefault:"1m"`
	AuditWitnessList   []string      `env:"TANDEM_AUDIT_WITNESSES"` // VKEY@URL each
	AuditWitnessQuorum int           `env:"TANDEM_AUDIT_WITNESS_QUORUM"`

	// Rate limits of the API: requests a second per credential and per
	// tenant (bursts of twice as many); zero: none.
	PerKeyRate    float64 `env:"TANDEM_RATE_PER_KEY" envDefault:"500"`
	PerTenantRate float64 `env:"TANDEM_RATE_PER_TENANT" envDefault:"2000"`
	// Admission bounds the requests an API process works on at once, and
	// each tenant's share of them; 0 lifts the bound.
	MaxInFlight          int `env:"TANDEM_MAX_IN_FLIGHT"`
	MaxInFlightPerTenant int `env:"TANDEM_MAX_IN_FLIGHT_PER_TENANT"`

	// ConsistencyEvery: how often the worker holds every open case's record
	// against its workflow and repairs it (tandem doctor -repair).
	ConsistencyEvery time.Duration `env:"TANDEM_CONSISTENCY_EVERY" envDefault:"10m"`
	// ConsistencyRate: workflows the periodic check queries a second.
	ConsistencyRate int64 `env:"TANDEM_CONSISTENCY_RATE" envDefault:"20"`

	// Master keys wrap the data keys of personal data, payload keys encrypt
	// Temporal payloads: ID:BASE64 each, the current one and older ones
	// (comma-separated) that still decrypt.
	MasterKey              string `env:"TANDEM_MASTER_KEY"`
	MasterKeyFile          string `env:"TANDEM_MASTER_KEY_FILE,file"`
	MasterKeysPrevious     string `env:"TANDEM_MASTER_KEYS_PREVIOUS"`
	MasterKeysPreviousFile string `env:"TANDEM_MASTER_KEYS_PREVIOUS_FILE,file"`
	PayloadKey             string `env:"TANDEM_PAYLOAD_KEY"`
	PayloadKeyFile         string `env:"TANDEM_PAYLOAD_KEY_FILE,file"`
	PayloadKeysPrevious    string `env:"TANDEM_PAYLOAD_KEYS_PREVIOUS"`
	PayloadKeysPrevFile    string `env:"TANDEM_PAYLOAD_KEYS_PREVIOUS_FILE,file"`

	CodecAddr   string `env:"TANDEM_CODEC_ADDR"`                                           // where `dev` and `codec-server` serve the Web UI's codec endpoint
	CodecOrigin string `env:"TANDEM_CODEC_CORS_ORIGIN" envDefault:"http://127.0.0.1:8233"` // the Web UI's origin, allowed to call it
	MetricsAddr string `env:"TANDEM_METRICS_ADDR"`                                         // where serve, worker and dev serve /metrics; "": nowhere
	Pprof       bool   `env:"TANDEM_PPROF"`                                                // also serve Go's profiles beside /metrics
	// WorkflowCacheSize: how many workflows a worker keeps in memory
	// between their tasks (the SDK's sticky cache).
	WorkflowCacheSize int    `env:"TANDEM_WORKFLOW_CACHE" envDefault:"10000"`
	TracesURL         string `env:"TANDEM_OTLP_TRACES_URL"` // an OTLP/HTTP collector's traces URL; "": no tracing
	// EventBacklog: how long events are kept for the live stream's
	// Last-Event-ID and the deliveries' history (undelivered ones longer).
	EventBacklog time.Duration `env:"TANDEM_EVENT_BACKLOG" envDefault:"72h"`

	// LLM: an OpenAI-compatible endpoint for tenants whose policy chooses
	// the LLM engine; unset, they get the local engine.
	LLMBaseURL    string        `env:"TANDEM_LLM_BASE_URL"`
	LLMModel      string        `env:"TANDEM_LLM_MODEL"`
	LLMAPIKey     string        `env:"TANDEM_LLM_API_KEY"`
	LLMAPIKeyFile string        `env:"TANDEM_LLM_API_KEY_FILE,file"`
	LLMTimeout    time.Duration `env:"TANDEM_LLM_TIMEOUT" envDefault:"2s"`

	// An S3-compatible object store for attachments' sealed bytes; unset:
	// they are kept in PostgreSQL.
	ObjectStoreURL      string `env:"TANDEM_OBJECT_STORE_URL"` // http(s)://host:port
	ObjectBucket        string `env:"TANDEM_OBJECT_STORE_BUCKET" envDefault:"tandem-attachments"`
	ObjectRegion        string `env:"TANDEM_OBJECT_STORE_REGION" envDefault:"us-east-1"`
	ObjectAccessKey     string `env:"TANDEM_OBJECT_STORE_ACCESS_KEY"`
	ObjectSecretKey     string `env:"TANDEM_OBJECT_STORE_SECRET_KEY"`
	ObjectSecretKeyFile string `env:"TANDEM_OBJECT_STORE_SECRET_KEY_FILE,file"`
}

// config is every setting of the binary: the environment's, checked, and
// what is derived from it.
type config struct {
	settings
	JWTSecretBytes []byte // JWTSecret or its file's
	OIDC           *api.OIDCConfig
	// AuditSigningKey signs audit checkpoints (worker, dev); AuditVerifyKey
	// checks them (derived from the signing key when only that is set).
	AuditSigningKey ed25519.PrivateKey
	AuditVerifyKey  ed25519.PublicKey
	// ExportSigningKey signs trail exports (serve, dev): the API holds it,
	// never the checkpoints' signing key.
	ExportSigningKey ed25519.PrivateKey
	// AuditWitnesses cosign each checkpoint (the checkpointer sends them
	// there); verification needs AuditWitnessQuorum of their cosignatures.
	AuditWitnesses              []witnessConfig
	PerKeyLimit, PerTenantLimit api.RateLimit
	Admission                   api.Admission
	MasterKeys                  []envelope.MasterKey // the first wraps, all unwrap
	PayloadKeys                 []codec.Key          // the first encrypts, all decrypt
}

// payloadCodec returns the Temporal payload codec, or how to configure it;
// keys (the store) finds customers' data keys, nil for none.
func (c config) payloadCodec(keys codec.Keys) (*codec.Codec, error) {
	if len(c.PayloadKeys) == 0 {
		return nil, errors.New("TANDEM_PAYLOAD_KEY is not set: workflow history would hold conversations in clear (tandem keys generate makes one; make run makes a dev-only one)")
	}
	return codec.New(keys, c.PayloadKeys...)
}

// keyring returns the master keyring, or an error saying how to configure one.
func (c config) keyring() (*envelope.Keyring, error) {
	if len(c.MasterKeys) == 0 {
		return nil, errors.New("TANDEM_MASTER_KEY is not set: personal data cannot be encrypted (tandem keys generate makes one; make run makes a dev-only one)")
	}
	return envelope.NewKeyring(c.MasterKeys[0], c.MasterKeys[1:]...)
}

// keyList reads the current key and older ones, comma-separated.
func keyList(name, cur, previous string) ([]envelope.MasterKey, error) {
	if cur == "" {
		return nil, nil
	}
	var keys []envelope.MasterKey
	for i, v := range append([]string{cur}, strings.Split(previous, ",")...) {
		if i > 0 && strings.TrimSpace(v) == "" {
			continue
		}
		id, b64, ok := strings.Cut(strings.TrimSpace(v), ":")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || id == "" || err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%s must be ID:BASE64 of 32 bytes (tandem keys generate)", name)
		}
		keys = append(keys, envelope.MasterKey{ID: id, Key: raw})
	}
	return keys, nil
}

// seed reads a base64 Ed25519 seed; "" is none.
func seed(name, v string) (ed25519.PrivateKey, error) {
	if v == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s must be a base64 Ed25519 seed of %d bytes (tandem audit keygen)", name, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(raw), nil
}

// namedVariables says which variable could not be read: the library's
// errors name the struct's fields, the operator knows the variables.
func namedVariables(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeFor[settings]().FieldByName(pe.Name); ok {
				name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				e = fmt.Errorf("%s: %w", name, pe.Err)
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// secret is a secret's value: the variable's, else its file's.
func secret(value, file string) string {
	return cmp.Or(value, strings.TrimSpace(file))
}

func loadConfig() (config, error) {
	s := settings{TaskQueue: workflows.DefaultTaskQueue, HistoryLimit: workflows.DefaultHistoryLimit,
		JWTMaxLifetime: api.DefaultMaxTokenLifetime, MaxInFlight: api.DefaultAdmission.InFlight,
		MaxInFlightPerTenant: api.DefaultAdmission.PerTenant}
	if err := env.Parse(&s); err != nil {
		return config{}, namedVariables(err)
	}
	if _, set := os.LookupEnv("TANDEM_APP_DB_ROLE"); !set {
		s.AppDBRole = "tandem_app"
	}
	cfg := config{settings: s}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"TANDEM_REQUEST_TIMEOUT", s.RequestTimeout}, {"TANDEM_SHUTDOWN_TIMEOUT", s.ShutdownTimeout},
		{"TANDEM_JWT_MAX_LIFETIME", s.JWTMaxLifetime}, {"TANDEM_JWKS_REFRESH", s.JWKSRefresh},
		{"TANDEM_AUDIT_CHECKPOINT_EVERY", s.AuditCheckpointGap}, {"TANDEM_CONSISTENCY_EVERY", s.ConsistencyEvery},
		{"TANDEM_EVENT_BACKLOG", s.EventBacklog}, {"TANDEM_LLM_TIMEOUT", s.LLMTimeout}, {"TANDEM_UNSENT_UPLOAD_TTL", s.UploadTTL}} {
		if d.v <= 0 {
			return cfg, fmt.Errorf("%s must be a positive duration such as 15s, got %s", d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int64
	}{{"TANDEM_MAX_BODY_BYTES", s.MaxBodyBytes}, {"TANDEM_MAX_ATTACHMENT_BYTES", s.MaxAttachment}, {"TANDEM_HISTORY_LIMIT", s.HistoryLimit},
		{"TANDEM_MAX_ATTACHMENTS_PER_MESSAGE", s.MaxFiles},
		{"TANDEM_CONSISTENCY_RATE", s.ConsistencyRate}, {"TANDEM_WORKFLOW_CACHE", int64(s.WorkflowCacheSize)}} {
		if n.v <= 0 {
			return cfg, fmt.Errorf("%s must be a positive whole number, got %d", n.name, n.v)
		}
	}
	if s.ObjectStoreURL != "" {
		if u, err := url.Parse(s.ObjectStoreURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return cfg, fmt.Errorf("TANDEM_OBJECT_STORE_URL must be http(s)://host:port, got %q", s.ObjectStoreURL)
		}
	}
	if s.UploadTTL < 2*time.Hour {
		return cfg, fmt.Errorf("TANDEM_UNSENT_UPLOAD_TTL must be at least 2h, got %s", s.UploadTTL)
	}
	if s.MaxFiles > workflows.MaxAttachments {
		return cfg, fmt.Errorf("TANDEM_MAX_ATTACHMENTS_PER_MESSAGE is at most %d, got %d", workflows.MaxAttachments, s.MaxFiles)
	}
	if s.LogFormat != "text" && s.LogFormat != "json" {
		return cfg, fmt.Errorf("TANDEM_LOG_FORMAT must be text or json, got %q", s.LogFormat)
	}
	cfg.JWTSecretBytes = []byte(secret(s.JWTSecret, s.JWTSecretFile))
	if len(cfg.JWTSecretBytes) > 0 && len(cfg.JWTSecretBytes) < api.MinSecretBytes {
		return cfg, fmt.Errorf("the JWT secret must be at least %d bytes", api.MinSecretBytes)
	}
	if s.JWKSFile != "" && s.JWKSURL != "" {
		return cfg, errors.New("set TANDEM_JWKS_FILE or TANDEM_JWKS_URL, not both")
	}
	cfg.TrustedProxies = nil
	for _, p := range s.TrustedProxies {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return cfg, fmt.Errorf("TANDEM_TRUSTED_PROXIES: %q is not an IP address or CIDR", p)
			}
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	if s.ConsoleDevUsers && (!loopback(s.HTTPAddr) || s.OIDCIssuer != "" || s.JWKSFile != "" || s.JWKSURL != "") {
		// Anyone may sign in as anyone with it: only the development stack,
		// serving this machine alone, without a real identity provider.
		return cfg, errors.New("TANDEM_CONSOLE_DEV_USERS=1 is for the development stack only: it needs TANDEM_HTTP_ADDR on a loopback address and no identity provider (TANDEM_OIDC_ISSUER, TANDEM_JWKS_*)")
	}
	if s.OIDCIssuer != "" {
		cfg.OIDC = &api.OIDCConfig{Issuer: s.OIDCIssuer, ClientID: s.OIDCClientID, ClientSecret: secret(s.OIDCSecret, s.OIDCSecretFile),
			RedirectURL: s.OIDCRedirectURL, TenantClaim: s.OIDCTenantClaim, RolesClaim: s.OIDCRolesClaim, Tenant: s.OIDCTenant}
		if cfg.OIDC.ClientID == "" || cfg.OIDC.RedirectURL == "" {
			return cfg, errors.New("TANDEM_OIDC_ISSUER needs TANDEM_OIDC_CLIENT_ID and TANDEM_OIDC_REDIRECT_URL (this server's /console/auth/callback)")
		}
	}
	var err error
	if cfg.AuditSigningKey, err = seed("TANDEM_AUDIT_SIGNING_KEY", secret(s.AuditSigningSeed, s.AuditSigningSeedFile)); err != nil {
		return cfg, err
	}
	if cfg.AuditSigningKey != nil {
		cfg.AuditVerifyKey = cfg.AuditSigningKey.Public().(ed25519.PublicKey)
	}
	if cfg.ExportSigningKey, err = seed("TANDEM_EXPORT_SIGNING_KEY", secret(s.ExportSigningSeed, s.ExportSigningSeedFile)); err != nil {
		return cfg, err
	}
	if s.AuditVerifyKeyB64 != "" {
		raw, err := publicKey("TANDEM_AUDIT_VERIFY_KEY", s.AuditVerifyKeyB64)
		if err != nil {
			return cfg, err
		}
		if cfg.AuditVerifyKey != nil && !cfg.AuditVerifyKey.Equal(raw) {
			return cfg, fmt.Errorf("TANDEM_AUDIT_VERIFY_KEY does not belong to TANDEM_AUDIT_SIGNING_KEY")
		}
		cfg.AuditVerifyKey = raw
	}
	if cfg.AuditWitnesses, err = parseWitnesses(s.AuditWitnessList); err != nil {
		return cfg, err
	}
	if s.AuditWitnessQuorum < 0 || s.AuditWitnessQuorum > len(cfg.AuditWitnesses) {
		return cfg, fmt.Errorf("TANDEM_AUDIT_WITNESS_QUORUM must be between 0 and the %d witnesses of TANDEM_AUDIT_WITNESSES", len(cfg.AuditWitnesses))
	}
	for _, r := range []struct {
		name string
		rate float64
		out  *api.RateLimit
	}{{"TANDEM_RATE_PER_KEY", s.PerKeyRate, &cfg.PerKeyLimit}, {"TANDEM_RATE_PER_TENANT", s.PerTenantRate, &cfg.PerTenantLimit}} {
		if r.rate < 0 || r.rate > 1e6 {
			return cfg, fmt.Errorf("%s must be requests a second from 0 (no limit) to 1000000, got %g", r.name, r.rate)
		}
		*r.out = api.RateLimit{Rate: r.rate, Burst: max(1, int(2*r.rate))}
	}
	inFlight, perTenant := s.MaxInFlight, s.MaxInFlightPerTenant
	if inFlight < 0 || perTenant < 0 || (inFlight > 0 && perTenant > inFlight) {
		return cfg, fmt.Errorf("TANDEM_MAX_IN_FLIGHT_PER_TENANT (%d) must be between 0 and TANDEM_MAX_IN_FLIGHT (%d); 0 lifts the bound", perTenant, inFlight)
	}
	cfg.Admission = api.DefaultAdmission
	cfg.Admission.InFlight, cfg.Admission.PerTenant = inFlight, perTenant
	if cfg.MasterKeys, err = keyList("TANDEM_MASTER_KEY", secret(s.MasterKey, s.MasterKeyFile),
		secret(s.MasterKeysPrevious, s.MasterKeysPreviousFile)); err != nil {
		return cfg, err
	}
	payloadKeys, err := keyList("TANDEM_PAYLOAD_KEY", secret(s.PayloadKey, s.PayloadKeyFile),
		secret(s.PayloadKeysPrevious, s.PayloadKeysPrevFile))
	if err != nil {
		return cfg, err
	}
	for _, k := range payloadKeys {
		cfg.PayloadKeys = append(cfg.PayloadKeys, codec.Key{ID: k.ID, Key: k.Key})
	}
	if (s.LLMBaseURL == "") != (s.LLMModel == "") {
		return cfg, errors.New("set both TANDEM_LLM_BASE_URL and TANDEM_LLM_MODEL, or neither")
	}
	cfg.LLMAPIKey = secret(s.LLMAPIKey, s.LLMAPIKeyFile)
	if s.LLMTimeout > 2500*time.Millisecond {
		// The AI turn has 3 s; the LLM must give up in time for the local answer.
		return cfg, errors.New("TANDEM_LLM_TIMEOUT must be at most 2.5s")
	}
	if _, err := url.Parse(s.DatabaseURL); err != nil {
		return cfg, fmt.Errorf("DATABASE_URL is not a URL")
	}
	return cfg, nil
}

// logAttrs lists the configuration for the start-up log, secrets masked.
func (c config) logAttrs() []any {
	dbURL := "(unparseable)"
	if u, err := url.Parse(c.DatabaseURL); err == nil {
		dbURL = u.Redacted()
	}
	migrateURL := "(unparseable)"
	if u, err := url.Parse(c.MigrateURL); err == nil {
		migrateURL = u.Redacted()
	}
	return []any{
		"DATABASE_URL", dbURL,
		"TANDEM_MIGRATE_DATABASE_URL", migrateURL,
		"TEMPORAL_ADDRESS", c.TemporalAddress,
		"TEMPORAL_NAMESPACE", c.TemporalNamespace,
		"TANDEM_TASK_QUEUE", c.TaskQueue,
		"TANDEM_HTTP_ADDR", c.HTTPAddr,
		"TANDEM_MAX_BODY_BYTES", c.MaxBodyBytes, "TANDEM_MAX_ATTACHMENT_BYTES", c.MaxAttachment,
		"TANDEM_MAX_ATTACHMENTS_PER_MESSAGE", c.MaxFiles, "TANDEM_UNSENT_UPLOAD_TTL", c.UploadTTL.String(),
		"TANDEM_OBJECT_STORE_URL", cmp.Or(c.ObjectStoreURL, "(unset: attachments are kept in PostgreSQL)"),
		"TANDEM_HISTORY_LIMIT", c.HistoryLimit,
		"TANDEM_REQUEST_TIMEOUT", c.RequestTimeout.String(),
		"TANDEM_RATE_PER_KEY", c.PerKeyLimit.Rate, "TANDEM_RATE_PER_TENANT", c.PerTenantLimit.Rate,
		"TANDEM_MAX_IN_FLIGHT", c.Admission.InFlight, "TANDEM_MAX_IN_FLIGHT_PER_TENANT", c.Admission.PerTenant,
		"TANDEM_SHUTDOWN_TIMEOUT", c.ShutdownTimeout.String(),
		"TANDEM_LOG_LEVEL", c.LogLevel.String(),
		"TANDEM_JWT_SECRET", keyState(len(c.JWTSecretBytes) > 0, "HS256 bearer JWTs are refused, API keys work"),
		"TANDEM_JWKS_FILE", c.JWKSFile,
		"TANDEM_JWKS_URL", c.JWKSURL,
		"TANDEM_CONSOLE_DEV_USERS", c.ConsoleDevUsers, "TANDEM_OIDC_ISSUER", oidcIssuer(c.OIDC),
		"TANDEM_JWT_ISSUER", c.JWTIssuer,
		"TANDEM_JWT_AUDIENCE", c.JWTAudience, "TANDEM_JWT_MAX_LIFETIME", c.JWTMaxLifetime.String(),
		"TANDEM_AUDIT_SIGNING_KEY", keyState(c.AuditSigningKey != nil, "checkpoints are not signed by this process"),
		"TANDEM_AUDIT_VERIFY_KEY", keyState(c.AuditVerifyKey != nil, "checkpoints are not checked"),
		"TANDEM_EXPORT_SIGNING_KEY", keyState(c.ExportSigningKey != nil, "trail exports are refused"),
		"TANDEM_AUDIT_CHECKPOINT_DIR", cmp.Or(c.AuditCheckpointDir, "(unset: checkpoints are kept in the database only)"),
		"TANDEM_AUDIT_WITNESSES", len(c.AuditWitnesses), "TANDEM_AUDIT_WITNESS_QUORUM", c.AuditWitnessQuorum,
		"TANDEM_MASTER_KEY", masterKeyState(c.MasterKeys),
		"TANDEM_PAYLOAD_KEY", keyState(len(c.PayloadKeys) > 0, "Temporal payloads cannot be encrypted"),
		"TANDEM_CODEC_ADDR", c.CodecAddr, "TANDEM_METRICS_ADDR", c.MetricsAddr, "TANDEM_OTLP_TRACES_URL", c.TracesURL, "TANDEM_WORKFLOW_CACHE", c.WorkflowCacheSize,
		"TANDEM_LLM_BASE_URL", c.LLMBaseURL,
		"TANDEM_LLM_MODEL", c.LLMModel,
		"TANDEM_LLM_API_KEY", keyState(c.LLMAPIKey != "", "the LLM endpoint is called without a key"),
		"TANDEM_LLM_TIMEOUT", c.LLMTimeout.String(),
	}
}

func masterKeyState(keys []envelope.MasterKey) string {
	if len(keys) == 0 {
		return "(unset)"
	}
	return fmt.Sprintf("(set: id %s, %d previous)", keys[0].ID, len(keys)-1)
}

func keyState(set bool, unset string) string {
	if set {
		return "(set)"
	}
	return "(unset: " + unset + ")"
}

func (c config) tokens() api.TokenConfig {
	return api.TokenConfig{Secret: c.JWTSecretBytes, Issuer: c.JWTIssuer, Audience: c.JWTAudience, MaxLifetime: c.JWTMaxLifetime}
}

// keySet loads the JWKS the configuration names, if any; one from a URL is
// refreshed until ctx ends.
func (c config) keySet(ctx context.Context, log *slog.Logger) (*api.KeySet, error) {
	switch {
	case c.JWKSFile != "":
		data, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("TANDEM_JWKS_FILE: %w", err)
		}
		return api.ParseJWKS(data)
	case c.JWKSURL != "":
		return api.NewRemoteKeySet(ctx, c.JWKSURL, c.JWKSRefresh, log)
	}
	return nil, nil
}

// witnessConfig is a witness: where the checkpointer sends checkpoints,
// and the key its cosignatures are checked with.
type witnessConfig struct {
	URL      string
	Verifier note.Verifier
}

// parseWitnesses reads TANDEM_AUDIT_WITNESSES: comma-separated
// VKEY@URL, each the witness's note verifier key (tandem witness prints it)
// and its address.
func parseWitnesses(items []string) ([]witnessConfig, error) {
	var out []witnessConfig
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		vkey, addr, ok := strings.Cut(item, "@")
		verifier, err := auditlog.WitnessVerifier(vkey)
		if !ok || err != nil || (!strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://")) {
			return nil, fmt.Errorf("TANDEM_AUDIT_WITNESSES: %q is not VKEY@URL (the witness's verifier key, its http(s) address)", item)
		}
		out = append(out, witnessConfig{URL: addr, Verifier: verifier})
	}
	return out, nil
}

func (c config) witnessVerifiers() []note.Verifier {
	var out []note.Verifier
	for _, w := range c.AuditWitnesses {
		out = append(out, w.Verifier)
	}
	return out
}

// auditLog is how the API checks and proves the audit log: with the
// signing key, an export has its checkpoint signed and witnessed at once.
func (c config) auditLog(cp *checkpointer) api.AuditLog {
	out := api.AuditLog{VerifyKey: c.AuditVerifyKey, External: c.checkpointLog(), Witnesses: c.witnessVerifiers(), Quorum: c.AuditWitnessQuorum}
	if cp != nil {
		out.Checkpoint = func(ctx context.Context, tenantID string) error {
			_, err := cp.checkpoint(ctx, tenantID)
			return err
		}
	}
	return out
}

// checkpointLog is where signed checkpoints are kept outside the database, or nil.
func (c config) checkpointLog() auditlog.CheckpointLog {
	if c.AuditCheckpointDir == "" {
		return nil
	}
	return &auditlog.DirLog{Dir: c.AuditCheckpointDir}
}

func oidcIssuer(o *api.OIDCConfig) string {
	if o == nil {
		return "(unset: no OpenID Connect sign-in to the console)"
	}
	return o.Issuer
}

// loopback says addr (host:port) listens on this machine only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
