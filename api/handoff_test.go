package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
	"tandem/workflows"
)

func TestCustomerAsksForAPersonInChinese(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.Message = "我的包裹还没到，请转人工"
	ex := s.openCase(tenantA, req)
	if ex.Case.Status != workflows.StatusQueued || s.staffCase(tenantA, ex.Case.ID).Queue != workflows.DefaultQueue {
		t.Fatalf("case after asking for a person: %+v", ex.Case)
	}
	if ex.Reply == nil || ex.Reply.Body != workflows.HandoffNoticeIn("zh-Hans") || ex.Reply.Placeholder {
		t.Fatalf("reply = %+v, want the handoff notice", ex.Reply)
	}
	// Once people own the case, the AI answers nothing.
	var next api.ExchangeJSON
	s.do("POST", "/v1/cases/"+ex.Case.ID+"/messages", tenantA, api.PostMessageRequest{Body: "還在嗎？"}).decode(t, &next)
	if next.Reply != nil || next.Case.Status != workflows.StatusQueued {
		t.Fatalf("AI replied after the handoff: %+v", next)
	}
	// The reason code is on the audit trail.
	events, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: ex.Case.ID, Action: "case.escalate", Limit: 5})
	if err != nil || len(events) != 1 || events[0].Reason != workflows.ReasonCustomerRequest {
		t.Fatalf("escalation audit = %+v, %v", events, err)
	}
	// The queue shows the case to the people who work it.
	s.do("PUT", "/v1/agents/agent-1/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}})
	var tasks api.CaseList
	if r := s.do("GET", "/v1/queues/general/tasks", tenantA+"/agent", nil); r.Status != http.StatusOK {
		t.Fatalf("tasks: %d %s", r.Status, r.Body)
	} else {
		r.decode(t, &tasks)
	}
	if len(tasks.Cases) != 1 || tasks.Cases[0].ID != ex.Case.ID {
		t.Fatalf("general queue = %+v", tasks.Cases)
	}
	if r := s.do("GET", "/v1/queues/fraud/tasks", tenantA+"/agent", nil); r.Status != http.StatusForbidden {
		t.Fatalf("a queue the agent does not work: %d", r.Status)
	}
	var other api.CaseList
	s.do("GET", "/v1/queues/general/tasks", tenantB+"/supervisor", nil).decode(t, &other)
	if len(other.Cases) != 0 {
		t.Fatalf("another tenant's queue shows %+v", other.Cases)
	}
	if r := s.do("POST", "/v1/cases/"+ex.Case.ID+"/claim", tenantA+"/agent", nil); r.Status != http.StatusOK {
		t.Fatalf("claim: %d %s", r.Status, r.Body)
	}
	s.do("POST", "/v1/cases/"+ex.Case.ID+"/close", tenantA+"/agent", api.CloseCaseRequest{Reason: "helped"})
	waitClosed(t, s.temporal, ex.Case.WorkflowID)
	s.recordHistory(ex.Case.WorkflowID, "handoff")
}

// Two agents claim the same case at once: exactly one owns it, the other gets
// one clean 409; the winner's retry is not an error.
func TestTwoAgentsRaceToClaim(t *testing.T) {
	s := newStack(t)
	for round := range 5 {
		c := s.openCase(tenantA, sampleCase()).Case
		s.escalate(tenantA, c.ID)
		agents := []string{tenantA + "/agent:agent-1", tenantA + "/agent:agent-2"}
		for _, sub := range []string{"agent-1", "agent-2"} {
			if r := s.do("PUT", "/v1/agents/"+sub+"/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}}); r.Status != http.StatusOK {
				t.Fatalf("round %d: queues of %s: %d %s", round, sub, r.Status, r.Body)
			}
		}
		if r := s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil); !strings.Contains(string(r.Body), `"queue":"general"`) {
			t.Fatalf("round %d: the case is not in the general queue: %s", round, r.Body)
		}
		results := make([]response, len(agents))
		var wg sync.WaitGroup
		for i, who := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.do("POST", "/v1/cases/"+c.ID+"/claim", who, nil)
			}()
		}
		wg.Wait()
		winner := -1
		for i, r := range results {
			switch r.Status {
			case http.StatusOK:
				if winner != -1 {
					t.Fatalf("round %d: two owners", round)
				}
				winner = i
			case http.StatusConflict:
				if r.errorCode(t) != "not_claimable" {
					t.Fatalf("round %d: loser got %s", round, r.Body)
				}
			default:
				t.Fatalf("round %d: claim %d: %d %s", round, i, r.Status, r.Body)
			}
		}
		if winner == -1 {
			t.Fatalf("round %d: nobody owns the case", round)
		}
		var got api.CaseWithMessages
		s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil).decode(t, &got)
		if got.Case.Status != workflows.StatusAssigned || got.Case.Assignee != []string{"agent-1", "agent-2"}[winner] {
			t.Fatalf("round %d: case %+v, winner %d", round, got.Case, winner)
		}
		if r := s.do("POST", "/v1/cases/"+c.ID+"/claim", agents[winner], nil); r.Status != http.StatusOK {
			t.Fatalf("round %d: the winner's retry: %d", round, r.Status)
		}
		if r := s.do("POST", "/v1/cases/"+c.ID+"/claim", tenantA+"/agent:agent-3", nil); r.Status != http.StatusNotFound {
			t.Fatalf("round %d: an agent outside the queue: %d", round, r.Status)
		}
	}
}

