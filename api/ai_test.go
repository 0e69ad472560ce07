package api_test

import (
	"net/http"
	"strings"
	"testing"

	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
	"tandem/workflows"
)

// The AI resolves a case: it answers from the knowledge base, the customer
// marks the answer helpful, and the case is resolved without a person.
func TestAIResolvesTheCase(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.Message = "Where is my parcel? It has not arrived."
	ex := s.openCase(tenantA, req)
	if ex.Reply == nil || ex.Reply.AuthorKind != "ai" || ex.Reply.ArticleID == "" || ex.Case.Status != workflows.StatusAIHandling {
		t.Fatalf("opening: %+v", ex)
	}
	path := "/v1/cases/" + ex.Case.ID + "/messages/" + itoa64(ex.Reply.Seq) + "/feedback"
	var out struct{ Case api.CaseJSON }
	for range 2 { // the retry changes nothing
		r := s.do("POST", path, tenantA, api.FeedbackRequest{Helpful: ptr(true)})
		if r.Status != http.StatusOK {
			t.Fatalf("feedback: %d %s", r.Status, r.Body)
		}
		r.decode(t, &out)
		if out.Case.Status != workflows.StatusResolved || out.Case.Escalation != "" {
			t.Fatalf("after helpful feedback: %+v", out.Case)
		}
	}
	if got := auditActions(t, s, store.AuditFilter{CaseID: ex.Case.ID}); len(got) != 4 || got[2] != "service:case.feedback" || got[3] != "service:case.resolve" {
		t.Fatalf("audit: %v, want open, reply, one feedback and the resolution", got)
	}
	// The case shows its transitions, who caused each, and its own figures.
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+ex.Case.ID, tenantA+"/supervisor", nil).decode(t, &got)
	var steps []string
	for _, st := range got.Timeline {
		steps = append(steps, st.ActorKind+":"+st.Action+":"+st.Reason)
	}
	if want := "service:case.open: service:case.feedback: service:case.resolve:answered"; strings.Join(steps, " ") != want {
		t.Fatalf("timeline %v, want %s", steps, want)
	}
	if m := got.Metrics; m.FirstResponseAI == nil || *m.FirstResponseAI < 0 || m.FirstResponseHuman != nil || m.Resolution == nil || *m.Resolution < *m.FirstResponseAI {
		t.Fatalf("metrics: %+v", m)
	}
	var stats store.Stats
	s.do("GET", "/v1/stats", tenantA+"/supervisor", nil).decode(t, &stats)
	if stats.AIResolvedShare == nil || *stats.AIResolvedShare != 1 {
		t.Fatalf("stats: %+v", stats)
	}
	s.do("POST", "/v1/cases/"+ex.Case.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "done"})
	waitClosed(t, s.temporal, ex.Case.WorkflowID)
	s.recordHistory(ex.Case.WorkflowID, "ai_resolved")
}

// A tenant whose policy chooses the LLM engine gets answers grounded in its
// articles, with their citations on the audit trail; others keep the local one.
func TestTenantChoosesTheLLMEngine(t *testing.T) {
	s := newStack(t)
	p, _ := service.Profile("efficiency-first")
	p.AI.Engine = "llm"
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	req := sampleCase()
	req.Message = "Where is my parcel? It has not arrived."
	ex := s.openCase(tenantA, req)
	if ex.Reply == nil || ex.Reply.AuthorKind != "ai" || ex.Reply.AuthorID != "llm" || !strings.HasPrefix(ex.Reply.Body, service.DefaultDisclosure["en"]+"\n\nIn short: You can follow your parcel") {
		t.Fatalf("reply: %+v", ex.Reply)
	}
	events, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: ex.Case.ID, Action: workflows.AuditCaseReply, Limit: 10})
	if err != nil || len(events) != 1 || !contains(events[0].Details, `"engine":"llm"`) || !contains(events[0].Details, `"citations":"`+ex.Reply.ArticleID+`"`) {
		t.Fatalf("decision: %+v %v", events, err)
	}
	other := s.openCase(tenantB, req)
	if other.Reply == nil || other.Reply.AuthorID != "local" {
		t.Fatalf("the other tenant's reply: %+v", other.Reply)
	}
}

