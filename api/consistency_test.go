package api_test

import (
	"net/http"
	"testing"
	"time"

	"tandem/activities/consistency"
	"tandem/activities/store"
	"tandem/api"
	"tandem/workflows"
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
	newest, err := s.store.CasesToCheck(ctx, tenantA, time.Time{}, 3)
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

// The worker's periodic check compares a closed case after it closes and
// then leaves it: its workflow has finished, so its record cannot drift,
// and replaying every finished workflow of the last day every period would
// be a load that grows with the day's cases. Open cases are compared in
// every pass; a pass that read all it may and left nothing unrepaired
// moves the watermark.
func TestPeriodicConsistencyCheckComparesAClosedCaseOnce(t *testing.T) {
	s := newStack(t)
	open := s.openCase(tenantA, sampleCase()).Case.ID
	closed := s.openCase(tenantA, sampleCase()).Case.ID
	if r := s.do("POST", "/v1/cases/"+closed+"/close", tenantA, api.CloseCaseRequest{Reason: "done"}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	// It closed an hour ago, as far as the record says.
	if err := s.store.DB().Exec(`UPDATE cases SET updated_at = updated_at - interval '1 hour' WHERE id = ?`, closed).Error; err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	checker := &consistency.Checker{Store: s.store, Temporal: s.temporal}
	checked := func(closedAfter time.Time) (consistency.Report, map[string]bool) {
		t.Helper()
		rows, err := s.store.CasesToCheck(ctx, tenantA, closedAfter, consistency.MaxCases)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, r := range rows {
			ids[r.ID] = true
		}
		rep, err := checker.CheckSince(ctx, tenantA, true, closedAfter)
		if err != nil {
			t.Fatal(err)
		}
		return rep, ids
	}
	start := time.Now()
	first, ids := checked(time.Time{})
	if !ids[open] || !ids[closed] || !first.Clean {
		t.Fatalf("the first pass must compare both cases: %v, %+v", ids, first)
	}
	mark := checker.Watermark(time.Time{}, start, first)
	if !mark.Equal(start.Add(-consistency.WatermarkMargin)) {
		t.Fatalf("watermark after a clean, complete pass: %v, want %v", mark, start.Add(-consistency.WatermarkMargin))
	}
	second, ids := checked(mark)
	if !ids[open] || ids[closed] || !second.Clean {
		t.Fatalf("the next pass must compare the open case only: %v, %+v", ids, second)
	}
	// A pass that left a difference unrepaired, or read as many cases as it
	// may, keeps the watermark where it was.
	if got := checker.Watermark(mark, time.Now(), consistency.Report{Checked: 1}); !got.Equal(mark) {
		t.Fatalf("an unclean pass moved the watermark to %v", got)
	}
	limited := &consistency.Checker{Store: s.store, Temporal: s.temporal, Limit: 2}
	if got := limited.Watermark(mark, time.Now(), consistency.Report{Checked: 2, Clean: true}); !got.Equal(mark) {
		t.Fatalf("a pass at its limit moved the watermark to %v", got)
	}
	// A closed case is compared with its finished workflow's result, which
	// is its final state: drift in its record is still found.
	if err := s.store.DB().Exec(`UPDATE cases SET last_seq = last_seq + 1 WHERE id = ?`, closed).Error; err != nil {
		t.Fatal(err)
	}
	rep, err := checker.Check(ctx, tenantA, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Clean || len(rep.Differences) != 1 || rep.Differences[0].CaseID != closed || rep.Differences[0].Field != "last_seq" {
		t.Fatalf("drift in a closed case's record: %+v", rep)
	}
}

// Erasure deletes an erased customer's case workflows (their histories
// held the customer's sealed text): the check passes over those closed
// cases, as over any Temporal has forgotten, instead of failing the
// tenant's whole check.
func TestConsistencyCheckAfterAnErasure(t *testing.T) {
	s := newStack(t)
	gone := openFor(s, tenantA, "cust-check-erase", "an issue")
	kept := s.openCase(tenantA, sampleCase()).Case.ID
	erase := api.EraseCustomerRequest{CustomerRef: "cust-check-erase", Reason: "customer_request"}
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", erase); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	checker := &consistency.Checker{Store: s.store, Temporal: s.temporal}
	rep, err := checker.Check(t.Context(), tenantA, false)
	if err != nil {
		t.Fatalf("check after erasing %s: %v", gone.ID, err)
	}
	if !rep.Clean || rep.Checked != 2 {
		t.Fatalf("check after erasure (kept %s): %+v", kept, rep)
	}
}

// A repair writes the state it read at the position it read it at: an
// update committed between the repair's read and its write (here a
// customer's message) is neither overwritten nor deleted, and a retry of
// that message is still answered with it.
func TestRepairNeverMovesARecordBackwards(t *testing.T) {
	s := newStack(t)
	ctx := t.Context()
	ex := s.openCase(tenantA, sampleCase())
	row, err := s.store.CaseRecord(ctx, tenantA, ex.Case.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.temporal.QueryWorkflow(ctx, row.WorkflowID, "", workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var read workflows.CaseState
	if err := resp.Get(&read); err != nil {
		t.Fatal(err)
	}
	if read.ReadAt == nil {
		t.Fatal("the Query's state does not say where it was read")
	}
	// Committed after the state was read, before the repair writes.
	msg := api.PostMessageRequest{Body: inScope(1)}
	first := s.do("POST", "/v1/cases/"+ex.Case.ID+"/messages", tenantA, msg, "Idempotency-Key", "after-the-read")
	if first.Status != http.StatusOK {
		t.Fatalf("message: %d %s", first.Status, first.Body)
	}
	var posted api.ExchangeJSON
	first.decode(t, &posted)
	last := posted.Message.Seq
	if posted.Reply != nil {
		last = posted.Reply.Seq
	}

	checker := &consistency.Checker{Store: s.store, Temporal: s.temporal}
	if _, err := checker.Repair(ctx, row, read); err != nil {
		t.Fatal(err)
	}
	after, err := s.store.CaseRecord(ctx, tenantA, ex.Case.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastSeq != last || after.LastSeq <= read.Seq {
		t.Fatalf("the repair moved the record back: last_seq %d, the committed message made it %d (the state read had %d)",
			after.LastSeq, last, read.Seq)
	}
	upTo, past, err := s.store.MessageCounts(ctx, tenantA, ex.Case.ID, last)
	if err != nil {
		t.Fatal(err)
	}
	if int(upTo) != read.Messages+2 || len(past) != 0 {
		t.Fatalf("messages after the repair: %d up to %d, %v past it; want %d", upTo, last, past, read.Messages+2)
	}
	retry := s.do("POST", "/v1/cases/"+ex.Case.ID+"/messages", tenantA, msg, "Idempotency-Key", "after-the-read")
	if retry.Status != http.StatusOK {
		t.Fatalf("retry after the repair: %d %s", retry.Status, retry.Body)
	}
	if rep, err := checker.Check(ctx, tenantA, false); err != nil || !rep.Clean {
		t.Fatalf("after the repair: %+v, %v", rep, err)
	}
}

// A case whose workflow cannot answer (its workflow tasks fail, as a panic
// or a non-determinism makes them) is reported as a difference of its own;
// the check goes on and repairs the tenant's other cases.
func TestConsistencyCheckCarriesOnPastABadCase(t *testing.T) {
	s := newStack(t)
	ctx := t.Context()
	good := s.openCase(tenantA, sampleCase()).Case.ID
	bad := s.openCase(tenantA, sampleCase()).Case.ID
	s.caseOnAFailingWorkflow(bad)
	db := s.store.DB()
	if err := db.Exec(`UPDATE cases SET status = 'queued', queue = 'general' WHERE id = ?`, good).Error; err != nil {
		t.Fatal(err)
	}
	checker := &consistency.Checker{Store: s.store, Temporal: s.temporal, Settle: time.Millisecond}
	rep, err := checker.Check(ctx, tenantA, true)
	if err != nil {
		t.Fatalf("one bad case ended the check: %v", err)
	}
	var badSeen, goodRepaired bool
	for _, d := range rep.Differences {
		badSeen = badSeen || d.CaseID == bad && d.Field == "workflow" && d.Workflow == "unreadable" && !d.Repaired
		goodRepaired = goodRepaired || d.CaseID == good && d.Field == "status" && d.Repaired
	}
	if rep.Checked != 2 || !badSeen || !goodRepaired || rep.Clean {
		t.Fatalf("report: %+v", rep)
	}
}
