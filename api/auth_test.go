package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"tandem/activities/store"
	"tandem/api"
)

func signed(t *testing.T, method jwt.SigningMethod, key any, mutate func(*api.Claims)) string {
	t.Helper()
	now := time.Now()
	c := api.Claims{Tenant: tenantA, Roles: []string{"agent"}, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: tokens.Issuer, Subject: "agent-9", Audience: jwt.ClaimStrings{tokens.Audience}, IssuedAt: jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}}
	if mutate != nil {
		mutate(&c)
	}
	tok, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return "raw:Bearer " + tok
}

func TestAuthentication(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	secret := tokens.Secret
	revoked, revokedKey, err := s.store.CreateAPIKey(ctx, tenantA, "old", "service")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.RevokeAPIKey(ctx, tenantA, revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.store.RevokeToken(ctx, tenantA, "revoked-jti", "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.store.RevokeSubject(ctx, tenantA, "gone-1", "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	live := strings.TrimPrefix(s.cred(tenantA), "Bearer ")
	id := strings.Split(live, "_")[1]

	tests := []struct {
		name, who string
		status    int
		code      string
	}{
		{"no credential", "", 401, "unauthenticated"},
		{"basic auth", "raw:Basic YWxhZGRpbjpvcGVuc2VzYW1l", 401, "unauthenticated"},
		{"garbage", "raw:Bearer not-a-token", 401, "invalid_credentials"},
		{"malformed API key", "raw:Bearer tdm_123", 401, "invalid_credentials"},
		{"API key, wrong secret", "raw:Bearer tdm_" + id + "_wrongsecret", 401, "invalid_credentials"},
		{"revoked API key", "raw:Bearer " + revoked, 401, "invalid_credentials"},
		{"expired JWT", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		}), 401, "invalid_credentials"},
		{"JWT not yet valid", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		}), 401, "invalid_credentials"},
		{"JWT without exp", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.ExpiresAt = nil }), 401, "invalid_credentials"},
		{"JWT wrong issuer", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.Issuer = "evil" }), 401, "invalid_credentials"},
		{"JWT wrong audience", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.Audience = jwt.ClaimStrings{"other"} }), 401, "invalid_credentials"},
		{"JWT wrong key", signed(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefgh"), nil), 401, "invalid_credentials"},
		{"JWT HS384", signed(t, jwt.SigningMethodHS384, secret, nil), 401, "invalid_credentials"},
		{"JWT alg none", signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil), 401, "invalid_credentials"},
		{"JWT claiming the service role", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.Roles = []string{"service"} }), 401, "invalid_credentials"},
		{"JWT unknown role", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.Roles = []string{"root"} }), 401, "invalid_credentials"},
		{"JWT no roles", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.Roles = nil }), 401, "invalid_credentials"},
		{"JWT unknown tenant", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.Tenant = "nowhere" }), 401, "invalid_credentials"},
		{"JWT without subject", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.Subject = "" }), 401, "invalid_credentials"},
		{"JWT living ten years", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now())
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(10 * 365 * 24 * time.Hour))
		}), 401, "token_too_long_lived"},
		{"JWT without iat", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.IssuedAt = nil }), 401, "invalid_credentials"},
		{"JWT issued in the future", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
		}), 401, "invalid_credentials"},
		{"JWT of a revoked person, dated after the revocation", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) {
			c.Subject, c.IssuedAt = "gone-1", jwt.NewNumericDate(time.Now().Add(10*time.Minute))
		}), 401, "invalid_credentials"},
		{"revoked JWT", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.ID = "revoked-jti" }), 401, "invalid_credentials"},
		{"JWT of a revoked person", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) {
			c.Subject, c.IssuedAt = "gone-1", jwt.NewNumericDate(time.Now().Add(-time.Minute))
		}), 401, "invalid_credentials"},
		{"step-up issuer without acr", signed(t, jwt.SigningMethodHS256, secret, func(c *api.Claims) { c.Issuer = "tandem-step-up" }), 401, "invalid_credentials"},
		{"valid JWT", signed(t, jwt.SigningMethodHS256, secret, nil), 200, ""},
		{"valid API key", tenantA, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", "/v1/cases", tc.who, nil)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.code != "" && r.errorCode(t) != tc.code {
				t.Fatalf("code %s, want %s", r.errorCode(t), tc.code)
			}
		})
	}

	// The use is recorded after the answer, not before it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		keys, err := s.store.ListAPIKeys(ctx, tenantA)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(keys, func(k store.APIKey) bool { return k.ID == id })
		if i >= 0 && keys[i].LastUsedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a used API key has no last_used_at")
		}
	}
}

var roles = []string{"service", "agent", "supervisor", "finance", "compliance", "admin"}

