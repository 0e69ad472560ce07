package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tandem/activities/money"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/api"
	"tandem/policies"
)

// fakeRecords answers the few store methods an HTTP test reaches; any
// other call panics on the nil interface, which the test sees as a 500.
type fakeRecords struct {
	api.Records
	keys          map[string]store.APIKey // by token
	notifications func(tenantID string, to store.Audience, cursor string, limit int) ([]store.Notification, string, error)
	audited       []store.AuditEvent
	tenants       []string
	cases         map[string]store.Case // by tenant + "/" + ID
	queues        map[string][]string   // by agent
	refunds       map[string][]store.Refund
	reads         []string // the records the handler read, in order
	listed        []listCall
	listAnswer    error
	balances      []money.AccountBalance
	books         []money.RefundBooks
	clearing      map[string]string
}

func (f *fakeRecords) TrialBalance(context.Context, string) ([]money.AccountBalance, error) {
	return f.balances, nil
}

func (f *fakeRecords) RefundLedgers(context.Context, string) ([]money.RefundBooks, error) {
	return f.books, nil
}

func (f *fakeRecords) ClearingByRefund(context.Context, string) (map[string]string, error) {
	return f.clearing, nil
}

func (f *fakeRecords) RefundsIn(_ context.Context, tenantID string, statuses []string, before time.Time) ([]store.StuckRefund, error) {
	f.reads = append(f.reads, fmt.Sprintf("refunds of %s in %v", tenantID, statuses))
	return []store.StuckRefund{}, nil
}

// provider is a payment provider that paid what it is given.
type provider struct {
	payments.Gateway
	paid []payments.Found
}

func (p provider) Payments(context.Context, string) ([]payments.Found, error) { return p.paid, nil }

// listCall is one listing or search of cases the handler asked for.
type listCall struct {
	Tenant, Query string
	Filter        store.ListFilter
}

func (f *fakeRecords) ListCases(_ context.Context, tenantID string, lf store.ListFilter) ([]store.Case, string, error) {
	f.listed = append(f.listed, listCall{Tenant: tenantID, Filter: lf})
	return f.page(tenantID)
}

func (f *fakeRecords) SearchCases(_ context.Context, tenantID, query string, lf store.ListFilter) ([]store.Case, string, error) {
	f.listed = append(f.listed, listCall{Tenant: tenantID, Query: query, Filter: lf})
	return f.page(tenantID)
}

func (f *fakeRecords) page(tenantID string) ([]store.Case, string, error) {
	if f.listAnswer != nil {
		return nil, "", f.listAnswer
	}
	var out []store.Case
	for _, c := range f.cases {
		if c.TenantID == tenantID {
			out = append(out, c)
		}
	}
	return out, "next-page", nil
}

func (f *fakeRecords) TenantExists(_ context.Context, id string) (bool, error) {
	return slices.Contains(f.tenants, id), nil
}

func (f *fakeRecords) TokenRevoked(context.Context, string, string, string, time.Time) (bool, error) {
	return false, nil
}

func (f *fakeRecords) GetCaseRow(_ context.Context, tenantID, caseID string) (store.Case, error) {
	f.reads = append(f.reads, "case "+tenantID+"/"+caseID)
	c, ok := f.cases[tenantID+"/"+caseID]
	if !ok {
		return store.Case{}, store.NotFound("case")
	}
	return c, nil
}

func (f *fakeRecords) AgentQueues(_ context.Context, _ string, agentID string) ([]string, error) {
	return f.queues[agentID], nil
}

func (f *fakeRecords) CaseRefunds(_ context.Context, tenantID, caseID string) ([]store.Refund, error) {
	f.reads = append(f.reads, "refunds "+tenantID+"/"+caseID)
	return f.refunds[caseID], nil
}

func (f *fakeRecords) AppendAudit(_ context.Context, e store.AuditEvent) (store.AuditEvent, error) {
	f.audited = append(f.audited, e)
	return e, nil
}

func (f *fakeRecords) AuthenticateAPIKey(_ context.Context, token string) (store.APIKey, error) {
	k, ok := f.keys[token]
	if !ok {
		return store.APIKey{}, store.ErrInvalidAPIKey
	}
	return k, nil
}

