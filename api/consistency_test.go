package api_test

import (
	"net/http"
	"testing"
	"time"

	"tandem/activities/consistency"
	"tandem/activities/store"
)

// A record that differs from its workflow (as a lost workflow task leaves
// it: a later status, a sequence ahead, a message the workflow never took)
// is reported, repaired from the workflow's state, audited, and then clean.
func TestConsistencyCheckFindsAndRepairsDrift(t *testing.T) {
	s := newStack(t)
	ex := s.openCase(tenantA, sampleCase())
	clean := func() consistency.Report {
		var rep consistency.Report
		r := s.do("GET", "/v1/admin/consistency", tenantA+"/compliance", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("check: %d %s", r.Status, r.Body)
		}
		r.decode(t, &rep)
		return rep
	}
	if rep := clean(); !rep.Clean || rep.Checked != 1 || len(rep.Differences) != 0 {
		t.Fatalf("fresh case: %+v", rep)
	}

	db := s.store.DB()
	if err := db.Exec(`UPDATE cases SET status = 'queued', queue = 'general', last_seq = last_seq + 1 WHERE id = ?`, ex.Case.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO messages (tenant_id, case_id, seq, author_kind, author_id, body_ct, created_at, proj_event)
		SELECT tenant_id, case_id, 99, author_kind, author_id, body_ct, created_at, 1 FROM messages WHERE case_id = ? AND seq = 1`, ex.Case.ID).Error; err != nil {
		t.Fatal(err)
	}
	rep := clean()
	fields := map[string]bool{}
	for _, d := range rep.Differences {
		fields[d.Field] = true
	}
	if rep.Clean || !fields["status"] || !fields["queue"] || !fields["last_seq"] || !fields["uncommitted_messages"] {
		t.Fatalf("drift not reported: %+v", rep)
	}
	// Compliance reads; only an administrator repairs.
	if r := s.do("POST", "/v1/admin/consistency/repair", tenantA+"/compliance", nil); r.Status != http.StatusForbidden {
		t.Fatalf("compliance repairing: %d", r.Status)
	}
	var fixed consistency.Report
	if r := s.do("POST", "/v1/admin/consistency/repair", tenantA+"/admin", nil); r.Status != http.StatusOK {
		t.Fatalf("repair: %d %s", r.Status, r.Body)
	} else {
		r.decode(t, &fixed)
	}
	if !fixed.Clean || fixed.Repaired != 1 {
		t.Fatalf("repair: %+v", fixed)
	}
	if rep := clean(); !rep.Clean || len(rep.Differences) != 0 || rep.Conflicts < 2 {
		t.Fatalf("after repair: %+v", rep)
	}
	var got struct {
		Case     struct{ Status string }
		Messages []struct{ Seq int64 }
	}
	s.do("GET", "/v1/cases/"+ex.Case.ID, tenantA, nil).decode(t, &got)
	if got.Case.Status != ex.Case.Status || got.Messages[len(got.Messages)-1].Seq == 99 {
		t.Fatalf("record after repair: %+v", got)
	}
	// Each repaired row and each check is on the tenant's trail.
	trail, err := s.store.ListAudit(t.Context(), tenantA, store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range trail {
		seen[e.Action+"/"+e.Reason]++
	}
	if seen[store.AuditProjectionRepaired+"/case_repaired"] != 1 || seen[store.AuditProjectionRepaired+"/message_removed"] != 1 ||
		seen["consistency.repair/"] != 1 || seen["consistency.check/"] < 3 {
		t.Fatalf("trail: %v", seen)
	}
}

// With more cases than a check reads, the check reads the most recently
// written (where a lost workflow task's record would be), and the worker's
// paced check queries no faster than its rate.
func TestConsistencyCheckReadsNewestFirstAndPaced(t *testing.T) {
	s := newStack(t)
	var ids []string
	for range 4 {
		ids = append(ids, s.openCase(tenantA, sampleCase()).Case.ID)
	}
	// The first case's record is the oldest written: a check limited to
	// three leaves it out. The last one's record drifts.
	db := s.store.DB()
	if err := db.Exec(`UPDATE cases SET updated_at = updated_at - interval '1 hour' WHERE id = ?`, ids[0]).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`UPDATE cases SET status = 'queued' WHERE id = ?`, ids[3]).Error; err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	newest, err := s.store.CasesToCheck(ctx, tenantA, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range newest {
		if c.ID == ids[0] {
			t.Fatalf("a limited check read the oldest-written case: %v", newest)
		}
	}
	const rate = 4.0
	checker := &consistency.Checker{Store: s.store, Temporal: s.temporal, Rate: rate}
	start := time.Now()
	rep, err := checker.Check(ctx, tenantA, false)
	if err != nil {
		t.Fatal(err)
	}
	// A limiter of rate r lets n queries start no sooner than (n-1)/r apart.
	if took, least := time.Since(start), time.Duration(float64(rep.Checked-1)/rate*float64(time.Second)); rep.Checked != 4 || took < least {
		t.Fatalf("checked %d in %v, want 4 in at least %v", rep.Checked, took, least)
	}
	if len(rep.Differences) == 0 || rep.Differences[0].CaseID != ids[3] {
		t.Fatalf("the drift was not found: %+v", rep)
	}
}
