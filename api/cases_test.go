package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"tandem/activities/store/storetest"
	"tandem/api"
	"tandem/workflows"
)

func TestCaseLifecycle(t *testing.T) {
	s := newStack(t)
	opened := s.openCase(tenantA, sampleCase())

	c := opened.Case
	if c.Status != workflows.StatusAIHandling || c.TenantID != tenantA || c.CustomerRef != "cust-42" ||
		c.Channel != "web_chat" || c.Priority != "normal" || c.WorkflowID != "case:acme:"+c.ID {
		t.Fatalf("opened case = %+v", c)
	}
	if m := opened.Message; m.Seq != 1 || m.AuthorKind != "customer" || m.Body != sampleCase().Message || m.Placeholder {
		t.Fatalf("customer message = %+v", m)
	}
	// The AI answers from the tenant's knowledge base, naming the article.
	if r := opened.Reply; r.Seq != 2 || r.AuthorKind != "ai" || r.Placeholder || !strings.Contains(r.Body, "tracking link") || r.ArticleID == "" {
		t.Fatalf("reply must be the AI's answer from the delivery article, got %+v", r)
	}

	// The projection is written before the update returns: read-your-writes.
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &got)
	if got.Case.ID != c.ID || len(got.Messages) != 2 || got.Messages[0].Body != sampleCase().Message {
		t.Fatalf("GET case = %+v", got)
	}

	r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Any news?"})
	if r.Status != http.StatusOK { // nothing in the knowledge base answers this: people take over
		t.Fatalf("post message: %d %s", r.Status, r.Body)
	}
	var ex api.ExchangeJSON
	r.decode(t, &ex)
	if ex.Message.Seq != 3 || ex.Reply.Seq != 4 || ex.Message.Body != "Any news?" || ex.Reply.Body != workflows.HandoffNotice ||
		ex.Case.Status != workflows.StatusQueued {
		t.Fatalf("second exchange = %+v", ex)
	}

	r = s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "answered"})
	if r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	var closed struct{ Case api.CaseJSON }
	r.decode(t, &closed)
	if closed.Case.Status != workflows.StatusClosed || closed.Case.ClosedAt == nil {
		t.Fatalf("closed case = %+v", closed.Case)
	}

	r = s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "hello?"})
	if r.Status != http.StatusConflict || r.errorCode(t) != "case_closed" {
		t.Fatalf("message to closed case: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA, api.CloseCaseRequest{}); r.Status != http.StatusOK {
		t.Fatalf("closing again must succeed as a retry: %d %s", r.Status, r.Body)
	}

	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &got)
	if got.Case.Status != workflows.StatusClosed || len(got.Messages) != 4 {
		t.Fatalf("after close: status %s, %d messages", got.Case.Status, len(got.Messages))
	}

	// The workflow ran to completion.
	run := s.temporal.GetWorkflow(context.Background(), c.WorkflowID, "")
	var res workflows.CaseResult
	if err := run.Get(context.Background(), &res); err != nil || res.State.Status != workflows.StatusClosed {
		t.Fatalf("workflow result = %+v, %v", res, err)
	}
	s.recordHistory(c.WorkflowID, "lifecycle")
}

// Conversation text and customer references are ciphertext in workflow
// history: read it raw, without the codec, and look for them.
func TestWorkflowHistoryIsEncrypted(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.CustomerRef, req.Message = "cust-in-history", "the parcel with my passport in it"
	c := s.openCase(tenantA, req).Case
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "second secret sentence"})

	raw, err := client.Dial(client.Options{HostPort: s.temporalAddr, Logger: nopLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	it := raw.GetWorkflowHistory(context.Background(), c.WorkflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	encrypted := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"cust-in-history", "passport", "second secret"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Fatalf("event %d (%s) holds %q in clear", ev.GetEventId(), ev.GetEventType(), secret)
			}
		}
		encrypted += bytes.Count(b, []byte("binary/encrypted"))
	}
	if encrypted == 0 {
		t.Fatal("no encrypted payload in the history")
	}
}

