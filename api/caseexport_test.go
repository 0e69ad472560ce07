package api_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/api"
)

// The export lists every case once, as a report wants it (times, codes,
// SLA, tags and fields, rating, refunds paid), in NDJSON or CSV, filtered
// as a listing is; message text only for a role that may read
// conversations and asks; audited.
func TestCaseExport(t *testing.T) {
	s := newStack(t)
	sup, agent := tenantA+"/supervisor", tenantA+"/agent:agent-1"
	if err := s.store.PutOrder(t.Context(), tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	resolved := s.openCase(tenantA, sampleCase()).Case
	s.handTo(agent, resolved.ID)
	s.do("POST", "/v1/cases/"+resolved.ID+"/fields", agent, `{"add_tags":["export-me"]}`)
	s.do("POST", "/v1/cases/"+resolved.ID+"/reply", agent, api.AgentMessageRequest{Body: "Found it."})
	var refund refundOut
	s.do("POST", "/v1/cases/"+resolved.ID+"/refunds", tenantA, refundBody("1001", "5.00")).decode(t, &refund)
	s.waitRefund(refund.Refund.RefundID, tenantA, final)
	if r := s.do("POST", "/v1/cases/"+resolved.ID+"/resolve", agent, api.ResolveRequest{Code: "refunded"}); r.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+resolved.ID+"/rating", tenantA, api.RatingRequest{Score: 4}); r.Status != http.StatusOK {
		t.Fatalf("rating: %d %s", r.Status, r.Body)
	}
	closed := s.openCase(tenantA, sampleCase()).Case
	s.do("POST", "/v1/cases/"+closed.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "duplicate_request"})
	open := s.openCase(tenantA, sampleCase()).Case
	s.waitCase(resolved.ID, func(c api.CaseJSON) bool { return c.Status == "resolved" })

	export := func(who, query string) response { return s.do("GET", "/v1/cases/export?"+query, who, nil) }
	r := export(sup, "")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/x-ndjson" || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", r.Status, r.Header)
	}
	rows := map[string]api.ExportedCase{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		var e api.ExportedCase
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("a line that is not JSON: %s", sc.Text())
		}
		rows[e.ID] = e
		order = append(order, e.ID)
	}
	if !slices.Equal(order, []string{resolved.ID, closed.ID, open.ID}) {
		t.Fatalf("exported %v, want the three cases oldest first", order)
	}
	got := rows[resolved.ID]
	if got.Status != "resolved" || got.ResolutionCode != "refunded" || got.EscalationReason != "customer_requested_human" ||
		got.FirstResponseAI == nil || got.FirstResponseHuman == nil || got.Resolution == nil || *got.FirstResponseHuman <= *got.FirstResponseAI ||
		got.CSAT == nil || *got.CSAT != 4 || got.RefundsPaid != "EUR 5.0000" || !slices.Equal(got.Tags, []string{"export-me"}) ||
		got.Customer != "" || got.Subject != "" || got.Messages != nil {
		t.Fatalf("the resolved case: %+v", got)
	}
	if c := rows[closed.ID]; c.Status != "closed" || c.CloseReason != "duplicate_request" || c.ClosedAt == nil {
		t.Fatalf("the closed case: %+v", c)
	}

	// CSV, filtered by a tag.
	r = export(sup, "format=csv&tag=export-me")
	records, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if r.Status != http.StatusOK || err != nil || len(records) != 2 || records[0][0] != "id" || records[1][0] != resolved.ID || records[1][11] != "refunded" {
		t.Fatalf("CSV: %d %v %q", r.Status, err, records)
	}

	// The conversation, for a role that may read it and asks.
	r = export(sup, "include=conversation&status=resolved")
	var withText api.ExportedCase
	if err := json.Unmarshal(bytes.TrimSpace(r.Body), &withText); err != nil || withText.Customer != "cust-42" || len(withText.Messages) < 4 {
		t.Fatalf("with the conversation: %v %+v", err, withText)
	}
	for _, tc := range []struct {
		who, query string
		want       int
	}{
		{tenantA + "/admin", "include=conversation", 403},
		{tenantA + "/admin", "", 200},
		{tenantA + "/compliance", "include=conversation", 200},
		{agent, "", 403},
		{tenantA, "", 403},
		{sup, "format=xml", 422},
		{sup, "from=yesterday", 422},
		{sup, "include=everything", 422},
	} {
		if r := export(tc.who, tc.query); r.Status != tc.want {
			t.Errorf("%s ?%s: %d %s, want %d", tc.who, tc.query, r.Status, r.Body, tc.want)
		}
	}
	// Another tenant's export holds none of these.
	if body := string(export(tenantB+"/supervisor", "").Body); strings.Contains(body, resolved.ID) {
		t.Fatal("another tenant's export lists this tenant's case")
	}
	exports, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{Action: "case.export", Limit: 20})
	if err != nil || len(exports) < 4 {
		t.Fatalf("%d exports audited (%v)", len(exports), err)
	}
}