// allowed lists, for each endpoint of the tests, the roles that may call it.
var allowed = map[string][]string{
	"open":        {"service"},
	"list":        roles,
	"read":        roles,
	"message":     {"service"},
	"close":       {"service", "agent", "supervisor"},
	"trail":       {"compliance"},
	"export":      {"compliance"},
	"events":      {"compliance"},
	"checkpoint":  {"compliance"},
	"proof":       {"compliance"},
	"verify":      {"compliance", "admin"},
	"erase":       {"admin"},
	"list holds":  {"compliance", "admin"},
	"place hold":  {"admin"},
	"list keys":   {"admin"},
	"create key":  {"admin"},
	"revoke key":  {"admin"},
	"unknown key": {"admin"},
	// The case lifecycle and the team: here "allowed" means the role passes
	// authorisation; what follows depends on the case's state.
	"handoff":            {"agent", "supervisor"},
	"claim":              {"agent", "supervisor"},
	"reply":              {"agent", "supervisor"},
	"note":               {"agent", "supervisor"},
	"set fields":         {"agent", "supervisor"},
	"apply macro":        {"agent", "supervisor"},
	"export cases":       {"supervisor", "compliance", "admin"},
	"merge":              {"agent", "supervisor"},
	"split":              {"agent", "supervisor"},
	"upload":             {"service", "agent", "supervisor"},
	"attachment":         roles,
	"start bulk":         {"supervisor"},
	"bulk":               {"supervisor"},
	"cancel bulk":        {"supervisor"},
	"macros":             {"agent", "supervisor", "admin"},
	"create macro":       {"agent", "supervisor", "admin"},
	"update macro":       {"agent", "supervisor", "admin"},
	"delete macro":       {"agent", "supervisor", "admin"},
	"case fields":        {"agent", "supervisor", "compliance", "admin"},
	"put case field":     {"admin"},
	"delete case field":  {"admin"},
	"request info":       {"agent", "supervisor"},
	"release":            {"agent", "supervisor"},
	"escalate":           {"agent", "supervisor"},
	"resolve":            {"agent", "supervisor"},
	"reassign":           {"supervisor"},
	"rating":             {"service"},
	"feedback":           {"service"},
	"queue tasks":        {"agent", "supervisor"},
	"agents":             {"supervisor", "admin"},
	"agent":              {"agent", "supervisor", "admin"},
	"availability":       {"agent", "supervisor", "admin"},
	"queues":             {"supervisor", "admin"},
	"service policy":     {"supervisor", "compliance", "admin"},
	"set service policy": {"admin"},
	"stats":              {"supervisor", "admin"},
	"mfa":                {"agent", "supervisor", "finance", "compliance", "admin"},
	"policies":           {"compliance", "admin"},
	"retention":          {"compliance", "admin"},
	"set retention":      {"admin"},
	"add policy":         {"admin"},
	"kb list":            {"agent", "supervisor", "admin"},
	"kb read":            {"agent", "supervisor", "admin"},
	"kb search":          {"agent", "supervisor", "admin"},
	"kb create":          {"admin"},
	"kb update":          {"admin"},
	"kb publish":         {"admin"},
	"kb import":          {"admin"},
	"refund request":     {"service", "agent", "supervisor"},
	"refund read":        {"service", "agent", "supervisor", "finance", "compliance"},
	"case refunds":       {"service", "agent", "supervisor", "finance", "compliance"},
	"refund decide":      {"agent", "supervisor", "finance"},
	"refund appeal":      {"service", "agent", "supervisor"},
	"refund list":        {"supervisor", "finance", "compliance"},
	"reconciliation":     {"finance", "compliance"},
	"notifications":      {"service", "agent", "supervisor", "finance", "admin"},
	"notification sent":  {"service", "agent", "supervisor", "finance", "admin"},
	"events stream":      {"agent", "supervisor", "finance", "compliance", "admin"},
	"webhooks":           {"compliance", "admin"},
	"webhook":            {"compliance", "admin"},
	"deliveries":         {"compliance", "admin"},
	"create webhook":     {"admin"},
	"change webhook":     {"admin"},
	"delete webhook":     {"admin"},
	"rotate webhook":     {"admin"},
	"redeliver":          {"admin"},
	"consistency":        {"compliance", "admin"},
	"totp status":        {"admin"},
	"release hold":       {"admin"},
	"kb unpublish":       {"admin"},
	"remove policy":      {"admin"},
	"totp enrol":         {"agent", "supervisor", "finance", "compliance", "admin"},
	"totp confirm":       {"agent", "supervisor", "finance", "compliance", "admin"},
	"step up":            {"agent", "supervisor", "finance", "compliance", "admin"},
	"reset totp":         {"admin"},
	"revoke token":       {"admin"},
	"repair consistency": {"admin"},
}

func may(role, endpoint string) bool {
	for _, r := range allowed[endpoint] {
		if r == role {
			return true
		}
	}
	return false
}

// as is how the tests call as a role of a tenant: API key for services, JWT otherwise.
func as(tenant, role string) string {
	if role == "service" {
		return tenant
	}
	return tenant + "/" + role
}

// sensitive endpoints need a step-up token; the matrices call them with one,
// so that what they test is the role's permission.
var sensitive = map[string]bool{"set service policy": true, "set retention": true, "add policy": true, "export": true, "erase": true, "place hold": true,
	"create key": true, "revoke key": true, "unknown key": true, "release hold": true, "remove policy": true, "reset totp": true,
	"create webhook": true, "change webhook": true, "delete webhook": true, "rotate webhook": true}

