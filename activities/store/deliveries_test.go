package store_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/activities/webhooks"
	"tandem/workflows"
)

// A delivery written for an endpoint wakes that endpoint's loop, and no
// other; when the listening connection is cut, it connects again and wakes
// every loop, since notifications sent meanwhile are lost; disabling the
// endpoint wakes its loop too.
func TestDeliveriesDueWakesTheEndpointsLoop(t *testing.T) {
	st := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	secret := "whsec_dGVzdC1vbmx5LXNlY3JldC0yNGJ5dGVz"
	opened, err := st.CreateWebhook(ctx, "acme", "admin-1", store.WebhookSpec{URL: "http://127.0.0.1:9/a", EventTypes: []string{"case.opened"}}, secret)
	if err != nil {
		t.Fatal(err)
	}
	closed, err := st.CreateWebhook(ctx, "acme", "admin-1", store.WebhookSpec{URL: "http://127.0.0.1:9/b", EventTypes: []string{"case.closed"}}, secret)
	if err != nil {
		t.Fatal(err)
	}
	due := webhooks.NewDeliveriesDue(st.AppURL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Subscribed before it listens, so that connecting wakes both.
	woken, stop := due.Subscribe("acme", opened.ID)
	defer stop()
	other, stopOther := due.Subscribe("acme", closed.ID)
	defer stopOther()
	listening := make(chan struct{})
	go func() { due.Listen(ctx); close(listening) }()
	defer func() { cancel(); <-listening }()

	awaitListening := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !due.Listening(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("not listening after 10 s")
			}
		}
		// Connecting wakes every loop: drain that.
		for _, ch := range []<-chan struct{}{woken, other} {
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
				t.Fatal("connecting did not wake a subscriber")
			}
		}
	}
	awaitWake := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no wake in 10 s", what)
		}
	}
	awaitListening()
	if next, err := st.NextDeliveryAt(ctx, "acme", opened.ID); err != nil || !next.IsZero() {
		t.Fatalf("next delivery with none pending: %v %v", next, err)
	}

	id := "33333333-0000-4000-8000-000000000001"
	now := time.Now()
	c := store.Case{TenantID: "acme", ID: id, WorkflowID: "case:acme:" + id, CustomerRef: "c-1", Subject: "s",
		Channel: "api", Priority: "normal", Status: workflows.StatusAIHandling, LastSeq: 1, OpenedAt: now, UpdatedAt: now}
	m := store.Message{TenantID: "acme", CaseID: id, Seq: 1, AuthorKind: "customer", Body: "hello", CreatedAt: now}
	a := store.AuditEvent{TenantID: "acme", ID: c.WorkflowID + ":1:case.open", OccurredAt: now, ActorKind: "service", ActorID: "k",
		Action: workflows.AuditCaseOpen, ObjectType: "case", ObjectID: id, CaseID: id, Decision: "allow", Outcome: "success"}
	if _, err := st.RecordCase(ctx, c, []store.Message{m}, []store.AuditEvent{a}); err != nil {
		t.Fatal(err)
	}
	awaitWake(woken, "a case.opened delivery")
	time.Sleep(200 * time.Millisecond) // a wrong wake would have come with it
	select {
	case <-other:
		t.Fatal("the case.closed endpoint was woken for a case.opened event")
	default:
	}

	// A failed attempt waits for its backoff: the loop learns when.
	pending, err := st.DueDeliveries(ctx, "acme", opened.ID, 10)
	if err != nil || len(pending) != 1 {
		t.Fatalf("due: %+v %v", pending, err)
	}
	retryAt := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	if err := st.FinishDelivery(ctx, "acme", opened.ID, pending[0].EventID, store.DeliveryPending, nil, "refused", retryAt); err != nil {
		t.Fatal(err)
	}
	if next, err := st.NextDeliveryAt(ctx, "acme", opened.ID); err != nil || !next.Equal(retryAt) {
		t.Fatalf("next delivery: %v %v, want %v", next, err, retryAt)
	}
	select { // the failed attempt's own update may wake the loop; it is awake anyway
	case <-woken:
	default:
	}
	// Sent again at once by hand: woken.
	if err := st.Redeliver(ctx, "acme", opened.ID, pending[0].EventID); err != nil {
		t.Fatal(err)
	}
	awaitWake(woken, "a redelivery")

	// The listening connection cut, as a PostgreSQL restart would.
	var cut int
	if err := st.DB().Raw(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&cut).Error; err != nil || cut != 1 {
		t.Fatalf("cut %d listening connections (%v), want 1", cut, err)
	}
	for deadline := time.Now().Add(10 * time.Second); due.Listening(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still listening 10 s after the connection was cut")
		}
	}
	awaitListening()
	if _, err := st.RecordCase(ctx, store.Case{TenantID: "acme", ID: "33333333-0000-4000-8000-000000000002", WorkflowID: "case:acme:33333333-0000-4000-8000-000000000002",
		CustomerRef: "c-2", Subject: "s", Channel: "api", Priority: "normal", Status: workflows.StatusAIHandling, LastSeq: 1, OpenedAt: now, UpdatedAt: now},
		nil, []store.AuditEvent{{TenantID: "acme", ID: "case:acme:33333333-0000-4000-8000-000000000002:1:case.open", OccurredAt: now, ActorKind: "service",
			ActorID: "k", Action: workflows.AuditCaseOpen, ObjectType: "case", ObjectID: "33333333-0000-4000-8000-000000000002",
			CaseID: "33333333-0000-4000-8000-000000000002", Decision: "allow", Outcome: "success"}}); err != nil {
		t.Fatal(err)
	}
	awaitWake(woken, "a delivery after the connection came back")

	// Disabled: the loop wakes to see it and stop.
	off := false
	if _, err := st.UpdateWebhook(ctx, "acme", opened.ID, store.WebhookSpec{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	awaitWake(woken, "the endpoint disabled")
}
