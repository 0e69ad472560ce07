package store_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/activities/store/storetest"
)

func appendN(t *testing.T, st *storetest.DB, n int) {
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

// testPub and testKey are the audit key of the store's tests.
var testPub, testKey, _ = ed25519.GenerateKey(rand.Reader)

func verify(t *testing.T, st *storetest.DB) store.Verification {
	t.Helper()
	v, err := st.VerifyAudit(context.Background(), "acme", store.VerifyOptions{Key: testPub})
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
	if _, err := signCheckpoint(st, nil); err != nil {
		t.Fatal(err)
	}
	changes := []string{
		"UPDATE audit_events SET actor_id = 'mallory' WHERE seq = 1",
		"DELETE FROM audit_events WHERE seq = 2",
		"TRUNCATE audit_events",
		"UPDATE audit_checkpoints SET seq = 1",
	}
	// The application's role may not even try, nor touch the trigger.
	for _, stmt := range append(changes,
		"DROP TRIGGER audit_events_no_update_delete ON audit_events",
		"ALTER TABLE audit_events DISABLE TRIGGER USER",
		"DROP TABLE audit_events",
		"DELETE FROM goose_db_version",
	) {
		if err := st.DB().Exec(stmt).Error; err == nil {
			t.Errorf("as the application: %s succeeded", stmt)
		}
	}
	// The owner may, and the trigger still refuses.
	owner := st.Owner(t)
	for _, stmt := range changes {
		err := owner.Exec(stmt).Error
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("as the owner: %s: %v, want refused as append-only", stmt, err)
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
			db := st.Owner(t)
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

// BenchmarkAuditAppend appends to one tenant's chain, one entry per
// transaction as the API does, and reports the latency percentiles.
func BenchmarkAuditAppend(b *testing.B) {
	st := storetestNew(b)
	ctx := context.Background()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := st.AppendAudit(ctx, store.AuditEvent{TenantID: "acme", ID: fmt.Sprintf("b-%d", i),
			ActorKind: "user", ActorID: "alice", Action: "case.read", Decision: "allow", Outcome: "success"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkVerifyAudit measures verification speed over a chain of
// TANDEM_BENCH_AUDIT_ENTRIES entries (default 200,000) read from PostgreSQL,
// and reports it as seconds per million entries.
func BenchmarkVerifyAudit(b *testing.B) {
	n := 200_000
	if v := os.Getenv("TANDEM_BENCH_AUDIT_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	st := storetestNew(b)
	ctx := context.Background()
	prev := make([]byte, 32)
	batch := make([]store.AuditEvent, 0, 3000) // 16 columns each: under the 65,535-parameter limit
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		e := store.AuditEvent{TenantID: "acme", Seq: int64(i), ID: "bench-" + strconv.Itoa(i), OccurredAt: at.Add(time.Duration(i) * time.Millisecond),
			ActorKind: "user", ActorID: "agent-7", Action: "case.read", ObjectType: "case", ObjectID: caseID, CaseID: caseID,
			Decision: "allow", Outcome: "success", Details: `{"request_id":"0123456789abcdef"}`, PrevHash: prev}
		e.Hash = store.ChainHash(prev, e)
		prev = e.Hash
		batch = append(batch, e)
		if len(batch) == cap(batch) || i == n {
			if err := st.DB().Create(&batch).Error; err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := st.DB().Exec("INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ('acme', ?, ?)", n, prev).Error; err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		v, err := st.VerifyAudit(ctx, "acme", store.VerifyOptions{Key: testPub})
		if err != nil || !v.OK || v.Checked != int64(n) {
			b.Fatalf("verify = %+v, %v", v, err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e6/float64(n), "s/1M-entries")
}
