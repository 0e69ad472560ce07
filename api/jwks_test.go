package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tandem/api"
)

// The identity provider of the tests: one RSA and one EC signing key.
var (
	idpRSA, _ = rsa.GenerateKey(rand.Reader, 2048)
	idpEC, _  = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// ecPoint is the IdP's EC public key, uncompressed: 0x04 || x || y.
var ecPoint, _ = idpEC.PublicKey.Bytes()

func testJWKS() []byte {
	doc := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "use": "sig", "n": b64(idpRSA.N.Bytes()), "e": b64(big.NewInt(int64(idpRSA.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": b64(ecPoint[1:33]), "y": b64(ecPoint[33:])},
		{"kty": "RSA", "kid": "enc-1", "use": "enc", "n": b64(idpRSA.N.Bytes()), "e": "AQAB"},
	}}
	b, _ := json.Marshal(doc)
	return b
}

var testKeySet = func() *api.KeySet {
	ks, err := api.ParseJWKS(testJWKS())
	if err != nil {
		panic(err)
	}
	return ks
}()

func idpToken(t *testing.T, method jwt.SigningMethod, kid string, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, api.Claims{Tenant: tenantA, Roles: []string{"agent"}, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: tokens.Issuer, Subject: "sso-user", Audience: jwt.ClaimStrings{tokens.Audience},
		IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return "raw:Bearer " + s
}

// withIdentityProvider serves the stack's API with the test identity
// provider's keys configured, as production runs.
func withIdentityProvider(t *testing.T, s *stack) {
	idp := tokens
	idp.Keys = testKeySet
	srv := httptest.NewServer(newAPIWith(t, s.store, s.temporal, s.queue, slog.New(slog.NewTextHandler(io.Discard, nil)), 5*time.Second, 0,
		api.Config{Tokens: idp}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
}

func TestTokensFromAnIdentityProvider(t *testing.T) {
	s := newStack(t)
	withIdentityProvider(t, s)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubPEM := func() []byte {
		der, _ := x509.MarshalPKIXPublicKey(&idpRSA.PublicKey)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	for _, tc := range []struct {
		name   string
		who    string
		status int
	}{
		{"RS256 by the IdP", idpToken(t, jwt.SigningMethodRS256, "rsa-1", idpRSA), 200},
		{"ES256 by the IdP", idpToken(t, jwt.SigningMethodES256, "ec-1", idpEC), 200},
		{"unknown kid", idpToken(t, jwt.SigningMethodRS256, "rsa-9", idpRSA), 401},
		{"encryption key used to sign", idpToken(t, jwt.SigningMethodRS256, "enc-1", idpRSA), 401},
		{"RS256 naming the EC key", idpToken(t, jwt.SigningMethodRS256, "ec-1", idpRSA), 401},
		{"ES256 by another key", idpToken(t, jwt.SigningMethodES256, "ec-1", otherEC), 401},
		{"HS256 with the RSA public key as secret", idpToken(t, jwt.SigningMethodHS256, "rsa-1", pubPEM), 401},
		{"RS384 by the IdP", idpToken(t, jwt.SigningMethodRS384, "rsa-1", idpRSA), 401},
		// With the IdP's keys configured, a development token is refused
		// though signed with the server's secret.
		{"HS256 development token", "raw:Bearer " + mustMint(t), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := s.do("GET", "/v1/cases", tc.who, nil); r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
		})
	}
}

func TestParseAndFetchJWKS(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, doc := range map[string]string{
		"not JSON":      `{`,
		"no keys":       `{"keys":[]}`,
		"small RSA":     `{"keys":[{"kty":"RSA","kid":"a","n":"` + b64(small.N.Bytes()) + `","e":"AQAB"}]}`,
		"off the curve": `{"keys":[{"kty":"EC","kid":"a","crv":"P-256","x":"` + b64(make([]byte, 32)) + `","y":"` + b64(append(make([]byte, 31), 1)) + `"}]}`,
		"bad curve":     `{"keys":[{"kty":"EC","kid":"a","crv":"P-521","x":"AQ","y":"AQ"}]}`,
	} {
		if _, err := api.ParseJWKS([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer down.Close()
	if _, err := api.NewRemoteKeySet(t.Context(), down.URL, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("a 502 gave a key set")
	}
}

// A key set fetched from an identity provider picks up a key it rotated
// in when a token first names it, without a restart, and keeps its keys
// while the provider is down.
func TestRemoteKeySetFollowsTheProvidersRotation(t *testing.T) {
	var mu sync.Mutex
	serve := testJWKS()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if serve == nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write(serve)
	}))
	defer idp.Close()
	ks, err := api.NewRemoteKeySet(t.Context(), idp.URL, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	idp2 := tokens
	idp2.Keys = ks
	records := &fakeRecords{tenants: []string{tenantA}}
	status := func(tok string) int {
		return getWith(t, api.Config{Store: records, Tokens: idp2}, "/v1/cases", strings.TrimPrefix(tok, "raw:Bearer ")).Code
	}
	if got := status(idpToken(t, jwt.SigningMethodRS256, "rsa-1", idpRSA)); got != 200 {
		t.Fatalf("a token of the first key: %d", got)
	}
	if got := status(idpToken(t, jwt.SigningMethodRS256, "rsa-2", rotated)); got != 401 {
		t.Fatalf("a key the provider does not publish: %d", got)
	}
	mu.Lock()
	serve, _ = json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-2", "use": "sig", "n": b64(rotated.N.Bytes()), "e": "AQAB"}}})
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second) // unknown keys refetch at most so often
	for status(idpToken(t, jwt.SigningMethodRS256, "rsa-2", rotated)) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the rotated key was not picked up")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := status(idpToken(t, jwt.SigningMethodRS256, "rsa-1", idpRSA)); got != 401 {
		t.Fatalf("a key the provider withdrew still signs: %d", got)
	}
	mu.Lock()
	serve = nil
	mu.Unlock()
	if got := status(idpToken(t, jwt.SigningMethodRS256, "rsa-9", rotated)); got != 401 {
		t.Fatalf("an unknown key while the provider is down: %d", got)
	}
	if got := status(idpToken(t, jwt.SigningMethodRS256, "rsa-2", rotated)); got != 200 {
		t.Fatalf("the keys it has, while the provider is down: %d", got)
	}
}

func mustMint(t *testing.T) string {
	t.Helper()
	tok, err := api.MintToken(tokens, tenantA, "dev-1", []string{"admin"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// An acr claim is believed from this server's step-up tokens only: an
// identity provider's token saying "totp" does not step anyone up.
func TestACRFromAnotherIssuerIsNotBelieved(t *testing.T) {
	s := newStack(t)
	withIdentityProvider(t, s)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, api.Claims{Tenant: tenantA, Roles: []string{"admin"}, ACR: "totp",
		RegisteredClaims: jwt.RegisteredClaims{Issuer: tokens.Issuer, Subject: "sso-admin", Audience: jwt.ClaimStrings{tokens.Audience},
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}})
	tok.Header["kid"] = "rsa-1"
	raw, err := tok.SignedString(idpRSA)
	if err != nil {
		t.Fatal(err)
	}
	r := s.do("POST", "/v1/customers/erase", "raw:Bearer "+raw, api.EraseCustomerRequest{CustomerRef: "nobody", Reason: "test"})
	if r.Status != http.StatusUnauthorized || r.errorCode(t) != "step_up_required" {
		t.Fatalf("an IdP token claiming acr totp: %d %s", r.Status, r.Body)
	}
}