func TestOpenCaseIdempotencyKeyUnderConcurrency(t *testing.T) {
	s := newStack(t)
	key := "open-" + randomHex(8)
	const callers = 50

	var wg sync.WaitGroup
	results := make([]response, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.do("POST", "/v1/cases", tenantA, sampleCase(), "Idempotency-Key", key)
		}()
	}
	wg.Wait()

	created, ok := 0, 0
	ids := map[string]bool{}
	for _, r := range results {
		switch r.Status {
		case http.StatusCreated:
			created++
		case http.StatusOK:
			ok++
		default:
			t.Fatalf("unexpected status %d: %s", r.Status, r.Body)
		}
		var ex api.ExchangeJSON
		r.decode(t, &ex)
		ids[ex.Case.ID] = true
		if ex.Message.Seq != 1 || ex.Reply.Seq != 2 {
			t.Fatalf("every caller must see the one opening exchange, got seqs %d/%d", ex.Message.Seq, ex.Reply.Seq)
		}
	}
	if created != 1 || ok != callers-1 || len(ids) != 1 {
		t.Fatalf("got %d×201, %d×200, %d distinct cases; want 1, %d, 1", created, ok, len(ids), callers-1)
	}

	var list api.CaseList
	s.do("GET", "/v1/cases", tenantA, nil).decode(t, &list)
	if len(list.Cases) != 1 {
		t.Fatalf("tenant has %d cases, want 1", len(list.Cases))
	}
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+list.Cases[0].ID, tenantA, nil).decode(t, &got)
	if len(got.Messages) != 2 {
		t.Fatalf("case has %d messages, want 2", len(got.Messages))
	}

	// One workflow, and the opening update ran once.
	wfID := list.Cases[0].WorkflowID
	if n := countHistoryEvents(t, s.temporal, wfID, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED); n != 1 {
		t.Fatalf("opening update completed %d times, want 1", n)
	}
	if n := countRuns(t, s.temporal, wfID); n != 1 {
		t.Fatalf("%d workflow runs for the case, want 1", n)
	}
}

func TestOpenCaseIdempotencyKeyRules(t *testing.T) {
	s := newStack(t)
	key := "open-" + randomHex(8)
	first := s.do("POST", "/v1/cases", tenantA, sampleCase(), "Idempotency-Key", key)
	if first.Status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	var ex api.ExchangeJSON
	first.decode(t, &ex)

	other := sampleCase()
	other.Message = "a different question"
	if r := s.do("POST", "/v1/cases", tenantA, other, "Idempotency-Key", key); r.Status != http.StatusUnprocessableEntity || r.errorCode(t) != "idempotency_key_reused" {
		t.Fatalf("same key, different body: %d %s", r.Status, r.Body)
	}

	// Another tenant's identical key is its own case.
	r := s.do("POST", "/v1/cases", tenantB, sampleCase(), "Idempotency-Key", key)
	var exB api.ExchangeJSON
	r.decode(t, &exB)
	if r.Status != http.StatusCreated || exB.Case.ID == ex.Case.ID {
		t.Fatalf("tenant B with tenant A's key: %d, case %s (A's %s)", r.Status, exB.Case.ID, ex.Case.ID)
	}

	// A retry that arrives after the case was closed still returns that case.
	if r := s.do("POST", "/v1/cases/"+ex.Case.ID+"/close", tenantA, api.CloseCaseRequest{}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	waitClosed(t, s.temporal, ex.Case.WorkflowID)
	late := s.do("POST", "/v1/cases", tenantA, sampleCase(), "Idempotency-Key", key)
	var exLate api.ExchangeJSON
	late.decode(t, &exLate)
	if late.Status != http.StatusOK || exLate.Case.ID != ex.Case.ID || exLate.Case.Status != workflows.StatusClosed {
		t.Fatalf("late retry: %d %s", late.Status, late.Body)
	}
	if n := countRuns(t, s.temporal, ex.Case.WorkflowID); n != 1 {
		t.Fatalf("late retry started another run: %d runs", n)
	}
}

func TestPostMessageIdempotencyKey(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	key := "msg-" + randomHex(8)
	var a, b api.ExchangeJSON
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "once"}, "Idempotency-Key", key).decode(t, &a)
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "once"}, "Idempotency-Key", key).decode(t, &b)
	if a.Message.Seq != 3 || b.Message.Seq != a.Message.Seq {
		t.Fatalf("retried message got seqs %d and %d, want 3 twice", a.Message.Seq, b.Message.Seq)
	}
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &got)
	if len(got.Messages) != 4 {
		t.Fatalf("case has %d messages after a retried post, want 4", len(got.Messages))
	}
	// A retry that arrives after the case closed still gets its answer; a new message does not.
	s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA, api.CloseCaseRequest{})
	var late api.ExchangeJSON
	r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "once"}, "Idempotency-Key", key)
	r.decode(t, &late)
	if r.Status != http.StatusOK || late.Message.Seq != a.Message.Seq {
		t.Fatalf("retry after close: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "new"}, "Idempotency-Key", key+"-new"); r.Status != http.StatusConflict {
		t.Fatalf("a new message after close: %d", r.Status)
	}
}