// An angry customer goes to people, with the reason on the case and the
// AI's reading of the message on the audit trail.
func TestAngryCustomerEscalates(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.Message = "This is absolutely unacceptable, I am furious! Where is my parcel?!!"
	ex := s.openCase(tenantA, req)
	if staff := s.staffCase(tenantA, ex.Case.ID); ex.Case.Status != workflows.StatusQueued || staff.Escalation != workflows.ReasonNegativeSentiment || staff.Queue != workflows.DefaultQueue {
		t.Fatalf("angry opening: %+v", staff)
	}
	if ex.Case.Escalation != "" || ex.Case.Queue != "" {
		t.Fatalf("the customer's front end sees why and where the case went: %+v", ex.Case)
	}
	if ex.Reply == nil || ex.Reply.Body != workflows.HandoffNotice {
		t.Fatalf("reply: %+v, want the handoff notice", ex.Reply)
	}
	events, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: ex.Case.ID, Action: workflows.AuditCaseEscalate, Limit: 10})
	if err != nil || len(events) != 1 {
		t.Fatalf("escalation audit: %v %v", events, err)
	}
	e := events[0]
	if e.Reason != workflows.ReasonNegativeSentiment || !contains(e.Details, `"engine":"local"`) || !contains(e.Details, `"outcome":"escalated"`) ||
		!contains(e.Details, `"intent":"delivery_status"`) || contains(e.Details, "furious") {
		t.Fatalf("escalation entry: %+v", e)
	}
	// The agent's handoff package carries the AI's reading.
	var h api.HandoffJSON
	s.do("GET", "/v1/cases/"+ex.Case.ID+"/handoff", tenantA+"/supervisor", nil).decode(t, &h)
	// Agent assist: the delivery article, suggested for the agent to adapt.
	if h.Suggestion == nil || h.Suggestion.Intent != "delivery_status" || !strings.Contains(h.Suggestion.Text, "tracking link") || h.Suggestion.ArticleID == "" {
		t.Fatalf("suggested reply: %+v", h.Suggestion)
	}
	if h.Reason != workflows.ReasonNegativeSentiment || h.Intent != "delivery_status" || h.Language != "en" ||
		len(h.Sentiment) != 1 || h.Sentiment[0].Anger < 0.7 || h.Sentiment[0].MessageSeq != 1 || h.SentimentTrend != "unknown" ||
		!contains(h.Summary, "handed to people for negative sentiment") {
		t.Fatalf("handoff: %+v", h)
	}
	// The queue API shows the case at once.
	var tasks api.CaseList
	s.do("GET", "/v1/queues/general/tasks", tenantA+"/supervisor", nil).decode(t, &tasks)
	if len(tasks.Cases) != 1 || tasks.Cases[0].ID != ex.Case.ID {
		t.Fatalf("queue: %+v", tasks)
	}
	s.do("POST", "/v1/cases/"+ex.Case.ID+"/close", tenantA+"/supervisor", api.CloseCaseRequest{Reason: "done"})
	waitClosed(t, s.temporal, ex.Case.WorkflowID)
	s.recordHistory(ex.Case.WorkflowID, "ai_escalated")
}

// What the knowledge base cannot answer goes to people, who are announced
// in the customer's own script.
func TestOutOfScopeInTraditionalChinese(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.Message = "請問你們的股票什麼時候上市？"
	ex := s.openCase(tenantA, req)
	if s.staffCase(tenantA, ex.Case.ID).Escalation != workflows.ReasonOutOfScope || ex.Reply == nil || ex.Reply.Body != workflows.HandoffNoticeIn("zh-Hant") {
		t.Fatalf("out of scope: %+v %+v", ex.Case, ex.Reply)
	}
	var h api.HandoffJSON
	s.do("GET", "/v1/cases/"+ex.Case.ID+"/handoff", tenantA+"/supervisor", nil).decode(t, &h)
	if h.Suggestion != nil || h.Language != "zh-Hant" {
		t.Fatalf("nothing to suggest for what the knowledge base lacks: %+v", h)
	}
}

func TestFeedback(t *testing.T) {
	s := newStack(t)
	ex := s.openCase(tenantA, sampleCase())
	base := "/v1/cases/" + ex.Case.ID + "/messages/"
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"no verdict", base + "2/feedback", map[string]any{}, 422, "validation_failed"},
		{"the customer's own message", base + "1/feedback", api.FeedbackRequest{Helpful: ptr(true)}, 422, "not_an_answer"},
		{"no such message", base + "99/feedback", api.FeedbackRequest{Helpful: ptr(true)}, 422, "not_an_answer"},
		{"not a sequence", base + "two/feedback", api.FeedbackRequest{Helpful: ptr(true)}, 404, "message_not_found"},
		{"unknown field", base + "2/feedback", map[string]any{"helpful": true, "stars": 5}, 400, "malformed_json"},
	} {
		if r := s.do("POST", tc.path, tenantA, tc.body); r.Status != tc.status || r.errorCode(t) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
	// Efficiency-first hands the case to people after three unhelpful answers.
	seq := ex.Reply.Seq
	for i := range 3 {
		var out struct{ Case api.CaseJSON }
		r := s.do("POST", base+itoa64(seq)+"/feedback", tenantA, api.FeedbackRequest{Helpful: ptr(false)})
		r.decode(t, &out)
		if i < 2 {
			if out.Case.Status != workflows.StatusAIHandling {
				t.Fatalf("after %d unhelpful answers: %d %s", i+1, r.Status, r.Body)
			}
			var next api.ExchangeJSON
			s.do("POST", "/v1/cases/"+ex.Case.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}).decode(t, &next)
			if next.Reply == nil || next.Reply.AuthorKind != "ai" {
				t.Fatalf("question %d: %+v", i, next)
			}
			seq = next.Reply.Seq
			continue
		}
		if out.Case.Status != workflows.StatusQueued || s.staffCase(tenantA, ex.Case.ID).Escalation != workflows.ReasonAIUnhelpful {
			t.Fatalf("after three unhelpful answers: %d %s", r.Status, r.Body)
		}
	}
}
