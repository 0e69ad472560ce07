package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"tandem/activities/store"
	"tandem/api"
)

func auditActions(t *testing.T, s *stack, f store.AuditFilter) []string {
	t.Helper()
	f.Limit = 100
	events, err := s.store.ListAudit(context.Background(), tenantA, f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.ActorKind+":"+e.Action)
	}
	return out
}

func storeFilter(action string) store.AuditFilter { return store.AuditFilter{Action: action} }

func TestCaseChangesReadsAndDenialsAreAudited(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(0)})
	if r := s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil); r.Status != http.StatusOK {
		t.Fatalf("supervisor read: %d", r.Status)
	}
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil) // a service reading back its own conversation is not a staff read
	if r := s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA+"/compliance", api.CloseCaseRequest{}); r.Status != http.StatusForbidden {
		t.Fatalf("compliance close: %d", r.Status)
	}
	s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA+"/supervisor", api.CloseCaseRequest{Reason: "done"})

	got := strings.Join(auditActions(t, s, store.AuditFilter{CaseID: c.ID}), " ")
	want := "service:case.open ai:case.reply service:case.message ai:case.reply user:case.read user:case.close"
	if got != want {
		t.Fatalf("case audit trail:\n got  %s\n want %s", got, want)
	}
	denials := auditActions(t, s, store.AuditFilter{Action: "authz.deny"})
	if len(denials) != 1 {
		t.Fatalf("denials audited: %v, want one", denials)
	}
	events, _ := s.store.ListAudit(context.Background(), tenantA, store.AuditFilter{Action: "authz.deny", Limit: 1})
	if e := events[0]; e.ActorID != "compliance-1" || e.ObjectID != c.ID || e.Decision != "deny" || !strings.Contains(e.Details, `"action":"close"`) {
		t.Fatalf("denial entry = %+v", e)
	}
	if v, err := s.store.VerifyAudit(context.Background(), tenantA, store.VerifyOptions{Key: auditPub}); err != nil || !v.OK {
		t.Fatalf("verify = %+v, %v", v, err)
	}
}

func TestRetriedOpeningIsAuditedOnce(t *testing.T) {
	s := newStack(t)
	key := "audit-" + randomHex(8)
	var first api.ExchangeJSON
	for range 5 {
		s.do("POST", "/v1/cases", tenantA, sampleCase(), "Idempotency-Key", key).decode(t, &first)
	}
	opens := auditActions(t, s, store.AuditFilter{CaseID: first.Case.ID, Action: "case.open"})
	if len(opens) != 1 {
		t.Fatalf("%d case.open entries for five tries of one key, want 1", len(opens))
	}
}

func TestComplianceAPI(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "resolved"})
	officer := tenantA + "/compliance"

	r := s.do("GET", "/v1/cases/"+c.ID+"/trail", officer, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("trail: %d %s", r.Status, r.Body)
	}
	var trail api.CaseTrail
	r.decode(t, &trail)
	var steps []string
	for _, e := range trail.Trail {
		step := e.Event.Action
		if e.Message != nil {
			step += "(" + e.Message.AuthorKind + ")"
		}
		steps = append(steps, step)
	}
	if got := strings.Join(steps, " "); got != "case.open(customer) case.reply(ai) case.close case.trail.read" {
		t.Fatalf("trail = %s", got)
	}
	if trail.Trail[0].Message.Body != sampleCase().Message || trail.Trail[2].Event.Reason != "resolved" {
		t.Fatalf("trail content = %+v", trail.Trail)
	}

	if _, err := s.store.CheckpointAudit(context.Background(), tenantA, auditSigner, auditPub, nil); err != nil {
		t.Fatal(err)
	}
	var v store.Verification
	r = s.do("GET", "/v1/audit/verify", officer, nil)
	r.decode(t, &v)
	if r.Status != http.StatusOK || !v.OK || v.Checked < 5 || v.Checkpoints != 1 {
		t.Fatalf("verify: %d %+v", r.Status, v)
	}

	// Page through everything two at a time; the reads themselves are audited.
	var all []store.AuditEvent
	cursor := ""
	for {
		var page api.AuditEventList
		s.do("GET", "/v1/audit/events?limit=2&cursor="+cursor, officer, nil).decode(t, &page)
		all = append(all, page.Events...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: pages overlap or skip", i, e.Seq)
		}
	}
	var filtered api.AuditEventList
	s.do("GET", "/v1/audit/events?action=case.close&case_id="+c.ID, officer, nil).decode(t, &filtered)
	if len(filtered.Events) != 1 || filtered.Events[0].Action != "case.close" {
		t.Fatalf("filtered = %+v", filtered.Events)
	}
	for _, bad := range []string{"?limit=0", "?from=yesterday", "?cursor=-1"} {
		if r := s.do("GET", "/v1/audit/events"+bad, officer, nil); r.Status/100 != 4 {
			t.Errorf("%s: %d, want 4xx", bad, r.Status)
		}
	}
	// Tenant B's compliance officer sees none of it.
	if r := s.do("GET", "/v1/cases/"+c.ID+"/trail", tenantB+"/compliance", nil); r.Status != http.StatusNotFound {
		t.Fatalf("other tenant's trail: %d", r.Status)
	}
	var other api.AuditEventList
	s.do("GET", "/v1/audit/events", tenantB+"/compliance", nil).decode(t, &other)
	for _, e := range other.Events {
		if e.TenantID != tenantB || e.CaseID == c.ID {
			t.Fatalf("tenant B sees %+v", e)
		}
	}
}
