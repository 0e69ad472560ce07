package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"tandem/policies"
)

// OIDCConfig is the deployment's OpenID Connect provider for the console:
// the authorization code flow with PKCE (S256), the ID token checked
// against the provider's keys, its nonce, audience and issuer.
type OIDCConfig struct {
	Issuer       string // discovery: Issuer + /.well-known/openid-configuration
	ClientID     string
	ClientSecret string
	RedirectURL  string // this server's /console/auth/callback as the provider knows it
	// The claims that carry a person's tenant and roles ("tenant", "roles"
	// when empty); Tenant, if set, is every sign-in's tenant instead.
	TenantClaim, RolesClaim string
	Tenant                  string
}

// oidcClient finds the provider on the first sign-in (not at start: the
// server serves the API while the provider is away) and keeps it.
type oidcClient struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCClient(cfg OIDCConfig) *oidcClient {
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = "tenant"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	return &oidcClient{cfg: cfg}
}

var errProviderDown = errorf(http.StatusServiceUnavailable, "identity_provider_unavailable",
	"the identity provider cannot be reached; try again shortly")

func (o *oidcClient) oauth(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
		if err != nil {
			return nil, nil, errors.Join(errProviderDown, err)
		}
		o.provider = p
	}
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: o.provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}, o.provider.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}), nil
}

// oidcFlowTTL bounds the time between leaving for the provider and coming back.
const oidcFlowTTL = 10 * time.Minute

// oidcLogin sends the browser to the provider, with the state, nonce and
// PKCE verifier kept in a signed, short-lived cookie of its own.
func (s *Server) oidcLogin(c *gin.Context) error {
	if s.oidc == nil {
		return errorf(http.StatusNotFound, "route_not_found", "no identity provider is configured")
	}
	conf, _, err := s.oidc.oauth(c.Request.Context())
	if err != nil {
		return err
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	flow := strings.Join([]string{state, nonce, verifier, strconv.FormatInt(time.Now().Add(oidcFlowTTL).Unix(), 10)}, ".")
	// Lax: the cookie must come back with the provider's top-level redirect.
	setCookie(c, oidcCookie, flow+"."+s.flowMAC(flow), oidcFlowTTL, http.SameSiteLaxMode)
	c.Redirect(http.StatusFound, conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	return nil
}

var errSignInFailed = errorf(http.StatusUnauthorized, "sign_in_failed", "the sign-in could not be completed; start it again")

// oidcCallback takes the provider's answer: the state must be the one this
// browser left with, the code is exchanged with the PKCE verifier, and the
// ID token must verify and carry the nonce; its claims give tenant and roles.
func (s *Server) oidcCallback(c *gin.Context) error {
	if s.oidc == nil {
		return errorf(http.StatusNotFound, "route_not_found", "no identity provider is configured")
	}
	ck, err := c.Cookie(oidcCookie)
	setCookie(c, oidcCookie, "", -1, http.SameSiteLaxMode) // one use
	if err != nil {
		return errSignInFailed
	}
	parts := strings.Split(ck, ".")
	if len(parts) != 5 {
		return errSignInFailed
	}
	flow := strings.Join(parts[:4], ".")
	expiry, _ := strconv.ParseInt(parts[3], 10, 64)
	if subtle.ConstantTimeCompare([]byte(parts[4]), []byte(s.flowMAC(flow))) != 1 || time.Now().Unix() > expiry {
		return errSignInFailed
	}
	state, nonce, verifier := parts[0], parts[1], parts[2]
	if e := c.Query("error"); e != "" {
		return errorf(http.StatusUnauthorized, "sign_in_refused", "the identity provider refused the sign-in")
	}
	if subtle.ConstantTimeCompare([]byte(c.Query("state")), []byte(state)) != 1 || c.Query("code") == "" {
		return errSignInFailed
	}
	conf, verify, err := s.oidc.oauth(c.Request.Context())
	if err != nil {
		return err
	}
	tok, err := conf.Exchange(c.Request.Context(), c.Query("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		s.log.WarnContext(c.Request.Context(), "OIDC code exchange failed", "error", err)
		return errSignInFailed
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := verify.Verify(c.Request.Context(), rawID)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		s.log.WarnContext(c.Request.Context(), "OIDC ID token refused", "error", err)
		return errSignInFailed
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return errSignInFailed
	}
	tenant, _ := claims[s.oidc.cfg.TenantClaim].(string)
	if s.oidc.cfg.Tenant != "" {
		tenant = s.oidc.cfg.Tenant
	}
	roles := consoleRoles(claims[s.oidc.cfg.RolesClaim])
	if !tenantPattern.MatchString(tenant) || len(roles) == 0 || idt.Subject == "" {
		return errorf(http.StatusForbidden, "no_console_access",
			"your sign-in carries no tenant or no role of this console; ask your administrator")
	}
	if _, err := s.startSession(c, tenant, idt.Subject, roles, "oidc"); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/console")
	return nil
}

// consoleRoles reads roles from a claim (a list, or words separated by
// spaces); unknown roles and "service" (a front end's) are dropped.
func consoleRoles(v any) []string {
	var words []string
	switch v := v.(type) {
	case string:
		words = strings.Fields(v)
	case []any:
		for _, w := range v {
			if s, ok := w.(string); ok {
				words = append(words, s)
			}
		}
	}
	var roles []string
	for _, r := range words {
		if policies.ValidRole(r) && r != policies.RoleService && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles
}

func (s *Server) flowMAC(flow string) string {
	m := hmac.New(sha256.New, s.tokens.Secret)
	m.Write([]byte("console-oidc:" + flow))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
