package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"tandem/activities/store"
	"tandem/api"
	"tandem/workflows"
)

// Merging a duplicate: the target takes it in (a staff note in its place),
// the duplicate closes as merged and a message to it is answered 409
// case_merged with the target's ID; a retry changes nothing twice; only one
// customer's cases merge, and only cases the caller may work.
func TestMergeDuplicates(t *testing.T) {
	s := newStack(t)
	sup := tenantA + "/supervisor"
	ref := "cust-dup-" + randomHex(4)
	req := sampleCase()
	req.CustomerRef = ref
	dup := s.openCase(tenantA, req).Case
	target := s.openCase(tenantA, req).Case
	other := s.openCase(tenantA, sampleCase()).Case // another customer's

	merge := func(who, from, into string) response {
		return s.do("POST", "/v1/cases/"+from+"/merge", who, api.MergeRequest{Into: into})
	}
	if r := merge(sup, dup.ID, other.ID); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("merging another customer's case: %d %s", r.Status, r.Body)
	}
	if r := merge(tenantA+"/agent:agent-1", dup.ID, target.ID); r.Status != http.StatusNotFound {
		t.Fatalf("an agent who may not see the cases: %d %s", r.Status, r.Body)
	}
	if r := merge(tenantB+"/supervisor", dup.ID, target.ID); r.Status != http.StatusNotFound {
		t.Fatalf("another tenant: %d %s", r.Status, r.Body)
	}
	r := merge(sup, dup.ID, target.ID)
	if r.Status != http.StatusOK {
		t.Fatalf("merge: %d %s", r.Status, r.Body)
	}
	var got api.MergedBody
	r.decode(t, &got)
	if got.Case.Status != "closed" || got.Case.MergedInto != target.ID || !slices.Equal(got.Into.MergedFrom, []string{dup.ID}) {
		t.Fatalf("merged: %+v into %+v", got.Case, got.Into)
	}
	if r := merge(sup, dup.ID, target.ID); r.Status != http.StatusOK {
		t.Fatalf("a retried merge: %d %s", r.Status, r.Body)
	}
	if r := merge(sup, target.ID, dup.ID); r.Status != http.StatusConflict {
		t.Fatalf("merging into the closed duplicate: %d %s", r.Status, r.Body)
	}

	// The front end is sent on to the target.
	r = s.do("POST", "/v1/cases/"+dup.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Any news?"})
	if r.Status != http.StatusConflict || r.errorCode(t) != "case_merged" || !strings.Contains(string(r.Body), `"case_id":"`+target.ID+`"`) {
		t.Fatalf("a message to the merged case: %d %s", r.Status, r.Body)
	}
	// The target shows it took the duplicate in, once; the customer does not see the note.
	var staff api.CaseWithMessages
	s.do("GET", "/v1/cases/"+target.ID, sup, nil).decode(t, &staff)
	notes := 0
	for _, m := range staff.Messages {
		if m.Internal && strings.Contains(m.Body, dup.ID) {
			notes++
		}
	}
	if notes != 1 || !slices.Equal(staff.Case.MergedFrom, []string{dup.ID}) {
		t.Fatalf("the target: merged_from %v, %d notes", staff.Case.MergedFrom, notes)
	}
	if body := string(s.do("GET", "/v1/cases/"+target.ID, tenantA, nil).Body); strings.Contains(body, "was merged") {
		t.Fatalf("the customer sees the merge note: %s", body)
	}
	// Each case's trail records its step once.
	for _, tc := range []struct{ id, action string }{{dup.ID, workflows.AuditCaseClose}, {target.ID, workflows.AuditCaseMergedFrom}} {
		got, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: tc.id, Action: tc.action, Limit: 10})
		if err != nil || len(got) != 1 {
			t.Fatalf("%s of %s: %d entries (%v)", tc.action, tc.id, len(got), err)
		}
	}
	s.recordHistory(target.WorkflowID, "merged_from")
}

// Splitting: chosen customer messages start a new case of the same
// customer, which the AI answers; each case's note names the other; a
// retry finds the same case; only customer messages, only a case the
// caller may work.
func TestSplitMessages(t *testing.T) {
	s := newStack(t)
	sup := tenantA + "/supervisor"
	req := sampleCase()
	req.CustomerRef = "cust-split-" + randomHex(4)
	c := s.openCase(tenantA, req).Case
	s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Also, how do I change my delivery address?"})
	split := func(who string, seqs ...int64) response {
		return s.do("POST", "/v1/cases/"+c.ID+"/split", who, api.SplitRequest{MessageSeqs: seqs, Subject: "Delivery address"})
	}
	r := split(sup, 3)
	if r.Status != http.StatusCreated {
		t.Fatalf("split: %d %s", r.Status, r.Body)
	}
	var got api.ExchangeJSON
	r.decode(t, &got)
	if got.Case.ID == c.ID || got.Case.CustomerRef != req.CustomerRef || got.Case.Subject != "Delivery address" ||
		got.Message.Body != "Also, how do I change my delivery address?" || got.Reply == nil {
		t.Fatalf("the new case: %+v", got)
	}
	var again api.ExchangeJSON
	split(sup, 3).decode(t, &again)
	if again.Case.ID != got.Case.ID {
		t.Fatalf("a retried split opened %s, the first %s", again.Case.ID, got.Case.ID)
	}
	for _, tc := range []struct {
		who  string
		seqs []int64
		want int
	}{
		{sup, []int64{2}, 422},  // the AI's answer
		{sup, []int64{99}, 422}, // no such message
		{sup, nil, 422},
		{tenantA + "/agent:agent-1", []int64{3}, 404},
		{tenantB + "/supervisor", []int64{3}, 404},
		{tenantA, []int64{3}, 403},
	} {
		if r := split(tc.who, tc.seqs...); r.Status != tc.want {
			t.Errorf("%s splits %v: %d %s, want %d", tc.who, tc.seqs, r.Status, r.Body, tc.want)
		}
	}
	for _, tc := range []struct{ id, names string }{{c.ID, got.Case.ID}, {got.Case.ID, c.ID}} {
		var staff api.CaseWithMessages
		s.do("GET", "/v1/cases/"+tc.id, sup, nil).decode(t, &staff)
		notes := 0
		for _, m := range staff.Messages {
			if m.Internal && strings.Contains(m.Body, tc.names) {
				notes++
			}
		}
		if notes != 1 {
			t.Fatalf("case %s: %d notes naming %s, want 1", tc.id, notes, tc.names)
		}
	}
}