// routeNames names, for every route the router has, the row of the role
// matrix that calls it: a route added without a row fails TestRoleMatrix.
var routeNames = map[string]string{
	"POST /v1/cases": "open", "GET /v1/cases": "list", "GET /v1/cases/:id": "read", "POST /v1/cases/:id/messages": "message",
	"POST /v1/cases/:id/messages/:seq/feedback": "feedback", "POST /v1/cases/:id/close": "close", "POST /v1/cases/:id/claim": "claim",
	"GET /v1/cases/:id/handoff": "handoff", "POST /v1/cases/:id/reply": "reply", "POST /v1/cases/:id/request-info": "request info", "POST /v1/cases/:id/notes": "note", "POST /v1/cases/:id/fields": "set fields", "POST /v1/cases/:id/macros/:macro": "apply macro",
	"GET /v1/macros": "macros", "GET /v1/cases/export": "export cases",
	"POST /v1/bulk": "start bulk", "POST /v1/cases/:id/merge": "merge", "POST /v1/cases/:id/split": "split", "POST /v1/cases/:id/attachments": "upload", "GET /v1/cases/:id/attachments/:attachment": "attachment", "GET /v1/bulk/:id": "bulk", "POST /v1/bulk/:id/cancel": "cancel bulk", "POST /v1/macros": "create macro", "PUT /v1/macros/:id": "update macro", "DELETE /v1/macros/:id": "delete macro",
	"GET /v1/admin/case-fields": "case fields", "PUT /v1/admin/case-fields/:name": "put case field", "DELETE /v1/admin/case-fields/:name": "delete case field",
	"POST /v1/cases/:id/release": "release", "POST /v1/cases/:id/resolve": "resolve", "POST /v1/cases/:id/escalate": "escalate",
	"POST /v1/cases/:id/reassign": "reassign", "POST /v1/cases/:id/rating": "rating", "POST /v1/cases/:id/refunds": "refund request",
	"GET /v1/cases/:id/refunds": "case refunds", "GET /v1/refunds/:id": "refund read", "GET /v1/refunds": "refund list",
	"POST /v1/refunds/:id/decide": "refund decide", "POST /v1/refunds/:id/appeal": "refund appeal",
	"GET /v1/ledger/reconciliation": "reconciliation", "GET /v1/notifications": "notifications",
	"POST /v1/notifications/:id/sent": "notification sent", "GET /v1/stats": "stats", "GET /v1/queues/:queue/tasks": "queue tasks",
	"GET /v1/cases/:id/trail": "trail", "GET /v1/cases/:id/trail/export": "export", "GET /v1/audit/events": "events",
	"GET /v1/audit/checkpoint": "checkpoint", "GET /v1/audit/events/:seq/proof": "proof",
	"GET /v1/audit/verify": "verify", "POST /v1/customers/erase": "erase", "GET /v1/legal-holds": "list holds",
	"POST /v1/legal-holds": "place hold", "DELETE /v1/legal-holds/:id": "release hold", "GET /v1/agents": "agents",
	"GET /v1/agents/:id": "agent", "PUT /v1/agents/:id/availability": "availability", "PUT /v1/agents/:id/queues": "queues",
	"GET /v1/kb/articles": "kb list", "GET /v1/kb/articles/:id": "kb read", "GET /v1/kb/search": "kb search",
	"POST /v1/kb/articles": "kb create", "PUT /v1/kb/articles/:id": "kb update", "POST /v1/kb/articles/:id/publish": "kb publish",
	"POST /v1/kb/articles/:id/unpublish": "kb unpublish", "POST /v1/kb/import": "kb import",
	"GET /v1/admin/service-policy": "service policy", "PUT /v1/admin/service-policy": "set service policy",
	"GET /v1/admin/consistency": "consistency", "POST /v1/admin/consistency/repair": "repair consistency",
	"GET /v1/admin/retention": "retention", "PUT /v1/admin/retention": "set retention", "GET /v1/admin/policies": "policies",
	"POST /v1/admin/policies": "add policy", "DELETE /v1/admin/policies": "remove policy", "GET /v1/admin/api-keys": "list keys",
	"POST /v1/admin/api-keys": "create key", "DELETE /v1/admin/api-keys/:id": "revoke key",
	"GET /v1/events": "events stream", "GET /v1/admin/webhooks": "webhooks", "POST /v1/admin/webhooks": "create webhook", "GET /v1/admin/webhooks/:id": "webhook",
	"PATCH /v1/admin/webhooks/:id": "change webhook", "DELETE /v1/admin/webhooks/:id": "delete webhook",
	"POST /v1/admin/webhooks/:id/rotate-secret": "rotate webhook", "GET /v1/admin/webhooks/:id/deliveries": "deliveries",
	"POST /v1/admin/webhooks/:id/deliveries/:event/redeliver": "redeliver", "POST /v1/auth/totp/enrol": "totp enrol",
	"POST /v1/auth/totp/confirm": "totp confirm", "POST /v1/auth/step-up": "step up", "GET /v1/admin/totp/:subject": "totp status",
	"POST /v1/admin/tokens/revoke": "revoke token", "DELETE /v1/admin/totp/:subject": "reset totp",
}

// asFor is as, stepped up for sensitive endpoints where the role can step up.
func asFor(tenant, role, endpoint string) string {
	if sensitive[endpoint] && may(role, "mfa") {
		return as(tenant, role) + "+totp"
	}
	return as(tenant, role)
}

// notAuthorised says a response is a refusal at authentication or
// authorisation, not a later refusal of the request itself.
func notAuthorised(t *testing.T, r response) bool {
	switch {
	case r.Status == http.StatusForbidden:
		return r.errorCode(t) == "forbidden"
	case r.Status == http.StatusUnauthorized:
		code := r.errorCode(t)
		return code == "unauthenticated" || code == "invalid_credentials" || code == "step_up_required"
	}
	return false
}