func TestAgentWorksTheCaseToResolutionAndTheCustomerReopens(t *testing.T) {
	s := newStack(t)
	agent := tenantA + "/agent"
	c := s.openCase(tenantA, sampleCase()).Case
	s.handTo(agent, c.ID)

	if r := s.do("POST", "/v1/cases/"+c.ID+"/resolve", agent, api.ResolveRequest{Code: "fixed-it"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown resolution code: %d", r.Status)
	}
	var out struct {
		Case    api.CaseJSON
		Message api.MessageJSON
	}
	r := s.do("POST", "/v1/cases/"+c.ID+"/reply", agent, api.AgentMessageRequest{Body: "Hello, I am looking into it."})
	r.decode(t, &out)
	if r.Status != http.StatusOK || out.Case.Status != workflows.StatusInProgress || out.Message.AuthorKind != "agent" || out.Message.AuthorID != "agent-1" {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	s.do("POST", "/v1/cases/"+c.ID+"/request-info", agent, api.AgentMessageRequest{Body: "What is your order number?"}).decode(t, &out)
	if out.Case.Status != workflows.StatusWaiting {
		t.Fatalf("request info: %+v", out.Case)
	}
	var ex api.ExchangeJSON
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "It is 1001."}).decode(t, &ex)
	if ex.Case.Status != workflows.StatusInProgress || ex.Reply != nil {
		t.Fatalf("the customer's answer: %+v", ex)
	}
	s.do("POST", "/v1/cases/"+c.ID+"/resolve", agent, api.ResolveRequest{Code: "answered"}).decode(t, &out)
	if out.Case.Status != workflows.StatusResolved {
		t.Fatalf("resolve: %+v", out.Case)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/reply", agent, api.AgentMessageRequest{Body: "one more thing"}); r.Status != http.StatusConflict || r.errorCode(t) != "wrong_state" {
		t.Fatalf("reply to a resolved case: %d %s", r.Status, r.Body)
	}
	// The customer writes again: the case reopens, back with the AI.
	var reopened api.ExchangeJSON // fresh: omitted fields must read as empty
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "My item arrived broken"}).decode(t, &reopened)
	if reopened.Case.Status != workflows.StatusAIHandling || reopened.Reply == nil || reopened.Case.Assignee != "" || reopened.Case.Queue != "" {
		t.Fatalf("reopen: %+v", reopened)
	}
	var all api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil).decode(t, &all)
	var authors []string
	for _, m := range all.Messages {
		authors = append(authors, m.AuthorKind)
	}
	if got := strings.Join(authors, " "); got != "customer ai customer system agent agent customer customer ai" {
		t.Fatalf("conversation: %s", got)
	}
	var steps []string
	for _, st := range all.Timeline {
		steps = append(steps, st.ActorKind+":"+st.Action)
	}
	if got := strings.Join(steps, " "); got != "service:case.open system:case.escalate user:case.claim user:case.reply user:case.request_info user:case.resolve service:case.reopen" {
		t.Fatalf("timeline: %s", got)
	}
	s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA+"/supervisor", api.CloseCaseRequest{Reason: "done"})
	waitClosed(t, s.temporal, c.WorkflowID)
	s.recordHistory(c.WorkflowID, "human_lifecycle")
	got := strings.Join(auditActions(t, s, store.AuditFilter{CaseID: c.ID}), " ")
	for _, want := range []string{"system:case.escalate", "user:case.claim", "user:case.reply", "user:case.request_info", "user:case.resolve", "service:case.reopen"} {
		if !strings.Contains(got, want) {
			t.Errorf("trail lacks %s: %s", want, got)
		}
	}
}

