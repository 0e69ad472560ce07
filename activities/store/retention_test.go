package store_test

import (
	"context"
	"testing"
	"time"

	"tandem/activities/store"
)

func TestRetentionPurgesExpiredContentExceptUnderHold(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	closedCase := func(id, customer string, closedDaysAgo int) {
		t.Helper()
		at := now.Add(-time.Duration(closedDaysAgo) * 24 * time.Hour)
		c := store.Case{TenantID: "acme", ID: id, WorkflowID: "case:acme:" + id, CustomerRef: customer, Subject: "s",
			Channel: "api", Priority: "normal", Status: "closed", LastSeq: 3, OpenedAt: at, UpdatedAt: at, ClosedAt: &at}
		m := store.Message{TenantID: "acme", CaseID: id, Seq: 1, AuthorKind: "customer", Body: "old words", CreatedAt: at}
		if _, err := st.RecordCase(ctx, c, []store.Message{m}, nil); err != nil {
			t.Fatal(err)
		}
	}
	const (
		expired    = "11111111-0000-4000-8000-000000000001"
		recent     = "11111111-0000-4000-8000-000000000002"
		heldCase   = "11111111-0000-4000-8000-000000000003"
		heldPerson = "11111111-0000-4000-8000-000000000004"
	)
	closedCase(heldCase, "c3", 42)
	closedCase(heldPerson, "c4", 41)
	closedCase(expired, "c1", 40)
	closedCase(recent, "c2", 10)
	if _, err := st.PlaceHold(ctx, "acme", heldCase, "", "litigation", "admin-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PlaceHold(ctx, "acme", "", "c4", "inquiry", "admin-1"); err != nil {
		t.Fatal(err)
	}

	if r, err := st.PurgeExpired(ctx, "acme", now, 100); err != nil || r.Purged != 0 {
		t.Fatalf("without a retention period: %+v %v", r, err)
	}
	days := 30
	if err := st.SetRetention(ctx, "acme", &days); err != nil {
		t.Fatal(err)
	}
	// With a batch of one, the held cases (closed first) must not hide the expired one.
	r, err := st.PurgeExpired(ctx, "acme", now, 1)
	if err != nil || r.Purged != 1 || r.Held != 2 {
		t.Fatalf("retention run: %+v %v; want 1 purged, 2 held", r, err)
	}
	if again, _ := st.PurgeExpired(ctx, "acme", now, 100); again.Purged != 0 || again.Held != 2 {
		t.Fatalf("second run: %+v", again)
	}

	c, msgs, err := st.GetCase(ctx, "acme", expired)
	if err != nil || c.PurgedAt == nil || !c.CustomerErased || c.CustomerRef != "" || c.Subject != "" || !msgs[0].Erased || msgs[0].Body != "" {
		t.Fatalf("purged case: %+v %+v %v", c, msgs, err)
	}
	for _, id := range []string{recent, heldCase, heldPerson} {
		c, msgs, err := st.GetCase(ctx, "acme", id)
		if err != nil || c.PurgedAt != nil || msgs[0].Body != "old words" {
			t.Fatalf("case %s lost content: %+v %v", id, msgs, err)
		}
	}
	var ciphertext int
	st.Owner(t).Raw("SELECT count(*) FROM messages WHERE case_id = ? AND body_ct IS NOT NULL", expired).Scan(&ciphertext)
	if ciphertext != 0 {
		t.Fatal("the purged case's ciphertext is still stored")
	}
	events, err := st.ListAudit(ctx, "acme", store.AuditFilter{Action: "case.purge", Limit: 10})
	if err != nil || len(events) != 1 || events[0].CaseID != expired || events[0].ActorID != "retention" {
		t.Fatalf("purge audit: %+v %v", events, err)
	}
	if v := verify(t, st); !v.OK {
		t.Fatalf("chain after purge: %+v", v)
	}
}
