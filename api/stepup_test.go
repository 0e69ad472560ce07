package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tandem/activities/store"
	"tandem/api"
)

func TestStepUp(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin"
	erase := api.EraseCustomerRequest{CustomerRef: "nobody", Reason: "test"}

	if r := s.do("POST", "/v1/customers/erase", admin, erase); r.Status != http.StatusUnauthorized || r.errorCode(t) != "step_up_required" {
		t.Fatalf("erase without step-up: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/auth/step-up", admin, api.StepUpRequest{Code: "123456", For: []string{api.StepUpRecords}}); r.Status != http.StatusConflict || r.errorCode(t) != "totp_not_enrolled" {
		t.Fatalf("step-up before enrolment: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/auth/totp/enrol", tenantA, nil); r.Status != http.StatusForbidden {
		t.Fatalf("a service enrolling: %d", r.Status)
	}

	var first, second struct {
		URL string `json:"otpauth_url"`
	}
	s.do("POST", "/v1/auth/totp/enrol", admin, nil).decode(t, &first)
	s.do("POST", "/v1/auth/totp/enrol", admin, nil).decode(t, &second) // restart before confirming: a new secret
	if first.URL == second.URL || second.URL == "" {
		t.Fatal("re-enrolment kept the old secret")
	}
	now := time.Now()
	if r := s.do("POST", "/v1/auth/totp/confirm", admin, api.TOTPCodeRequest{Code: totpCode(t, first.URL, now)}); r.Status != http.StatusUnauthorized {
		t.Fatalf("confirm with the replaced secret: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/auth/totp/confirm", admin, api.TOTPCodeRequest{Code: "12345"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("five digits: %d", r.Status)
	}
	code := totpCode(t, second.URL, now)
	if r := s.do("POST", "/v1/auth/totp/confirm", admin, api.TOTPCodeRequest{Code: code}); r.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/auth/totp/enrol", admin, nil); r.Status != http.StatusConflict {
		t.Fatalf("enrol over a confirmed factor: %d", r.Status)
	}
	// The code used to confirm cannot be used again.
	if r := s.do("POST", "/v1/auth/step-up", admin, api.StepUpRequest{Code: code, For: []string{api.StepUpRecords}}); r.Status != http.StatusUnauthorized || r.errorCode(t) != "totp_invalid" {
		t.Fatalf("replayed code: %d %s", r.Status, r.Body)
	}
	var up api.StepUpToken
	r := s.do("POST", "/v1/auth/step-up", admin, api.StepUpRequest{Code: totpCode(t, second.URL, now.Add(30*time.Second)), For: []string{api.StepUpRecords}})
	if r.Status != http.StatusOK {
		t.Fatalf("step up: %d %s", r.Status, r.Body)
	}
	r.decode(t, &up)
	if d := time.Until(up.ExpiresAt); d <= 0 || d > api.StepUpTTL {
		t.Fatalf("step-up token lives %v", d)
	}
	var claims api.Claims
	if _, _, err := jwt.NewParser().ParseUnverified(up.Token, &claims); err != nil || claims.ACR != "totp" || claims.Subject != "admin-1" {
		t.Fatalf("step-up claims %+v, %v", claims, err)
	}
	if r := s.do("POST", "/v1/customers/erase", "raw:Bearer "+up.Token, erase); r.Status != http.StatusOK {
		t.Fatalf("erase with step-up: %d %s", r.Status, r.Body)
	}
	// The token is bound to the class it was asked for: a code typed to erase
	// does not also mint API keys or change access rules.
	if fmt.Sprint(claims.StepUpFor) != "[records]" {
		t.Fatalf("step-up for %v", claims.StepUpFor)
	}
	if r := s.do("POST", "/v1/admin/api-keys", "raw:Bearer "+up.Token, map[string]string{"name": "k", "role": "service"}); r.Status != http.StatusUnauthorized || r.errorCode(t) != "step_up_required" {
		t.Fatalf("a records step-up making an API key: %d %s", r.Status, r.Body)
	}
	for _, body := range []any{api.TOTPCodeRequest{Code: "123456"}, api.StepUpRequest{Code: "123456", For: []string{"everything"}}} {
		if r := s.do("POST", "/v1/auth/step-up", admin, body); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("step-up for no or an unknown class %+v: %d %s", body, r.Status, r.Body)
		}
	}
	// A step-up token cannot be forged by adding the claim to an ordinary token.
	forged := signed(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefgh"), func(c *api.Claims) {
		c.ACR, c.Roles, c.IssuedAt = "totp", []string{"admin"}, jwt.NewNumericDate(time.Now())
	})
	if r := s.do("POST", "/v1/customers/erase", forged, erase); r.Status != http.StatusUnauthorized {
		t.Fatalf("forged step-up: %d", r.Status)
	}

	var outcomes []string
	events, _ := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{ActorID: "admin-1", Limit: 100})
	for _, e := range events {
		if e.Action == "auth.step_up" || e.Action == "auth.totp.confirm" {
			outcomes = append(outcomes, e.Action+":"+e.Outcome)
		}
	}
	// Before enrolment, the replaced secret, the replayed code, then success.
	want := "auth.step_up:failed auth.totp.confirm:failed auth.totp.confirm:success auth.step_up:failed auth.step_up:success"
	if got := strings.Join(outcomes, " "); got != want {
		t.Fatalf("audited second-factor events:\n got  %s\n want %s", got, want)
	}
}