func TestReleaseAndOtherAgentsCannotAct(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	s.handTo(tenantA+"/agent", c.ID)
	two := tenantA + "/agent:agent-2"
	s.do("PUT", "/v1/agents/agent-2/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}})
	for _, path := range []string{"/reply", "/request-info", "/release", "/resolve"} {
		if r := s.do("POST", "/v1/cases/"+c.ID+path, two, map[string]string{"body": "x", "code": "answered"}); r.Status != http.StatusNotFound {
			t.Errorf("agent-2 POST %s on agent-1's case: %d", path, r.Status)
		}
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/release", tenantA+"/agent", nil); r.Status != http.StatusOK {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/claim", two, nil); r.Status != http.StatusOK {
		t.Fatalf("agent-2 claiming the released case: %d %s", r.Status, r.Body)
	}
}

// With a short reopen window in the tenant's policy, a resolved case closes
// by itself when the window passes.
func TestResolvedCaseClosesAfterTheReopenWindow(t *testing.T) {
	s := newStack(t)
	doc, _ := service.Profile("efficiency-first")
	doc.ReopenWindow = service.Duration(2 * time.Second)
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", doc); r.Status != http.StatusOK {
		t.Fatalf("policy: %d %s", r.Status, r.Body)
	}
	c := s.openCase(tenantA, sampleCase()).Case
	s.handTo(tenantA+"/agent", c.ID)
	if r := s.do("POST", "/v1/cases/"+c.ID+"/resolve", tenantA+"/agent", api.ResolveRequest{Code: "answered"}); r.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	waitClosed(t, s.temporal, c.WorkflowID)
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil).decode(t, &got)
	if got.Case.Status != workflows.StatusClosed {
		t.Fatalf("status %s after the window", got.Case.Status)
	}
	events, _ := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: c.ID, Action: "case.close", Limit: 5})
	if len(events) != 1 || events[0].ActorKind != "system" || events[0].Reason != "reopen window passed" {
		t.Fatalf("close audit: %+v", events)
	}
	s.recordHistory(c.WorkflowID, "reopen_window")
}

