package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"tandem/api"
	"tandem/policies/service"
	"tandem/workflows"
)

func TestServicePolicyIsPinnedPerCase(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin+totp"

	var cur struct{ Policy service.Policy }
	s.do("GET", "/v1/admin/service-policy", tenantA+"/supervisor", nil).decode(t, &cur)
	if cur.Policy.Profile != "efficiency-first" || cur.Policy.Version != 0 {
		t.Fatalf("default policy = %s v%d", cur.Policy.Profile, cur.Policy.Version)
	}
	before := s.staffCase(tenantA, s.openCase(tenantA, sampleCase()).Case.ID)
	if before.Policy == nil || before.Policy.Profile != "efficiency-first" || before.Policy.Version != 0 {
		t.Fatalf("case pinned %+v", before.Policy)
	}

	r := s.do("PUT", "/v1/admin/service-policy", admin, map[string]string{"profile": "risk-sensitive"})
	if r.Status != http.StatusOK {
		t.Fatalf("switch profile: %d %s", r.Status, r.Body)
	}
	after := s.staffCase(tenantA, s.openCase(tenantA, sampleCase()).Case.ID)
	if after.Policy == nil || after.Policy.Profile != "risk-sensitive" || after.Policy.Version != 1 {
		t.Fatalf("new case pinned %+v", after.Policy)
	}
	// The open case keeps what it pinned: in the projection and in the workflow.
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+before.ID, tenantA+"/supervisor", nil).decode(t, &got)
	if got.Case.Policy == nil || got.Case.Policy.Profile != "efficiency-first" || got.Case.Policy.Version != 0 {
		t.Fatalf("open case now shows %+v", got.Case.Policy)
	}
	q, err := s.temporal.QueryWorkflow(context.Background(), before.WorkflowID, "", workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.CaseState
	if err := q.Get(&st); err != nil || st.Policy.Profile != "efficiency-first" {
		t.Fatalf("workflow state policy %+v, %v", st.Policy, err)
	}

	// A whole document, validated; another tenant is untouched.
	doc, _ := service.Profile("experience-first")
	doc.Escalation.MinConfidence = 0.7
	r = s.do("PUT", "/v1/admin/service-policy", admin, doc)
	s.do("GET", "/v1/admin/service-policy", tenantA+"/compliance", nil).decode(t, &cur)
	if r.Status != http.StatusOK || cur.Policy.Version != 2 || cur.Policy.Escalation.MinConfidence != 0.7 {
		t.Fatalf("custom document: %d, now %+v", r.Status, cur.Policy.Escalation)
	}
	doc.Escalation.MinConfidence = 3
	if r := s.do("PUT", "/v1/admin/service-policy", admin, doc); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "min_confidence") {
		t.Fatalf("invalid document: %d %s", r.Status, r.Body)
	}
	if r := s.do("PUT", "/v1/admin/service-policy", admin, map[string]string{"profile": "cheapest"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown profile: %d", r.Status)
	}
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/supervisor+totp", map[string]string{"profile": "risk-sensitive"}); r.Status != http.StatusForbidden {
		t.Fatalf("a supervisor changing the policy: %d", r.Status)
	}
	s.do("GET", "/v1/admin/service-policy", tenantB+"/admin", nil).decode(t, &cur)
	if cur.Policy.Profile != "efficiency-first" || cur.Policy.Version != 0 {
		t.Fatalf("tenant B's policy changed: %s v%d", cur.Policy.Profile, cur.Policy.Version)
	}
	if got := auditActions(t, s, storeFilter("service_policy.set")); len(got) != 2 {
		t.Fatalf("policy changes audited: %v", got)
	}
}