func TestConcurrentMessagesKeepOrderAndProjection(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	n := len(inScopeQuestions) // each answered from its own article
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}); r.Status != http.StatusOK {
				t.Errorf("post %d: %d %s", i, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &got)
	if len(got.Messages) != 2+2*n {
		t.Logf("case: %+v", got.Case)
		t.Fatalf("%d messages, want %d", len(got.Messages), 2+2*n)
	}
	for i, m := range got.Messages {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d: gaps or duplicates", i, m.Seq)
		}
	}
	// The case row carries the newest snapshot, not whichever write landed last.
	var row struct{ LastSeq int64 }
	if err := s.store.DB().Raw("SELECT last_seq FROM cases WHERE id = ?", c.ID).Scan(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.LastSeq != int64(2+2*n) {
		t.Fatalf("projection last_seq = %d, want %d", row.LastSeq, 2+2*n)
	}
	s.recordHistory(c.WorkflowID, "concurrent_messages")
}

func TestTenantIsolation(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/cases/" + c.ID, nil},
		{"POST", "/v1/cases/" + c.ID + "/messages", api.PostMessageRequest{Body: "hi"}},
		{"POST", "/v1/cases/" + c.ID + "/close", api.CloseCaseRequest{}},
	} {
		r := s.do(tc.method, tc.path, tenantB, tc.body)
		if r.Status != http.StatusNotFound || r.errorCode(t) != "case_not_found" {
			t.Errorf("%s %s as another tenant: %d %s, want 404 case_not_found", tc.method, tc.path, r.Status, r.Body)
		}
	}
	var list api.CaseList
	s.do("GET", "/v1/cases", tenantB, nil).decode(t, &list)
	if len(list.Cases) != 0 {
		t.Fatalf("tenant B lists %d of tenant A's cases", len(list.Cases))
	}
	// And tenant A's case is untouched.
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &got)
	if got.Case.Status != workflows.StatusAIHandling || len(got.Messages) != 2 {
		t.Fatalf("tenant A's case changed: %+v", got)
	}
}

