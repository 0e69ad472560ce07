package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"tandem/activities/store"
	"tandem/api"
	"tandem/workflows"
)

// Keyed updates are remembered by time, not count: a message's retry after
// a hundred later keyed messages and many continued runs is answered with
// the first exchange, not taken again; so is a staff action's (a release),
// which would otherwise be refused as the case has moved on; and a retry
// after workflows.KeyRetention is refused, 409 idempotency_key_expired,
// never applied again.
func TestKeyedUpdatesAreRememberedByTime(t *testing.T) {
	s := newStackWith(t, 40) // a handful of exchanges per run
	c := s.openCase(tenantA, sampleCase()).Case
	post := func(key, body string) response {
		t.Helper()
		return s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: body}, "Idempotency-Key", key)
	}
	first := post("k-first", inScope(0))
	if first.Status != http.StatusOK {
		t.Fatalf("first message: %d %s", first.Status, first.Body)
	}
	var ex api.ExchangeJSON
	first.decode(t, &ex)
	for i := range 101 {
		if r := post(fmt.Sprintf("k-%d", i), inScope(i+1)); r.Status != http.StatusOK {
			t.Fatalf("message %d: %d %s", i, r.Status, r.Body)
		}
	}
	if runs := countRunsAtLeast(t, s.temporal, c.WorkflowID, 3); runs < 3 {
		t.Fatalf("%d runs; the case should have continued as new several times", runs)
	}
	retry := post("k-first", inScope(0))
	var again api.ExchangeJSON
	if retry.Status == http.StatusOK {
		retry.decode(t, &again)
	}
	if retry.Status != http.StatusOK || again.Message.Seq != ex.Message.Seq {
		t.Fatalf("a retry after 101 later keyed messages: %d %s, want 200 with message %d", retry.Status, retry.Body, ex.Message.Seq)
	}

	// A staff action's retry in a later run.
	s.handTo(tenantA+"/agent", c.ID)
	release := func() response {
		t.Helper()
		return s.do("POST", "/v1/cases/"+c.ID+"/release", tenantA+"/agent", nil, "Idempotency-Key", "rel-1")
	}
	if r := release(); r.Status != http.StatusOK {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	runs := countRunsAtLeast(t, s.temporal, c.WorkflowID, 1)
	for i := range 10 { // enough history for another run
		if r := post(fmt.Sprintf("k-after-release-%d", i), inScope(i)); r.Status != http.StatusOK {
			t.Fatalf("message after the release: %d %s", r.Status, r.Body)
		}
	}
	if n := countRunsAtLeast(t, s.temporal, c.WorkflowID, runs+1); n <= runs {
		t.Fatalf("the case did not continue as new after the release (%d runs)", n)
	}
	if r := release(); r.Status != http.StatusOK || !contains(string(r.Body), `"status":"queued"`) {
		t.Fatalf("a release retried in a later run: %d %s, want 200 with the case queued", r.Status, r.Body)
	}
	releases, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{CaseID: c.ID, Action: workflows.AuditCaseRelease, Limit: 10})
	if err != nil || len(releases) != 1 {
		t.Fatalf("%d releases on the trail, want 1 (%v)", len(releases), err)
	}

	// Past the retention, a retry is refused and nothing is applied.
	if err := s.store.DB().Exec(`UPDATE update_keys SET first_used = now() - interval '25 hours' WHERE case_id = ? AND update_id = ?`,
		c.ID, workflows.MessageUpdateID("k-first")).Error; err != nil {
		t.Fatal(err)
	}
	before := s.staffCase(tenantA, c.ID)
	if r := post("k-first", inScope(0)); r.Status != http.StatusConflict || r.errorCode(t) != "idempotency_key_expired" {
		t.Fatalf("a retry past the retention: %d %s", r.Status, r.Body)
	}
	if after := s.staffCase(tenantA, c.ID); after.UpdatedAt != before.UpdatedAt {
		t.Fatalf("an expired key changed the case: %v → %v", before.UpdatedAt, after.UpdatedAt)
	}
	s.recordHistory(c.WorkflowID, "keyed_updates_by_time")
}
