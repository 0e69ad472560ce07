package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tandem/api"
)

// An administrator revokes a stolen token by its jti, or every token of a
// person; from then on they are refused, and a new sign-in works.
func TestRevokeTokens(t *testing.T) {
	s := newStack(t)
	mint := func(sub string) (string, string) {
		raw, err := api.MintToken(tokens, tenantA, sub, []string{"supervisor"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var c api.Claims
		if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil || c.ID == "" {
			t.Fatalf("a minted token has no jti: %v", err)
		}
		return "raw:Bearer " + raw, c.ID
	}
	stolen, jti := mint("sam")
	other, _ := mint("sam")
	if r := s.do("GET", "/v1/cases", stolen, nil); r.Status != http.StatusOK {
		t.Fatalf("before revoking: %d", r.Status)
	}
	if r := s.do("POST", "/v1/admin/tokens/revoke", tenantA+"/admin", api.RevokeTokenRequest{JTI: jti}); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases", stolen, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a revoked token: %d", r.Status)
	}
	if r := s.do("GET", "/v1/cases", other, nil); r.Status != http.StatusOK {
		t.Fatalf("the person's other token: %d", r.Status)
	}
	// Another tenant's administrator revokes nothing here.
	if r := s.do("POST", "/v1/admin/tokens/revoke", tenantB+"/admin", api.RevokeTokenRequest{Subject: "sam"}); r.Status != http.StatusOK {
		t.Fatalf("revoke in another tenant: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases", other, nil); r.Status != http.StatusOK {
		t.Fatalf("after another tenant's revocation: %d", r.Status)
	}
	time.Sleep(1100 * time.Millisecond) // into a later second than the tokens' iat
	if r := s.do("POST", "/v1/admin/tokens/revoke", tenantA+"/admin", api.RevokeTokenRequest{Subject: "sam"}); r.Status != http.StatusOK {
		t.Fatalf("revoke the person: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases", other, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a token issued before the person's revocation: %d", r.Status)
	}
	fresh, _ := mint("sam")
	if r := s.do("GET", "/v1/cases", fresh, nil); r.Status != http.StatusOK {
		t.Fatalf("a new sign-in after the revocation: %d", r.Status)
	}
	for _, bad := range []api.RevokeTokenRequest{{}, {JTI: "a", Subject: "b"}} {
		if r := s.do("POST", "/v1/admin/tokens/revoke", tenantA+"/admin", bad); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("%+v: %d %s", bad, r.Status, r.Body)
		}
	}
	// A control character is refused at the edge, as in every field.
	if r := s.do("POST", "/v1/admin/tokens/revoke", tenantA+"/admin", api.RevokeTokenRequest{JTI: "x\x00y"}); r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid_text" {
		t.Fatalf("a NUL in a jti: %d %s", r.Status, r.Body)
	}
}
