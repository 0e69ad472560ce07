package api_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/api"
	"tandem/workflows"
)

// A supervisor bulk-closes stale cases while the worker is stopped and
// started again midway: every case closes exactly once (one close entry
// on its trail), the batch has its own entries, a retry with the same key
// is the same bulk action. TANDEM_TEST_BULK_CASES sets how many (60).
func TestBulkCloseSurvivesAWorkerRestart(t *testing.T) {
	s := newStack(t)
	sup := tenantA + "/supervisor"
	n := 60
	if v, err := strconv.Atoi(os.Getenv("TANDEM_TEST_BULK_CASES")); err == nil && v > 0 {
		n = v
	}
	var ids []string
	for range n {
		ids = append(ids, s.openCase(tenantA, sampleCase()).Case.ID)
	}
	already := ids[0]
	s.do("POST", "/v1/cases/"+already+"/close", tenantA, api.CloseCaseRequest{Reason: "resolved"})
	unknown := "00000000-0000-4000-8000-000000000000"
	key := "bulk-" + randomHex(6)
	req := api.BulkRequest{Action: "close", CaseIDs: append(slices.Clone(ids), unknown), Reason: "stale", Rate: 50}
	r := s.do("POST", "/v1/bulk", sup, req, "Idempotency-Key", key)
	if r.Status != http.StatusAccepted {
		t.Fatalf("bulk: %d %s", r.Status, r.Body)
	}
	var started api.BulkBody
	r.decode(t, &started)
	if started.Bulk.Total != n-1 { // the closed case and the unknown one are not selected
		t.Fatalf("selected %d cases, want %d", started.Bulk.Total, n-1)
	}
	var again api.BulkBody
	s.do("POST", "/v1/bulk", sup, req, "Idempotency-Key", key).decode(t, &again)
	if again.Bulk.ID != started.Bulk.ID {
		t.Fatalf("a retry started bulk action %s, the first %s", again.Bulk.ID, started.Bulk.ID)
	}

	progress := func() api.BulkBody {
		var b api.BulkBody
		s.do("GET", "/v1/bulk/"+started.Bulk.ID, sup, nil).decode(t, &b)
		return b
	}
	deadline := time.Now().Add(time.Minute)
	for progress().Bulk.Counts["done"] < n/4 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", progress().Bulk)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.restartWorker(s.gateway) // midway
	for b := progress(); b.Bulk.Status != "completed"; b = progress() {
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatalf("not finished: %+v", b.Bulk)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b := progress(); b.Bulk.Counts["done"] != n-1 || b.Bulk.Counts["failed"] != 0 {
		t.Fatalf("finished: %+v", b.Bulk)
	}
	for _, id := range ids {
		closes, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: id, Action: workflows.AuditCaseClose, Limit: 10})
		if err != nil || len(closes) != 1 {
			t.Fatalf("case %s closed %d times (%v)", id, len(closes), err)
		}
		if id != already && (closes[0].Reason != "stale" || closes[0].ActorID != "supervisor-1") {
			t.Fatalf("case %s closed by %s for %q", id, closes[0].ActorID, closes[0].Reason)
		}
	}
	for _, action := range []string{"bulk.start", "bulk.finished"} {
		if got, _ := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{Action: action, Limit: 10}); len(got) != 1 {
			t.Fatalf("%d %s entries, want 1", len(got), action)
		}
	}
	s.recordHistory(workflows.BulkWorkflowID(tenantA, started.Bulk.ID), "close")
}

