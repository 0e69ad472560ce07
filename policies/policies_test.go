package policies_test

import (
	"testing"

	"tandem/policies"
)

// One line per case: (role, tenant, object, action) → allowed?
func TestDefaultPolicy(t *testing.T) {
	a, err := policies.NewAuthorizer()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role, tenant, obj, act string
		want                   bool
	}{
		{"service", "acme", "case", "open", true},
		{"service", "acme", "case", "post_message", true},
		{"service", "acme", "case", "read", true},
		{"service", "acme", "case", "close", true},
		{"service", "acme", "api_key", "manage", false},

		{"agent", "acme", "case", "read", true},
		{"agent", "acme", "case", "list", true},
		{"agent", "acme", "case", "close", true},
		{"agent", "acme", "case", "open", false},
		{"agent", "acme", "case", "post_message", false}, // agents reply, they do not speak as the customer
		{"agent", "acme", "api_key", "manage", false},

		{"supervisor", "acme", "case", "read", true}, // inherited from agent
		{"supervisor", "acme", "case", "close", true},
		{"supervisor", "acme", "api_key", "manage", false},

		{"finance", "acme", "case", "read", true},
		{"finance", "acme", "case", "close", false},

		{"compliance", "acme", "case", "read", true},
		{"compliance", "acme", "case", "list", true},
		{"compliance", "acme", "case", "close", false},
		{"compliance", "acme", "case", "open", false},
		{"compliance", "acme", "case", "post_message", false},
		{"compliance", "acme", "api_key", "manage", false},
		{"compliance", "acme", "case", "trail", true},
		{"compliance", "acme", "audit", "read", true},
		{"compliance", "acme", "audit", "verify", true},
		{"agent", "acme", "case", "trail", false},
		{"agent", "acme", "audit", "read", false},
		{"supervisor", "acme", "audit", "read", false},
		{"service", "acme", "audit", "read", false},
		{"admin", "acme", "audit", "verify", true},
		{"admin", "acme", "audit", "read", false},

		{"admin", "acme", "api_key", "manage", true},
		{"admin", "acme", "case", "read", true},
		{"admin", "acme", "case", "post_message", false},

		{"nobody", "acme", "case", "read", false},
		{"", "acme", "case", "read", false},
	}
	for _, tc := range tests {
		got, err := a.Allowed([]string{tc.role}, tc.tenant, tc.obj, tc.act)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if got != tc.want {
			t.Errorf("(%s, %s, %s, %s) = %v, want %v", tc.role, tc.tenant, tc.obj, tc.act, got, tc.want)
		}
	}
}

func TestAnyRoleSuffices(t *testing.T) {
	a, err := policies.NewAuthorizer()
	if err != nil {
		t.Fatal(err)
	}
	ok, err := a.Allowed([]string{"compliance", "admin"}, "acme", "api_key", "manage")
	if err != nil || !ok {
		t.Fatalf("compliance+admin managing keys: %v %v", ok, err)
	}
	ok, err = a.Allowed(nil, "acme", "case", "read")
	if err != nil || ok {
		t.Fatalf("no roles: %v %v", ok, err)
	}
}

func BenchmarkAllowedCached(b *testing.B) {
	a, err := policies.NewAuthorizer()
	if err != nil {
		b.Fatal(err)
	}
	roles := []string{"supervisor"}
	for b.Loop() {
		if ok, err := a.Allowed(roles, "acme", "case", "read"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func TestUnloadedAuthorizerFailsClosed(t *testing.T) {
	var a policies.Authorizer
	if ok, err := a.Allowed([]string{"admin"}, "acme", "case", "read"); ok || err == nil {
		t.Fatalf("unloaded authorizer: %v %v", ok, err)
	}
}

func TestCaseScope(t *testing.T) {
	for _, tc := range []struct {
		roles []string
		want  policies.Scope
	}{
		{[]string{"agent"}, policies.ScopeAssigned},
		{[]string{"supervisor"}, policies.ScopeTenant},
		{[]string{"agent", "supervisor"}, policies.ScopeTenant},
		{[]string{"compliance"}, policies.ScopeTenant},
		{[]string{"service"}, policies.ScopeTenant},
	} {
		if got := policies.CaseScope(tc.roles); got != tc.want {
			t.Errorf("CaseScope(%v) = %v, want %v", tc.roles, got, tc.want)
		}
	}
}

func TestDenyWinsInItsTenantOnly(t *testing.T) {
	rules, err := policies.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	a := &policies.Authorizer{}
	if err := a.Load(append(rules, []string{"p", "compliance", "acme", "case", "trail", "deny"})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tenant string
		want   bool
	}{{"acme", false}, {"globex", true}} {
		if got, err := a.Allowed([]string{"compliance"}, tc.tenant, "case", "trail"); err != nil || got != tc.want {
			t.Errorf("compliance trail in %s: %v %v, want %v", tc.tenant, got, err, tc.want)
		}
	}
	// A deny on one role does not touch a caller's other roles... unless it names them.
	if got, _ := a.Allowed([]string{"compliance", "admin"}, "acme", "audit", "verify"); !got {
		t.Error("deny of trail leaked into audit verify")
	}
}
