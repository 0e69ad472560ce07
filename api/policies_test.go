package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"tandem/api"
	"tandem/policies"
)

func TestTenantAdminManagesGrants(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin+totp"
	grant := api.PolicyGrant{Role: "agent", Object: "customer", Action: "erase"}
	erase := api.EraseCustomerRequest{CustomerRef: "nobody", Reason: "test"}

	if r := s.do("POST", "/v1/customers/erase", tenantA+"/agent+totp", erase); r.Status != http.StatusForbidden {
		t.Fatalf("agent erasing before the grant: %d", r.Status)
	}
	if r := s.do("POST", "/v1/admin/policies", tenantA+"/admin", grant); r.Status != http.StatusUnauthorized {
		t.Fatalf("policy change without step-up: %d", r.Status)
	}
	if r := s.do("POST", "/v1/admin/policies", admin, grant); r.Status != http.StatusCreated {
		t.Fatalf("add grant: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/admin/policies", admin, grant); r.Status != http.StatusOK {
		t.Fatalf("adding it again: %d", r.Status)
	}
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/agent+totp", erase); r.Status != http.StatusOK {
		t.Fatalf("agent erasing with the grant: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/customers/erase", tenantB+"/agent+totp", erase); r.Status != http.StatusForbidden {
		t.Fatalf("the grant leaked to another tenant: %d", r.Status)
	}

	// Another API instance picks the change up from the database.
	other := &policies.Authorizer{}
	if _, err := api.SyncPolicies(context.Background(), s.store, other, -1); err != nil {
		t.Fatal(err)
	}
	if ok, err := other.Allowed([]string{"agent"}, tenantA, "customer", "erase"); err != nil || !ok {
		t.Fatalf("second instance: %v %v", ok, err)
	}

	// Grants are listed to their own tenant only, with the defaults.
	s.do("POST", "/v1/admin/policies", tenantB+"/admin+totp", api.PolicyGrant{Role: "finance", Object: "case", Action: "close"})
	body := string(s.do("GET", "/v1/admin/policies", tenantA+"/compliance", nil).Body)
	if !strings.Contains(body, `"tenant":"acme","object":"customer","action":"erase"`) || strings.Contains(body, "globex") ||
		!strings.Contains(body, `"tenant":"*","object":"case","action":"open"`) {
		t.Fatalf("acme's listing: %s", body)
	}

	for name, tc := range map[string]struct {
		body   any
		status int
	}{
		"unknown role":          {api.PolicyGrant{Role: "root", Object: "case", Action: "read"}, 422},
		"bad object":            {api.PolicyGrant{Role: "agent", Object: "Case*", Action: "read"}, 422},
		"naming another tenant": {`{"role":"agent","object":"case","action":"read","tenant":"globex"}`, 400},
	} {
		if r := s.do("POST", "/v1/admin/policies", admin, tc.body); r.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", name, r.Status, r.Body, tc.status)
		}
	}
	// A tenant's admin cannot remove a default grant: it is not theirs.
	if r := s.do("DELETE", "/v1/admin/policies", admin, api.PolicyGrant{Role: "service", Object: "case", Action: "open"}); r.Status != http.StatusNotFound {
		t.Fatalf("removing a default: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/admin/policies", admin, grant); r.Status != http.StatusOK {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", "/v1/admin/policies", admin, grant); r.Status != http.StatusNotFound {
		t.Fatalf("remove again: %d", r.Status)
	}
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/agent+totp", erase); r.Status != http.StatusForbidden {
		t.Fatalf("agent erasing after removal: %d", r.Status)
	}
	if r := s.do("GET", "/v1/admin/policies", tenantA+"/agent", nil); r.Status != http.StatusForbidden {
		t.Fatalf("agent reading policies: %d", r.Status)
	}
	if got := strings.Join(auditActions(t, s, storeFilter("policy.add")), " ") + " / " +
		strings.Join(auditActions(t, s, storeFilter("policy.remove")), " "); got != "user:policy.add / user:policy.remove" {
		t.Fatalf("policy changes audited: %s", got)
	}
}

func TestTenantAdminDeniesADefault(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	cB := s.openCase(tenantB, sampleCase()).Case
	admin := tenantA + "/admin+totp"
	deny := api.PolicyGrant{Role: "compliance", Object: "case", Action: "trail", Effect: "deny"}
	if r := s.do("POST", "/v1/admin/policies", admin, deny); r.Status != http.StatusCreated {
		t.Fatalf("add deny: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases/"+c.ID+"/trail", tenantA+"/compliance", nil); r.Status != http.StatusForbidden {
		t.Fatalf("denied trail: %d", r.Status)
	}
	if r := s.do("GET", "/v1/cases/"+cB.ID+"/trail", tenantB+"/compliance", nil); r.Status != http.StatusOK {
		t.Fatalf("another tenant's compliance: %d", r.Status)
	}
	if r := s.do("POST", "/v1/admin/policies", admin, api.PolicyGrant{Role: "admin", Object: "policy", Action: "manage", Effect: "deny"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("denying policy management: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/admin/policies", admin, api.PolicyGrant{Role: "agent", Object: "case", Action: "read", Effect: "maybe"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown effect: %d", r.Status)
	}
	if r := s.do("DELETE", "/v1/admin/policies", admin, deny); r.Status != http.StatusOK {
		t.Fatalf("remove deny: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases/"+c.ID+"/trail", tenantA+"/compliance", nil); r.Status != http.StatusOK {
		t.Fatalf("trail after the deny is gone: %d", r.Status)
	}
}