// Function-level authorisation: every role against every endpoint.
func TestRoleMatrix(t *testing.T) {
	s := newStack(t)
	for _, rt := range s.handler.(*gin.Engine).Routes() {
		if !strings.HasPrefix(rt.Path, "/v1/") {
			continue
		}
		name, ok := routeNames[rt.Method+" "+rt.Path]
		if !ok {
			t.Errorf("%s %s has no row in the role matrix (routeNames, allowed, calls)", rt.Method, rt.Path)
		} else if _, ok := allowed[name]; !ok {
			t.Errorf("%s %s: row %q has no allowed roles", rt.Method, rt.Path, name)
		}
	}
	_, key, err := s.store.CreateAPIKey(context.Background(), tenantA, "to revoke", "service")
	if err != nil {
		t.Fatal(err)
	}
	art, err := s.store.CreateArticle(context.Background(), giftCardArticle(tenantA))
	if err != nil {
		t.Fatal(err)
	}
	hook := registerWebhook(t, s, tenantA)
	for _, role := range roles {
		c := s.openCase(tenantA, sampleCase()).Case
		if role == "agent" { // so that what is tested is the role, not the agent's scope
			s.handTo(tenantA+"/agent", c.ID)
		}
		var refund refundOut // a refund of the case, asked for by the customer
		s.do("POST", "/v1/cases/"+c.ID+"/refunds", tenantA, refundBody("none", "5.00")).decode(t, &refund)
		calls := map[string]func(who string) response{
			"open": func(who string) response { return s.do("POST", "/v1/cases", who, sampleCase()) },
			"list": func(who string) response { return s.do("GET", "/v1/cases", who, nil) },
			"read": func(who string) response { return s.do("GET", "/v1/cases/"+c.ID, who, nil) },
			"message": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/messages", who, api.PostMessageRequest{Body: "hi"})
			},
			"close": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/close", who, api.CloseCaseRequest{})
			},
			"trail":      func(who string) response { return s.do("GET", "/v1/cases/"+c.ID+"/trail", who, nil) },
			"export":     func(who string) response { return s.do("GET", "/v1/cases/"+c.ID+"/trail/export", who, nil) },
			"events":     func(who string) response { return s.do("GET", "/v1/audit/events", who, nil) },
			"checkpoint": func(who string) response { return s.do("GET", "/v1/audit/checkpoint", who, nil) },
			"proof":      func(who string) response { return s.do("GET", "/v1/audit/events/1/proof", who, nil) },
			"verify":     func(who string) response { return s.do("GET", "/v1/audit/verify", who, nil) },
			"erase": func(who string) response {
				return s.do("POST", "/v1/customers/erase", who, api.EraseCustomerRequest{CustomerRef: "nobody-" + role, Reason: "test"})
			},
			"list holds": func(who string) response { return s.do("GET", "/v1/legal-holds", who, nil) },
			"place hold": func(who string) response {
				return s.do("POST", "/v1/legal-holds", who, api.PlaceHoldRequest{CaseID: c.ID, Reason: "test"})
			},
			"retention":     func(who string) response { return s.do("GET", "/v1/admin/retention", who, nil) },
			"set retention": func(who string) response { return s.do("PUT", "/v1/admin/retention", who, api.RetentionJSON{}) },
			"policies":      func(who string) response { return s.do("GET", "/v1/admin/policies", who, nil) },
			"add policy": func(who string) response {
				return s.do("POST", "/v1/admin/policies", who, api.PolicyGrant{Role: "finance", Object: "case", Action: "close"})
			},
			"list keys": func(who string) response { return s.do("GET", "/v1/admin/api-keys", who, nil) },
			"create key": func(who string) response {
				return s.do("POST", "/v1/admin/api-keys", who, api.CreateAPIKeyRequest{Name: "chat"})
			},
			"revoke key":  func(who string) response { return s.do("DELETE", "/v1/admin/api-keys/"+key.ID, who, nil) },
			"unknown key": func(who string) response { return s.do("DELETE", "/v1/admin/api-keys/0000000000000000", who, nil) },
			"handoff":     func(who string) response { return s.do("GET", "/v1/cases/"+c.ID+"/handoff", who, nil) },
			"claim":       func(who string) response { return s.do("POST", "/v1/cases/"+c.ID+"/claim", who, nil) },
			"reply": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/reply", who, api.AgentMessageRequest{Body: "hi"})
			},
			"request info": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/request-info", who, api.AgentMessageRequest{Body: "which order?"})
			},
			"note": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/notes", who, api.PostMessageRequest{Body: "checked the order"})
			},
			"set fields": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/fields", who, api.SetFieldsRequest{AddTags: []string{"checked"}})
			},
			"case fields":  func(who string) response { return s.do("GET", "/v1/admin/case-fields", who, nil) },
			"macros":       func(who string) response { return s.do("GET", "/v1/macros", who, nil) },
			"export cases": func(who string) response { return s.do("GET", "/v1/cases/export?status=closed", who, nil) },
			"start bulk": func(who string) response {
				return s.do("POST", "/v1/bulk", who, api.BulkRequest{Action: "close", Filter: &api.BulkFilter{Status: "closed"}, Reason: "by_" + role})
			},
			"bulk": func(who string) response { return s.do("GET", "/v1/bulk/"+c.ID, who, nil) },
			"split": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/split", who, api.SplitRequest{MessageSeqs: []int64{1}})
			},
			"upload": func(who string) response {
				body, ct := multipartFile(t, "note.txt", []byte("by "+role))
				return s.do("POST", "/v1/cases/"+c.ID+"/attachments", who, body, "Content-Type", ct)
			},
			"attachment": func(who string) response {
				return s.do("GET", "/v1/cases/"+c.ID+"/attachments/00000000-0000-4000-8000-000000000000", who, nil)
			},
			"merge": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/merge", who, api.MergeRequest{Into: "00000000-0000-4000-8000-000000000000"})
			},
			"cancel bulk": func(who string) response { return s.do("POST", "/v1/bulk/"+c.ID+"/cancel", who, nil) },
			"create macro": func(who string) response {
				return s.do("POST", "/v1/macros", who, api.MacroRequest{Name: "by " + role, Personal: true, Actions: store.MacroActions{Then: "resolve", Code: "other"}})
			},
			"update macro": func(who string) response {
				return s.do("PUT", "/v1/macros/"+c.ID, who, api.MacroRequest{Name: "by " + role, Personal: true, Actions: store.MacroActions{Then: "resolve", Code: "other"}})
			},
			"delete macro": func(who string) response { return s.do("DELETE", "/v1/macros/"+c.ID+"?personal=true", who, nil) },
			"apply macro": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/macros/"+c.ID, who, api.ApplyMacroRequest{})
			},
			"put case field": func(who string) response {
				return s.do("PUT", "/v1/admin/case-fields/by_"+role, who, api.CaseFieldRequest{Type: "text"})
			},
			"delete case field": func(who string) response { return s.do("DELETE", "/v1/admin/case-fields/by_"+role, who, nil) },
			"release":           func(who string) response { return s.do("POST", "/v1/cases/"+c.ID+"/release", who, nil) },
			"escalate":          func(who string) response { return s.do("POST", "/v1/cases/"+c.ID+"/escalate", who, nil) },
			"resolve": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/resolve", who, api.ResolveRequest{Code: "answered"})
			},
			"reassign": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/reassign", who, api.ReassignRequest{AgentID: "agent-1"})
			},
			"rating": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/rating", who, api.RatingRequest{Score: 5})
			},
			"feedback": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/messages/2/feedback", who, api.FeedbackRequest{Helpful: ptr(false)})
			},
			"queue tasks": func(who string) response { return s.do("GET", "/v1/queues/general/tasks", who, nil) },
			"agents":      func(who string) response { return s.do("GET", "/v1/agents", who, nil) },
			"agent":       func(who string) response { return s.do("GET", "/v1/agents/agent-1", who, nil) },
			"availability": func(who string) response {
				return s.do("PUT", "/v1/agents/"+role+"-1/availability", who, api.AvailabilityRequest{Status: "away", Capacity: capacity(1)})
			},
			"queues": func(who string) response {
				return s.do("PUT", "/v1/agents/agent-1/queues", who, api.QueuesRequest{Queues: []string{"general"}})
			},
			"service policy": func(who string) response { return s.do("GET", "/v1/admin/service-policy", who, nil) },
			"set service policy": func(who string) response {
				return s.do("PUT", "/v1/admin/service-policy", who, map[string]string{"profile": "efficiency-first"})
			},
			"stats":     func(who string) response { return s.do("GET", "/v1/stats", who, nil) },
			"kb list":   func(who string) response { return s.do("GET", "/v1/kb/articles", who, nil) },
			"kb read":   func(who string) response { return s.do("GET", "/v1/kb/articles/"+art.ID, who, nil) },
			"kb search": func(who string) response { return s.do("GET", "/v1/kb/search?q=refund", who, nil) },
			"kb create": func(who string) response {
				a := giftCards()
				a.Intent = "by-" + role
				return s.do("POST", "/v1/kb/articles", who, a)
			},
			"kb update":  func(who string) response { return s.do("PUT", "/v1/kb/articles/"+art.ID, who, giftCards()) },
			"kb publish": func(who string) response { return s.do("POST", "/v1/kb/articles/"+art.ID+"/publish", who, nil) },
			"kb import": func(who string) response {
				return s.do("POST", "/v1/kb/import", who, `{"intent":"imported","locale":"en","title":"t","answer":"a"}`)
			},
			"refund request": func(who string) response {
				return s.do("POST", "/v1/cases/"+c.ID+"/refunds", who, refundBody("none", "5.00"))
			},
			"refund read":  func(who string) response { return s.do("GET", "/v1/refunds/"+refund.Refund.RefundID, who, nil) },
			"case refunds": func(who string) response { return s.do("GET", "/v1/cases/"+c.ID+"/refunds", who, nil) },
			"refund decide": func(who string) response {
				return s.do("POST", "/v1/refunds/"+refund.Refund.RefundID+"/decide", who, map[string]any{"approve": true})
			},
			"refund appeal": func(who string) response {
				return s.do("POST", "/v1/refunds/"+refund.Refund.RefundID+"/appeal", who, map[string]any{"reason": "the order exists"})
			},
			"refund list":    func(who string) response { return s.do("GET", "/v1/refunds?status=awaiting_approval", who, nil) },
			"reconciliation": func(who string) response { return s.do("GET", "/v1/ledger/reconciliation", who, nil) },
			"notifications":  func(who string) response { return s.do("GET", "/v1/notifications", who, nil) },
			"webhooks":       func(who string) response { return s.do("GET", "/v1/admin/webhooks", who, nil) },
			"events stream":  func(who string) response { return s.openStream(who, "").response },
			"webhook":        func(who string) response { return s.do("GET", "/v1/admin/webhooks/"+hook.Webhook.ID, who, nil) },
			"deliveries": func(who string) response {
				return s.do("GET", "/v1/admin/webhooks/"+hook.Webhook.ID+"/deliveries", who, nil)
			},
			"create webhook": func(who string) response {
				return s.do("POST", "/v1/admin/webhooks", who, api.WebhookRequest{URL: "http://127.0.0.1:9/" + role, EventTypes: []string{"case.opened"}})
			},
			"change webhook": func(who string) response {
				return s.do("PATCH", "/v1/admin/webhooks/"+hook.Webhook.ID, who, api.WebhookRequest{DisableAfter: 7})
			},
			"rotate webhook": func(who string) response {
				return s.do("POST", "/v1/admin/webhooks/"+hook.Webhook.ID+"/rotate-secret", who, nil)
			},
			"delete webhook": func(who string) response { return s.do("DELETE", "/v1/admin/webhooks/wh_0000000000000000", who, nil) },
			"redeliver": func(who string) response {
				return s.do("POST", "/v1/admin/webhooks/"+hook.Webhook.ID+"/deliveries/none/redeliver", who, nil)
			},
			"notification sent": func(who string) response {
				return s.do("POST", "/v1/notifications/none/sent", who, nil)
			},
			"consistency": func(who string) response { return s.do("GET", "/v1/admin/consistency", who, nil) },
			"totp status": func(who string) response { return s.do("GET", "/v1/admin/totp/nobody", who, nil) },
			"release hold": func(who string) response {
				return s.do("DELETE", "/v1/legal-holds/6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21", who, nil)
			},
			"kb unpublish": func(who string) response { return s.do("POST", "/v1/kb/articles/"+art.ID+"/unpublish", who, nil) },
			"remove policy": func(who string) response {
				return s.do("DELETE", "/v1/admin/policies", who, api.PolicyGrant{Role: "finance", Object: "case", Action: "close"})
			},
			"totp enrol": func(who string) response { return s.do("POST", "/v1/auth/totp/enrol", who, nil) },
			"totp confirm": func(who string) response {
				return s.do("POST", "/v1/auth/totp/confirm", who, api.TOTPCodeRequest{Code: "000000"})
			},
			"step up": func(who string) response {
				return s.do("POST", "/v1/auth/step-up", who, api.StepUpRequest{Code: "000000", For: []string{api.StepUpRecords}})
			},
			"reset totp": func(who string) response { return s.do("DELETE", "/v1/admin/totp/nobody", who, nil) },
			"revoke token": func(who string) response {
				return s.do("POST", "/v1/admin/tokens/revoke", who, api.RevokeTokenRequest{JTI: "no-such-token"})
			},
			"repair consistency": func(who string) response { return s.do("POST", "/v1/admin/consistency/repair", who, nil) },
		}
		lifecycle := []string{"handoff", "claim", "reply", "note", "set fields", "apply macro", "update macro", "delete macro", "bulk", "cancel bulk", "merge", "split", "upload", "attachment", "request info", "release", "claim", "escalate", "resolve", "reassign",
			"rating", "feedback", "refund request", "refund read", "case refunds", "refund decide", "refund appeal", "notification sent", "queue tasks", "agents", "agent", "availability", "queues", "service policy", "set service policy", "stats", "totp status",
			"release hold", "kb unpublish", "remove policy", "totp enrol", "totp confirm", "step up", "reset totp", "checkpoint", "proof"}
		for _, name := range append([]string{"open", "list", "read", "message", "trail", "export", "events", "verify", "erase", "list holds", "place hold", "policies", "add policy", "retention", "set retention", "close", "list keys", "create key", "revoke key", "unknown key",
			"kb list", "kb read", "kb search", "kb create", "kb update", "kb publish", "kb import", "refund list", "reconciliation", "notifications", "consistency", "repair consistency", "revoke token",
			"case fields", "put case field", "delete case field", "macros", "create macro", "export cases", "start bulk"}, lifecycle...) {
			r := calls[name](asFor(tenantA, role, name))
			may := may(role, name)
			stateDependent := slices.Contains(lifecycle, name)
			switch {
			case may && stateDependent && notAuthorised(t, r):
				t.Errorf("%s %s: %d %s, want past authorisation", role, name, r.Status, r.Body)
			case may && stateDependent:
			case !may && (r.Status != http.StatusForbidden || r.errorCode(t) != "forbidden"):
				t.Errorf("%s %s: %d %s, want 403 forbidden", role, name, r.Status, r.Body)
			case may && name == "unknown key" && r.Status != http.StatusNotFound:
				t.Errorf("%s %s: %d %s, want 404", role, name, r.Status, r.Body)
			case may && name != "unknown key" && r.Status/100 != 2:
				t.Errorf("%s %s: %d %s, want success", role, name, r.Status, r.Body)
			}
		}
	}
}

