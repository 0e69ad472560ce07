package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"tandem/api"
)

// A case's conversation and trail come in pages: every message once, in
// order, however long the case; a bad page parameter is 422, not a 500.
func TestCaseReadsArePaged(t *testing.T) {
	s := newStack(t)
	ex := s.openCase(tenantA, sampleCase())
	for i := range 3 {
		if r := s.do("POST", "/v1/cases/"+ex.Case.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}); r.Status != http.StatusOK {
			t.Fatalf("message %d: %d %s", i, r.Status, r.Body)
		}
	}
	var seqs []int64
	after := int64(0)
	for page := 0; ; page++ {
		var got api.CaseWithMessages
		r := s.do("GET", fmt.Sprintf("/v1/cases/%s?limit=3&after=%d", ex.Case.ID, after), tenantA+"/supervisor", nil)
		r.decode(t, &got)
		if r.Status != http.StatusOK || len(got.Messages) > 3 || page > 5 {
			t.Fatalf("page %d: %d %s", page, r.Status, r.Body)
		}
		for _, m := range got.Messages {
			seqs = append(seqs, m.Seq)
		}
		if got.NextAfter == 0 {
			if got.Metrics.FirstResponseAI == nil {
				t.Fatalf("metrics lost with paging: %+v", got.Metrics)
			}
			break
		}
		after = got.NextAfter
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5 6 7 8]" {
		t.Fatalf("messages over the pages: %v", seqs)
	}
	var trail api.CaseTrail
	s.do("GET", "/v1/cases/"+ex.Case.ID+"/trail?limit=2", tenantA+"/compliance", nil).decode(t, &trail)
	if len(trail.Trail) != 2 || trail.NextAfter == 0 {
		t.Fatalf("a trail page: %d entries, next %d", len(trail.Trail), trail.NextAfter)
	}
	for _, bad := range []string{"?limit=0", "?limit=501", "?after=-1", "?after=x"} {
		if r := s.do("GET", "/v1/cases/"+ex.Case.ID+bad, tenantA+"/supervisor", nil); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s, want 422", bad, r.Status, r.Body)
		}
	}
}