// A bulk action of fields, cancelled midway: the cases it reached are
// changed, the others cancelled, and it says so; another tenant and an
// agent cannot see or stop it.
func TestBulkCancelAndSetFields(t *testing.T) {
	s := newStack(t)
	sup := tenantA + "/supervisor"
	if r := s.do("PUT", "/v1/admin/case-fields/tier", tenantA+"/admin", api.CaseFieldRequest{Type: "enum", Options: []string{"gold", "silver"}}); r.Status != http.StatusCreated {
		t.Fatalf("define tier: %d %s", r.Status, r.Body)
	}
	var ids []string
	for range 30 {
		ids = append(ids, s.openCase(tenantA, sampleCase()).Case.ID)
	}
	r := s.do("POST", "/v1/bulk", sup, map[string]any{"action": "set_fields", "filter": map[string]any{"status": "ai_handling"},
		"add_tags": []string{"bulk-tagged"}, "fields": map[string]any{"tier": "silver"}, "rate": 2})
	if r.Status != http.StatusAccepted {
		t.Fatalf("bulk: %d %s", r.Status, r.Body)
	}
	var b api.BulkBody
	r.decode(t, &b)
	for _, tc := range []struct {
		who, method, path string
		want              int
	}{
		{tenantB + "/supervisor", "GET", "/v1/bulk/" + b.Bulk.ID, 404},
		{tenantB + "/supervisor", "POST", "/v1/bulk/" + b.Bulk.ID + "/cancel", 404},
		{tenantA + "/agent", "GET", "/v1/bulk/" + b.Bulk.ID, 403},
		{tenantA + "/agent", "POST", "/v1/bulk/" + b.Bulk.ID + "/cancel", 403},
	} {
		if r := s.do(tc.method, tc.path, tc.who, nil); r.Status != tc.want {
			t.Errorf("%s %s %s: %d %s, want %d", tc.who, tc.method, tc.path, r.Status, r.Body, tc.want)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if r := s.do("POST", "/v1/bulk/"+b.Bulk.ID+"/cancel", sup, nil); r.Status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(time.Minute)
	for b.Bulk.Status == "running" {
		if time.Now().After(deadline) {
			t.Fatalf("not stopped: %+v", b.Bulk)
		}
		time.Sleep(100 * time.Millisecond)
		s.do("GET", "/v1/bulk/"+b.Bulk.ID, sup, nil).decode(t, &b)
	}
	c := b.Bulk.Counts
	if b.Bulk.Status != "cancelled" || c["done"] == 0 || c["cancelled"] == 0 || c["done"]+c["cancelled"]+c["failed"] != 30 {
		t.Fatalf("cancelled: %+v", b.Bulk)
	}
	var tagged api.CaseList
	s.do("GET", "/v1/cases?limit=100&tag=bulk-tagged&field.tier=silver", sup, nil).decode(t, &tagged)
	if len(tagged.Cases) != c["done"] {
		t.Fatalf("%d cases tagged, %d done", len(tagged.Cases), c["done"])
	}
	s.recordHistory(workflows.BulkWorkflowID(tenantA, b.Bulk.ID), "cancelled")
	if r := s.do("POST", "/v1/bulk/"+b.Bulk.ID+"/cancel", sup, nil); r.Status != http.StatusConflict {
		t.Fatalf("cancel again: %d %s", r.Status, r.Body)
	}
	// A list of 10,000 fits the request (none of these exists); one more does not.
	many := make([]string, workflows.MaxBulkCases+1)
	for i := range many {
		many[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	if r := s.do("POST", "/v1/bulk", sup, api.BulkRequest{Action: "close", CaseIDs: many[:workflows.MaxBulkCases], Reason: "stale"}); r.Status != http.StatusAccepted {
		t.Fatalf("10,000 case IDs: %d %.200s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/bulk", sup, api.BulkRequest{Action: "close", CaseIDs: many, Reason: "stale"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("10,001 case IDs: %d %.200s", r.Status, r.Body)
	}
	for _, bad := range []map[string]any{
		{"action": "delete", "case_ids": []string{ids[0]}},
		{"action": "close", "reason": "stale"},
		{"action": "close", "case_ids": []string{ids[0]}, "reason": "Because I said so"},
		{"action": "reassign", "case_ids": []string{ids[0]}, "to": "nobody"},
		{"action": "close", "case_ids": []string{"not-a-uuid"}, "reason": "stale"},
		{"action": "close", "filter": map[string]any{"fields": map[string]string{"tier": "platinum"}}, "reason": "stale"},
	} {
		if r := s.do("POST", "/v1/bulk", sup, bad); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d %s, want 422", bad, r.Status, r.Body)
		}
	}
}