func TestResetLostSecondFactor(t *testing.T) {
	s := newStack(t)
	s.steppedUp(tenantA + "/agent") // agent-1 enrols
	admin := tenantA + "/admin+totp"
	if r := s.do("DELETE", "/v1/admin/totp/agent-1", tenantA+"/supervisor+totp", nil); r.Status != http.StatusForbidden {
		t.Fatalf("a supervisor resetting: %d", r.Status)
	}
	if r := s.do("DELETE", "/v1/admin/totp/admin-1", admin, nil); r.Status != http.StatusForbidden || r.errorCode(t) != "self_reset" {
		t.Fatalf("resetting one's own factor: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/admin/totp/agent-1", tenantB+"/admin+totp", nil); r.Status != http.StatusNotFound {
		t.Fatalf("another tenant's admin: %d", r.Status)
	}
	if r := s.do("DELETE", "/v1/admin/totp/agent-1", admin, nil); r.Status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/admin/totp/agent-1", admin, nil); r.Status != http.StatusNotFound {
		t.Fatalf("reset again: %d", r.Status)
	}
	// The agent can enrol anew.
	if r := s.do("POST", "/v1/auth/totp/enrol", tenantA+"/agent", nil); r.Status != http.StatusCreated {
		t.Fatalf("enrol after reset: %d %s", r.Status, r.Body)
	}
	if got := auditActions(t, s, storeFilter("auth.totp.reset")); len(got) != 1 {
		t.Fatalf("resets audited: %v", got)
	}
}

// A second factor cannot be guessed: from the fifth wrong code in a row it
// locks (429 totp_locked with Retry-After, audited, visible to admins), and
// then not even the right code gets through until the lock passes.
func TestStepUpLocksAfterWrongCodes(t *testing.T) {
	s := newStack(t)
	who := tenantA + "/supervisor"
	var enrol struct {
		URL string `json:"otpauth_url"`
	}
	s.do("POST", "/v1/auth/totp/enrol", who, nil).decode(t, &enrol)
	now := time.Now()
	if r := s.do("POST", "/v1/auth/totp/confirm", who, api.TOTPCodeRequest{Code: totpCode(t, enrol.URL, now)}); r.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	wrong := "000000"
	if wrong == totpCode(t, enrol.URL, now) {
		wrong = "111111"
	}
	for i := 1; i <= 5; i++ {
		r := s.do("POST", "/v1/auth/step-up", who, api.StepUpRequest{Code: wrong, For: []string{api.StepUpRecords}})
		switch {
		case i < 5 && (r.Status != http.StatusUnauthorized || r.errorCode(t) != "totp_invalid"):
			t.Fatalf("wrong code %d: %d %s", i, r.Status, r.Body)
		case i == 5 && (r.Status != http.StatusTooManyRequests || r.errorCode(t) != "totp_locked" || r.Header.Get("Retry-After") == ""):
			t.Fatalf("the fifth wrong code: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
		}
	}
	right := totpCode(t, enrol.URL, now.Add(30*time.Second))
	if r := s.do("POST", "/v1/auth/step-up", who, api.StepUpRequest{Code: right, For: []string{api.StepUpRecords}}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("the right code while locked: %d %s", r.Status, r.Body)
	}
	var st struct {
		TOTP store.TOTPState `json:"totp"`
	}
	r := s.do("GET", "/v1/admin/totp/supervisor-1", tenantA+"/admin", nil)
	r.decode(t, &st)
	if r.Status != http.StatusOK || st.TOTP.FailedAttempts != 5 || st.TOTP.LockedUntil == nil || !st.TOTP.LockedUntil.After(time.Now()) {
		t.Fatalf("what an admin sees: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/admin/totp/supervisor-1", tenantB+"/admin", nil); r.Status != http.StatusNotFound {
		t.Fatalf("another tenant's admin: %d %s", r.Status, r.Body)
	}
	trail, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{Action: "auth.step_up", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, e := range trail {
		outcomes[e.Outcome]++
	}
	if outcomes["failed"] != 4 || outcomes["locked"] != 2 {
		t.Fatalf("step-up attempts audited: %v", outcomes)
	}
}

// A token from an old sign-in cannot enrol a second factor for a person who
// has none (a stolen token must not become a stolen factor); after an
// administrator's reset it can.
func TestEnrolmentNeedsAFreshSignIn(t *testing.T) {
	s := newStack(t)
	old := time.Now().Add(-time.Hour)
	stale, err := jwt.NewWithClaims(jwt.SigningMethodHS256, api.Claims{Tenant: tenantA, Roles: []string{"agent"},
		RegisteredClaims: jwt.RegisteredClaims{Issuer: tokens.Issuer, Subject: "agent-7", Audience: jwt.ClaimStrings{tokens.Audience},
			IssuedAt: jwt.NewNumericDate(old), NotBefore: jwt.NewNumericDate(old), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
	}).SignedString(tokens.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.do("POST", "/v1/auth/totp/enrol", "raw:Bearer "+stale, nil); r.Status != http.StatusUnauthorized || r.errorCode(t) != "fresh_sign_in_required" {
		t.Fatalf("enrol with an hour-old token: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/auth/totp/enrol", tenantA+"/agent:agent-7", nil); r.Status != http.StatusCreated {
		t.Fatalf("enrol with a fresh token: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/admin/totp/agent-7", tenantA+"/admin+totp", nil); r.Status != http.StatusNoContent {
		t.Fatalf("admin reset: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/auth/totp/enrol", "raw:Bearer "+stale, nil); r.Status != http.StatusCreated {
		t.Fatalf("enrol after a reset with an old token: %d %s", r.Status, r.Body)
	}
}
