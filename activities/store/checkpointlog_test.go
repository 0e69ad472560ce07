package store_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tandem/activities/store"
)

// Whoever owns the database can cut the chain short and take its
// checkpoints and head with it, so that the database alone verifies; the
// checkpoint kept outside it still says how far the chain went.
func TestExternalCheckpointCatchesATruncatedChain(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	log := &store.DirLog{Dir: t.TempDir()}
	appendN(t, st, 3)
	for range 2 { // a checkpoint at 3, then, after more entries, at 5
		cp, err := st.CheckpointAudit(ctx, "acme", key)
		if err != nil || cp == nil {
			t.Fatalf("checkpoint: %v %v", cp, err)
		}
		if err := log.Append(ctx, *cp); err != nil {
			t.Fatal(err)
		}
		if err := log.Append(ctx, *cp); err != nil { // again: written once
			t.Fatal(err)
		}
		if cp.Seq == 3 {
			for i := 4; i <= 5; i++ {
				appendOne(t, st, i)
			}
		}
	}
	raw, _ := os.ReadFile(filepath.Join(log.Dir, "acme.checkpoints.jsonl"))
	if n := strings.Count(string(raw), "\n"); n != 2 {
		t.Fatalf("the log holds %d lines, want 2", n)
	}
	external, err := log.Last(ctx, "acme")
	if err != nil || external == nil || external.Seq != 5 {
		t.Fatalf("last external checkpoint: %+v %v", external, err)
	}
	if v, err := st.VerifyAudit(ctx, "acme", pub, external); err != nil || !v.OK || v.Checkpoints != 2 {
		t.Fatalf("intact: %+v %v", v, err)
	}

	// The owner cuts the chain back to 3 and makes the database agree.
	owner := st.Owner(t)
	for _, stmt := range []string{
		"ALTER TABLE audit_events DISABLE TRIGGER USER",
		"ALTER TABLE audit_checkpoints DISABLE TRIGGER USER",
		"DELETE FROM audit_events WHERE seq > 3",
		"DELETE FROM audit_checkpoints WHERE seq > 3",
		"UPDATE audit_heads SET seq = 3, hash = (SELECT hash FROM audit_events WHERE tenant_id = 'acme' AND seq = 3) WHERE tenant_id = 'acme'",
	} {
		if err := owner.Exec(stmt).Error; err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if v, err := st.VerifyAudit(ctx, "acme", pub, nil); err != nil || !v.OK {
		t.Fatalf("the database alone should not see it (else this test proves nothing): %+v %v", v, err)
	}
	v, err := st.VerifyAudit(ctx, "acme", pub, external)
	if err != nil || v.OK || v.BrokenAt != 4 || !strings.Contains(v.Problem, "entries removed") {
		t.Fatalf("with the external checkpoint: %+v %v", v, err)
	}
	// A forged external checkpoint is refused, not believed.
	forged := *external
	forged.Seq = 9
	if v, err := st.VerifyAudit(ctx, "acme", pub, &forged); err != nil || v.OK || !strings.Contains(v.Problem, "not signed") {
		t.Fatalf("a forged external checkpoint: %+v %v", v, err)
	}
}

func appendOne(t *testing.T, st interface {
	AppendAudit(context.Context, store.AuditEvent) (store.AuditEvent, error)
}, i int) {
	t.Helper()
	if _, err := st.AppendAudit(context.Background(), store.AuditEvent{TenantID: "acme", ID: "more-" + string(rune('0'+i)), ActorKind: "user",
		ActorID: "alice", Action: "case.read", ObjectType: "case", ObjectID: caseID, CaseID: caseID, Decision: "allow", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
}
