package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"tandem/activities/objects"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.StopObjects()
	os.Exit(code)
}

// objectCase records an open case of the customer and returns its row.
func objectCase(t *testing.T, st *storetest.DB, id, customer string) store.Case {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	c := store.Case{TenantID: "acme", ID: id, WorkflowID: "case:acme:" + id, CustomerRef: customer, Subject: "parcel",
		Channel: "api", Priority: "normal", Status: "ai_handling", LastSeq: 1, OpenedAt: now, UpdatedAt: now}
	if _, err := st.RecordCase(ctx, c, []store.Message{{TenantID: "acme", CaseID: id, Seq: 1, AuthorKind: "customer", Body: "it came broken", CreatedAt: now}}, nil); err != nil {
		t.Fatal(err)
	}
	row, err := st.GetCaseRow(ctx, "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func putFile(t *testing.T, st *storetest.DB, c store.Case, id string, data []byte) store.Attachment {
	t.Helper()
	sum := sha256.Sum256(data)
	a, created, err := st.PutAttachment(context.Background(), c, store.Attachment{ID: id, UploaderKind: "service", UploaderID: "front",
		ContentType: "application/pdf", Size: int64(len(data)), Name: "invoice-4411.pdf", SHA256: hex.EncodeToString(sum[:]),
		CreatedAt: time.Now().UTC()}, data)
	if err != nil || !created {
		t.Fatalf("put %s: created %v, %v", id, created, err)
	}
	return a
}

func readFile(st *storetest.DB, c store.Case, id string) ([]byte, error) {
	_, r, err := st.AttachmentContent(context.Background(), c.TenantID, c.ID, id)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// The object store holds an attachment sealed, under a name that says
// nothing of it, and an erasure or a purge leaves nothing of it there.
func TestAttachmentsInTheObjectStore(t *testing.T) {
	st := newStore(t)
	weed := storetest.Objects(t)
	bucket := weed.Open(t, st.Store).Bucket
	ctx := context.Background()

	const (
		caseA = "a1a1a1a1-0000-4000-8000-000000000001"
		caseB = "a1a1a1a1-0000-4000-8000-000000000002"
		caseC = "a1a1a1a1-0000-4000-8000-000000000003"
		fileA = "f1f1f1f1-0000-4000-8000-000000000001"
		fileB = "f1f1f1f1-0000-4000-8000-000000000002"
		fileC = "f1f1f1f1-0000-4000-8000-000000000003"
	)
	a := objectCase(t, st, caseA, "cust-erased")
	b := objectCase(t, st, caseB, "cust-erased")
	kept := objectCase(t, st, caseC, "cust-kept")
	// Several pieces, and a marker to look for in what is stored.
	data := append([]byte("%PDF-1.4 INVOICE-4411 "), make([]byte, 200_000)...)
	rand.Read(data[30:])
	putFile(t, st, a, fileA, data)
	putFile(t, st, b, fileB, []byte("%PDF-1.4 a second file"))
	putFile(t, st, kept, fileC, []byte("%PDF-1.4 another customer's file"))

	// A retried upload of the same ID writes nothing more.
	if _, created, err := st.PutAttachment(ctx, a, store.Attachment{ID: fileA, UploaderKind: "service", UploaderID: "front",
		ContentType: "application/pdf", Size: 3, Name: "x.pdf", SHA256: "00", CreatedAt: time.Now().UTC()}, []byte("abc")); err != nil || created {
		t.Fatalf("retried upload: created %v, %v", created, err)
	}
	got, err := readFile(st, a, fileA)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes of %d: %v", len(got), len(data), err)
	}
	names := weed.Names(t, bucket)
	want := []string{"acme/" + caseA + "/" + fileA, "acme/" + caseB + "/" + fileB, "acme/" + caseC + "/" + fileC}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("objects %v, want %v", names, want)
	}
	raw := weed.Bytes(t, bucket, want[0])
	if bytes.Contains(raw, []byte("INVOICE-4411")) || bytes.Contains(raw, data[100:132]) {
		t.Fatal("the object holds the file in clear")
	}
	var inDB int64
	st.Owner(t).Raw(`SELECT count(*) FROM attachment_blobs`).Scan(&inDB)
	if inDB != 0 {
		t.Fatalf("%d attachments' bytes in PostgreSQL too", inDB)
	}

	// An object changed in the bucket does not open.
	tampered := bytes.Clone(raw)
	tampered[len(tampered)/2] ^= 1
	weed.Put(t, bucket, want[0], tampered)
	if _, err := readFile(st, a, fileA); err == nil {
		t.Fatal("a tampered object opened")
	}

	if _, err := st.EraseCustomer(ctx, "acme", "cust-erased"); err != nil {
		t.Fatal(err)
	}
	if names := weed.Names(t, bucket); len(names) != 1 || names[0] != want[2] {
		t.Fatalf("after the erasure the bucket holds %v; want only the other customer's file", names)
	}
	for _, f := range []struct {
		c  store.Case
		id string
	}{{a, fileA}, {b, fileB}} {
		if _, err := readFile(st, f.c, f.id); !errors.Is(err, store.ErrCustomerErased) {
			t.Fatalf("reading %s after the erasure: %v", f.id, err)
		}
	}
	if got, err := readFile(st, kept, fileC); err != nil || string(got) != "%PDF-1.4 another customer's file" {
		t.Fatalf("the other customer's file: %q %v", got, err)
	}
	var doomed int64
	st.Owner(t).Raw(`SELECT count(*) FROM object_deletions`).Scan(&doomed)
	if doomed != 0 {
		t.Fatalf("%d deletions left to do after the erasure", doomed)
	}
}

