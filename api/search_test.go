package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"tandem/api"
)

// Staff search conversations by their words, in English and Chinese; the
// index holds no word in clear, follows the caller's scope and filters, and
// finds nothing of an erased customer.
func TestSearch(t *testing.T) {
	s := newStack(t)
	sup := tenantA + "/supervisor"
	open := func(customer, message string) string {
		req := sampleCase()
		req.CustomerRef, req.Subject, req.Message = customer+"-"+randomHex(4), "", message
		return s.openCase(tenantA, req).Case.ID
	}
	damaged := open("cust-box", "The parcel arrived damaged: the box was crushed and the lamp is broken.")
	refund := open("cust-zh", "我想申请退款，这个商品有问题。")
	where := open("cust-where", "Where is my parcel? It was due on Monday.")
	if r := s.do("POST", "/v1/cases/"+where+"/notes", sup, api.PostMessageRequest{Body: "Courier says their depot flooded."}); r.Status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.Status, r.Body)
	}
	search := func(who, query string, extra ...string) ([]string, response) {
		t.Helper()
		v := url.Values{"q": {query}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		r := s.do("GET", "/v1/cases?"+v.Encode(), who, nil)
		var list api.CaseList
		if r.Status == http.StatusOK {
			r.decode(t, &list)
		}
		var ids []string
		for _, c := range list.Cases {
			ids = append(ids, c.ID)
		}
		return ids, r
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"damaged", []string{damaged}},
		{"DAMAGE boxes", []string{damaged}}, // case and stems
		{"damaged Monday", nil},             // every word, in one case
		{"退款", []string{refund}},            // a two-character word
		{"退款 商品", []string{refund}},
		{"flooded depot", []string{where}}, // a staff note
		{"tracking link", nil},             // the AI's answers are not indexed
	} {
		if got, r := search(sup, tt.query); r.Status != http.StatusOK || !slices.Equal(got, tt.want) {
			t.Errorf("q=%q: %d %v, want %v (%s)", tt.query, r.Status, got, tt.want, r.Body)
		}
	}
	// Ranked: the case that uses the word most comes first; then pages.
	if r := s.do("POST", "/v1/cases/"+where+"/messages", tenantA, api.PostMessageRequest{Body: "Parcel, parcel, parcel: where is it?"}); r.Status != http.StatusOK {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	if got, _ := search(sup, "parcel"); !slices.Equal(got, []string{where, damaged}) {
		t.Fatalf("q=parcel: %v, want %v", got, []string{where, damaged})
	}
	first, r := search(sup, "parcel", "limit", "1")
	var page api.CaseList
	r.decode(t, &page)
	second, _ := search(sup, "parcel", "limit", "1", "cursor", page.NextCursor)
	if !slices.Equal(first, []string{where}) || !slices.Equal(second, []string{damaged}) {
		t.Fatalf("pages: %v then %v", first, second)
	}
	if got, _ := search(sup, "parcel", "status", "closed"); len(got) != 0 {
		t.Fatalf("q=parcel&status=closed: %v", got)
	}
	if got, _ := search(sup, "parcel", "from", "2999-01-01T00:00:00Z"); len(got) != 0 {
		t.Fatalf("q=parcel from the future: %v", got)
	}

	// Who may search, and what they see.
	if got, _ := search(tenantA+"/compliance", "damaged"); !slices.Equal(got, []string{damaged}) {
		t.Errorf("compliance: %v", got)
	}
	if got, r := search(tenantA+"/agent:agent-9", "damaged"); r.Status != http.StatusOK || len(got) != 0 {
		t.Errorf("an agent with none of these cases: %d %v", r.Status, got)
	}
	if _, r := search(tenantA, "damaged"); r.Status != http.StatusForbidden {
		t.Errorf("a front end searches: %d %s", r.Status, r.Body)
	}
	if got, _ := search(tenantB+"/supervisor", "damaged"); len(got) != 0 {
		t.Errorf("another tenant finds %v", got)
	}
	for _, bad := range []string{"", "the and of", "..."} {
		if _, r := search(sup, bad); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("q=%q: %d %s, want 422", bad, r.Status, r.Body)
		}
	}

	// Nothing in clear: no term of the index is a word, or a word's hash
	// under the tenant's index key alone.
	var plain int64
	if err := s.store.DB().Raw(`SELECT count(*) FROM search_terms WHERE position('damag'::bytea in term) > 0 OR length(term) <> 16`).Scan(&plain).Error; err != nil || plain != 0 {
		t.Fatalf("terms in clear or of another size: %d (%v)", plain, err)
	}

	// Rebuilt, the index answers the same.
	var before, after int64
	s.store.DB().Raw(`SELECT coalesce(sum(hits), 0) FROM search_terms WHERE case_id = ?`, where).Scan(&before)
	if err := s.store.ReindexCase(t.Context(), tenantA, where); err != nil {
		t.Fatal(err)
	}
	s.store.DB().Raw(`SELECT coalesce(sum(hits), 0) FROM search_terms WHERE case_id = ?`, where).Scan(&after)
	if before == 0 || after != before {
		t.Fatalf("reindexed: %d hits, incrementally %d", after, before)
	}

	// Erased, the customer's words find nothing, and their terms are gone.
	c := s.staffCase(tenantA, damaged)
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", api.EraseCustomerRequest{CustomerRef: c.CustomerRef, Reason: "customer_request"}); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	if got, _ := search(sup, "crushed lamp"); len(got) != 0 {
		t.Fatalf("after erasure, q=crushed lamp finds %v", got)
	}
	var left int64
	if s.store.DB().Raw(`SELECT count(*) FROM search_terms WHERE case_id = ?`, damaged).Scan(&left); left != 0 {
		t.Fatalf("%d search terms of the erased customer's case remain", left)
	}
	if err := s.store.ReindexCase(t.Context(), tenantA, damaged); err != nil {
		t.Fatal(err)
	}
	if s.store.DB().Raw(`SELECT count(*) FROM search_terms WHERE case_id = ?`, damaged).Scan(&left); left != 0 {
		t.Fatalf("reindexing the erased customer's case wrote %d terms", left)
	}
}
