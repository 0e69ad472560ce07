package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tandem/api"
)

// Development sign-in lets anyone sign in as anyone: the configuration
// refuses it outside the development stack's shape (a loopback listener,
// no identity provider).
func TestDevSignInOnlyOnTheDevelopmentStack(t *testing.T) {
	for _, tc := range []struct {
		env map[string]string
		ok  bool
	}{
		{map[string]string{"TANDEM_HTTP_ADDR": "127.0.0.1:8080"}, true},
		{map[string]string{"TANDEM_HTTP_ADDR": "localhost:8081"}, true},
		{map[string]string{"TANDEM_HTTP_ADDR": "[::1]:8080"}, true},
		{map[string]string{"TANDEM_HTTP_ADDR": ":8080"}, false},
		{map[string]string{"TANDEM_HTTP_ADDR": "0.0.0.0:8080"}, false},
		{map[string]string{"TANDEM_HTTP_ADDR": "10.0.0.5:8080"}, false},
		{map[string]string{"TANDEM_HTTP_ADDR": "127.0.0.1:8080", "TANDEM_JWKS_URL": "https://idp.example/jwks"}, false},
	} {
		t.Setenv("TANDEM_CONSOLE_DEV_USERS", "1")
		for _, k := range []string{"TANDEM_HTTP_ADDR", "TANDEM_JWKS_URL"} {
			t.Setenv(k, tc.env[k])
		}
		_, err := loadConfig()
		refused := err != nil && strings.Contains(err.Error(), "TANDEM_CONSOLE_DEV_USERS")
		if refused == tc.ok {
			t.Errorf("%v: %v", tc.env, err)
		}
	}
}

// Settings come from the environment with their defaults, a secret from
// the file its _FILE variable names, and a bad value is refused with the
// variable's name.
func TestConfigFromTheEnvironment(t *testing.T) {
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TaskQueue == "" || cfg.HistoryLimit <= 0 || cfg.RequestTimeout != 15*time.Second || cfg.AppDBRole != "tandem_app" ||
		cfg.Admission.InFlight != api.DefaultAdmission.InFlight || cfg.PerKeyLimit.Burst != 1000 {
		t.Errorf("defaults: %+v", cfg.settings)
	}

	secretFile := filepath.Join(t.TempDir(), "jwt")
	if err := os.WriteFile(secretFile, []byte(strings.Repeat("s", api.MinSecretBytes)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TANDEM_JWT_SECRET_FILE", secretFile)
	t.Setenv("TANDEM_APP_DB_ROLE", "")
	t.Setenv("TANDEM_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
	cfg, err = loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.JWTSecretBytes) != strings.Repeat("s", api.MinSecretBytes) {
		t.Errorf("the secret from its file: %q", cfg.JWTSecretBytes)
	}
	if cfg.AppDBRole != "" {
		t.Errorf("TANDEM_APP_DB_ROLE set empty: %q, want none", cfg.AppDBRole)
	}
	if len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1] != "192.168.1.1" {
		t.Errorf("proxies: %q", cfg.TrustedProxies)
	}

	for name, value := range map[string]string{
		"TANDEM_REQUEST_TIMEOUT":             "-1s",
		"TANDEM_HISTORY_LIMIT":               "lots",
		"TANDEM_MAX_BODY_BYTES":              "0",
		"TANDEM_LOG_FORMAT":                  "xml",
		"TANDEM_LOG_LEVEL":                   "loud",
		"TANDEM_RATE_PER_KEY":                "-3",
		"TANDEM_MAX_IN_FLIGHT_PER_TENANT":    "100000",
		"TANDEM_MASTER_KEY":                  "k1:c2hvcnQ=",
		"TANDEM_AUDIT_SIGNING_KEY":           "bm90IGEgc2VlZA==",
		"TANDEM_AUDIT_WITNESS_QUORUM":        "1",
		"TANDEM_TRUSTED_PROXIES":             "not-an-ip",
		"TANDEM_LLM_TIMEOUT":                 "5s",
		"TANDEM_PAYLOAD_KEY_FILE":            filepath.Join(t.TempDir(), "missing"),
		"TANDEM_MAX_ATTACHMENTS_PER_MESSAGE": "21",
		"TANDEM_UNSENT_UPLOAD_TTL":           "30m",
		"TANDEM_OBJECT_STORE_URL":            "s3.example.com/bucket",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: %v, want an error naming it", name, value, err)
			}
		})
	}
}
