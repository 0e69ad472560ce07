package api_test

import (
	"net/http"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
	"tandem/workflows"
)

// shortSLA makes the tenant's SLA targets seconds long, around the clock.
func shortSLA(t *testing.T, s *stack, onBreach string) {
	t.Helper()
	p, _ := service.Profile("efficiency-first")
	p.BusinessHours = service.BusinessHours{TimeZone: "UTC", Weekdays: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Open: "00:00", Close: "24:00"}
	p.SLA.FirstResponse["normal"] = service.Duration(3 * time.Second)
	p.SLA.NextResponse["normal"] = service.Duration(3 * time.Second)
	p.SLA.Resolution["normal"] = service.Duration(4 * time.Second)
	p.SLA.WarnAt = []float64{0.5}
	p.SLA.OnBreach = onBreach
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
}

// waitCase polls the case until ok holds, or fails after ten seconds.
func (s *stack) waitCase(id string, ok func(api.CaseJSON) bool) api.CaseWithMessages {
	s.t.Helper()
	var got api.CaseWithMessages
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = api.CaseWithMessages{}                                               // omitted fields must read as empty
		s.do("GET", "/v1/cases/"+id, tenantA+"/supervisor", nil).decode(s.t, &got) // the staff's view
		if ok(got.Case) {
			return got
		}
	}
	s.t.Fatalf("case %s never reached the expected state: %+v", id, got.Case)
	return got
}

// The AI keeps a case past its resolution target: the SLA breach hands it
// to people; nobody answers within the first-response target either, and
// the escalate action moves it to the supervisors' queue.
func TestSLABreachEscalates(t *testing.T) {
	t.Parallel() // it waits out its targets
	s := newStack(t)
	shortSLA(t, s, "escalate")
	ex := s.openCase(tenantA, sampleCase())
	if ex.Case.Status != workflows.StatusAIHandling || s.staffCase(tenantA, ex.Case.ID).SLADueAt == nil {
		t.Fatalf("opened: %+v", ex.Case)
	}
	got := s.waitCase(ex.Case.ID, func(c api.CaseJSON) bool { return c.Status == workflows.StatusQueued })
	if got.Case.Escalation != workflows.ReasonSLABreach || got.Case.SLABreached == nil || got.Case.Queue != workflows.DefaultQueue {
		t.Fatalf("after the resolution breach: %+v", got.Case)
	}
	if last := got.Messages[len(got.Messages)-1]; last.AuthorKind != "system" || last.Body != workflows.HandoffNotice {
		t.Fatalf("the customer was not told: %+v", last)
	}
	s.waitCase(ex.Case.ID, func(c api.CaseJSON) bool { return c.Queue == workflows.SupervisorQueue })
	var stats struct {
		SLABreachRate *float64 `json:"sla_breach_rate"`
	}
	s.do("GET", "/v1/stats", tenantA+"/supervisor", nil).decode(t, &stats)
	if stats.SLABreachRate == nil || *stats.SLABreachRate != 1 {
		t.Fatalf("breach rate: %v", stats.SLABreachRate)
	}
	want := []string{"system:case.sla_warning", "system:case.sla_breach", "system:case.escalate", "system:case.sla_warning", "system:case.sla_breach"}
	var sla []string
	for _, a := range auditActions(t, s, store.AuditFilter{CaseID: ex.Case.ID}) {
		if a == "system:case.sla_warning" || a == "system:case.sla_breach" || a == "system:case.escalate" {
			sla = append(sla, a)
		}
	}
	if len(sla) != len(want) {
		t.Fatalf("SLA audit entries %v, want %v", sla, want)
	}
	for i := range want {
		if sla[i] != want[i] {
			t.Fatalf("SLA audit entries %v, want %v", sla, want)
		}
	}
	s.do("POST", "/v1/cases/"+ex.Case.ID+"/close", tenantA+"/supervisor", api.CloseCaseRequest{Reason: "done"})
	waitClosed(t, s.temporal, ex.Case.WorkflowID)
	s.recordHistory(ex.Case.WorkflowID, "sla_breach")
}

// Waiting on the customer pauses the clocks: a wait longer than the whole
// resolution target breaches nothing, and the customer's answer resumes them.
func TestWaitingOnTheCustomerPausesTheSLA(t *testing.T) {
	t.Parallel() // it waits out its targets
	s := newStack(t)
	shortSLA(t, s, "notify_supervisor")
	req := sampleCase()
	req.Message = "I want to talk to a human"
	c := s.openCase(tenantA, req).Case
	agent := tenantA + "/agent:agent-1"
	s.handTo(agent, c.ID)
	if r := s.do("POST", "/v1/cases/"+c.ID+"/request-info", agent, api.AgentMessageRequest{Body: "Which order?"}); r.Status != http.StatusOK {
		t.Fatalf("request info: %d %s", r.Status, r.Body)
	}
	time.Sleep(5 * time.Second) // longer than the 4 s resolution target
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil).decode(t, &got)
	if got.Case.Status != workflows.StatusWaiting || got.Case.SLABreached != nil || got.Case.SLADueAt != nil {
		t.Fatalf("while waiting: %+v", got.Case)
	}
	var ex api.ExchangeJSON
	answeredAt := time.Now()
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Order 1001"}).decode(t, &ex)
	if due := s.staffCase(tenantA, c.ID).SLADueAt; due == nil || due.Before(answeredAt) {
		t.Fatalf("after the answer the clocks run again: %+v", ex.Case)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/resolve", agent, api.ResolveRequest{Code: "answered"}); r.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &got)
	if got.Case.SLABreached != nil || got.Case.SLADueAt != nil {
		t.Fatalf("resolved in time: %+v", got.Case)
	}
}