func TestSupervisorReassignsAndAgentEscalates(t *testing.T) {
	s := newStack(t)
	supervisor := tenantA + "/supervisor"
	c := s.openCase(tenantA, sampleCase()).Case
	s.handTo(tenantA+"/agent", c.ID)
	s.do("PUT", "/v1/agents/agent-2/availability", supervisor, api.AvailabilityRequest{Status: "available", Capacity: capacity(2)})

	if r := s.do("POST", "/v1/cases/"+c.ID+"/reassign", tenantA+"/agent", api.ReassignRequest{AgentID: "agent-2"}); r.Status != http.StatusForbidden {
		t.Fatalf("an agent reassigning: %d", r.Status)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/reassign", supervisor, api.ReassignRequest{AgentID: "nobody"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("reassign to an unknown agent: %d", r.Status)
	}
	var out struct{ Case api.CaseJSON }
	r := s.do("POST", "/v1/cases/"+c.ID+"/reassign", supervisor, api.ReassignRequest{AgentID: "agent-2"})
	r.decode(t, &out)
	if r.Status != http.StatusOK || out.Case.Assignee != "agent-2" {
		t.Fatalf("reassign: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases/"+c.ID, tenantA+"/agent", nil); r.Status != http.StatusNotFound {
		t.Fatalf("agent-1 still sees the case: %d", r.Status)
	}
	two := tenantA + "/agent:agent-2"
	var esc struct{ Case api.CaseJSON }
	s.do("POST", "/v1/cases/"+c.ID+"/escalate", two, nil).decode(t, &esc)
	if esc.Case.Status != workflows.StatusQueued || esc.Case.Queue != workflows.SupervisorQueue || esc.Case.Assignee != "" {
		t.Fatalf("escalate: %+v", esc.Case)
	}
	var tasks api.CaseList
	s.do("GET", "/v1/queues/supervisors/tasks", supervisor, nil).decode(t, &tasks)
	if len(tasks.Cases) != 1 || tasks.Cases[0].ID != c.ID {
		t.Fatalf("supervisors' queue: %+v", tasks.Cases)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/claim", supervisor, nil); r.Status != http.StatusOK {
		t.Fatalf("a supervisor claiming the escalated case: %d %s", r.Status, r.Body)
	}
	got := strings.Join(auditActions(t, s, store.AuditFilter{CaseID: c.ID, Action: "case.reassign"}), " ")
	if got != "user:case.reassign" {
		t.Fatalf("reassignment audit: %s", got)
	}
}

func TestRatingsAndStats(t *testing.T) {
	s := newStack(t)
	supervisor := tenantA + "/supervisor"
	// Three cases: one closed by the AI side, one a person resolved, one still open.
	byAI := s.openCase(tenantA, sampleCase()).Case
	s.do("POST", "/v1/cases/"+byAI.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "answered"})
	byPerson := s.openCase(tenantA, sampleCase()).Case
	s.handTo(tenantA+"/agent", byPerson.ID)
	s.do("POST", "/v1/cases/"+byPerson.ID+"/reply", tenantA+"/agent", api.AgentMessageRequest{Body: "Done."})
	open := s.openCase(tenantA, sampleCase()).Case

	if r := s.do("POST", "/v1/cases/"+open.ID+"/rating", tenantA, api.RatingRequest{Score: 5}); r.Status != http.StatusConflict || r.errorCode(t) != "not_ratable" {
		t.Fatalf("rating an open case: %d %s", r.Status, r.Body)
	}
	s.do("POST", "/v1/cases/"+byPerson.ID+"/resolve", tenantA+"/agent", api.ResolveRequest{Code: "answered"})
	if r := s.do("POST", "/v1/cases/"+byPerson.ID+"/rating", tenantA, api.RatingRequest{Score: 9}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("score 9: %d", r.Status)
	}
	if r := s.do("POST", "/v1/cases/"+byPerson.ID+"/rating", tenantA, api.RatingRequest{Score: 2}); r.Status != http.StatusOK {
		t.Fatalf("rating: %d %s", r.Status, r.Body)
	}
	// A case is rated once: the first rating stays.
	if r := s.do("POST", "/v1/cases/"+byPerson.ID+"/rating", tenantA, api.RatingRequest{Score: 4}); r.Status != http.StatusConflict || r.errorCode(t) != "already_rated" {
		t.Fatalf("a second rating: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+byAI.ID+"/rating", tenantA, api.RatingRequest{Score: 4}); r.Status != http.StatusOK {
		t.Fatalf("rating a closed case: %d", r.Status)
	}

	var st store.Stats
	r := s.do("GET", "/v1/stats", supervisor, nil)
	r.decode(t, &st)
	if r.Status != http.StatusOK || st.CasesOpened != 3 || st.CasesResolvedOrClosed != 2 {
		t.Fatalf("stats: %d %s", r.Status, r.Body)
	}
	if st.AIResolvedShare == nil || *st.AIResolvedShare != 0.5 || st.Escalations["customer_requested_human"] != 1 {
		t.Fatalf("AI share / escalations: %s", r.Body)
	}
	if st.CSATCount != 2 || st.CSATAverage == nil || *st.CSATAverage != 3 {
		t.Fatalf("CSAT: %s", r.Body)
	}
	if st.FirstResponseAISec == nil || st.FirstResponseHumanSec == nil || *st.FirstResponseHumanSec < *st.FirstResponseAISec || st.ResolutionSec == nil {
		t.Fatalf("response times: %s", r.Body)
	}
	if r := s.do("GET", "/v1/stats?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", supervisor, nil); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("reversed range: %d", r.Status)
	}
	if r := s.do("GET", "/v1/stats", tenantA+"/agent", nil); r.Status != http.StatusForbidden {
		t.Fatalf("an agent reading stats: %d", r.Status)
	}
	var other store.Stats
	s.do("GET", "/v1/stats", tenantB+"/supervisor", nil).decode(t, &other)
	if other.CasesOpened != 0 {
		t.Fatalf("another tenant counts %d cases", other.CasesOpened)
	}
}

func TestHandoffPackage(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.Message = "My parcel is late."
	c := s.openCase(tenantA, req).Case
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "转人工"})
	s.do("PUT", "/v1/agents/agent-1/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}})

	var h api.HandoffJSON
	r := s.do("GET", "/v1/cases/"+c.ID+"/handoff", tenantA+"/agent", nil)
	r.decode(t, &h)
	if r.Status != http.StatusOK || h.Reason != workflows.ReasonCustomerRequest || h.CustomerMessages != 2 ||
		h.OpeningMessage.Body != "My parcel is late." || h.LatestMessage.Body != "转人工" ||
		len(h.AlreadyAnswered) != 2 || len(h.Transcript) != 4 {
		t.Fatalf("handoff: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases/"+c.ID+"/handoff", tenantA+"/agent:agent-9", nil); r.Status != http.StatusNotFound {
		t.Fatalf("an agent outside the queue: %d", r.Status)
	}
	if r := s.do("GET", "/v1/cases/"+c.ID+"/handoff", tenantA+"/compliance", nil); r.Status != http.StatusForbidden {
		t.Fatalf("compliance: %d", r.Status)
	}
	if got := auditActions(t, s, store.AuditFilter{CaseID: c.ID, Action: "case.handoff.read"}); len(got) != 1 {
		t.Fatalf("handoff reads audited: %v", got)
	}
}
