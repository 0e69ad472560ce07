package api_test

import (
	"net/http"
	"testing"
	"time"

	"tandem/api"
	"tandem/policies/service"
	"tandem/workflows"
)

// Routing offers a case to the least-loaded available agent of its queue who
// speaks the customer's language; an offer nobody takes in time goes to the
// next agent; only the agent it is offered to can take it meanwhile.
func TestRoutingByLanguageAndLoadWithOfferTimeout(t *testing.T) {
	s := newStack(t)
	p, _ := service.Profile("efficiency-first")
	p.Routing.OfferTimeout = service.Duration(3 * time.Second)
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	sup := tenantA + "/supervisor"
	// agent-3 answers in any language and has room for every offer of this test.
	for id, a := range map[string]api.AvailabilityRequest{
		"agent-1": {Status: "available", Capacity: capacity(2), Languages: []string{"en"}},
		"agent-2": {Status: "available", Capacity: capacity(2), Languages: []string{"zh-Hans"}},
		"agent-3": {Status: "available", Capacity: capacity(5)},
	} {
		if r := s.do("PUT", "/v1/agents/"+id+"/availability", sup, a); r.Status != http.StatusOK {
			t.Fatalf("availability of %s: %d %s", id, r.Status, r.Body)
		}
		if r := s.do("PUT", "/v1/agents/"+id+"/queues", sup, api.QueuesRequest{Queues: []string{"general"}}); r.Status != http.StatusOK {
			t.Fatalf("queues of %s: %d %s", id, r.Status, r.Body)
		}
	}
	if r := s.do("PUT", "/v1/agents/agent-4/availability", sup, api.AvailabilityRequest{Status: "away", Capacity: capacity(5)}); r.Status != http.StatusOK {
		t.Fatal(r.Status)
	}
	s.do("PUT", "/v1/agents/agent-4/queues", sup, api.QueuesRequest{Queues: []string{"general"}})
	open := func(msg string) api.CaseJSON {
		req := sampleCase()
		req.Message = msg
		return s.openCase(tenantA, req).Case
	}
	offeredTo := func(c api.CaseJSON, agent string) {
		t.Helper()
		s.waitCase(c.ID, func(c api.CaseJSON) bool { return c.OfferedTo == agent })
	}

	zh := open("我的包裹还没到，请转人工") // only agent-2 and agent-3 answer in Chinese; agent-2 sorts first
	offeredTo(zh, "agent-2")
	en := open("I want to talk to a human") // agent-1, agent-3 free; agent-4 is away
	offeredTo(en, "agent-1")
	en2 := open("Can I speak to a real person?") // agent-1 has an offer now: agent-3 is less loaded
	offeredTo(en2, "agent-3")

	// agent-1 lets the offer lapse: it goes to the least-loaded other agent.
	if r := s.do("POST", "/v1/cases/"+en.ID+"/claim", tenantA+"/agent:agent-3", nil); r.Status != http.StatusConflict || r.errorCode(t) != "not_claimable" {
		t.Fatalf("claiming another's offer: %d %s", r.Status, r.Body)
	}
	offeredTo(en, "agent-3") // agent-2 does not speak English; agent-1 passed
	r := s.do("POST", "/v1/cases/"+en.ID+"/claim", tenantA+"/agent:agent-3", nil)
	var out struct{ Case api.CaseJSON }
	r.decode(t, &out)
	if r.Status != http.StatusOK || out.Case.Assignee != "agent-3" || out.Case.OfferedTo != "" || out.Case.Status != workflows.StatusAssigned {
		t.Fatalf("agent-3 takes the offer: %d %s", r.Status, r.Body)
	}
}