func (f *fakeRecords) PendingNotifications(_ context.Context, tenantID string, to store.Audience, cursor string, limit int) ([]store.Notification, string, error) {
	return f.notifications(tenantID, to, cursor, limit)
}

// fastTokens signs the people's tokens of these tests (test-only secret).
var fastTokens = api.TokenConfig{Secret: []byte("test-only-token-secret-32-bytes!"), Issuer: "tandem-test", Audience: "tandem"}

// personToken is a person's token of the tenant, with roles.
func personToken(t *testing.T, tenant, id string, roles ...string) string {
	t.Helper()
	tok, err := api.MintToken(fastTokens, tenant, id, roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// get asks the API over fake records for path with a bearer token (none
// if empty): no PostgreSQL, no Temporal.
func get(t *testing.T, records api.Records, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	return getWith(t, api.Config{Store: records}, path, token)
}

// getWith is get with more of the configuration (the tests' own tokens
// unless it names others).
func getWith(t *testing.T, cfg api.Config, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	cfg.Authorizer, cfg.Logger = authorizer(t), slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.Tokens.Secret == nil && cfg.Tokens.Keys == nil {
		cfg.Tokens = fastTokens
	}
	cfg.RequestTimeout = 5 * time.Second
	api.New(cfg).ServeHTTP(rec, req)
	return rec
}

func authorizer(t *testing.T) *policies.Authorizer {
	t.Helper()
	authz, err := policies.NewAuthorizer()
	if err != nil {
		t.Fatal(err)
	}
	return authz
}

const (
	frontEndKey   = store.APIKeyPrefix + "0123456789abcdef_frontend"
	complianceKey = store.APIKeyPrefix + "fedcba9876543210_compliance"
)

// What a caller gets from GET /v1/notifications: the page the records
// give for its audience, its limit checked at the edge, errors mapped.
func TestPendingNotificationsOverHTTP(t *testing.T) {
	created := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	note := store.Notification{ID: "n-1", CaseID: "c-1", Recipient: "customer", Kind: "case.replied", SubjectID: "m-2", CreatedAt: created}
	type asked struct {
		Tenant string
		To     store.Audience
		Cursor string
		Limit  int
	}
	cases := []struct {
		name      string
		token     string
		query     string
		answer    error // what the records answer with, after the page
		status    int
		body      string // JSON
		asked     *asked // what the records were asked; nil: not asked
		retryHint bool   // Retry-After expected
		audited   string // the action audited, if any
	}{
		{name: "default page", token: frontEndKey, status: 200,
			body:  `{"notifications":[{"id":"n-1","case_id":"c-1","recipient":"customer","kind":"case.replied","subject_id":"m-2","created_at":"2026-12-01T09:30:00Z"}],"next_cursor":"cur-2"}`,
			asked: &asked{Tenant: "acme", To: store.Audience{Recipients: []string{"customer"}, Channels: []string{"web"}}, Limit: 50}},
		{name: "cursor and limit pass through", token: frontEndKey, query: "?cursor=cur-2&limit=200", status: 200,
			body:  `{"notifications":[{"id":"n-1","case_id":"c-1","recipient":"customer","kind":"case.replied","subject_id":"m-2","created_at":"2026-12-01T09:30:00Z"}],"next_cursor":"cur-2"}`,
			asked: &asked{Tenant: "acme", To: store.Audience{Recipients: []string{"customer"}, Channels: []string{"web"}}, Cursor: "cur-2", Limit: 200}},
		{name: "limit not a number", token: frontEndKey, query: "?limit=ten", status: 422,
			body: `{"error":{"code":"validation_failed","message":"the request is invalid","fields":[{"field":"limit","message":"must be a whole number from 1 to 200"}]}}`},
		{name: "limit over the most", token: frontEndKey, query: "?limit=201", status: 422,
			body: `{"error":{"code":"validation_failed","message":"the request is invalid","fields":[{"field":"limit","message":"must be a whole number from 1 to 200"}]}}`},
		{name: "limit zero", token: frontEndKey, query: "?limit=0", status: 422,
			body: `{"error":{"code":"validation_failed","message":"the request is invalid","fields":[{"field":"limit","message":"must be a whole number from 1 to 200"}]}}`},
		{name: "no credential", status: 401},
		{name: "unknown key", token: store.APIKeyPrefix + "0000000000000000_nobody", status: 401},
		{name: "a role without the action", token: complianceKey, status: 403, audited: "authz.deny"},
		{name: "records down", token: frontEndKey, answer: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
			status: 503, retryHint: true,
			asked: &asked{Tenant: "acme", To: store.Audience{Recipients: []string{"customer"}, Channels: []string{"web"}}, Limit: 50}},
		{name: "records fail otherwise", token: frontEndKey, answer: errors.New("a bug"), status: 500,
			asked: &asked{Tenant: "acme", To: store.Audience{Recipients: []string{"customer"}, Channels: []string{"web"}}, Limit: 50}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got *asked
			records := &fakeRecords{
				keys: map[string]store.APIKey{
					frontEndKey:   {ID: "0123456789abcdef", TenantID: "acme", Role: "service", Channels: "web"},
					complianceKey: {ID: "fedcba9876543210", TenantID: "acme", Role: "compliance"},
				},
				notifications: func(tenantID string, to store.Audience, cursor string, limit int) ([]store.Notification, string, error) {
					got = &asked{Tenant: tenantID, To: to, Cursor: cursor, Limit: limit}
					if tc.answer != nil {
						return nil, "", tc.answer
					}
					return []store.Notification{note}, "cur-2", nil
				},
			}
			rec := get(t, records, "/v1/notifications"+tc.query, tc.token)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if diff := cmp.Diff(tc.asked, got); diff != "" {
				t.Errorf("what the records were asked (-want +got):\n%s", diff)
			}
			if tc.body != "" {
				var want, have any
				if err := json.Unmarshal([]byte(tc.body), &want); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &have); err != nil {
					t.Fatalf("body %q: %v", rec.Body, err)
				}
				if diff := cmp.Diff(want, have); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
			if rec.Code >= 400 && tc.body == "" {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("an error needs a code and a message: %s", rec.Body)
				}
				if strings.Contains(rec.Body.String(), "a bug") || strings.Contains(rec.Body.String(), "connection refused") {
					t.Errorf("the answer leaks the internal error: %s", rec.Body)
				}
			}
			var actions []string
			for _, e := range records.audited {
				actions = append(actions, e.Action+" "+e.Decision+" by "+e.ActorID)
			}
			var wantActions []string
			if tc.audited != "" {
				wantActions = []string{tc.audited + " deny by fedcba9876543210"}
			}
			if diff := cmp.Diff(wantActions, actions); diff != "" {
				t.Errorf("audited (-want +got):\n%s", diff)
			}
			if hint := rec.Header().Get("Retry-After"); (hint != "") != tc.retryHint {
				t.Errorf("Retry-After %q, want one: %v", hint, tc.retryHint)
			}
		})
	}
}

