package api_test

import (
	"net/http"
	"sync"
	"testing"

	"tandem/activities/store"
	"tandem/api"
	"tandem/workflows"
)

func TestCustomerAsksForAPersonInChinese(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.Message = "我的包裹还没到，请转人工"
	ex := s.openCase(tenantA, req)
	if ex.Case.Status != workflows.StatusQueued || ex.Case.Queue != workflows.DefaultQueue {
		t.Fatalf("case after asking for a person: %+v", ex.Case)
	}
	if ex.Reply == nil || ex.Reply.Body != workflows.HandoffNotice || ex.Reply.Placeholder {
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
			s.do("PUT", "/v1/agents/"+sub+"/queues", tenantA+"/supervisor", api.QueuesRequest{Queues: []string{"general"}})
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
