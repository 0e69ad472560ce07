package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"tandem/activities/store"
	"tandem/api"
)

type articleOut struct {
	Article store.Article `json:"article"`
}

// giftCardArticle is giftCards as a draft article of the tenant, for the store.
func giftCardArticle(tenant string) store.Article {
	g := giftCards()
	return store.Article{TenantID: tenant, ID: uuid.NewString(), Intent: g.Intent, Locale: g.Locale, Title: g.Title,
		Answer: g.Answer, Questions: g.Questions, Domain: "general"}
}

func giftCards() api.ArticleRequest {
	return api.ArticleRequest{Intent: "gift_cards", Locale: "en", Title: "Gift cards",
		Answer:    "We sell gift cards from 10 to 200 EUR, valid for three years.",
		Questions: []string{"Do you sell gift cards?", "Can I buy a gift voucher?", "How long is a gift card valid?"}}
}

// An admin writes an article; only once it is published does the AI answer
// from it, without a restart; edits and unpublishing take effect the same way;
// every change is on the audit trail.
func TestKnowledgeBaseArticleLifecycle(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin"
	ask := func() api.ExchangeJSON {
		t.Helper()
		req := sampleCase()
		req.Message = "Do you sell gift cards?"
		return s.openCase(tenantA, req)
	}
	r := s.do("POST", "/v1/kb/articles", admin, giftCards())
	var created articleOut
	r.decode(t, &created)
	if r.Status != http.StatusCreated || created.Article.Version != 1 || created.Article.Published || created.Article.ID == "" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := created.Article.ID
	if r := s.do("POST", "/v1/kb/articles", admin, giftCards()); r.Status != http.StatusConflict || r.errorCode(t) != "article_exists" {
		t.Fatalf("the same intent and locale again: %d %s", r.Status, r.Body)
	}
	if ex := ask(); ex.Reply != nil && ex.Reply.ArticleID == id {
		t.Fatalf("a draft answered the customer: %+v", ex.Reply)
	}
	if r := s.do("POST", "/v1/kb/articles/"+id+"/publish", admin, nil); r.Status != http.StatusOK {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	if ex := ask(); ex.Reply == nil || ex.Reply.ArticleID != id || !strings.Contains(ex.Reply.Body, "10 to 200 EUR") {
		t.Fatalf("after publishing: %+v %+v", ex.Case, ex.Reply)
	}
	edit := giftCards()
	edit.Answer = "Gift cards come in any amount from 5 to 500 EUR."
	edit.Published = true
	var updated articleOut
	s.do("PUT", "/v1/kb/articles/"+id, admin, edit).decode(t, &updated)
	if updated.Article.Version != 3 || !updated.Article.Published { // created, published, edited
		t.Fatalf("update: %+v", updated.Article)
	}
	if ex := ask(); ex.Reply == nil || !strings.Contains(ex.Reply.Body, "5 to 500 EUR") {
		t.Fatalf("after the edit: %+v", ex.Reply)
	}
	var got articleOut
	if r := s.do("GET", "/v1/kb/articles/"+id, tenantA+"/agent", nil); r.Status != http.StatusOK {
		t.Fatalf("an agent reads the article: %d", r.Status)
	} else {
		r.decode(t, &got)
	}
	if got.Article.Answer != edit.Answer {
		t.Fatalf("get: %+v", got.Article)
	}
	s.do("POST", "/v1/kb/articles/"+id+"/unpublish", admin, nil)
	if ex := ask(); ex.Reply != nil && ex.Reply.ArticleID == id {
		t.Fatalf("an unpublished article answered: %+v", ex.Reply)
	}
	var actions []string
	for _, a := range auditActions(t, s, store.AuditFilter{}) {
		if strings.Contains(a, ":kb.") {
			actions = append(actions, a)
		}
	}
	if got := strings.Join(actions, " "); got != "user:kb.create user:kb.publish user:kb.update user:kb.unpublish" {
		t.Fatalf("audit: %s", got)
	}
}

func TestKnowledgeBaseListSearchAndImport(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin"
	var page struct {
		Articles   []store.Article `json:"articles"`
		NextCursor string          `json:"next_cursor"`
	}
	s.do("GET", "/v1/kb/articles?locale=en&limit=3", tenantA+"/supervisor", nil).decode(t, &page)
	if len(page.Articles) != 3 || page.NextCursor == "" {
		t.Fatalf("first page: %d articles, cursor %q", len(page.Articles), page.NextCursor)
	}
	seen := map[string]bool{}
	for cursor := ""; ; {
		page.Articles, page.NextCursor = nil, ""
		s.do("GET", "/v1/kb/articles?locale=en&limit=3&cursor="+cursor, tenantA+"/supervisor", nil).decode(t, &page)
		for _, a := range page.Articles {
			if seen[a.ID] || a.Locale != "en" {
				t.Fatalf("page repeats or leaks %+v", a)
			}
			seen[a.ID] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 8 {
		t.Fatalf("%d English articles listed, want the demo's 8", len(seen))
	}

	lines := `{"intent":"gift_cards","locale":"en","title":"Gift cards","answer":"From 10 EUR.","questions":["Do you sell gift cards?"],"published":true}
{"intent":"gift_cards","locale":"zh-Hans","title":"礼品卡","answer":"礼品卡面值10欧元起。","questions":["你们卖礼品卡吗"],"published":true}
`
	r := s.do("POST", "/v1/kb/import", admin, lines)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"imported":2`) {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	// Importing again replaces by intent and locale: no duplicates.
	s.do("POST", "/v1/kb/import", admin, lines)
	var all struct{ Articles []store.Article }
	s.do("GET", "/v1/kb/articles?intent=gift_cards", admin, nil).decode(t, &all)
	if len(all.Articles) != 2 || all.Articles[0].Version != 2 {
		t.Fatalf("after importing twice: %+v", all.Articles)
	}
	// One bad line imports nothing, and says which line.
	bad := lines + `{"intent":"Bad Intent","locale":"fr","title":"x","answer":"y"}` + "\n"
	r = s.do("POST", "/v1/kb/import", admin, bad)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "line 3: intent") || !strings.Contains(string(r.Body), "line 3: locale") {
		t.Fatalf("bad line: %d %s", r.Status, r.Body)
	}

	var found struct {
		Result struct {
			Intent     string  `json:"intent"`
			Confidence float64 `json:"confidence"`
			Language   string  `json:"language"`
		} `json:"result"`
	}
	s.do("GET", "/v1/kb/search?q="+"你们卖礼品卡吗", tenantA+"/agent", nil).decode(t, &found)
	if found.Result.Intent != "gift_cards" || found.Result.Language != "zh-Hans" {
		t.Fatalf("search: %+v", found.Result)
	}
}

func TestKnowledgeBaseErrors(t *testing.T) {
	s := newStack(t)
	admin := tenantA + "/admin"
	var created articleOut
	s.do("POST", "/v1/kb/articles", admin, giftCards()).decode(t, &created)
	id := created.Article.ID
	tooMany := giftCards()
	tooMany.Questions = make([]string, 201)
	for i := range tooMany.Questions {
		tooMany.Questions[i] = "question " + itoa64(int64(i))
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"bad intent", "POST", "/v1/kb/articles", api.ArticleRequest{Intent: "Gift Cards", Locale: "en", Title: "x", Answer: "y"}, 422, "validation_failed", "intent"},
		{"bad locale", "POST", "/v1/kb/articles", api.ArticleRequest{Intent: "x", Locale: "fr", Title: "x", Answer: "y"}, 422, "validation_failed", "locale"},
		{"no answer", "POST", "/v1/kb/articles", api.ArticleRequest{Intent: "x", Locale: "en", Title: "x"}, 422, "validation_failed", "answer"},
		{"too many questions", "POST", "/v1/kb/articles", tooMany, 422, "validation_failed", "questions"},
		{"unknown field", "POST", "/v1/kb/articles", map[string]any{"intent": "x", "colour": "red"}, 400, "malformed_json", "colour"},
		{"locale cannot change", "PUT", "/v1/kb/articles/" + id, api.ArticleRequest{Locale: "zh-Hans", Title: "x", Answer: "y"}, 422, "validation_failed", "intent"},
		{"no such article", "GET", "/v1/kb/articles/6f1c2f0e-2b7a-4a57-9d8e-3c1f5b0a7e21", nil, 404, "article_not_found", ""},
		{"not an ID", "PUT", "/v1/kb/articles/nope", giftCards(), 404, "article_not_found", ""},
		{"bad cursor", "GET", "/v1/kb/articles?cursor=nope", nil, 400, "invalid_cursor", ""},
		{"bad published filter", "GET", "/v1/kb/articles?published=maybe", nil, 422, "validation_failed", "published"},
		{"empty search", "GET", "/v1/kb/search?q=", nil, 422, "validation_failed", "q"},
		{"empty import", "POST", "/v1/kb/import", "\n\n", 422, "validation_failed", "body"},
	} {
		r := s.do(tc.method, tc.path, admin, tc.body)
		if r.Status != tc.status || r.errorCode(t) != tc.code || (tc.field != "" && !strings.Contains(string(r.Body), `"field":"`+tc.field)) {
			t.Errorf("%s: %d %s, want %d %s on %q", tc.name, r.Status, r.Body, tc.status, tc.code, tc.field)
		}
	}
}
