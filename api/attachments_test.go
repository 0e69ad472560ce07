package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"tandem/activities/objects"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
	"tandem/api"
)

// multipartFile is a multipart/form-data body with one file, and its type.
func multipartFile(t *testing.T, name string, data []byte) ([]byte, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(data)
	w.Close()
	return body.Bytes(), w.FormDataContentType()
}

// photoWithLocation is a JPEG whose EXIF segment says where it was taken.
func photoWithLocation(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, nil); err != nil {
		t.Fatal(err)
	}
	exif := append([]byte("Exif\x00\x00"), []byte("GPSLatitude 51.5007N GPSLongitude 0.1246W")...)
	seg := append([]byte{0xFF, 0xE1, byte((len(exif) + 2) >> 8), byte(len(exif) + 2)}, exif...)
	raw := plain.Bytes()
	return append(append(append([]byte{}, raw[:2]...), seg...), raw[2:]...) // after SOI
}

// Files on messages, replies and notes: uploaded by the front end or the
// staff, typed by their bytes, images stripped of their metadata, sealed
// under the customer's key, downloaded only within the case's scope, never
// in the workflow's history, and gone with the customer's erasure.
func TestAttachments(t *testing.T) {
	s := newStack(t)
	agent1, agent2 := tenantA+"/agent:agent-1", tenantA+"/agent:agent-2"
	req := sampleCase()
	req.CustomerRef = "cust-photo-" + randomHex(4)
	c := s.openCase(tenantA, req).Case
	upload := func(who, name string, data []byte, headers ...string) response {
		t.Helper()
		body, ct := multipartFile(t, name, data)
		return s.do("POST", "/v1/cases/"+c.ID+"/attachments", who, body, append([]string{"Content-Type", ct}, headers...)...)
	}

	photo := photoWithLocation(t)
	if !bytes.Contains(photo, []byte("GPSLatitude")) {
		t.Fatal("the test photo has no location")
	}
	r := upload(tenantA, "parcel.jpg", photo, "Idempotency-Key", "photo-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	var up api.AttachmentBody
	r.decode(t, &up)
	if up.Attachment.ContentType != "image/jpeg" || up.Attachment.Name != "parcel.jpg" || up.Attachment.Size == 0 {
		t.Fatalf("uploaded: %+v", up.Attachment)
	}
	var again api.AttachmentBody
	if r := upload(tenantA, "parcel.jpg", photo, "Idempotency-Key", "photo-1"); r.Status != http.StatusOK {
		t.Fatalf("a retried upload: %d %s", r.Status, r.Body)
	} else if r.decode(t, &again); again.Attachment.ID != up.Attachment.ID {
		t.Fatalf("a retried upload made %s, the first %s", again.Attachment.ID, up.Attachment.ID)
	}
	for _, bad := range []struct {
		name string
		data []byte
		want int
	}{
		{"page.html", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), http.StatusUnsupportedMediaType},
		{"archive.zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00 not really a zip"), http.StatusUnsupportedMediaType},
		{"fake.jpg", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, []byte("no image here")...), http.StatusUnprocessableEntity},
		{"huge.txt", bytes.Repeat([]byte("a"), 10<<20+1), http.StatusRequestEntityTooLarge},
	} {
		if r := upload(tenantA, bad.name, bad.data); r.Status != bad.want {
			t.Errorf("upload %s: %d %s, want %d", bad.name, r.Status, r.Body, bad.want)
		}
	}

	// The customer's message carries the photo; the upload goes once.
	var ex api.ExchangeJSON
	r = s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Here is the box.", AttachmentIDs: []string{up.Attachment.ID}})
	if r.Status != http.StatusOK {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	r.decode(t, &ex)
	if len(ex.Message.Attachments) != 1 || ex.Message.Attachments[0].ID != up.Attachment.ID {
		t.Fatalf("the message's attachments: %+v", ex.Message.Attachments)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Again.", AttachmentIDs: []string{up.Attachment.ID}}); r.Status != http.StatusConflict {
		t.Fatalf("the photo on a second message: %d %s", r.Status, r.Body)
	}

	// The assigned agent sees it, stripped of where it was taken.
	s.handTo(agent1, c.ID)
	download := func(who, id string) response {
		return s.do("GET", "/v1/cases/"+c.ID+"/attachments/"+id, who, nil)
	}
	r = download(agent1, up.Attachment.ID)
	sum := sha256.Sum256(r.Body)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/jpeg" || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
		r.Header.Get("Content-Disposition") != `attachment; filename=parcel.jpg` || hex.EncodeToString(sum[:]) != up.Attachment.SHA256 {
		t.Fatalf("download: %d %v", r.Status, r.Header)
	}
	if bytes.Contains(r.Body, []byte("GPSLatitude")) || bytes.Contains(r.Body, []byte("Exif")) {
		t.Fatal("the stored photo kept its EXIF location")
	}
	if _, _, err := image.Decode(bytes.NewReader(r.Body)); err != nil {
		t.Fatalf("the stored photo is not an image: %v", err)
	}
	var seen api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, agent1, nil).decode(t, &seen)
	if !strings.Contains(string(mustJSON(t, seen.Messages)), up.Attachment.ID) {
		t.Fatalf("the agent's view lacks the attachment: %+v", seen.Messages)
	}
	for _, who := range []string{agent2, tenantB + "/supervisor", tenantB} {
		if r := download(who, up.Attachment.ID); r.Status != http.StatusNotFound {
			t.Errorf("%s downloads the photo: %d %s", who, r.Status, r.Body)
		}
	}
	if r := download(agent1, "00000000-0000-4000-8000-000000000000"); r.Status != http.StatusNotFound {
		t.Errorf("no such attachment: %d", r.Status)
	}

	// The staff's files: a note's stays with the staff; a reply's reaches
	// the customer. A front end cannot send the staff's upload as its own.
	var pdf, text api.AttachmentBody
	upload(agent1, "courier-report.pdf", []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")).decode(t, &pdf)
	big := bytes.Repeat([]byte("Returns are free within 30 days. "), 32<<10) // 1 MiB
	upload(agent1, "returns.txt", big).decode(t, &text)
	if pdf.Attachment.ContentType != "application/pdf" || text.Attachment.ContentType != "text/plain" {
		t.Fatalf("staff uploads: %+v %+v", pdf.Attachment, text.Attachment)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "mine?", AttachmentIDs: []string{pdf.Attachment.ID}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a front end sends the staff's upload: %d %s", r.Status, r.Body)
	}
	if r := download(tenantA, pdf.Attachment.ID); r.Status != http.StatusNotFound {
		t.Fatalf("a front end downloads the staff's unsent upload: %d", r.Status)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/notes", agent1, api.PostMessageRequest{Body: "The courier's report.", AttachmentIDs: []string{pdf.Attachment.ID}}); r.Status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/reply", agent1, api.AgentMessageRequest{Body: "Our returns policy.", AttachmentIDs: []string{text.Attachment.ID}}); r.Status != http.StatusOK {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	if r := download(tenantA, pdf.Attachment.ID); r.Status != http.StatusNotFound {
		t.Errorf("a front end downloads a note's file: %d", r.Status)
	}
	if r := download(tenantA, text.Attachment.ID); r.Status != http.StatusOK || !bytes.Equal(r.Body, big) {
		t.Errorf("a front end downloads the reply's file: %d (%d bytes)", r.Status, len(r.Body))
	}
	if r := download(agent1, pdf.Attachment.ID); r.Status != http.StatusOK {
		t.Errorf("the agent downloads the note's file: %d", r.Status)
	}

	// History holds references, never the bytes: the 1 MiB file is not in it.
	raw, err := client.Dial(client.Options{HostPort: s.temporalAddr, Logger: nopLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	size := 0
	for it := raw.GetWorkflowHistory(context.Background(), c.WorkflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT); it.HasNext(); {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		size += proto.Size(ev)
	}
	if size > 256<<10 {
		t.Fatalf("the case's history is %d bytes: a file went into it", size)
	}
	s.recordHistory(c.WorkflowID, "attachments")

	// Erased, nothing of the customer's files opens, and their bytes are gone.
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", api.EraseCustomerRequest{CustomerRef: req.CustomerRef, Reason: "customer_request"}); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	for _, id := range []string{up.Attachment.ID, pdf.Attachment.ID, text.Attachment.ID} {
		if r := download(agent1, id); r.Status != http.StatusGone {
			t.Errorf("after erasure, download %s: %d %s, want 410", id, r.Status, r.Body)
		}
	}
	var blobs, names int64
	s.store.DB().Raw(`SELECT count(*) FROM attachment_blobs b JOIN attachments a USING (tenant_id, id) WHERE a.case_id = ?`, c.ID).Scan(&blobs)
	s.store.DB().Raw(`SELECT count(*) FROM attachments WHERE case_id = ? AND meta_ct IS NOT NULL`, c.ID).Scan(&names)
	if blobs != 0 || names != 0 {
		t.Fatalf("after erasure: %d files' bytes and %d names left", blobs, names)
	}
	s.do("GET", "/v1/cases/"+c.ID, agent1, nil).decode(t, &seen)
	if body := string(mustJSON(t, seen.Messages)); strings.Contains(body, "parcel.jpg") || !strings.Contains(body, `"erased":true`) {
		t.Fatalf("after erasure, the messages: %s", body)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// With an object store: a customer's photo, sent by the front end, is seen
// by the assigned agent and by no other agent or tenant, and serves as a
// refund's evidence; a word the customer used finds the case. After the
// customer's erasure, neither the bucket, nor PostgreSQL, nor the search
// index holds anything of theirs that opens or matches.
func TestAttachmentsAndSearchInAnObjectStore(t *testing.T) {
	t.Parallel() // much of it is waiting for the object store and Temporal's deletions
	objects := storetest.Objects(t)
	var bucket string
	s := newStackAll(t, 0, nil, false, nil, func(st *store.Store) { bucket = objects.Open(t, st).Bucket })
	agent1, agent2 := tenantA+"/agent:agent-1", tenantA+"/agent:agent-2"
	req := sampleCase()
	req.CustomerRef = "cust-bucket-" + randomHex(4)
	req.Message = "My parcel came crushed, the vase inside is shattered."
	c := s.openCase(tenantA, req).Case
	upload := func(who, name string, data []byte) response {
		t.Helper()
		body, ct := multipartFile(t, name, data)
		return s.do("POST", "/v1/cases/"+c.ID+"/attachments", who, body, "Content-Type", ct)
	}
	search := func(query string) []string {
		t.Helper()
		r := s.do("GET", "/v1/cases?q="+url.QueryEscape(query), tenantA+"/supervisor", nil)
		var list api.CaseList
		r.decode(t, &list)
		var ids []string
		for _, found := range list.Cases {
			ids = append(ids, found.ID)
		}
		return ids
	}

	if r := upload(tenantA, "page.html", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")); r.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("an HTML upload: %d %s", r.Status, r.Body)
	}
	var photo, receipt api.AttachmentBody
	if r := upload(tenantA, "vase.jpg", photoWithLocation(t)); r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	} else {
		r.decode(t, &photo)
	}
	upload(tenantA, "receipt.pdf", []byte("%PDF-1.4\nRECEIPT-77\n%%EOF\n")).decode(t, &receipt)
	var files []string
	for range 6 {
		var a api.AttachmentBody
		upload(tenantA, "more.txt", []byte("more words")).decode(t, &a)
		files = append(files, a.Attachment.ID)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Six files.", AttachmentIDs: files}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a message with six files (five allowed): %d %s", r.Status, r.Body)
	}
	// An upload left unsent for a day expires, its object with it; one
	// named by a message meanwhile does not.
	s.store.DB().Exec(`UPDATE attachments SET created_at = now() - interval '2 days' WHERE id IN ?`, files[:2])
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "An old file.", AttachmentIDs: files[1:2]}); r.Status != http.StatusOK {
		t.Fatalf("a message with an old upload: %d %s", r.Status, r.Body)
	}
	if n, err := s.store.ExpireUnsentUploads(context.Background(), time.Now().Add(-24*time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("expired %d, %v; want the one old unsent upload", n, err)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Old file.", AttachmentIDs: files[:1]}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("an expired upload: %d %s", r.Status, r.Body)
	}
	if names := objects.Names(t, bucket); slices.Contains(names, "acme/"+c.ID+"/"+files[0]) || !slices.Contains(names, "acme/"+c.ID+"/"+files[1]) {
		t.Fatalf("after the expiry the bucket holds %v", names)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "A photo of the vase.", AttachmentIDs: []string{photo.Attachment.ID}}); r.Status != http.StatusOK {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	want := "acme/" + c.ID + "/" + photo.Attachment.ID
	if names := objects.Names(t, bucket); !slices.Contains(names, want) {
		t.Fatalf("the bucket holds %v, not %s", names, want)
	}
	if raw := objects.Bytes(t, bucket, want); bytes.Contains(raw, []byte("JFIF")) || bytes.Contains(raw, []byte{0xFF, 0xD8, 0xFF}) {
		t.Fatal("the photo is in the bucket in clear")
	}

	// The trail records the file's type, size, name and digest, the last
	// two sealed under the customer's key.
	r := s.do("GET", "/v1/audit/events?action=attachment.upload&case_id="+c.ID+"&limit=1", tenantA+"/compliance", nil)
	if got := string(r.Body); r.Status != http.StatusOK || !strings.Contains(got, `\"file_name\":\"sealed:`) || !strings.Contains(got, `\"sha256\":\"sealed:`) ||
		!strings.Contains(got, `\"content_type\":\"image/jpeg\"`) || strings.Contains(got, "vase.jpg") || strings.Contains(got, photo.Attachment.SHA256) {
		t.Fatalf("the trail of the upload: %d %s", r.Status, got)
	}

	s.handTo(agent1, c.ID)
	download := func(who, id string) response { return s.do("GET", "/v1/cases/"+c.ID+"/attachments/"+id, who, nil) }
	r = download(agent1, photo.Attachment.ID)
	sum := sha256.Sum256(r.Body)
	if r.Status != http.StatusOK || hex.EncodeToString(sum[:]) != photo.Attachment.SHA256 || r.Header.Get("Content-Disposition") != "attachment; filename=vase.jpg" {
		t.Fatalf("the assigned agent's download: %d %v", r.Status, r.Header)
	}
	for _, who := range []string{agent2, tenantB + "/supervisor", tenantB} {
		if r := download(who, photo.Attachment.ID); r.Status != http.StatusNotFound {
			t.Errorf("%s downloads the photo: %d %s", who, r.Status, r.Body)
		}
	}
	if got := search("shattered vase"); !slices.Equal(got, []string{c.ID}) {
		t.Fatalf("search before the erasure: %v", got)
	}

	// The photo and the receipt as a refund's evidence; another case's file is refused.
	other := s.openCase(tenantA, sampleCase()).Case
	var stranger api.AttachmentBody
	body, ct := multipartFile(t, "other.txt", []byte("another case"))
	s.do("POST", "/v1/cases/"+other.ID+"/attachments", tenantA, body, "Content-Type", ct).decode(t, &stranger)
	if err := s.store.PutOrder(context.Background(), tenantA, "2001", req.CustomerRef, "EUR", "300.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	ask := func(evidence ...string) response {
		b := map[string]any{"order_ref": "2001", "amount": "250.00", "currency": "EUR", "reason_code": "damaged", "evidence": evidence}
		return s.do("POST", "/v1/cases/"+c.ID+"/refunds", tenantA, b, "Idempotency-Key", "vase-"+strings.Join(evidence, ","))
	}
	if r := ask(stranger.Attachment.ID); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("evidence from another case: %d %s", r.Status, r.Body)
	}
	r = ask(photo.Attachment.ID, receipt.Attachment.ID, "courier:DX-1234")
	if r.Status != http.StatusAccepted {
		t.Fatalf("refund: %d %s", r.Status, r.Body)
	}
	var asked struct {
		Refund struct {
			RefundID string `json:"refund_id"`
		} `json:"refund"`
	}
	r.decode(t, &asked)
	var staff struct {
		Refund api.StaffRefund `json:"refund"`
	}
	s.do("GET", "/v1/refunds/"+asked.Refund.RefundID, tenantA+"/finance", nil).decode(t, &staff)
	if got := staff.Refund.EvidenceFiles; len(got) != 2 || got[0].Name == "" || got[1].Name == "" {
		t.Fatalf("the refund's evidence files, as finance sees them: %+v", got)
	}
	if r := download(tenantA+"/finance", receipt.Attachment.ID); r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte("RECEIPT-77")) {
		t.Fatalf("finance downloads the evidence: %d", r.Status)
	}

	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", api.EraseCustomerRequest{CustomerRef: req.CustomerRef, Reason: "customer_request"}); r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	for _, name := range objects.Names(t, bucket) {
		if strings.HasPrefix(name, "acme/"+c.ID+"/") {
			t.Errorf("after the erasure the bucket still holds %s", name)
		}
	}
	if r := download(agent1, photo.Attachment.ID); r.Status != http.StatusGone {
		t.Errorf("after the erasure, the photo: %d %s", r.Status, r.Body)
	}
	var names, terms int64
	s.store.DB().Raw(`SELECT count(*) FROM attachments WHERE case_id = ? AND meta_ct IS NOT NULL`, c.ID).Scan(&names)
	s.store.DB().Raw(`SELECT count(*) FROM search_terms WHERE case_id = ?`, c.ID).Scan(&terms)
	if names != 0 || terms != 0 {
		t.Fatalf("after the erasure: %d files' names and %d search terms left", names, terms)
	}
	if got := search("shattered vase"); len(got) != 0 {
		t.Fatalf("search after the erasure: %v", got)
	}
	// The refund is still told (from its record: the saga's payloads no
	// longer open), its evidence cleared with the rest of the customer.
	staff.Refund = api.StaffRefund{}
	if r := s.do("GET", "/v1/refunds/"+asked.Refund.RefundID, tenantA+"/finance", nil); r.Status != http.StatusOK {
		t.Fatalf("the refund after the erasure: %d %s", r.Status, r.Body)
	} else if r.decode(t, &staff); staff.Refund.RefundID != asked.Refund.RefundID || len(staff.Refund.Evidence) != 0 || len(staff.Refund.EvidenceFiles) != 0 {
		t.Fatalf("the refund after the erasure: %+v", staff.Refund)
	}
}

