package main

import (
	"strings"
	"testing"
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
