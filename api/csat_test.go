package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
)

// CSAT: a resolution asks the customer's front end for a survey; the
// answer (a score and a sealed comment) is taken once, within the policy's
// window; statistics split it by AI and person, queue and agent, with the
// comments, which die with the customer's key.
func TestCSAT(t *testing.T) {
	s := newStack(t)
	sup, agent := tenantA+"/supervisor", tenantA+"/agent:agent-1"
	open := func(ref string) api.CaseJSON {
		return s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: ref, Channel: "web_chat", Subject: "csat", Message: inScope(0)}).Case
	}
	rate := func(id string, score int, comment string) response {
		return s.do("POST", "/v1/cases/"+id+"/rating", tenantA, api.RatingRequest{Score: score, Comment: comment})
	}

	byAI := open("cust-csat-ai-" + randomHex(3))
	if r := s.do("POST", "/v1/cases/"+byAI.ID+"/messages/2/feedback", tenantA, api.FeedbackRequest{Helpful: ptr(true)}); r.Status != http.StatusOK {
		t.Fatalf("helpful: %d %s", r.Status, r.Body)
	}
	var owed api.NotificationList
	s.do("GET", "/v1/notifications?limit=200", tenantA, nil).decode(t, &owed)
	if !slices.ContainsFunc(owed.Notifications, func(n store.Notification) bool { return n.CaseID == byAI.ID && n.Kind == "csat.requested" }) {
		t.Fatalf("no survey asked of the front end: %+v", owed.Notifications)
	}
	if r := rate(byAI.ID, 5, "Quick and clear."); r.Status != http.StatusOK {
		t.Fatalf("rate: %d %s", r.Status, r.Body)
	}
	if r := rate(byAI.ID, 5, "Quick and clear."); r.Status != http.StatusOK {
		t.Fatalf("the same rating again: %d %s", r.Status, r.Body)
	}
	if r := rate(byAI.ID, 1, "changed my mind"); r.Status != http.StatusConflict || r.errorCode(t) != "already_rated" {
		t.Fatalf("another rating: %d %s", r.Status, r.Body)
	}
	if r := rate(byAI.ID, 6, ""); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a score of 6: %d %s", r.Status, r.Body)
	}
	if audits, _ := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: byAI.ID, Action: "case.rating", Limit: 10}); len(audits) != 1 {
		t.Fatalf("%d case.rating entries, want 1", len(audits))
	}

	byPerson := open("cust-csat-person")
	s.handTo(agent, byPerson.ID)
	s.do("POST", "/v1/cases/"+byPerson.ID+"/reply", agent, api.AgentMessageRequest{Body: "Here you are."})
	if r := s.do("POST", "/v1/cases/"+byPerson.ID+"/resolve", agent, api.ResolveRequest{Code: "answered"}); r.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	if r := rate(byPerson.ID, 2, "Took too long."); r.Status != http.StatusOK {
		t.Fatalf("rate: %d %s", r.Status, r.Body)
	}

	var st store.Stats
	s.do("GET", "/v1/stats", sup, nil).decode(t, &st)
	group := func(gs []store.CSATGroup, key string) store.CSATGroup {
		i := slices.IndexFunc(gs, func(g store.CSATGroup) bool { return g.Key == key })
		if i < 0 {
			return store.CSATGroup{}
		}
		return gs[i]
	}
	if ai, person := group(st.CSATByHandler, "ai"), group(st.CSATByHandler, "person"); ai.Average != 5 || ai.Count != 1 || person.Average != 2 || person.Count != 1 {
		t.Fatalf("by handler: %+v", st.CSATByHandler)
	}
	if g := group(st.CSATByAgent, "agent-1"); g.Average != 2 || g.Count != 1 {
		t.Fatalf("by agent: %+v", st.CSATByAgent)
	}
	if g := group(st.CSATByQueue, "general"); g.Count != 1 {
		t.Fatalf("by queue: %+v", st.CSATByQueue)
	}
	comments := map[string]string{}
	for _, c := range st.CSATComments {
		comments[c.CaseID] = c.Comment
	}
	if comments[byAI.ID] != "Quick and clear." || comments[byPerson.ID] != "Took too long." {
		t.Fatalf("comments: %+v", st.CSATComments)
	}

	// Past the policy's window, the survey is closed.
	p, _ := service.Profile("efficiency-first")
	p.SurveyWindow = service.Duration(time.Second)
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	late := open("cust-csat-late")
	s.do("POST", "/v1/cases/"+late.ID+"/messages/2/feedback", tenantA, api.FeedbackRequest{Helpful: ptr(true)})
	s.waitCase(late.ID, func(c api.CaseJSON) bool { return c.Status == "resolved" })
	time.Sleep(1500 * time.Millisecond)
	if r := rate(late.ID, 4, ""); r.Status != http.StatusConflict || r.errorCode(t) != "survey_closed" {
		t.Fatalf("a late rating: %d %s", r.Status, r.Body)
	}

	// Erasing the customer leaves the score and takes the comment.
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", api.EraseCustomerRequest{CustomerRef: "cust-csat-person", Reason: "customer_request"}); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	var after store.Stats
	s.do("GET", "/v1/stats", sup, nil).decode(t, &after)
	for _, c := range after.CSATComments {
		if c.CaseID == byPerson.ID && (c.Comment != "" || !c.Erased || c.Score != 2) {
			t.Fatalf("the erased customer's comment: %+v", c)
		}
	}
}