// A purge or erasure whose objects could not be deleted at once (the
// object store down) leaves the work recorded, and the next retention run
// deletes them.
func TestObjectsLeftByAPurgeAreDeletedByTheNextRun(t *testing.T) {
	st := newStore(t)
	weed := storetest.Objects(t)
	cfg := weed.Open(t, st.Store)
	ctx := context.Background()
	const (
		caseA = "b2b2b2b2-0000-4000-8000-000000000001"
		fileA = "e2e2e2e2-0000-4000-8000-000000000001"
	)
	a := objectCase(t, st, caseA, "cust")
	putFile(t, st, a, fileA, []byte("%PDF-1.4 doomed"))
	now := time.Now().UTC()
	closed := a
	closed.Status, closed.ClosedAt, closed.UpdatedAt, closed.LastSeq = "closed", ptrTime(now.Add(-40*24*time.Hour)), now, 2
	closed.CustomerRef, closed.Subject = "cust", "parcel"
	if _, err := st.RecordCase(ctx, closed, nil, nil); err != nil {
		t.Fatal(err)
	}
	days := 30
	if err := st.SetRetention(ctx, "acme", &days); err != nil {
		t.Fatal(err)
	}

	// The object store is unreachable for the purge: the case is purged,
	// its object stays, and the deletion is recorded.
	down := cfg
	down.Endpoint = "http://127.0.0.1:1"
	unreachable, err := objects.New(down)
	if err != nil {
		t.Fatal(err)
	}
	st.UseObjects(unreachable)
	if r, err := st.PurgeExpired(ctx, "acme", now, 10); err != nil || r.Purged != 1 {
		t.Fatalf("purge: %+v %v", r, err)
	}
	if names := weed.Names(t, cfg.Bucket); len(names) != 1 {
		t.Fatalf("objects after a purge with the store down: %v", names)
	}
	if _, err := readFile(st, a, fileA); !errors.Is(err, store.ErrCustomerErased) {
		t.Fatalf("reading the purged case's file: %v", err)
	}
	// The next run, with the store back.
	st.UseObjects(mustOpen(t, cfg))
	if err := st.DeleteDoomedObjects(ctx); err != nil {
		t.Fatal(err)
	}
	if names := weed.Names(t, cfg.Bucket); len(names) != 0 {
		t.Fatalf("objects after the next run: %v", names)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func mustOpen(t *testing.T, cfg objects.Config) *objects.Bucket {
	t.Helper()
	o, err := objects.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// An upload no message carried within its time is deleted, bytes and all,
// with an entry on the trail; one a message carries, one a refund names
// as evidence and a recent one stay.
func TestUnsentUploadsExpire(t *testing.T) {
	st := newStore(t)
	weed := storetest.Objects(t)
	bucket := weed.Open(t, st.Store).Bucket
	ctx := context.Background()
	const (
		caseA    = "c3c3c3c3-0000-4000-8000-000000000001"
		unsent   = "d3d3d3d3-0000-4000-8000-000000000001"
		sent     = "d3d3d3d3-0000-4000-8000-000000000002"
		evidence = "d3d3d3d3-0000-4000-8000-000000000003"
		recent   = "d3d3d3d3-0000-4000-8000-000000000004"
		claimed  = "d3d3d3d3-0000-4000-8000-000000000005"
	)
	a := objectCase(t, st, caseA, "cust")
	for _, id := range []string{unsent, sent, evidence, recent, claimed} {
		putFile(t, st, a, id, []byte("%PDF-1.4 "+id))
	}
	owner := st.Owner(t)
	if err := owner.Exec(`UPDATE attachments SET created_at = now() - interval '2 days' WHERE id IN ?`, []string{unsent, sent, evidence, claimed}).Error; err != nil {
		t.Fatal(err)
	}
	// A message naming it is on its way: the expiry spares it.
	if got, err := st.ClaimUploads(ctx, "acme", caseA, []string{claimed, sent}); err != nil || len(got) != 2 {
		t.Fatalf("claimed %v, %v", got, err)
	}
	now := time.Now().UTC()
	carried := a
	carried.LastSeq, carried.UpdatedAt = 2, now
	if _, err := st.RecordCase(ctx, carried, []store.Message{{TenantID: "acme", CaseID: caseA, Seq: 2, AuthorKind: "customer", Body: "the file",
		Attachments: []string{sent}, CreatedAt: now}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := owner.Exec(`INSERT INTO refunds (tenant_id, id, case_id, order_ref, kind, amount, currency, reason_code, status, rule,
			auto_rejected, items, evidence, requested_by, created_at, updated_at)
		VALUES ('acme', gen_random_uuid(), ?, 'o-1', 'refund', 10, 'EUR', 'damaged', 'requested', '', false, '[]', ?::jsonb, 'x', now(), now())`,
		caseA, `["courier:1", "`+evidence+`"]`).Error; err != nil {
		t.Fatal(err)
	}

	n, err := st.ExpireUnsentUploads(ctx, now.Add(-24*time.Hour), 100)
	if err != nil || n != 1 {
		t.Fatalf("expired %d, %v; want the one unsent old upload", n, err)
	}
	if _, err := readFile(st, a, unsent); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the expired upload: %v", err)
	}
	for _, id := range []string{sent, evidence, recent, claimed} {
		if got, err := readFile(st, a, id); err != nil || string(got) != "%PDF-1.4 "+id {
			t.Fatalf("%s after the expiry: %q %v", id, got, err)
		}
	}
	for _, name := range weed.Names(t, bucket) {
		if strings.HasSuffix(name, unsent) {
			t.Fatalf("the expired upload's object is left: %s", name)
		}
	}
	if len(weed.Names(t, bucket)) != 4 {
		t.Fatalf("objects after the expiry: %v", weed.Names(t, bucket))
	}
	events, err := st.ListAudit(ctx, "acme", store.AuditFilter{Action: "attachment.expire", Limit: 10})
	if err != nil || len(events) != 1 || events[0].ObjectID != unsent || events[0].CaseID != caseA {
		t.Fatalf("the expiry's trail: %+v %v", events, err)
	}
	if n, err := st.ExpireUnsentUploads(ctx, now.Add(-24*time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("a second run expired %d, %v", n, err)
	}
}