func TestListCasesPaginationAndFilter(t *testing.T) {
	s := newStack(t)
	var opened []string
	for range 5 {
		opened = append(opened, s.openCase(tenantA, sampleCase()).Case.ID)
	}
	if r := s.do("POST", "/v1/cases/"+opened[0]+"/close", tenantA, api.CloseCaseRequest{}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}

	seen := map[string]bool{}
	var order []string
	cursor := ""
	pages := 0
	for {
		path := "/v1/cases?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page api.CaseList
		r := s.do("GET", path, tenantA, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		r.decode(t, &page)
		pages++
		for _, c := range page.Cases {
			if seen[c.ID] {
				t.Fatalf("case %s on two pages", c.ID)
			}
			seen[c.ID] = true
			order = append(order, c.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if pages != 3 || len(order) != 5 {
		t.Fatalf("%d pages, %d cases; want 3 pages of 5 cases", pages, len(order))
	}
	for i := range order { // newest first
		if order[i] != opened[len(opened)-1-i] {
			t.Fatalf("order %v, want reverse of %v", order, opened)
		}
	}

	var closed, open api.CaseList
	s.do("GET", "/v1/cases?status=closed", tenantA, nil).decode(t, &closed)
	s.do("GET", "/v1/cases?status=ai_handling", tenantA, nil).decode(t, &open)
	if len(closed.Cases) != 1 || closed.Cases[0].ID != opened[0] || len(open.Cases) != 4 {
		t.Fatalf("status filter: %d closed, %d open", len(closed.Cases), len(open.Cases))
	}
}

func TestErrorsAtTheEdge(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	valid := `{"customer_ref":"c1","channel":"email","message":"hi"}`
	huge := `{"customer_ref":"c1","channel":"email","message":"` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name, method, path, tenant string
		body                       any
		headers                    []string
		status                     int
		code                       string
		field                      string
	}{
		{"no credential", "GET", "/v1/cases", "", nil, nil, 401, "unauthenticated", ""},
		{"malformed json", "POST", "/v1/cases", tenantA, `{"customer_ref":`, nil, 400, "malformed_json", ""},
		{"empty body", "POST", "/v1/cases", tenantA, ``, nil, 400, "malformed_json", ""},
		{"wrong type", "POST", "/v1/cases", tenantA, `{"customer_ref":42,"channel":"email","message":"hi"}`, nil, 400, "malformed_json", "customer_ref"},
		{"unknown field", "POST", "/v1/cases", tenantA, `{"customer_ref":"c","channel":"email","message":"hi","tenant":"globex"}`, nil, 400, "malformed_json", "tenant"},
		{"two objects", "POST", "/v1/cases", tenantA, valid + valid, nil, 400, "malformed_json", ""},
		{"body too large", "POST", "/v1/cases", tenantA, huge, nil, 413, "body_too_large", ""},
		{"missing fields", "POST", "/v1/cases", tenantA, `{}`, nil, 422, "validation_failed", "customer_ref"},
		{"bad channel", "POST", "/v1/cases", tenantA, `{"customer_ref":"c","channel":"fax","message":"hi"}`, nil, 422, "validation_failed", "channel"},
		{"bad priority", "POST", "/v1/cases", tenantA, `{"customer_ref":"c","channel":"api","priority":"asap","message":"hi"}`, nil, 422, "validation_failed", "priority"},
		{"blank message", "POST", "/v1/cases", tenantA, `{"customer_ref":"c","channel":"api","message":"   "}`, nil, 422, "validation_failed", "message"},
		{"message too long", "POST", "/v1/cases/" + c.ID + "/messages", tenantA, api.PostMessageRequest{Body: strings.Repeat("é", 8001)}, nil, 422, "validation_failed", "body"},
		{"bad idempotency key", "POST", "/v1/cases", tenantA, valid, []string{"Idempotency-Key", "has space"}, 422, "validation_failed", "Idempotency-Key"},
		{"unknown case", "GET", "/v1/cases/00000000-0000-4000-8000-000000000000", tenantA, nil, nil, 404, "case_not_found", ""},
		{"malformed case id", "POST", "/v1/cases/not-a-uuid/messages", tenantA, api.PostMessageRequest{Body: "x"}, nil, 404, "case_not_found", ""},
		{"unknown case message", "POST", "/v1/cases/00000000-0000-4000-8000-000000000000/messages", tenantA, api.PostMessageRequest{Body: "x"}, nil, 404, "case_not_found", ""},
		{"bad status filter", "GET", "/v1/cases?status=lost", tenantA, nil, nil, 422, "validation_failed", "status"},
		{"bad limit", "GET", "/v1/cases?limit=1000", tenantA, nil, nil, 422, "validation_failed", "limit"},
		{"bad cursor", "GET", "/v1/cases?cursor=zzz", tenantA, nil, nil, 400, "invalid_cursor", ""},
		{"unknown route", "GET", "/v1/nothing", tenantA, nil, nil, 404, "route_not_found", ""},
		{"wrong method", "DELETE", "/v1/cases", tenantA, nil, nil, 405, "method_not_allowed", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tc.tenant, tc.body, tc.headers...)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			var e struct{ Error api.Error }
			r.decode(t, &e)
			if e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("error %+v, want code %s with a message", e.Error, tc.code)
			}
			if tc.field != "" && (len(e.Error.Fields) == 0 || e.Error.Fields[0].Field != tc.field) {
				t.Fatalf("fields %+v, want %s first", e.Error.Fields, tc.field)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	s := newStack(t)
	if r := s.do("GET", "/healthz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("healthz: %d", r.Status)
	}
	if r := s.do("GET", "/readyz", "", nil); r.Status != http.StatusOK {
		t.Fatalf("readyz with both up: %d %s", r.Status, r.Body)
	}
}

// With Temporal unreachable, readiness fails and case operations answer 503
// without leaking the transport error.
func TestTemporalDownIs503(t *testing.T) {
	st := storetest.New(t).Store
	if err := st.EnsureTenant(context.Background(), tenantA, tenantA); err != nil {
		t.Fatal(err)
	}
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: nopLogger{},
		ConnectionOptions: client.ConnectionOptions{GetSystemInfoTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	srv := httptest.NewServer(newAPI(t, st, tc, "unused", slog.New(slog.NewTextHandler(io.Discard, nil)), 3*time.Second, 0))
	defer srv.Close()
	s := &stack{t: t, store: st, url: srv.URL, keys: map[string]string{}, stepUps: map[string]string{}}

	if r := s.do("GET", "/readyz", "", nil); r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), `"temporal":"unavailable"`) {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
	r := s.do("POST", "/v1/cases", tenantA, sampleCase())
	if r.Status != http.StatusServiceUnavailable || r.errorCode(t) != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("open case with Temporal down: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	if strings.Contains(string(r.Body), "127.0.0.1:1") || strings.Contains(string(r.Body), "dial") {
		t.Fatalf("error body leaks internals: %s", r.Body)
	}
}

func countHistoryEvents(t *testing.T, tc client.Client, wfID string, typ enumspb.EventType) int {
	t.Helper()
	it := tc.GetWorkflowHistory(context.Background(), wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == typ {
			n++
		}
	}
	return n
}

// countRuns counts the runs of a workflow ID, waiting for visibility to catch up.
func countRuns(t *testing.T, tc client.Client, wfID string) int {
	t.Helper()
	return int(countRunsAtLeast(t, tc, wfID, 1))
}

func waitClosed(t *testing.T, tc client.Client, wfID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.GetWorkflow(ctx, wfID, "").Get(ctx, nil); err != nil {
		t.Fatalf("workflow %s did not complete: %v", wfID, err)
	}
}

// A long case continues as new runs before its history grows large, carrying
// its state; retries stay idempotent across runs.
func TestLongCaseContinuesAsNew(t *testing.T) {
	s := newStackWith(t, 40) // a handful of exchanges per run
	openKey := "long-" + randomHex(8)
	opened := s.do("POST", "/v1/cases", tenantA, sampleCase(), "Idempotency-Key", openKey)
	var ex api.ExchangeJSON
	opened.decode(t, &ex)
	c := ex.Case
	const n = 25
	first, bodies := map[string]int64{}, map[string]string{}
	var firstKey string
	for i := range n {
		key := fmt.Sprintf("m-%d-%s", i, randomHex(4))
		if i == 0 {
			firstKey = key
		}
		r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}, "Idempotency-Key", key)
		if r.Status != http.StatusOK {
			t.Fatalf("message %d: %d %s", i, r.Status, r.Body)
		}
		var got api.ExchangeJSON
		r.decode(t, &got)
		if got.Message.Seq != int64(3+2*i) {
			t.Fatalf("message %d has seq %d, want %d: state lost across runs", i, got.Message.Seq, 3+2*i)
		}
		first[key], bodies[key] = got.Message.Seq, inScope(i)
	}
	if runs := countRunsAtLeast(t, s.temporal, c.WorkflowID, 3); runs < 3 {
		t.Fatalf("%d runs; the case should have continued as new several times", runs)
	}
	// Retries of messages recorded by earlier runs, and of the opening, change nothing.
	// The first message's key went to the first run: its retry takes the
	// "applied-messages" path, whose history the replay test keeps
	// (CaseWorkflow_continued.json is a run from before that path, when the
	// API answered such retries from the records).
	var again api.ExchangeJSON
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(0)}, "Idempotency-Key", firstKey).decode(t, &again)
	if again.Message.Seq != 3 {
		t.Fatalf("retry of the first message got seq %d, want 3", again.Message.Seq)
	}
	s.recordHistory(c.WorkflowID, "retry_in_later_run")
	for key, seq := range first {
		var got api.ExchangeJSON
		s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: bodies[key]}, "Idempotency-Key", key).decode(t, &got)
		if got.Message.Seq != seq || got.Message.Body != bodies[key] {
			t.Fatalf("retry of %s got seq %d %q, want %d %q", key, got.Message.Seq, got.Message.Body, seq, bodies[key])
		}
		// The key with another message is refused, not answered with the first.
		r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "again"}, "Idempotency-Key", key)
		if r.Status != http.StatusUnprocessableEntity || r.errorCode(t) != "idempotency_key_reused" {
			t.Fatalf("key %s reused with another body: %d %s", key, r.Status, r.Body)
		}
	}
	if r := s.do("POST", "/v1/cases", tenantA, sampleCase(), "Idempotency-Key", openKey); r.Status != http.StatusOK {
		t.Fatalf("retried opening: %d", r.Status)
	}
	var all api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA, nil).decode(t, &all)
	if len(all.Messages) != 2+2*n {
		t.Fatalf("%d messages, want %d", len(all.Messages), 2+2*n)
	}
	q, err := s.temporal.QueryWorkflow(context.Background(), c.WorkflowID, "", workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.CaseState
	if err := q.Get(&st); err != nil || st.Messages != 2+2*n || st.Seq != int64(2+2*n) || st.Policy.Profile != "efficiency-first" {
		t.Fatalf("carried state = %+v, %v", st, err)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "done"}); r.Status != http.StatusOK {
		t.Fatalf("close after continuing: %d %s", r.Status, r.Body)
	}
	waitClosed(t, s.temporal, c.WorkflowID)
}

// countRunsAtLeast waits for visibility to show at least want runs of a workflow ID.
func countRunsAtLeast(t *testing.T, tc client.Client, wfID string, want int64) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := tc.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = '%s'", wfID),
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetCount() >= want || time.Now().After(deadline) {
			return resp.GetCount()
		}
		time.Sleep(100 * time.Millisecond)
	}
}