// With the object store down, an upload is a 503 to retry, and nothing
// else stops: messages go on, and an erasure completes, leaving the
// deletion of the customer's objects to the next retention run.
func TestAttachmentsWhileTheObjectStoreIsDown(t *testing.T) {
	t.Parallel()
	down := objects.Config{Endpoint: "http://127.0.0.1:1", Bucket: "down", AccessKey: "k", SecretKey: "s", Region: "us-east-1"}
	s := newStackAll(t, 0, nil, false, nil, func(st *store.Store) {
		objs, err := objects.New(down)
		if err != nil {
			t.Fatal(err)
		}
		st.UseObjects(objs)
	})
	req := sampleCase()
	req.CustomerRef = "cust-down-" + randomHex(4)
	c := s.openCase(tenantA, req).Case
	body, ct := multipartFile(t, "box.pdf", []byte("%PDF-1.4 box"))
	r := s.do("POST", "/v1/cases/"+c.ID+"/attachments", tenantA, body, "Content-Type", ct)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("an upload with the store down: %d %v %s", r.Status, r.Header, r.Body)
	}
	var n int64
	s.store.DB().Raw(`SELECT count(*) FROM attachments WHERE case_id = ?`, c.ID).Scan(&n)
	if n != 0 {
		t.Fatalf("a refused upload left %d rows", n)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: "Still there?"}); r.Status != http.StatusOK {
		t.Fatalf("a message with the store down: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", api.EraseCustomerRequest{CustomerRef: req.CustomerRef, Reason: "customer_request"}); r.Status != http.StatusOK {
		t.Fatalf("an erasure with the store down: %d %s", r.Status, r.Body)
	}
	s.store.DB().Raw(`SELECT count(*) FROM object_deletions WHERE prefix = ?`, "acme/"+c.ID+"/").Scan(&n)
	if n != 1 {
		t.Fatalf("the erasure's objects are not left to delete: %d rows", n)
	}
}