// GET /v1/cases/{id}/refunds answers only for a case the caller may see,
// and as its role may see it: another tenant's case, another agent's, a
// case of another channel and a malformed ID are all a plain 404, read
// before anything of the case is.
func TestCaseRefundsOverHTTP(t *testing.T) {
	person := func(tenant, id string, roles ...string) string { return personToken(t, tenant, id, roles...) }
	const (
		acmeCase   = "11111111-1111-4111-8111-111111111111"
		globexCase = "22222222-2222-4222-8222-222222222222"
	)
	assignee, queue := "agent-1", "billing"
	refund := store.Refund{TenantID: "acme", ID: "33333333-3333-4333-8333-333333333333", CaseID: acmeCase, OrderRef: "o-7", Kind: "refund",
		Amount: "20.00", Currency: "EUR", ReasonCode: "damaged", Status: "paid", Items: store.RawJSON("[]"), Evidence: store.RawJSON("[]"),
		RequestedBy: "agent-1"}
	staffView := []any{map[string]any{"tenant_id": "acme", "id": refund.ID, "case_id": acmeCase, "order_ref": "o-7", "kind": "refund",
		"amount": "20.00", "currency": "EUR", "reason_code": "damaged", "status": "paid", "auto_rejected": false, "appealable": false,
		"overturned": false, "items": []any{}, "evidence": []any{}, "requested_by": "agent-1",
		"created_at": "0001-01-01T00:00:00Z", "updated_at": "0001-01-01T00:00:00Z"}}
	customerView := []any{map[string]any{"refund_id": refund.ID, "case_id": acmeCase, "order_ref": "o-7", "kind": "refund",
		"amount": "20.00", "currency": "EUR", "reason_code": "damaged", "status": "paid", "appealable": false, "overturned": false}}
	cases := []struct {
		name    string
		token   string
		caseID  string
		status  int
		refunds []any    // the body's refunds; nil: an error
		reads   []string // what the handler read of the records
	}{
		{name: "the assigned agent", token: person("acme", "agent-1", "agent"), caseID: acmeCase, status: 200, refunds: staffView,
			reads: []string{"case acme/" + acmeCase, "refunds acme/" + acmeCase}},
		{name: "an agent of the case's queue", token: person("acme", "agent-3", "agent"), caseID: acmeCase, status: 404,
			reads: []string{"case acme/" + acmeCase}},
		{name: "another agent", token: person("acme", "agent-2", "agent"), caseID: acmeCase, status: 404,
			reads: []string{"case acme/" + acmeCase}},
		{name: "a supervisor", token: person("acme", "sup-1", "supervisor"), caseID: acmeCase, status: 200, refunds: staffView,
			reads: []string{"case acme/" + acmeCase, "refunds acme/" + acmeCase}},
		{name: "the case's front end", token: frontEndKey, caseID: acmeCase, status: 200, refunds: customerView,
			reads: []string{"case acme/" + acmeCase, "refunds acme/" + acmeCase}},
		{name: "another channel's front end", token: store.APIKeyPrefix + "aaaaaaaaaaaaaaaa_email", caseID: acmeCase, status: 404,
			reads: []string{"case acme/" + acmeCase}},
		{name: "another tenant's supervisor", token: person("globex", "sup-9", "supervisor"), caseID: acmeCase, status: 404,
			reads: []string{"case globex/" + acmeCase}},
		{name: "a supervisor asking for another tenant's case", token: person("acme", "sup-1", "supervisor"), caseID: globexCase, status: 404,
			reads: []string{"case acme/" + globexCase}},
		{name: "a malformed ID", token: person("acme", "sup-1", "supervisor"), caseID: "not-a-uuid", status: 404},
		{name: "a tenant that does not exist", token: person("initech", "sup-1", "supervisor"), caseID: acmeCase, status: 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The assigned agent is the only agent who sees an assigned
			// case, whatever queues the others work.
			records := &fakeRecords{
				tenants: []string{"acme", "globex"},
				keys: map[string]store.APIKey{
					frontEndKey: {ID: "0123456789abcdef", TenantID: "acme", Role: "service", Channels: "web"},
					store.APIKeyPrefix + "aaaaaaaaaaaaaaaa_email": {ID: "aaaaaaaaaaaaaaaa", TenantID: "acme", Role: "service", Channels: "email"},
				},
				cases: map[string]store.Case{
					"acme/" + acmeCase:     {TenantID: "acme", ID: acmeCase, Channel: "web", AssigneeID: &assignee, Queue: &queue, Status: "in_progress"},
					"globex/" + globexCase: {TenantID: "globex", ID: globexCase, Channel: "web", Status: "open"},
				},
				queues:  map[string][]string{"agent-3": {"billing"}},
				refunds: map[string][]store.Refund{acmeCase: {refund}},
			}
			rec := get(t, records, "/v1/cases/"+tc.caseID+"/refunds", tc.token)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if diff := cmp.Diff(tc.reads, records.reads); diff != "" {
				t.Errorf("reads (-want +got):\n%s", diff)
			}
			var body struct {
				Refunds []any `json:"refunds"`
				Error   struct{ Code string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if diff := cmp.Diff(tc.refunds, body.Refunds); diff != "" {
				t.Errorf("refunds (-want +got):\n%s", diff)
			}
			if tc.status == 404 && body.Error.Code != "case_not_found" {
				t.Errorf("a case out of reach answers case_not_found, not %q", body.Error.Code)
			}
		})
	}
}

// GET /v1/cases: the query checked at the edge, every problem named at
// once; what the records are asked for (the caller's tenant, an agent's
// scope, a front end's channels); who may search.
func TestCaseListOverHTTP(t *testing.T) {
	person := func(tenant, id string, roles ...string) string { return personToken(t, tenant, id, roles...) }
	const acmeCase = "11111111-1111-4111-8111-111111111111"
	from := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	invalid := func(fields ...string) string { return "validation_failed " + strings.Join(fields, ",") }
	cases := []struct {
		name   string
		token  string
		query  string
		answer error
		status int
		result string     // "validation_failed <fields>", an error code, or the IDs listed and the next cursor
		asked  []listCall // nil: the records were not asked
	}{
		{name: "a supervisor's first page", token: person("acme", "sup-1", "supervisor"), status: 200,
			result: acmeCase + " next-page", asked: []listCall{{Tenant: "acme", Filter: store.ListFilter{Limit: 20}}}},
		{name: "filters pass through", token: person("acme", "sup-1", "supervisor"), status: 200,
			query:  "?status=queued&queue=billing&limit=100&cursor=c1&from=2026-12-01T00:00:00Z",
			result: acmeCase + " next-page",
			asked:  []listCall{{Tenant: "acme", Filter: store.ListFilter{Status: "queued", Queue: "billing", Limit: 100, Cursor: "c1", OpenedFrom: &from}}}},
		{name: "an agent sees its scope", token: person("acme", "agent-3", "agent"), status: 200, result: acmeCase + " next-page",
			asked: []listCall{{Tenant: "acme", Filter: store.ListFilter{Limit: 20, Agent: &policies.AgentScope{AgentID: "agent-3", Queues: []string{"billing"}}}}}},
		{name: "a front end sees its channels", token: frontEndKey, status: 200, result: acmeCase + " next-page",
			asked: []listCall{{Tenant: "acme", Filter: store.ListFilter{Limit: 20, Channels: []string{"web"}}}}},
		{name: "every bad parameter named", token: person("acme", "sup-1", "supervisor"), status: 422,
			query: "?status=lost&limit=101&from=yesterday&to=2026-13-01&q=%20", result: invalid("status", "from", "to", "limit", "q")},
		{name: "a search", token: person("acme", "sup-1", "supervisor"), query: "?q=broken+lamp", status: 200, result: acmeCase + " next-page",
			asked: []listCall{{Tenant: "acme", Query: "broken lamp", Filter: store.ListFilter{Limit: 20}}}},
		{name: "a search of common words only", token: person("acme", "sup-1", "supervisor"), query: "?q=the", answer: store.ErrEmptySearch,
			status: 422, result: invalid("q"), asked: []listCall{{Tenant: "acme", Query: "the", Filter: store.ListFilter{Limit: 20}}}},
		{name: "a front end may not search", token: frontEndKey, query: "?q=lamp", status: 403, result: "forbidden"},
		{name: "a cursor from elsewhere", token: person("acme", "sup-1", "supervisor"), query: "?cursor=forged", answer: store.ErrBadCursor,
			status: 400, result: "invalid_cursor", asked: []listCall{{Tenant: "acme", Filter: store.ListFilter{Limit: 20, Cursor: "forged"}}}},
		{name: "another tenant's person sees its own", token: person("globex", "sup-9", "supervisor"), status: 200, result: " next-page",
			asked: []listCall{{Tenant: "globex", Filter: store.ListFilter{Limit: 20}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			records := &fakeRecords{
				tenants:    []string{"acme", "globex"},
				keys:       map[string]store.APIKey{frontEndKey: {ID: "0123456789abcdef", TenantID: "acme", Role: "service", Channels: "web"}},
				cases:      map[string]store.Case{"acme/" + acmeCase: {TenantID: "acme", ID: acmeCase, Channel: "web", Status: "queued"}},
				queues:     map[string][]string{"agent-3": {"billing"}},
				listAnswer: tc.answer,
			}
			rec := get(t, records, "/v1/cases"+tc.query, tc.token)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if diff := cmp.Diff(tc.asked, records.listed); diff != "" {
				t.Errorf("what the records were asked (-want +got):\n%s", diff)
			}
			var body struct {
				Cases      []struct{ ID string }
				NextCursor string `json:"next_cursor"`
				Error      struct {
					Code   string
					Fields []struct{ Field string }
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			var result string
			switch {
			case body.Error.Code == "validation_failed":
				var fields []string
				for _, f := range body.Error.Fields {
					fields = append(fields, f.Field)
				}
				result = invalid(fields...)
			case body.Error.Code != "":
				result = body.Error.Code
			default:
				var ids []string
				for _, c := range body.Cases {
					ids = append(ids, c.ID)
				}
				result = strings.Join(ids, ",") + " " + body.NextCursor
			}
			if diff := cmp.Diff(tc.result, result); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// GET /v1/ledger/reconciliation over fake books and a fake provider: what
// disagrees is reported, the stuck window is checked at the edge, and a
// server without a payment provider says so with a 503.
func TestReconciliationOverHTTP(t *testing.T) {
	books := []money.RefundBooks{
		{ID: "r-paid", Status: "paid", Amount: "20.00", Currency: "EUR", Booked: "20.00", Paid: "20.00"},
		{ID: "r-failed-but-paid", Status: "failed", Amount: "5.00", Currency: "EUR"},
	}
	balances := []money.AccountBalance{{Account: "customer_refunds", Currency: "EUR", Balance: "20.00"}, {Account: "psp_clearing", Currency: "EUR", Balance: "-20.00"}}
	paid := []payments.Found{{Key: "r-paid", Paid: true, Amount: "20.00", Currency: "EUR"}, {Key: "r-failed-but-paid", Paid: true, Amount: "5.00", Currency: "EUR"}}
	finance := personToken(t, "acme", "fin-1", "finance")
	cases := []struct {
		name     string
		token    string
		query    string
		provider payments.Gateway
		status   int
		want     string // reconciled, and the mismatches' keys; or the error code
		reads    []string
	}{
		{name: "a payment the ledger does not hold", token: finance, provider: provider{paid: paid}, status: 200,
			want:  "balanced, not reconciled: r-failed-but-paid",
			reads: []string{"refunds of acme in [payment_unknown]", "refunds of acme in [requested approved]"}},
		{name: "books and provider agree", token: finance, provider: provider{paid: paid[:1]}, status: 200,
			want:  "balanced, reconciled: ",
			reads: []string{"refunds of acme in [payment_unknown]", "refunds of acme in [requested approved]"}},
		{name: "a stuck window out of range", token: finance, query: "?stuck_after=1ms", provider: provider{paid: paid}, status: 422,
			want: "validation_failed"},
		{name: "no provider configured", token: finance, status: 503, want: "reconciliation_unavailable"},
		{name: "an agent may not", token: personToken(t, "acme", "agent-1", "agent"), provider: provider{paid: paid}, status: 403,
			want: "forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			records := &fakeRecords{tenants: []string{"acme"}, balances: balances, books: books, clearing: map[string]string{"r-paid": "20.00"}}
			rec := getWith(t, api.Config{Store: records, Payments: tc.provider}, "/v1/ledger/reconciliation"+tc.query, tc.token)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			var body struct {
				Balanced, Reconciled bool
				Mismatches           []struct{ Key string }
				Error                struct{ Code string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			got := body.Error.Code
			if got == "" {
				var keys []string
				for _, m := range body.Mismatches {
					keys = append(keys, m.Key)
				}
				got = map[bool]string{true: "balanced", false: "unbalanced"}[body.Balanced] + ", " +
					map[bool]string{true: "reconciled", false: "not reconciled"}[body.Reconciled] + ": " + strings.Join(keys, ",")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.reads, records.reads); diff != "" {
				t.Errorf("reads (-want +got):\n%s", diff)
			}
		})
	}
}
