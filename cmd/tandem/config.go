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
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tandem/activities/auditlog"
	"tandem/activities/store"
	"tandem/api"
	"tandem/workflows"
	"tandem/workflows/codec"
)

// config is every setting of the binary, read from the environment.
type config struct {
	DatabaseURL       string // the application's role: rows, no DDL
	MigrateURL        string // the owner's role: migrations
	AppDBRole         string // the role `migrate up` grants to; "": none
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	HTTPAddr          string
	MaxBodyBytes      int64
	HistoryLimit      int64
	RequestTimeout    time.Duration
	ShutdownTimeout   time.Duration
	LogLevel          slog.Level
	LogFormat         string
	JWTSecret         []byte // HS256 secret for people's tokens; empty disables JWTs
	JWTIssuer         string
	JWTAudience       string
	JWTMaxLifetime    time.Duration // the longest a person's token may live
	JWKSFile          string        // RS256/ES256 keys of people's tokens, from a file
	JWKSURL           string        // … or from an identity provider, refreshed
	JWKSRefresh       time.Duration // how often JWKSURL is fetched again
	// Console: development sign-ins (make run only) and the OIDC provider.
	ConsoleDevUsers bool
	TrustedProxies  []string // proxies whose X-Forwarded-For names the client
	OIDC            *api.OIDCConfig
	// AuditSigningKey signs audit checkpoints (worker, dev); AuditVerifyKey
	// checks them (derived from the signing key when only that is set).
	AuditSigningKey ed25519.PrivateKey
	AuditVerifyKey  ed25519.PublicKey
	// AuditCheckpointDir keeps signed checkpoints outside the database
	// (store.DirLog); "": none.
	AuditCheckpointDir string
	// ExportSigningKey signs trail exports (serve, dev): the API holds it,
	// never the checkpoints' signing key.
	ExportSigningKey   ed25519.PrivateKey
	AuditCheckpointGap time.Duration
	// AuditWitnesses cosign each checkpoint (the checkpointer sends them
	// there); verification needs AuditWitnessQuorum of their cosignatures.
	AuditWitnesses     []witnessConfig
	AuditWitnessQuorum int
	// Rate limits of the API: requests a second per credential and per
	// tenant (bursts of twice as many); zero: none.
	PerKeyLimit, PerTenantLimit api.RateLimit
	// Admission bounds the requests an API process works on at once, and
	// each tenant's share of them.
	Admission api.Admission
	// ConsistencyEvery: how often the worker holds every open case's record
	// against its workflow and repairs it (tandem doctor -repair).
	ConsistencyEvery time.Duration
	// ConsistencyRate: workflows the periodic check queries a second.
	ConsistencyRate int64
	// MasterKeys wrap the data keys of personal data: the first wraps, all unwrap.
	MasterKeys []store.MasterKey
	// PayloadKeys encrypt Temporal payloads: the first encrypts, all decrypt.
	PayloadKeys []codec.Key
	CodecAddr   string // where `dev` and `codec-server` serve the Web UI's codec endpoint
	MetricsAddr string // where serve, worker and dev serve /metrics; "": nowhere
	Pprof       bool   // also serve Go's profiles beside /metrics
	// WorkflowCacheSize: how many workflows a worker keeps in memory
	// between their tasks (the SDK's sticky cache).
	WorkflowCacheSize int
	TracesURL         string // an OTLP/HTTP collector's traces URL; "": no tracing
	// EventBacklog: how long events are kept for the live stream's
	// Last-Event-ID and the deliveries' history (undelivered ones longer).
	EventBacklog time.Duration
	CodecOrigin  string // the Web UI's origin, allowed to call it
	// LLM: an OpenAI-compatible endpoint for tenants whose policy chooses
	// the LLM engine; unset, they get the local engine.
	LLMBaseURL string
	LLMModel   string
	LLMAPIKey  string
	LLMTimeout time.Duration
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
func (c config) keyring() (*store.Keyring, error) {
	if len(c.MasterKeys) == 0 {
		return nil, errors.New("TANDEM_MASTER_KEY is not set: personal data cannot be encrypted (tandem keys generate makes one; make run makes a dev-only one)")
	}
	return store.NewKeyring(c.MasterKeys[0], c.MasterKeys[1:]...)
}

// keyList reads the current key from NAME (or NAME_FILE) and older ones,
// comma-separated, from PREVIOUS (or PREVIOUS_FILE).
func keyList(name, previous string) ([]store.MasterKey, error) {
	cur, err := secretSetting(name)
	if err != nil || cur == "" {
		return nil, err
	}
	prev, err := secretSetting(previous)
	if err != nil {
		return nil, err
	}
	var keys []store.MasterKey
	for i, v := range append([]string{cur}, strings.Split(prev, ",")...) {
		if i > 0 && strings.TrimSpace(v) == "" {
			continue
		}
		which := name
		if i > 0 {
			which = previous
		}
		k, err := parseMasterKey(which, v)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseMasterKey reads "id:base64-of-32-bytes".
func parseMasterKey(name, v string) (store.MasterKey, error) {
	id, b64, ok := strings.Cut(strings.TrimSpace(v), ":")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if !ok || id == "" || err != nil || len(raw) != 32 {
		return store.MasterKey{}, fmt.Errorf("%s must be ID:BASE64 of 32 bytes (tandem keys generate)", name)
	}
	return store.MasterKey{ID: id, Key: raw}, nil
}

// The roles `make run` creates. Dev-only credentials.
const (
	defaultDatabaseURL = "postgres://tandem_app:tandem-app-dev-only@127.0.0.1:5432/tandem?sslmode=disable"
	defaultMigrateURL  = "postgres://tandem:tandem-dev-only@127.0.0.1:5432/tandem?sslmode=disable"
)

func loadConfig() (config, error) {
	cfg := config{
		DatabaseURL:       env("DATABASE_URL", defaultDatabaseURL),
		MigrateURL:        env("TANDEM_MIGRATE_DATABASE_URL", defaultMigrateURL),
		AppDBRole:         envAllowEmpty("TANDEM_APP_DB_ROLE", "tandem_app"),
		TemporalAddress:   env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: env("TEMPORAL_NAMESPACE", "default"),
		TaskQueue:         env("TANDEM_TASK_QUEUE", workflows.DefaultTaskQueue),
		HTTPAddr:          env("TANDEM_HTTP_ADDR", "127.0.0.1:8080"),
		LogFormat:         env("TANDEM_LOG_FORMAT", "text"),
	}
	var err error
	if cfg.MaxBodyBytes, err = envInt("TANDEM_MAX_BODY_BYTES", 64<<10); err != nil {
		return cfg, err
	}
	if cfg.HistoryLimit, err = envInt("TANDEM_HISTORY_LIMIT", workflows.DefaultHistoryLimit); err != nil {
		return cfg, err
	}
	if cfg.RequestTimeout, err = envDuration("TANDEM_REQUEST_TIMEOUT", 15*time.Second); err != nil {
		return cfg, err
	}
	if cfg.ShutdownTimeout, err = envDuration("TANDEM_SHUTDOWN_TIMEOUT", 20*time.Second); err != nil {
		return cfg, err
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(env("TANDEM_LOG_LEVEL", "info"))); err != nil {
		return cfg, fmt.Errorf("TANDEM_LOG_LEVEL: %w", err)
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		return cfg, fmt.Errorf("TANDEM_LOG_FORMAT must be text or json, got %q", cfg.LogFormat)
	}
	cfg.JWTIssuer = env("TANDEM_JWT_ISSUER", "tandem-dev")
	cfg.JWTAudience = env("TANDEM_JWT_AUDIENCE", "tandem")
	if cfg.JWTMaxLifetime, err = envDuration("TANDEM_JWT_MAX_LIFETIME", api.DefaultMaxTokenLifetime); err != nil {
		return cfg, err
	}
	secret, err := secretSetting("TANDEM_JWT_SECRET")
	if err != nil {
		return cfg, err
	}
	if secret != "" && len(secret) < api.MinSecretBytes {
		return cfg, fmt.Errorf("the JWT secret must be at least %d bytes", api.MinSecretBytes)
	}
	cfg.JWTSecret = []byte(secret)
	cfg.JWKSFile, cfg.JWKSURL = env("TANDEM_JWKS_FILE", ""), env("TANDEM_JWKS_URL", "")
	if cfg.JWKSFile != "" && cfg.JWKSURL != "" {
		return cfg, errors.New("set TANDEM_JWKS_FILE or TANDEM_JWKS_URL, not both")
	}
	if cfg.JWKSRefresh, err = envDuration("TANDEM_JWKS_REFRESH", 10*time.Minute); err != nil {
		return cfg, err
	}
	for _, p := range strings.Split(env("TANDEM_TRUSTED_PROXIES", ""), ",") {
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
	cfg.ConsoleDevUsers = env("TANDEM_CONSOLE_DEV_USERS", "") == "1"
	if cfg.ConsoleDevUsers && (!loopback(cfg.HTTPAddr) || env("TANDEM_OIDC_ISSUER", "") != "" || cfg.JWKSFile != "" || cfg.JWKSURL != "") {
		// Anyone may sign in as anyone with it: only the development stack,
		// serving this machine alone, without a real identity provider.
		return cfg, errors.New("TANDEM_CONSOLE_DEV_USERS=1 is for the development stack only: it needs TANDEM_HTTP_ADDR on a loopback address and no identity provider (TANDEM_OIDC_ISSUER, TANDEM_JWKS_*)")
	}
	if issuer := env("TANDEM_OIDC_ISSUER", ""); issuer != "" {
		secret, err := secretSetting("TANDEM_OIDC_CLIENT_SECRET")
		if err != nil {
			return cfg, err
		}
		cfg.OIDC = &api.OIDCConfig{Issuer: issuer, ClientID: env("TANDEM_OIDC_CLIENT_ID", ""), ClientSecret: secret,
			RedirectURL: env("TANDEM_OIDC_REDIRECT_URL", ""), TenantClaim: env("TANDEM_OIDC_TENANT_CLAIM", ""),
			RolesClaim: env("TANDEM_OIDC_ROLES_CLAIM", ""), Tenant: env("TANDEM_OIDC_TENANT", "")}
		if cfg.OIDC.ClientID == "" || cfg.OIDC.RedirectURL == "" {
			return cfg, errors.New("TANDEM_OIDC_ISSUER needs TANDEM_OIDC_CLIENT_ID and TANDEM_OIDC_REDIRECT_URL (this server's /console/auth/callback)")
		}
	}
	if seed, err := secretSetting("TANDEM_AUDIT_SIGNING_KEY"); err != nil {
		return cfg, err
	} else if seed != "" {
		raw, err := base64.StdEncoding.DecodeString(seed)
		if err != nil || len(raw) != ed25519.SeedSize {
			return cfg, fmt.Errorf("TANDEM_AUDIT_SIGNING_KEY must be a base64 Ed25519 seed of %d bytes (tandem audit keygen)", ed25519.SeedSize)
		}
		cfg.AuditSigningKey = ed25519.NewKeyFromSeed(raw)
		cfg.AuditVerifyKey = cfg.AuditSigningKey.Public().(ed25519.PublicKey)
	}
	if seed, err := secretSetting("TANDEM_EXPORT_SIGNING_KEY"); err != nil {
		return cfg, err
	} else if seed != "" {
		raw, err := base64.StdEncoding.DecodeString(seed)
		if err != nil || len(raw) != ed25519.SeedSize {
			return cfg, fmt.Errorf("TANDEM_EXPORT_SIGNING_KEY must be a base64 Ed25519 seed of %d bytes (tandem audit keygen)", ed25519.SeedSize)
		}
		cfg.ExportSigningKey = ed25519.NewKeyFromSeed(raw)
	}
	cfg.AuditCheckpointDir = env("TANDEM_AUDIT_CHECKPOINT_DIR", "")
	if pub := env("TANDEM_AUDIT_VERIFY_KEY", ""); pub != "" {
		raw, err := publicKey("TANDEM_AUDIT_VERIFY_KEY", pub)
		if err != nil {
			return cfg, err
		}
		if cfg.AuditVerifyKey != nil && !cfg.AuditVerifyKey.Equal(raw) {
			return cfg, fmt.Errorf("TANDEM_AUDIT_VERIFY_KEY does not belong to TANDEM_AUDIT_SIGNING_KEY")
		}
		cfg.AuditVerifyKey = raw
	}
	if cfg.AuditCheckpointGap, err = envDuration("TANDEM_AUDIT_CHECKPOINT_EVERY", time.Minute); err != nil {
		return cfg, err
	}
	if cfg.AuditWitnesses, err = parseWitnesses(env("TANDEM_AUDIT_WITNESSES", "")); err != nil {
		return cfg, err
	}
	quorum, err := envCount("TANDEM_AUDIT_WITNESS_QUORUM", 0)
	if err != nil {
		return cfg, err
	}
	if quorum < 0 || quorum > int64(len(cfg.AuditWitnesses)) {
		return cfg, fmt.Errorf("TANDEM_AUDIT_WITNESS_QUORUM must be between 0 and the %d witnesses of TANDEM_AUDIT_WITNESSES", len(cfg.AuditWitnesses))
	}
	cfg.AuditWitnessQuorum = int(quorum)
	if cfg.ConsistencyEvery, err = envDuration("TANDEM_CONSISTENCY_EVERY", 10*time.Minute); err != nil {
		return cfg, err
	}
	if cfg.ConsistencyRate, err = envInt("TANDEM_CONSISTENCY_RATE", 20); err != nil {
		return cfg, err
	}
	if cfg.PerKeyLimit, err = envRate("TANDEM_RATE_PER_KEY", 500); err != nil {
		return cfg, err
	}
	if cfg.PerTenantLimit, err = envRate("TANDEM_RATE_PER_TENANT", 2000); err != nil {
		return cfg, err
	}
	cfg.Admission = api.DefaultAdmission
	inFlight, err := envCount("TANDEM_MAX_IN_FLIGHT", int64(api.DefaultAdmission.InFlight))
	if err != nil {
		return cfg, err
	}
	perTenant, err := envCount("TANDEM_MAX_IN_FLIGHT_PER_TENANT", int64(api.DefaultAdmission.PerTenant))
	if err != nil {
		return cfg, err
	}
	if inFlight < 0 || perTenant < 0 || (inFlight > 0 && perTenant > inFlight) {
		return cfg, fmt.Errorf("TANDEM_MAX_IN_FLIGHT_PER_TENANT (%d) must be between 0 and TANDEM_MAX_IN_FLIGHT (%d); 0 lifts the bound", perTenant, inFlight)
	}
	cfg.Admission.InFlight, cfg.Admission.PerTenant = int(inFlight), int(perTenant)
	if cfg.MasterKeys, err = keyList("TANDEM_MASTER_KEY", "TANDEM_MASTER_KEYS_PREVIOUS"); err != nil {
		return cfg, err
	}
	payloadKeys, err := keyList("TANDEM_PAYLOAD_KEY", "TANDEM_PAYLOAD_KEYS_PREVIOUS")
	if err != nil {
		return cfg, err
	}
	for _, k := range payloadKeys {
		cfg.PayloadKeys = append(cfg.PayloadKeys, codec.Key{ID: k.ID, Key: k.Key})
	}
	cfg.LLMBaseURL, cfg.LLMModel = env("TANDEM_LLM_BASE_URL", ""), env("TANDEM_LLM_MODEL", "")
	if (cfg.LLMBaseURL == "") != (cfg.LLMModel == "") {
		return cfg, errors.New("set both TANDEM_LLM_BASE_URL and TANDEM_LLM_MODEL, or neither")
	}
	if cfg.LLMAPIKey, err = secretSetting("TANDEM_LLM_API_KEY"); err != nil {
		return cfg, err
	}
	if cfg.LLMTimeout, err = envDuration("TANDEM_LLM_TIMEOUT", 2*time.Second); err != nil {
		return cfg, err
	}
	if cfg.LLMTimeout > 2500*time.Millisecond {
		// The AI turn has 3 s; the LLM must give up in time for the local answer.
		return cfg, errors.New("TANDEM_LLM_TIMEOUT must be at most 2.5s")
	}
	cfg.CodecAddr = env("TANDEM_CODEC_ADDR", "")
	cfg.MetricsAddr = env("TANDEM_METRICS_ADDR", "")
	cfg.Pprof = env("TANDEM_PPROF", "") == "1"
	if cfg.WorkflowCacheSize, err = strconv.Atoi(env("TANDEM_WORKFLOW_CACHE", "10000")); err != nil || cfg.WorkflowCacheSize < 1 {
		return cfg, errors.New("TANDEM_WORKFLOW_CACHE must be a positive number of workflows")
	}
	cfg.TracesURL = env("TANDEM_OTLP_TRACES_URL", "")
	if cfg.EventBacklog, err = envDuration("TANDEM_EVENT_BACKLOG", 72*time.Hour); err != nil {
		return cfg, err
	}
	cfg.CodecOrigin = env("TANDEM_CODEC_CORS_ORIGIN", "http://127.0.0.1:8233")
	if _, err := url.Parse(cfg.DatabaseURL); err != nil {
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
		"TANDEM_MAX_BODY_BYTES", c.MaxBodyBytes,
		"TANDEM_HISTORY_LIMIT", c.HistoryLimit,
		"TANDEM_REQUEST_TIMEOUT", c.RequestTimeout.String(),
		"TANDEM_RATE_PER_KEY", c.PerKeyLimit.Rate, "TANDEM_RATE_PER_TENANT", c.PerTenantLimit.Rate,
		"TANDEM_MAX_IN_FLIGHT", c.Admission.InFlight, "TANDEM_MAX_IN_FLIGHT_PER_TENANT", c.Admission.PerTenant,
		"TANDEM_SHUTDOWN_TIMEOUT", c.ShutdownTimeout.String(),
		"TANDEM_LOG_LEVEL", c.LogLevel.String(),
		"TANDEM_JWT_SECRET", keyState(len(c.JWTSecret) > 0, "HS256 bearer JWTs are refused, API keys work"),
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

func masterKeyState(keys []store.MasterKey) string {
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

// secretSetting reads NAME, or the file NAME_FILE names.
func secretSetting(name string) (string, error) {
	if v := env(name, ""); v != "" {
		return v, nil
	}
	file := env(name+"_FILE", "")
	if file == "" {
		return "", nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

func (c config) tokens() api.TokenConfig {
	return api.TokenConfig{Secret: c.JWTSecret, Issuer: c.JWTIssuer, Audience: c.JWTAudience, MaxLifetime: c.JWTMaxLifetime}
}

// keySet loads the JWKS the configuration names, if any.
func (c config) keySet(ctx context.Context) (*api.KeySet, error) {
	switch {
	case c.JWKSFile != "":
		data, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("TANDEM_JWKS_FILE: %w", err)
		}
		return api.ParseJWKS(data)
	case c.JWKSURL != "":
		return api.FetchJWKS(ctx, c.JWKSURL)
	}
	return nil, nil
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// envAllowEmpty is env, except that a variable set to "" means "".
func envAllowEmpty(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envRate reads requests a second (0: no limit); bursts are twice as many.
func envRate(name string, def float64) (api.RateLimit, error) {
	n := def
	if v := env(name, ""); v != "" {
		var err error
		if n, err = strconv.ParseFloat(v, 64); err != nil || n < 0 || n > 1e6 {
			return api.RateLimit{}, fmt.Errorf("%s must be requests a second from 0 (no limit) to 1000000, got %q", name, v)
		}
	}
	return api.RateLimit{Rate: n, Burst: max(1, int(2*n))}, nil
}

func envInt(name string, def int64) (int64, error) {
	v := env(name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s must be a positive whole number, got %q", name, v)
	}
	return n, nil
}

// envCount is envInt where 0 is a value too (no bound, none required).
func envCount(name string, def int64) (int64, error) {
	v := env(name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a whole number, 0 or more, got %q", name, v)
	}
	return n, nil
}

func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := env(name, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s must be a positive duration such as 15s, got %q", name, v)
	}
	return d, nil
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
func parseWitnesses(v string) ([]witnessConfig, error) {
	var out []witnessConfig
	for _, item := range strings.Split(v, ",") {
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
func (c config) checkpointLog() store.CheckpointLog {
	if c.AuditCheckpointDir == "" {
		return nil
	}
	return &store.DirLog{Dir: c.AuditCheckpointDir}
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
