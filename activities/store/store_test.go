package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"tandem/activities/envelope"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
)

const caseID = "5d0c3b9e-1111-4000-8000-000000000001"

func newStore(t *testing.T) *storetest.DB { return storetestNew(t) }

// storetestNew is a throwaway database with tenant acme.
func storetestNew(t testing.TB) *storetest.DB {
	st := storetest.New(t)
	if err := st.EnsureTenant(context.Background(), "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	return st
}

func snapshot(seq int64, status string) store.Case {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return store.Case{TenantID: "acme", ID: caseID, WorkflowID: "case:acme:" + caseID, CustomerRef: "c",
		Channel: "api", Priority: "normal", Status: status, LastSeq: seq, OpenedAt: at, UpdatedAt: at.Add(time.Duration(seq) * time.Second)}
}

func msg(seq int64, body string) store.Message {
	return store.Message{TenantID: "acme", CaseID: caseID, Seq: seq, AuthorKind: "customer", Body: body, CreatedAt: time.Now()}
}

// at places a snapshot at a position in the workflow's history.
func at(c store.Case, event int64) store.Case {
	c.ProjEvent = event
	return c
}

func TestRecordCaseIsIdempotentAndMovesForwardOnly(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	if _, err := st.RecordCase(ctx, at(snapshot(2, "ai_handling"), 10), []store.Message{msg(1, "a"), msg(2, "b")}, nil); err != nil {
		t.Fatal(err)
	}
	// A retry of the same write, and a newer one.
	conflicts, err := st.RecordCase(ctx, at(snapshot(2, "ai_handling"), 10), []store.Message{msg(1, "a"), msg(2, "b")}, nil)
	if err != nil || len(conflicts) != 0 {
		t.Fatalf("retry: conflicts %v, err %v", conflicts, err)
	}
	if _, err := st.RecordCase(ctx, at(snapshot(5, "closed"), 20), nil, nil); err != nil {
		t.Fatal(err)
	}
	// A late write from an earlier workflow task must not win.
	if _, err := st.RecordCase(ctx, at(snapshot(4, "ai_handling"), 5), []store.Message{msg(2, "changed"), msg(3, "c")}, nil); err != nil {
		t.Fatal(err)
	}
	c, msgs, err := st.GetCase(ctx, "acme", caseID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "closed" || c.LastSeq != 5 {
		t.Fatalf("case = %s at seq %d, want closed at 5", c.Status, c.LastSeq)
	}
	if len(msgs) != 3 || msgs[1].Body != "b" || msgs[2].Body != "c" {
		t.Fatalf("messages = %+v", msgs)
	}
	if _, _, err := st.GetCase(ctx, "globex", caseID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's read: %v, want ErrNotFound", err)
	}
}

// A workflow task lost in a crash wrote a message, a case row and an audit
// entry; the task done again later in the history committed others at the
// same sequence. The committed ones must win, visibly.
func TestCommittedWriteReplacesWhatALostTaskWrote(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	entry := func(actor string) store.AuditEvent {
		return store.AuditEvent{TenantID: "acme", ID: "case:acme:" + caseID + ":2:case.message", ActorKind: "service", ActorID: actor,
			Action: "case.message", ObjectType: "case", ObjectID: caseID, CaseID: caseID, Decision: "allow", Outcome: "success"}
	}
	if _, err := st.RecordCase(ctx, at(snapshot(1, "ai_handling"), 3), []store.Message{msg(1, "open")}, nil); err != nil {
		t.Fatal(err)
	}
	lost := at(snapshot(2, "ai_handling"), 8)
	if _, err := st.RecordCase(ctx, lost, []store.Message{msg(2, "lost with its task")}, []store.AuditEvent{entry("key-a")}); err != nil {
		t.Fatal(err)
	}
	committed := at(snapshot(2, "queued"), 11)
	conflicts, err := st.RecordCase(ctx, committed, []store.Message{msg(2, "committed")}, []store.AuditEvent{entry("key-b")})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Conflict{{CaseID: caseID, Seq: 2, Kind: store.ConflictMessageReplaced}, {CaseID: caseID, Seq: 2, Kind: store.ConflictAuditDiverged}}
	if fmt.Sprint(conflicts) != fmt.Sprint(want) {
		t.Fatalf("conflicts = %v, want %v", conflicts, want)
	}
	c, msgs, err := st.GetCase(ctx, "acme", caseID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "queued" || len(msgs) != 2 || msgs[1].Body != "committed" {
		t.Fatalf("case %s, messages %+v: want the committed write", c.Status, msgs)
	}
	// Nothing vanished: the committed entry is on the trail beside the lost
	// one, and each repair is audited and counted.
	trail, err := st.ListAudit(ctx, "acme", store.AuditFilter{CaseID: caseID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actors, repairs []string
	for _, e := range trail {
		switch e.Action {
		case "case.message":
			actors = append(actors, e.ActorID)
		case store.AuditProjectionRepaired:
			repairs = append(repairs, e.Reason)
		}
	}
	if fmt.Sprint(actors) != "[key-a key-b]" || fmt.Sprint(repairs) != "[message_replaced audit_diverged]" {
		t.Fatalf("trail: messages by %v, repairs %v", actors, repairs)
	}
	if n, err := st.ProjectionConflicts(ctx, "acme"); err != nil || n != 2 {
		t.Fatalf("conflicts counted: %d, %v; want 2", n, err)
	}
	// The lost task's write arriving again (a zombie) changes nothing.
	if conflicts, err := st.RecordCase(ctx, lost, []store.Message{msg(2, "lost with its task")}, nil); err != nil || len(conflicts) != 0 {
		t.Fatalf("late lost write: %v, %v", conflicts, err)
	}
	if _, msgs, _ := st.GetCase(ctx, "acme", caseID); msgs[1].Body != "committed" {
		t.Fatalf("a late write from a lost task replaced the committed message: %q", msgs[1].Body)
	}
}

func TestClaimIdempotencyKey(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	first, err := st.ClaimIdempotencyKey(ctx, "acme", "k1", "h1", caseID)
	if err != nil || !first {
		t.Fatalf("first claim: %v %v", first, err)
	}
	again, err := st.ClaimIdempotencyKey(ctx, "acme", "k1", "h1", caseID)
	if err != nil || again {
		t.Fatalf("second claim: first=%v err=%v; want false, nil", again, err)
	}
	if _, err := st.ClaimIdempotencyKey(ctx, "acme", "k1", "other", caseID); !errors.Is(err, store.ErrIdempotencyMismatch) {
		t.Fatalf("different request: %v, want ErrIdempotencyMismatch", err)
	}
}

func TestListCasesRejectsForeignCursor(t *testing.T) {
	st := newStore(t)
	for _, cur := range []string{"!!", "bm90LWEtY3Vyc29y", "MjAyNi0wMS0wMlQwMzowNDowNVp8eA"} {
		if _, _, err := st.ListCases(context.Background(), "acme", store.ListFilter{Limit: 5, Cursor: cur}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", cur, err)
		}
	}
}

func TestRotateMasterKey(t *testing.T) {
	st := storetestNew(t)
	ctx := context.Background()
	c := snapshot(2, "ai_handling")
	c.CustomerRef = "cust-rotate"
	if _, err := st.RecordCase(ctx, c, []store.Message{msg(1, "before rotation")}, nil); err != nil {
		t.Fatal(err)
	}
	next := envelope.MasterKey{ID: "next", Key: []byte("next-test-master-key-32-bytes!!!")}
	both, err := envelope.NewKeyring(next, storetest.TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	st.UseKeyring(both)
	n, err := st.RotateMasterKey(ctx)
	if err != nil || n != 2 { // the tenant's index key and the customer's data key
		t.Fatalf("rotate: %d, %v", n, err)
	}
	onlyNext, _ := envelope.NewKeyring(next)
	st.UseKeyring(onlyNext)
	got, msgs, err := st.GetCase(ctx, "acme", caseID)
	if err != nil || got.CustomerRef != "cust-rotate" || msgs[0].Body != "before rotation" {
		t.Fatalf("after rotation, with only the new key: %+v %+v %v", got, msgs, err)
	}
	onlyOld, _ := envelope.NewKeyring(storetest.TestMasterKey)
	st.UseKeyring(onlyOld)
	if _, _, err := st.GetCase(ctx, "acme", caseID); err == nil {
		t.Fatal("the retired master key still opens rotated keys")
	}
}

func TestSyncDefaultPolicyRules(t *testing.T) {
	st := storetestNew(t)
	ctx := context.Background()
	v1 := [][]string{{"p", "agent", "*", "case", "read", "allow"}, {"p", "agent", "*", "case", "close", "allow"}, {"g", "supervisor", "agent"}}
	if changed, err := st.SyncDefaultPolicyRules(ctx, v1); err != nil || !changed {
		t.Fatalf("first sync: %v %v", changed, err)
	}
	if _, err := st.AddPolicyRule(ctx, []string{"p", "finance", "acme", "case", "close", "allow"}); err != nil {
		t.Fatal(err)
	}
	if changed, _ := st.SyncDefaultPolicyRules(ctx, v1); changed {
		t.Fatal("syncing the same defaults changed something")
	}
	v2 := [][]string{{"p", "agent", "*", "case", "read", "allow"}, {"p", "agent", "*", "agent", "read", "allow"}, {"g", "supervisor", "agent"}}
	if changed, err := st.SyncDefaultPolicyRules(ctx, v2); err != nil || !changed {
		t.Fatalf("new defaults: %v %v", changed, err)
	}
	rows, _, err := st.PolicyRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rows)
	for _, want := range []string{"[p agent * case read allow]", "[p agent * agent read allow]", "[g supervisor agent]", "[p finance acme case close allow]"} {
		if !strings.Contains(got, want) {
			t.Errorf("rules lack %s: %s", want, got)
		}
	}
	if strings.Contains(got, "[p agent * case close allow]") {
		t.Errorf("a dropped default survived: %s", got)
	}
}

// A customer's workflow is sealed with its customer's key or not at all:
// one with no key bound is refused, never given the deployment's key, whose
// payloads an erasure could not reach. Other workflows have no key.
func TestUnboundCustomerWorkflowHasNoKey(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	for _, wf := range []string{"case:acme:" + caseID, "refund:acme:" + caseID} {
		if _, _, _, err := st.WorkflowKey(ctx, wf); !errors.Is(err, store.ErrNoPayloadKey) {
			t.Errorf("%s unbound: %v, want ErrNoPayloadKey", wf, err)
		}
	}
	if _, _, ok, err := st.WorkflowKey(ctx, "webhook:acme:wh_1"); ok || err != nil {
		t.Errorf("a webhook's workflow: %v %v, want no key and no error", ok, err)
	}
	if err := st.BindCaseKey(ctx, "acme", "cust-1", "case:acme:"+caseID); err != nil {
		t.Fatal(err)
	}
	if id, key, ok, err := st.WorkflowKey(ctx, "case:acme:"+caseID); !ok || err != nil || id == "" || len(key) != 32 {
		t.Errorf("bound: %q %d %v %v", id, len(key), ok, err)
	}
}
