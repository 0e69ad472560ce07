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

// The first AI answer of every case says, in the customer's language, that
// they are talking to an AI system and how to reach a person; later answers
// do not repeat it. Every AI answer is marked machine-readably — author
// kind, engine, model, the article's version — in the API and the trail,
// and the disclosure is on the trail.
func TestFirstAIAnswerDisclosesTheAI(t *testing.T) {
	s := newStack(t)
	for _, c := range []struct{ lang, question string }{
		{"en", "I forgot my password"}, {"zh-Hans", "忘记密码了"}, {"zh-Hant", "忘記密碼了"},
	} {
		ex := s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-" + c.lang, Channel: "web_chat", Message: c.question})
		r := ex.Reply
		if r == nil || r.AuthorKind != workflows.AuthorAI {
			t.Fatalf("%s: the AI did not answer: %+v", c.lang, ex)
		}
		want := service.DefaultDisclosure[c.lang]
		if !strings.HasPrefix(r.Body, want+"\n\n") || !r.AIDisclosure {
			t.Errorf("%s: the first answer does not open with %q: %+v", c.lang, want, r)
		}
		if r.AuthorID == "" || r.Model == "" || r.ArticleID == "" || r.ArticleVersion < 1 {
			t.Errorf("%s: the answer is not marked (engine, model, article version): %+v", c.lang, r)
		}
		next := s.do("POST", "/v1/cases/"+ex.Case.ID+"/messages", tenantA, api.PostMessageRequest{Body: c.question})
		var again api.ExchangeJSON
		next.decode(t, &again)
		if next.Status != http.StatusOK || again.Reply == nil || again.Reply.AIDisclosure || strings.Contains(again.Reply.Body, want) {
			t.Errorf("%s: a later answer repeats the disclosure: %d %+v", c.lang, next.Status, again.Reply)
		}
		// The customer's front end reads the same marks; the trail records the disclosure.
		var mine api.CustomerCase
		s.do("GET", "/v1/cases/"+ex.Case.ID, tenantA, nil).decode(t, &mine)
		if m := mine.Messages[1]; !m.AIDisclosure || m.Model != r.Model || m.ArticleVersion != r.ArticleVersion || m.Body != r.Body {
			t.Errorf("%s: the front end's view of the answer: %+v", c.lang, m)
		}
		disclosed := false
		events, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: ex.Case.ID, Action: workflows.AuditCaseReply, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if strings.Contains(e.Details, `"ai_disclosure":"`+c.lang+`"`) && strings.Contains(e.Details, `"model":"`+r.Model+`"`) {
				disclosed = true
			}
		}
		if !disclosed {
			t.Errorf("%s: the trail does not record the disclosure", c.lang)
		}
	}

	// The tenant's own words, where its policy has them.
	p, _ := service.Profile("efficiency-first")
	p.AI.Disclosure = map[string]string{"en": "Hi, I am Acme's virtual assistant (an AI). Type \"agent\" for a colleague."}
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	ex := s.openCase(tenantA, api.OpenCaseRequest{CustomerRef: "cust-own", Channel: "web_chat", Message: "I forgot my password"})
	if ex.Reply == nil || !strings.HasPrefix(ex.Reply.Body, p.AI.Disclosure["en"]) {
		t.Fatalf("the tenant's disclosure: %+v", ex.Reply)
	}
	p.AI.Disclosure = map[string]string{"fr": "Bonjour"}
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a disclosure in a language the AI does not speak: %d %s", r.Status, r.Body)
	}
}
