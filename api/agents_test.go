package api_test

import (
	"net/http"
	"strings"
	"testing"

	"tandem/activities/store"
	"tandem/api"
)

func capacity(n int) *int { return &n }

func TestAgentsAvailabilityAndQueues(t *testing.T) {
	s := newStack(t)
	agent, supervisor := tenantA+"/agent", tenantA+"/supervisor"

	var got struct{ Agent store.Agent }
	r := s.do("PUT", "/v1/agents/agent-1/availability", agent, api.AvailabilityRequest{Status: "available", Capacity: capacity(3)})
	if r.Status != http.StatusOK {
		t.Fatalf("own availability: %d %s", r.Status, r.Body)
	}
	r.decode(t, &got)
	if got.Agent.Status != "available" || got.Agent.Capacity != 3 || got.Agent.UpdatedBy != "agent-1" {
		t.Fatalf("agent = %+v", got.Agent)
	}
	for name, tc := range map[string]struct {
		who, path string
		body      any
		status    int
	}{
		"another agent's":      {agent, "/v1/agents/agent-2/availability", api.AvailabilityRequest{Status: "away", Capacity: capacity(1)}, 403},
		"bad status":           {agent, "/v1/agents/agent-1/availability", api.AvailabilityRequest{Status: "busy", Capacity: capacity(1)}, 422},
		"no capacity":          {agent, "/v1/agents/agent-1/availability", api.AvailabilityRequest{Status: "away"}, 422},
		"too much capacity":    {agent, "/v1/agents/agent-1/availability", api.AvailabilityRequest{Status: "away", Capacity: capacity(51)}, 422},
		"supervisor for agent": {supervisor, "/v1/agents/agent-2/availability", api.AvailabilityRequest{Status: "away", Capacity: capacity(0)}, 200},
		"agent's own queues":   {agent, "/v1/agents/agent-1/queues", api.QueuesRequest{Queues: []string{"vip"}}, 403},
		"bad queue":            {supervisor, "/v1/agents/agent-1/queues", api.QueuesRequest{Queues: []string{"Billing!"}}, 422},
		"too many queues":      {supervisor, "/v1/agents/agent-1/queues", api.QueuesRequest{Queues: strings.Split("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u", ",")}, 422},
		"compliance":           {tenantA + "/compliance", "/v1/agents/agent-1/availability", api.AvailabilityRequest{Status: "away", Capacity: capacity(1)}, 403},
	} {
		if r := s.do("PUT", tc.path, tc.who, tc.body); r.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", name, r.Status, r.Body, tc.status)
		}
	}

	// Queues decide which waiting cases an agent sees.
	c := s.openCase(tenantA, sampleCase()).Case
	s.escalate(tenantA, c.ID) // now waiting in the general queue
	if r := s.do("GET", "/v1/cases/"+c.ID, agent, nil); r.Status != http.StatusNotFound {
		t.Fatalf("a queued case before agent-1 works its queue: %d", r.Status)
	}
	r = s.do("PUT", "/v1/agents/agent-1/queues", supervisor, api.QueuesRequest{Queues: []string{"vip", "general", "general"}})
	r.decode(t, &got)
	if r.Status != http.StatusOK || strings.Join(got.Agent.Queues, ",") != "general,vip" {
		t.Fatalf("set queues: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/cases/"+c.ID, agent, nil); r.Status != http.StatusOK {
		t.Fatalf("a queued case once agent-1 works its queue: %d", r.Status)
	}

	if r := s.do("GET", "/v1/agents/agent-1", agent, nil); r.Status != http.StatusOK {
		t.Fatalf("own record: %d", r.Status)
	}
	if r := s.do("GET", "/v1/agents/agent-2", agent, nil); r.Status != http.StatusForbidden {
		t.Fatalf("another agent's record: %d", r.Status)
	}
	if r := s.do("GET", "/v1/agents/nobody", supervisor, nil); r.Status != http.StatusNotFound {
		t.Fatalf("unknown agent: %d", r.Status)
	}
	var list struct{ Agents []store.Agent }
	s.do("GET", "/v1/agents", supervisor, nil).decode(t, &list)
	if len(list.Agents) != 2 || list.Agents[0].AgentID != "agent-1" || list.Agents[1].Status != "away" {
		t.Fatalf("team = %+v", list.Agents)
	}
	if r := s.do("GET", "/v1/agents", agent, nil); r.Status != http.StatusForbidden {
		t.Fatalf("an agent listing the team: %d", r.Status)
	}
	var other struct{ Agents []store.Agent }
	s.do("GET", "/v1/agents", tenantB+"/supervisor", nil).decode(t, &other)
	if len(other.Agents) != 0 {
		t.Fatalf("another tenant sees %+v", other.Agents)
	}
	if got := auditActions(t, s, storeFilter("agent.availability")); len(got) != 2 {
		t.Fatalf("availability changes audited: %v", got)
	}
}