// Object-level authorisation: every role of another tenant gets 404 for this
// tenant's case and API key, on every endpoint that takes an ID.
func TestOtherTenantsIDs(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	art, err := s.store.CreateArticle(context.Background(), giftCardArticle(tenantA))
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := s.store.CreateAPIKey(context.Background(), tenantA, "a's key", "service")
	if err != nil {
		t.Fatal(err)
	}
	var refund refundOut
	s.do("POST", "/v1/cases/"+c.ID+"/refunds", tenantA, refundBody("none", "5.00")).decode(t, &refund)
	s.waitRefund(refund.Refund.RefundID, tenantA, final) // refused: the customer is told
	notes, err := s.store.CaseNotifications(context.Background(), tenantA, c.ID)
	if err != nil || len(notes) == 0 {
		t.Fatalf("no notification to try another tenant's ID on: %v", err)
	}
	hook := registerWebhook(t, s, tenantA)
	if r := s.do("PUT", "/v1/admin/case-fields/a_field", tenantA+"/admin", api.CaseFieldRequest{Type: "text"}); r.Status != http.StatusCreated {
		t.Fatalf("a field: %d %s", r.Status, r.Body)
	}
	var macro api.MacroBody
	s.do("POST", "/v1/macros", tenantA+"/admin", api.MacroRequest{Name: "a's", Actions: store.MacroActions{Then: "resolve", Code: "other"}}).decode(t, &macro)
	for _, role := range roles {
		for _, call := range []struct {
			endpoint, method, path string
			body                   any
		}{
			{"read", "GET", "/v1/cases/" + c.ID, nil},
			{"trail", "GET", "/v1/cases/" + c.ID + "/trail", nil},
			{"export", "GET", "/v1/cases/" + c.ID + "/trail/export", nil},
			{"message", "POST", "/v1/cases/" + c.ID + "/messages", api.PostMessageRequest{Body: "hi"}},
			{"close", "POST", "/v1/cases/" + c.ID + "/close", api.CloseCaseRequest{}},
			{"revoke key", "DELETE", "/v1/admin/api-keys/" + key.ID, nil},
			{"webhook", "GET", "/v1/admin/webhooks/" + hook.Webhook.ID, nil},
			{"change webhook", "PATCH", "/v1/admin/webhooks/" + hook.Webhook.ID, api.WebhookRequest{DisableAfter: 7}},
			{"delete webhook", "DELETE", "/v1/admin/webhooks/" + hook.Webhook.ID, nil},
			{"rotate webhook", "POST", "/v1/admin/webhooks/" + hook.Webhook.ID + "/rotate-secret", nil},
			{"deliveries", "GET", "/v1/admin/webhooks/" + hook.Webhook.ID + "/deliveries", nil},
			{"redeliver", "POST", "/v1/admin/webhooks/" + hook.Webhook.ID + "/deliveries/x/redeliver", nil},
			{"handoff", "GET", "/v1/cases/" + c.ID + "/handoff", nil},
			{"claim", "POST", "/v1/cases/" + c.ID + "/claim", nil},
			{"reply", "POST", "/v1/cases/" + c.ID + "/reply", api.AgentMessageRequest{Body: "hi"}},
			{"request info", "POST", "/v1/cases/" + c.ID + "/request-info", api.AgentMessageRequest{Body: "hi"}},
			{"note", "POST", "/v1/cases/" + c.ID + "/notes", api.PostMessageRequest{Body: "hi"}},
			{"set fields", "POST", "/v1/cases/" + c.ID + "/fields", api.SetFieldsRequest{AddTags: []string{"x"}}},
			{"apply macro", "POST", "/v1/cases/" + c.ID + "/macros/" + macro.Macro.ID, api.ApplyMacroRequest{}},
			{"update macro", "PUT", "/v1/macros/" + macro.Macro.ID, api.MacroRequest{Name: "theirs", Personal: true, Actions: store.MacroActions{Then: "resolve", Code: "other"}}},
			{"delete macro", "DELETE", "/v1/macros/" + macro.Macro.ID + "?personal=true", nil},
			{"merge", "POST", "/v1/cases/" + c.ID + "/merge", api.MergeRequest{Into: c.ID}},
			{"split", "POST", "/v1/cases/" + c.ID + "/split", api.SplitRequest{MessageSeqs: []int64{1}}},
			{"upload", "POST", "/v1/cases/" + c.ID + "/attachments", nil},
			{"attachment", "GET", "/v1/cases/" + c.ID + "/attachments/00000000-0000-4000-8000-000000000000", nil},
			{"delete case field", "DELETE", "/v1/admin/case-fields/a_field", nil},
			{"release", "POST", "/v1/cases/" + c.ID + "/release", nil},
			{"escalate", "POST", "/v1/cases/" + c.ID + "/escalate", nil},
			{"resolve", "POST", "/v1/cases/" + c.ID + "/resolve", api.ResolveRequest{Code: "answered"}},
			{"reassign", "POST", "/v1/cases/" + c.ID + "/reassign", api.ReassignRequest{AgentID: "agent-1"}},
			{"rating", "POST", "/v1/cases/" + c.ID + "/rating", api.RatingRequest{Score: 5}},
			{"feedback", "POST", "/v1/cases/" + c.ID + "/messages/2/feedback", api.FeedbackRequest{Helpful: ptr(true)}},
			{"kb read", "GET", "/v1/kb/articles/" + art.ID, nil},
			{"refund request", "POST", "/v1/cases/" + c.ID + "/refunds", refundBody("1001", "5.00")},
			{"case refunds", "GET", "/v1/cases/" + c.ID + "/refunds", nil},
			{"refund read", "GET", "/v1/refunds/" + refund.Refund.RefundID, nil},
			{"refund decide", "POST", "/v1/refunds/" + refund.Refund.RefundID + "/decide", map[string]any{"approve": true}},
			{"refund appeal", "POST", "/v1/refunds/" + refund.Refund.RefundID + "/appeal", map[string]any{"reason": "x"}},
			{"notification sent", "POST", "/v1/notifications/" + notes[0].ID + "/sent", nil},
			{"kb update", "PUT", "/v1/kb/articles/" + art.ID, giftCards()},
			{"kb publish", "POST", "/v1/kb/articles/" + art.ID + "/publish", nil},
		} {
			// 404 where the role may call the endpoint: the ID does not exist
			// for them; 403 where it may not call it at all.
			want := http.StatusForbidden
			if may(role, call.endpoint) {
				want = http.StatusNotFound
			}
			if r := s.do(call.method, call.path, asFor(tenantB, role, call.endpoint), call.body); r.Status != want {
				t.Errorf("%s of %s: %s %s: %d %s, want %d", role, tenantB, call.method, call.path, r.Status, r.Body, want)
			}
		}
	}
	// The tenant's macros, as another tenant's admin keeps theirs.
	if r := s.do("PUT", "/v1/macros/"+macro.Macro.ID, tenantB+"/admin", api.MacroRequest{Name: "theirs", Actions: store.MacroActions{Then: "resolve", Code: "other"}}); r.Status != http.StatusNotFound {
		t.Errorf("%s's admin changes %s's macro: %d %s, want 404", tenantB, tenantA, r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/macros/"+macro.Macro.ID, tenantB+"/admin", nil); r.Status != http.StatusNotFound {
		t.Errorf("%s's admin removes %s's macro: %d %s, want 404", tenantB, tenantA, r.Status, r.Body)
	}
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &got)
	if got.Case.Status != "ai_handling" || len(got.Messages) != 2 {
		t.Fatalf("tenant A's case changed: %+v", got)
	}
	keys, err := s.store.ListAPIKeys(context.Background(), tenantA)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == key.ID && k.RevokedAt != nil {
			t.Fatal("another tenant's admin revoked tenant A's key")
		}
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin+totp"
	r := s.do("POST", "/v1/admin/api-keys", admin, api.CreateAPIKeyRequest{Name: "web chat"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var created api.CreatedAPIKey
	r.decode(t, &created)
	if !strings.HasPrefix(created.Key, "tdm_") || created.APIKey.Role != "service" || created.APIKey.TenantID != tenantA {
		t.Fatalf("created = %+v", created)
	}
	if strings.Contains(string(s.do("GET", "/v1/admin/api-keys", admin, nil).Body), created.Key) {
		t.Fatal("listing shows a key's secret")
	}
	if r := s.do("GET", "/v1/cases", "raw:Bearer "+created.Key, nil); r.Status != http.StatusOK {
		t.Fatalf("new key: %d", r.Status)
	}
	if r := s.do("DELETE", "/v1/admin/api-keys/"+created.APIKey.ID, admin, nil); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases", "raw:Bearer "+created.Key, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", r.Status)
	}
	if r := s.do("POST", "/v1/admin/api-keys", admin, api.CreateAPIKeyRequest{}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("nameless key: %d", r.Status)
	}
}

