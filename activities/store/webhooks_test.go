package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/workflows"
)

// A projection write makes the transitions' events, once however often it is
// retried, and a delivery for each endpoint that takes their type; the
// backlog is pruned, except what an endpoint still owes.
func TestEventsDeliveriesAndPruning(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	hook, err := st.CreateWebhook(ctx, "acme", "admin-1", store.WebhookSpec{URL: "http://127.0.0.1:9/h", EventTypes: []string{"case.opened"}}, "whsec_dGVzdC1vbmx5LXNlY3JldC0yNGJ5dGVz")
	if err != nil {
		t.Fatal(err)
	}
	write := func(id string, at time.Time) {
		t.Helper()
		c := store.Case{TenantID: "acme", ID: id, WorkflowID: "case:acme:" + id, CustomerRef: "c-" + id, Subject: "s",
			Channel: "api", Priority: "normal", Status: workflows.StatusAIHandling, LastSeq: 1, OpenedAt: at, UpdatedAt: at}
		m := store.Message{TenantID: "acme", CaseID: id, Seq: 1, AuthorKind: "customer", Body: "hello", CreatedAt: at}
		a := store.AuditEvent{TenantID: "acme", ID: c.WorkflowID + ":1:case.open", OccurredAt: at, ActorKind: "service", ActorID: "k",
			Action: workflows.AuditCaseOpen, ObjectType: "case", ObjectID: id, CaseID: id, Decision: "allow", Outcome: "success"}
		for range 2 { // a retried write
			if _, err := st.RecordCase(ctx, c, []store.Message{m}, []store.AuditEvent{a}); err != nil {
				t.Fatal(err)
			}
		}
	}
	old, fresh := "22222222-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000002"
	write(old, time.Now().Add(-100*time.Hour))
	write(fresh, time.Now())
	events, _, err := st.EventsAfter(ctx, "acme", 0, store.EventFilter{}, 100)
	if err != nil || len(events) != 2 || events[0].Type != "case.opened" || events[1].Type != "case.opened" {
		t.Fatalf("events after two writes, each twice: %+v %v", events, err)
	}
	due, err := st.DueDeliveries(ctx, "acme", hook.ID, 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("due deliveries: %+v %v", due, err)
	}
	// The old event is still owed: pruning keeps it until it is delivered.
	if n, err := st.PruneEvents(ctx, 72*time.Hour); err != nil || n != 0 {
		t.Fatalf("pruned %d owed events (%v)", n, err)
	}
	for _, d := range due {
		if err := st.FinishDelivery(ctx, "acme", hook.ID, d.EventID, store.DeliveryDelivered, nil, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.PruneEvents(ctx, 72*time.Hour); err != nil || n != 1 {
		t.Fatalf("pruned %d events, want the old one (%v)", n, err)
	}
	left, _, err := st.EventsAfter(ctx, "acme", 0, store.EventFilter{}, 100)
	if err != nil || len(left) != 1 || left[0].ID != "case:acme:"+fresh+":1:case.open" {
		t.Fatalf("left after pruning: %+v %v", left, err)
	}
}

// The settler's round every 200 ms and the live stream's reads never read
// the whole events table: after 20,000 events were written held and then
// released, with the statistics still counting them held (as between two
// of autovacuum's analyses), both plans use an index.
func TestEventReadsUseTheirIndexes(t *testing.T) {
	st := newStore(t)
	owner := st.Owner(t)
	for _, q := range []string{
		`INSERT INTO webhook_events (tenant_id, id, type, payload, occurred_at, held, workflow_id, run_id, proj_gen, proj_event)
			SELECT 'acme', 'ev-' || g, 'case.opened', '\x7b7d', now(), true, 'case:acme:x', 'run', 0, g FROM generate_series(1, 20000) g`,
		`ANALYZE webhook_events`,
		`UPDATE webhook_events SET held = false`,
	} {
		if err := owner.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	for name, q := range map[string]string{
		"held writes":  strings.Replace(store.HeldWritesSQL, "?", "100", 1),
		"events after": strings.NewReplacer("@tenant", "'acme'", "@after", "19000", "@limit", "500").Replace(store.EventsAfterSQL),
	} {
		var plan []string
		if err := owner.Raw("EXPLAIN " + q).Scan(&plan).Error; err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if strings.Contains(text, "Seq Scan on webhook_events") ||
			strings.Contains(text, "Bitmap Heap Scan on webhook_events") && !strings.Contains(text, "webhook_events_by_seq") {
			t.Errorf("%s reads the whole table:\n%s", name, text)
		}
	}
}
