package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"tandem/activities/auditlog"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
)

// signCheckpoint checkpoints acme's log with the tests' audit key.
func signCheckpoint(st *storetest.DB, external auditlog.CheckpointLog) (*auditlog.SignedCheckpoint, error) {
	signer, _ := auditlog.Signer(testKey)
	return st.CheckpointAudit(context.Background(), "acme", signer, testPub, external)
}

// verifyAll verifies acme's log against every checkpoint in log.
func verifyAll(t *testing.T, st *storetest.DB, log auditlog.CheckpointLog) store.Verification {
	t.Helper()
	all, err := log.All(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.VerifyAudit(context.Background(), "acme", store.VerifyOptions{Key: testPub, External: all})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ownerDoes(t *testing.T, st *storetest.DB, stmts ...string) {
	t.Helper()
	owner := st.Owner(t)
	for _, stmt := range append([]string{
		"ALTER TABLE audit_events DISABLE TRIGGER USER",
		"ALTER TABLE audit_checkpoints DISABLE TRIGGER USER",
		"ALTER TABLE audit_tree_hashes DISABLE TRIGGER USER",
	}, stmts...) {
		if err := owner.Exec(stmt).Error; err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// The database's owner cuts the newest entries (the evidence of what just
// happened), resets the head, the tree and the checkpoints past the cut,
// and lets traffic carry the forged chain past the old checkpoint. The
// signer refuses to sign a tree that does not extend the checkpoint kept
// outside, and says so on the trail; verification against every published
// checkpoint names the first one the log no longer contains.
func TestTruncatedAndCarriedOnLogIsRefusedAndFound(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	log := &auditlog.DirLog{Dir: t.TempDir()}
	appendN(t, st, 3)
	for _, more := range []int{2, 0} { // checkpoints of 3 and then 5 entries
		cp, err := signCheckpoint(st, log)
		if err != nil || cp == nil || cp.Note == "" {
			t.Fatalf("checkpoint: %+v %v", cp, err)
		}
		if again, err := signCheckpoint(st, log); err != nil || again != nil {
			t.Fatalf("a checkpoint of an unchanged log: %+v %v", again, err)
		}
		for i := 4; i < 4+more; i++ {
			appendOne(t, st, i)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(log.Dir, "acme.checkpoints.jsonl"))
	if n := strings.Count(string(raw), "\n"); n != 2 {
		t.Fatalf("the outside log holds %d lines, want 2", n)
	}
	if v := verifyAll(t, st, log); !v.OK || v.Checkpoints != 2 || v.TreeSize != 5 { // each kept in the database and outside
		t.Fatalf("intact: %+v", v)
	}

	ownerDoes(t, st,
		"DELETE FROM audit_events WHERE tenant_id = 'acme' AND seq > 3",
		"DELETE FROM audit_checkpoints WHERE tenant_id = 'acme' AND seq > 3",
		"UPDATE audit_heads SET seq = 3, hash = (SELECT hash FROM audit_events WHERE tenant_id = 'acme' AND seq = 3) WHERE tenant_id = 'acme'",
		fmt.Sprintf("DELETE FROM audit_tree_hashes WHERE tenant_id = 'acme' AND idx >= %d", tlog.StoredHashCount(3)),
		"UPDATE audit_trees SET size = 3, root = (SELECT hash FROM audit_checkpoints WHERE tenant_id = 'acme' AND seq = 3) WHERE tenant_id = 'acme'",
	)
	for i := 6; i <= 9; i++ { // traffic carries the chain past the old checkpoint
		appendOne(t, st, i)
	}
	v, err := st.VerifyAudit(ctx, "acme", store.VerifyOptions{Key: testPub})
	if err != nil || !v.OK {
		t.Fatalf("the database alone should not see it (else this test proves nothing): %+v %v", v, err)
	}

	_, err = signCheckpoint(st, log)
	var refused *store.CheckpointRefusedError
	if !errors.As(err, &refused) || refused.Signed != 5 {
		t.Fatalf("checkpoint of the forged log: %v, want refused against the checkpoint of 5", err)
	}
	if _, err := signCheckpoint(st, log); !errors.As(err, &refused) {
		t.Fatalf("second try: %v, want refused again", err)
	}
	noted, err := st.ListAudit(ctx, "acme", store.AuditFilter{Action: store.AuditCheckpointRefused, Limit: 10})
	if err != nil || len(noted) != 1 || noted[0].Decision != "deny" {
		t.Fatalf("the refusal on the trail: %+v %v, want one entry", noted, err)
	}
	if latest, _ := st.LatestCheckpoint(ctx, "acme"); latest.Seq != 3 {
		t.Fatalf("a checkpoint of %d entries was signed", latest.Seq)
	}
	v = verifyAll(t, st, log)
	if v.OK || v.BrokenAt != 5 || !strings.Contains(v.Problem, "no longer contains the checkpoint of 5 entries") {
		t.Fatalf("verification against the published checkpoints: %+v", v)
	}
}

// An entry in the middle edited and the chain after it re-hashed, as
// someone with the code would: the chain links, but its first entries no
// longer hash to the root the checkpoint signed.
func TestEditedAndReHashedEntryIsFound(t *testing.T) {
	st := newStore(t)
	log := &auditlog.DirLog{Dir: t.TempDir()}
	appendN(t, st, 6)
	if _, err := signCheckpoint(st, log); err != nil {
		t.Fatal(err)
	}
	events, err := st.ListAudit(context.Background(), "acme", store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	events[2].ActorID = "mallory" // entry 3
	var stmts []string
	prev := events[1].Hash
	for _, e := range events[2:] {
		e.PrevHash = prev
		e.Hash = store.ChainHash(prev, e)
		stmts = append(stmts, fmt.Sprintf("UPDATE audit_events SET actor_id = '%s', prev_hash = '\\x%x', hash = '\\x%x' WHERE tenant_id = 'acme' AND seq = %d",
			e.ActorID, e.PrevHash, e.Hash, e.Seq))
		prev = e.Hash
	}
	stmts = append(stmts, fmt.Sprintf("UPDATE audit_heads SET hash = '\\x%x' WHERE tenant_id = 'acme'", prev))
	ownerDoes(t, st, stmts...)
	if v, err := st.VerifyAudit(context.Background(), "acme", store.VerifyOptions{Key: testPub}); err != nil || v.OK || v.BrokenAt != 6 {
		t.Fatalf("against the database's own checkpoint: %+v %v", v, err)
	}
	ownerDoes(t, st, "DELETE FROM audit_checkpoints WHERE tenant_id = 'acme'")
	if v := verifyAll(t, st, log); v.OK || v.BrokenAt != 6 || !strings.Contains(v.Problem, "checkpoint of 6 entries") {
		t.Fatalf("against the published checkpoint: %+v", v)
	}
}

// Without the verify key there is no verification to report.
func TestVerificationNeedsTheVerifyKey(t *testing.T) {
	st := newStore(t)
	appendN(t, st, 2)
	if v, err := st.VerifyAudit(context.Background(), "acme", store.VerifyOptions{}); !errors.Is(err, store.ErrNoVerifyKey) || v.OK {
		t.Fatalf("verify without a key: %+v %v", v, err)
	}
}

func appendOne(t *testing.T, st interface {
	AppendAudit(context.Context, store.AuditEvent) (store.AuditEvent, error)
}, i int) {
	t.Helper()
	if _, err := st.AppendAudit(context.Background(), store.AuditEvent{TenantID: "acme", ID: fmt.Sprintf("more-%d", i), ActorKind: "user",
		ActorID: "alice", Action: "case.read", ObjectType: "case", ObjectID: caseID, CaseID: caseID, Decision: "allow", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
}

// Two checkpoints of one size with different roots, both signed by the
// audit key (the key's holder showed two histories): verification says
// the log was forked, whichever the chain agrees with.
func TestTwoCheckpointsOfOneSizeAreAFork(t *testing.T) {
	st := newStore(t)
	log := &auditlog.DirLog{Dir: t.TempDir()}
	appendN(t, st, 4)
	cp, err := signCheckpoint(st, log)
	if err != nil || cp == nil {
		t.Fatalf("checkpoint: %+v %v", cp, err)
	}
	signer, _ := auditlog.Signer(testKey)
	other, _ := auditlog.Sign(signer, "acme", cp.Seq, tlog.RecordHash([]byte("another history")))
	forked := *cp
	forked.Note, forked.Hash = other, []byte("another")
	other2 := &auditlog.DirLog{Dir: t.TempDir()}
	if err := other2.Append(context.Background(), forked); err != nil {
		t.Fatal(err)
	}
	v := verifyAll(t, st, other2)
	if v.OK || !strings.Contains(v.Problem, "forked") {
		t.Fatalf("two roots at one size: %+v", v)
	}
}

// An entry that does not link to the one the tree already holds (the
// chain rewritten below the tree's size, then carried on) is not
// integrated: the checkpoint is refused and the refusal audited.
func TestTreeIsNotExtendedOverARewrittenLink(t *testing.T) {
	st := newStore(t)
	appendN(t, st, 3)
	if _, err := signCheckpoint(st, nil); err != nil {
		t.Fatal(err)
	}
	events, _ := st.ListAudit(context.Background(), "acme", store.AuditFilter{Limit: 10})
	e := events[2]
	e.ActorID = "mallory"
	e.Hash = store.ChainHash(e.PrevHash, e)
	ownerDoes(t, st,
		fmt.Sprintf("UPDATE audit_events SET actor_id = 'mallory', hash = '\\x%x' WHERE tenant_id = 'acme' AND seq = 3", e.Hash),
		fmt.Sprintf("UPDATE audit_heads SET hash = '\\x%x' WHERE tenant_id = 'acme'", e.Hash))
	appendOne(t, st, 4) // links to the rewritten entry 3
	_, err := signCheckpoint(st, nil)
	var refused *store.CheckpointRefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "broken at 4") {
		t.Fatalf("checkpoint over a rewritten link: %v, want refused", err)
	}
}