// Object-level authorisation between agents of one tenant: an agent works the
// cases assigned to them and those waiting in their queues; another agent's
// case does not exist for them, on every endpoint that takes a case ID.
func TestAnotherAgentsCase(t *testing.T) {
	s := newStack(t)
	one, two, three := tenantA+"/agent:agent-1", tenantA+"/agent:agent-2", tenantA+"/agent:agent-3"
	mine := s.openCase(tenantA, sampleCase()).Case
	theirs := s.openCase(tenantA, sampleCase()).Case
	queued := s.openCase(tenantA, sampleCase()).Case
	unrouted := s.openCase(tenantA, sampleCase()).Case // still with the AI
	s.handTo(one, mine.ID)
	s.handTo(two, theirs.ID)
	s.escalate(tenantA, queued.ID)

	for _, tc := range []struct {
		who  string
		c    api.CaseJSON
		want int
	}{
		{one, mine, 200}, {one, queued, 200}, {one, theirs, 404}, {one, unrouted, 404},
		{two, theirs, 200}, {two, mine, 404},
		{three, queued, 404}, {three, mine, 404}, // agent-3 works no queue
	} {
		for _, path := range []string{"/v1/cases/" + tc.c.ID, "/v1/cases/" + tc.c.ID + "/trail"} {
			want := tc.want
			if strings.HasSuffix(path, "/trail") {
				want = 403 // trails are compliance's
			}
			if r := s.do("GET", path, tc.who, nil); r.Status != want {
				t.Errorf("%s GET %s: %d %s, want %d", tc.who, path, r.Status, r.Body, want)
			}
		}
	}
	for _, tc := range []struct {
		who, path string
		want      int
	}{
		{one, "/v1/cases/" + theirs.ID + "/close", 404},
		// A claim on a case of one's own queue that another agent took is a
		// lost race, not a secret: 409. An agent outside the queue gets 404.
		{one, "/v1/cases/" + theirs.ID + "/claim", 409},
		{three, "/v1/cases/" + theirs.ID + "/claim", 404},
		{three, "/v1/cases/" + queued.ID + "/claim", 404},
		{one, "/v1/cases/" + theirs.ID + "/messages/2/feedback", 403}, // the customer's, through the support API
		{one, "/v1/cases/" + theirs.ID + "/attachments", 404},
	} {
		if r := s.do("POST", tc.path, tc.who, api.CloseCaseRequest{}); r.Status != tc.want {
			t.Errorf("%s POST %s: %d %s, want %d", tc.who, tc.path, r.Status, r.Body, tc.want)
		}
	}
	// Nor may they leave a note on it.
	for _, tc := range []struct {
		who, id string
		want    int
	}{{one, theirs.ID, 404}, {three, queued.ID, 404}, {one, queued.ID, 201}, {two, theirs.ID, 201}} {
		if r := s.do("POST", "/v1/cases/"+tc.id+"/notes", tc.who, api.PostMessageRequest{Body: "a note"}); r.Status != tc.want {
			t.Errorf("%s POST a note on %s: %d %s, want %d", tc.who, tc.id, r.Status, r.Body, tc.want)
		}
		want := tc.want
		if want == 201 {
			want = 200
		}
		if r := s.do("POST", "/v1/cases/"+tc.id+"/fields", tc.who, api.SetFieldsRequest{AddTags: []string{"seen"}}); r.Status != want {
			t.Errorf("%s POST fields of %s: %d %s, want %d", tc.who, tc.id, r.Status, r.Body, want)
		}
	}
	// Another agent's case's refunds do not exist for them either.
	var theirRefund refundOut
	s.do("POST", "/v1/cases/"+theirs.ID+"/refunds", tenantA, refundBody("none", "5.00")).decode(t, &theirRefund)
	for _, path := range []string{"/v1/cases/" + theirs.ID + "/refunds", "/v1/refunds/" + theirRefund.Refund.RefundID} {
		if r := s.do("GET", path, one, nil); r.Status != http.StatusNotFound {
			t.Errorf("agent-1 GET %s: %d %s, want 404", path, r.Status, r.Body)
		}
		for _, action := range []string{"/decide", "/appeal"} {
			if !strings.HasPrefix(path, "/v1/refunds/") {
				continue
			}
			if r := s.do("POST", path+action, one, map[string]any{"approve": false, "reason": "x"}); r.Status != http.StatusNotFound {
				t.Errorf("agent-1 POST %s%s: %d %s, want 404", path, action, r.Status, r.Body)
			}
		}
		if r := s.do("GET", path, two, nil); r.Status != http.StatusOK {
			t.Errorf("agent-2 GET %s: %d %s, want 200", path, r.Status, r.Body)
		}
	}
	var list api.CaseList
	s.do("GET", "/v1/cases", one, nil).decode(t, &list)
	var seen []string
	for _, c := range list.Cases {
		seen = append(seen, c.ID)
	}
	if len(seen) != 2 || !slices.Contains(seen, mine.ID) || !slices.Contains(seen, queued.ID) {
		t.Fatalf("agent-1 lists %v, want only %s and %s", seen, mine.ID, queued.ID)
	}
	var all api.CaseList
	s.do("GET", "/v1/cases", tenantA+"/supervisor", nil).decode(t, &all)
	if len(all.Cases) != 4 {
		t.Fatalf("supervisor lists %d cases, want 4", len(all.Cases))
	}
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+theirs.ID, tenantA+"/supervisor", nil).decode(t, &got)
	if got.Case.Status != "assigned" || got.Case.Assignee != "agent-2" {
		t.Fatalf("agent-2's case was changed: %+v", got.Case)
	}
}

