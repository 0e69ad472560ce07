package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"tandem/activities/store"
)

func appendN(t *testing.T, st *store.Store, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		_, err := st.AppendAudit(context.Background(), store.AuditEvent{
			TenantID: "acme", ID: fmt.Sprintf("ev-%d", i), ActorKind: "user", ActorID: "alice",
			Action: "case.read", ObjectType: "case", ObjectID: caseID, CaseID: caseID,
			Decision: "allow", Outcome: "success", Details: `{"n":"` + fmt.Sprint(i) + `"}`,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func verify(t *testing.T, st *store.Store) store.Verification {
	t.Helper()
	v, err := st.VerifyAudit(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAuditAppendIsIdempotentAndChained(t *testing.T) {
	st := newStore(t)
	appendN(t, st, 3)
	again, err := st.AppendAudit(context.Background(), store.AuditEvent{TenantID: "acme", ID: "ev-2", Action: "other", Decision: "allow"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Seq != 2 || again.Action != "case.read" {
		t.Fatalf("re-appending ev-2 returned %+v, want the stored entry at seq 2", again)
	}
	if v := verify(t, st); !v.OK || v.Checked != 3 {
		t.Fatalf("verify = %+v, want ok over 3 entries", v)
	}
	events, err := st.ListAudit(context.Background(), "acme", store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		if i > 0 && string(e.PrevHash) != string(events[i-1].Hash) {
			t.Fatalf("entry %d does not link to entry %d", e.Seq, events[i-1].Seq)
		}
	}
}

func TestAuditTableRefusesChanges(t *testing.T) {
	st := newStore(t)
	appendN(t, st, 2)
	for _, stmt := range []string{
		"UPDATE audit_events SET actor_id = 'mallory' WHERE seq = 1",
		"DELETE FROM audit_events WHERE seq = 2",
		"TRUNCATE audit_events",
	} {
		err := st.DB().Exec(stmt).Error
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", stmt, err)
		}
	}
	if v := verify(t, st); !v.OK {
		t.Fatalf("refused changes broke the chain: %+v", v)
	}
}

// Someone who can switch the trigger off (the table's owner, a superuser)
// alters, removes, inserts or reorders entries: verify names the first broken one.
func TestAuditVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   []string
		brokenAt int64
	}{
		{"altered content", []string{"UPDATE audit_events SET actor_id = 'mallory' WHERE seq = 3"}, 3},
		{"altered details", []string{`UPDATE audit_events SET details = '{"n":"9"}' WHERE seq = 4`}, 4},
		{"removed entry", []string{"DELETE FROM audit_events WHERE seq = 2"}, 2},
		{"removed newest entries", []string{"DELETE FROM audit_events WHERE seq >= 4"}, 4},
		{"reordered entries", []string{
			"UPDATE audit_events SET seq = -3 WHERE seq = 3",
			"UPDATE audit_events SET seq = 3 WHERE seq = 2",
			"UPDATE audit_events SET seq = 2 WHERE seq = -3",
		}, 2},
		{"inserted entry", []string{
			"UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 3",
			"UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1003",
			`INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_kind, actor_id, action, object_type, object_id, decision, outcome, prev_hash, hash)
			 SELECT tenant_id, 3, 'forged', occurred_at, actor_kind, 'mallory', action, object_type, object_id, decision, outcome, hash, hash FROM audit_events WHERE seq = 2`,
		}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			appendN(t, st, 5)
			db := st.DB()
			// The CHECK (seq > 0) constraint is in the way of a three-step swap; a tamperer drops it too.
			stmts := append([]string{
				"ALTER TABLE audit_events DISABLE TRIGGER USER",
				"ALTER TABLE audit_events DROP CONSTRAINT audit_events_seq_check",
			}, tc.tamper...)
			for _, s := range stmts {
				if err := db.Exec(s).Error; err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			v := verify(t, st)
			if v.OK || v.BrokenAt != tc.brokenAt || v.Problem == "" {
				t.Fatalf("verify = %+v, want broken at %d", v, tc.brokenAt)
			}
		})
	}
}

func BenchmarkAuditAppend(b *testing.B) {
	st, _ := storetestNew(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := st.AppendAudit(ctx, store.AuditEvent{TenantID: "acme", ID: fmt.Sprintf("b-%d", i),
			ActorKind: "user", ActorID: "alice", Action: "case.read", Decision: "allow", Outcome: "success"}); err != nil {
			b.Fatal(err)
		}
	}
}