// registerWebhook registers an endpoint on loopback for tenant (which is
// allowed private targets), for tests of who may touch it.
func registerWebhook(t *testing.T, s *stack, tenant string) api.CreatedWebhook {
	t.Helper()
	if err := s.store.AllowPrivateWebhooks(context.Background(), tenant, true); err != nil {
		t.Fatal(err)
	}
	var out api.CreatedWebhook
	r := s.do("POST", "/v1/admin/webhooks", tenant+"/admin+totp", api.WebhookRequest{URL: "http://127.0.0.1:9/hook", EventTypes: []string{"case.closed"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("register a webhook: %d %s", r.Status, r.Body)
	}
	r.decode(t, &out)
	return out
}

// API keys are checked from each process's memory, and a revocation reaches
// every process within a second: through another process's API, and by
// hand in SQL.
func TestRevocationReachesEveryProcessWithinASecond(t *testing.T) {
	s := newStack(t)
	other := httptest.NewServer(newAPI(t, s.store, s.temporal, s.queue, slog.New(slog.NewTextHandler(io.Discard, nil)), 5*time.Second, 0))
	t.Cleanup(other.Close)
	status := func(key string) int {
		req, err := http.NewRequestWithContext(t.Context(), "GET", other.URL+"/v1/cases", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	admin := tenantA + "/admin+totp"
	for _, how := range []string{"api", "sql"} {
		r := s.do("POST", "/v1/admin/api-keys", admin, api.CreateAPIKeyRequest{Name: "front end " + how})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var created api.CreatedAPIKey
		r.decode(t, &created)
		for range 3 { // read once, then served from memory
			if got := status(created.Key); got != http.StatusOK {
				t.Fatalf("%s: the key before revocation: %d", how, got)
			}
		}
		revoked := time.Now()
		switch how {
		case "api":
			if r := s.do("DELETE", "/v1/admin/api-keys/"+created.APIKey.ID, admin, nil); r.Status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
		case "sql":
			if err := s.store.DB().Exec(`UPDATE api_keys SET revoked_at = now() WHERE id = ?`, created.APIKey.ID).Error; err != nil {
				t.Fatal(err)
			}
		}
		for status(created.Key) != http.StatusUnauthorized {
			if time.Since(revoked) > time.Second {
				t.Fatalf("%s: the other process still takes the key a second after its revocation", how)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("%s: refused by the other process %v after the revocation", how, time.Since(revoked).Round(time.Millisecond))
	}
}
