package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"tandem/activities/store"
	"tandem/workflows"
)

// AttachmentJSON is a file a message carries, or an upload waiting for one.
type AttachmentJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`           // of the bytes as stored (an image's after its metadata was stripped)
	Erased      bool   `json:"erased,omitempty"` // its customer was erased, or its case purged
}

// AttachmentBody answers an upload.
type AttachmentBody struct {
	Attachment AttachmentJSON `json:"attachment"`
}

// fileUpload documents a multipart/form-data body with one file, "file".
type fileUpload struct{}

// DefaultMaxAttachmentBytes is an upload's size limit unless configured;
// DefaultMaxAttachments, the files a message carries.
const (
	DefaultMaxAttachmentBytes = 10 << 20
	DefaultMaxAttachments     = 5
)

// AttachmentTypes are the types an upload may have, as sniffed from its
// bytes: images, PDF, plain text.
var AttachmentTypes = []string{"image/jpeg", "image/png", "image/gif", "application/pdf", "text/plain"}

// maxImagePixels bounds an image to decode (a small file can claim a huge one).
const maxImagePixels = 50_000_000

var attachmentNamespace = uuid.MustParse("5d0c3b7e-2f4a-4c61-8e9d-7a1b6c2f0e45")

func attachmentFromRow(a store.Attachment) AttachmentJSON {
	return AttachmentJSON{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, Erased: a.Erased}
}

// uploadAttachment takes a file for a case the caller may write to: a
// front end's for the customer, or the staff's. Its type is read from its
// bytes and must be one of AttachmentTypes (415 otherwise); an image is
// decoded and encoded again, which leaves its metadata (EXIF: where and
// when it was taken, the camera) behind. It waits for the message that
// carries it (attachment_ids). An Idempotency-Key makes a retry answer the
// first upload (200).
func (s *Server) uploadAttachment(c *gin.Context) error {
	row, err := s.loadCaseForMessage(c)
	if err != nil {
		return err
	}
	if row.Status == workflows.StatusClosed {
		return s.closedBecause(c, row)
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	header, err := c.FormFile("file")
	if err != nil {
		if tooLarge(err) {
			return s.errAttachmentTooLarge()
		}
		return errorf(http.StatusBadRequest, "malformed_upload", "send the file as multipart/form-data, in a part named file")
	}
	if header.Size > s.maxAttachment {
		return s.errAttachmentTooLarge()
	}
	f, err := header.Open()
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, s.maxAttachment+1))
	f.Close()
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return validationError([]FieldError{{"file", "is empty"}})
	}
	if int64(len(data)) > s.maxAttachment {
		return s.errAttachmentTooLarge()
	}
	contentType, data, err := cleanAttachment(data)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	p := principalOf(c)
	id := uuid.NewString()
	if key != "" {
		id = uuid.NewSHA1(attachmentNamespace, []byte(row.TenantID+"\x00"+row.ID+"\x00"+p.Kind+"\x00"+p.ID+"\x00"+key)).String()
	}
	a, created, err := s.store.PutAttachment(c.Request.Context(), row, store.Attachment{ID: id, UploaderKind: p.Kind, UploaderID: p.ID,
		ContentType: contentType, Size: int64(len(data)), Name: attachmentName(header.Filename), SHA256: hex.EncodeToString(sum[:]),
		CreatedAt: time.Now().UTC()}, data)
	if errors.Is(err, store.ErrCustomerErased) {
		return errCustomerErased
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		if err := s.audit(c, auditEntry{Action: "attachment.upload", ObjectType: "attachment", ObjectID: a.ID, CaseID: row.ID,
			Decision: "allow", Outcome: "success", Details: map[string]string{"content_type": a.ContentType, "size": strconv.FormatInt(a.Size, 10),
				"file_name": a.Name, "sha256": a.SHA256}}); err != nil { // the name and digest sealed under the customer's key
			return err
		}
	}
	c.JSON(status, AttachmentBody{Attachment: attachmentFromRow(a)})
	return nil
}

// cleanAttachment sniffs the file's type and refuses one not allowed; an
// image comes back encoded again, without its metadata.
func cleanAttachment(data []byte) (string, []byte, error) {
	contentType, _, _ := strings.Cut(http.DetectContentType(data), ";")
	switch contentType {
	case "image/jpeg", "image/png", "image/gif":
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return "", nil, validationError([]FieldError{{"file", "is not a readable image"}})
		}
		if cfg.Width*cfg.Height > maxImagePixels {
			return "", nil, validationError([]FieldError{{"file", "an image is at most 50 megapixels"}})
		}
		var out bytes.Buffer
		switch contentType {
		case "image/gif":
			g, err := gif.DecodeAll(bytes.NewReader(data))
			if err == nil {
				err = gif.EncodeAll(&out, &gif.GIF{Image: g.Image, Delay: g.Delay, LoopCount: g.LoopCount, Disposal: g.Disposal, Config: g.Config})
			}
			if err != nil {
				return "", nil, validationError([]FieldError{{"file", "is not a readable image"}})
			}
		default:
			img, _, err := image.Decode(bytes.NewReader(data))
			if err == nil && contentType == "image/jpeg" {
				err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 92})
			} else if err == nil {
				err = png.Encode(&out, img)
			}
			if err != nil {
				return "", nil, validationError([]FieldError{{"file", "is not a readable image"}})
			}
		}
		return contentType, out.Bytes(), nil
	case "application/pdf":
		return contentType, data, nil
	case "text/plain":
		if !utf8.Valid(data) {
			return "", nil, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "plain text must be UTF-8")
		}
		return contentType, data, nil
	}
	return "", nil, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
		"an attachment is an image (JPEG, PNG, GIF), a PDF or plain text; this file reads as "+contentType)
}

// attachmentName is the base of a file's name, without control characters,
// at most 200 characters ("attachment" for none).
func attachmentName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	if r := []rune(strings.TrimSpace(name)); len(r) > 200 {
		name = string(r[:200])
	}
	if name = strings.TrimSpace(name); name == "" || name == "." || name == "/" {
		return "attachment"
	}
	return name
}

// attachmentsFor checks the uploads a message names: each of this case,
// uploaded by the caller's side (a front end's for a customer's message,
// the staff's for theirs), and waiting for a message (one already sent is
// accepted only on a keyed retry, which the workflow answers from its
// first attempt).
func (s *Server) attachmentsFor(c *gin.Context, row store.Case, ids []string, keyed bool) ([]workflows.Attachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	got, err := s.store.CaseAttachments(c.Request.Context(), row.TenantID, row.ID, ids)
	if err != nil {
		return nil, err
	}
	kind := principalOf(c).Kind
	var out []workflows.Attachment
	for _, id := range ids {
		i := slices.IndexFunc(got, func(a store.Attachment) bool { return a.ID == id })
		switch {
		case i < 0 || (got[i].UploaderKind == "service") != (kind == "service"):
			return nil, validationError([]FieldError{{"attachment_ids", "no upload " + id + " of yours on this case"}})
		case got[i].Erased:
			return nil, errCustomerErased
		case got[i].MessageSeq != nil && !keyed:
			return nil, errorf(http.StatusConflict, "attachment_sent", "the upload "+id+" went out with another message")
		}
		a := got[i]
		out = append(out, workflows.Attachment{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256})
	}
	if err := s.claimUploads(c, row, got, "attachment_ids"); err != nil {
		return nil, err
	}
	return out, nil
}

// claimUploads spares the unsent uploads among files the expiry of unsent
// uploads until the message or refund that names them has landed; one
// the expiry took first is refused.
func (s *Server) claimUploads(c *gin.Context, row store.Case, files []store.Attachment, field string) error {
	var unsent []string
	for _, a := range files {
		if a.MessageSeq == nil {
			unsent = append(unsent, a.ID)
		}
	}
	if len(unsent) == 0 {
		return nil
	}
	claimed, err := s.store.ClaimUploads(c.Request.Context(), row.TenantID, row.ID, unsent)
	if err != nil {
		return err
	}
	for _, id := range unsent {
		if !slices.Contains(claimed, id) {
			return validationError([]FieldError{{field, "the upload " + id + " has expired or just gone out with another message; upload the file again"}})
		}
	}
	return nil
}

// downloadAttachment streams a file of a case the caller may see, as a
// download: a front end gets those of the customer's view (not a note's,
// and of uploads only its own side's), the staff all of the case's.
func (s *Server) downloadAttachment(c *gin.Context) error {
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	if _, err := uuid.Parse(c.Param("attachment")); err != nil {
		return errAttachmentNotFound
	}
	a, content, err := s.store.AttachmentContent(c.Request.Context(), row.TenantID, row.ID, c.Param("attachment"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errAttachmentNotFound
	case errors.Is(err, store.ErrCustomerErased):
		return errorf(http.StatusGone, "attachment_erased", "the attachment was erased with its customer's data, or purged with its case")
	case err != nil:
		return err
	}
	defer content.Close()
	if customerFacing(c) && !customerMaySee(a) {
		return errAttachmentNotFound
	}
	if principalOf(c).Kind == "user" {
		if err := s.audit(c, auditEntry{Action: "attachment.read", ObjectType: "attachment", ObjectID: a.ID, CaseID: row.ID,
			Decision: "allow", Outcome: "success"}); err != nil {
			return err
		}
	}
	h := c.Writer.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	c.Status(http.StatusOK)
	// Sent as it is opened, a piece at a time, each write given its own
	// deadline, so a slow client gets the whole file while a stalled one
	// is let go. A piece that fails to open (changed in storage) ends the
	// response short of its length, and nothing of that piece is sent.
	rc := http.NewResponseController(c.Writer)
	buf := make([]byte, 32<<10)
	for {
		n, err := content.Read(buf)
		if n > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, werr := c.Writer.Write(buf[:n]); werr != nil {
				return nil // the client went away
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			s.log.Error("an attachment stopped part way", "case", row.ID, "attachment", a.ID, "err", err)
			return nil
		}
	}
}

func (s *Server) errAttachmentTooLarge() error {
	return errorf(http.StatusRequestEntityTooLarge, "too_large", "an attachment is at most "+strconv.FormatInt(s.maxAttachment>>20, 10)+" MiB")
}

func tooLarge(err error) bool {
	var maxBytes *http.MaxBytesError
	return errors.As(err, &maxBytes)
}

var errAttachmentNotFound = errorf(http.StatusNotFound, "attachment_not_found", "no such attachment on this case")

func attachmentsJSON(files []store.Attachment) []AttachmentJSON {
	var out []AttachmentJSON
	for _, a := range files {
		out = append(out, attachmentFromRow(a))
	}
	return out
}

func attachmentsFromWorkflow(files []workflows.Attachment) []AttachmentJSON {
	var out []AttachmentJSON
	for _, a := range files {
		out = append(out, AttachmentJSON{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256})
	}
	return out
}

// evidenceIDs are the references among a refund's evidence that have the
// form of a file's ID.
func evidenceIDs(evidence []string) []string {
	var ids []string
	for _, e := range evidence {
		if e = strings.ToLower(e); canonicalUUID(e) && !slices.Contains(ids, e) {
			ids = append(ids, e)
		}
	}
	return ids
}

// checkEvidence refuses a refund whose evidence names a file the caller
// could not download from the case: one of another case, another
// tenant's, or (for a front end) a staff upload or a note's.
func (s *Server) checkEvidence(c *gin.Context, row store.Case, evidence []string) error {
	ids := evidenceIDs(evidence)
	if len(ids) == 0 {
		return nil
	}
	got, err := s.store.CaseAttachments(c.Request.Context(), row.TenantID, row.ID, ids)
	if err != nil {
		return err
	}
	if err := s.store.AttachmentsInternal(c.Request.Context(), row.TenantID, row.ID, got); err != nil {
		return err
	}
	for _, id := range ids {
		i := slices.IndexFunc(got, func(a store.Attachment) bool { return a.ID == id })
		switch {
		case i < 0 || (customerFacing(c) && !customerMaySee(got[i])):
			return validationError([]FieldError{{"evidence", "no file " + id + " on this case"}})
		case got[i].Erased:
			return errCustomerErased
		}
	}
	return s.claimUploads(c, row, got, "evidence")
}

// customerMaySee says a front end may download the file: its own upload,
// or one a message of the customer's view carries.
func customerMaySee(a store.Attachment) bool {
	return !a.Internal && (a.MessageSeq != nil || a.UploaderKind == "service")
}

// evidenceFiles are the files of the refund's case its evidence names. It
// is told beside a refund that may already be asked for: a failure to
// read them leaves them out (and is logged) rather than failing an answer
// whose retry could ask again.
func (s *Server) evidenceFiles(c *gin.Context, st workflows.RefundState) []AttachmentJSON {
	ids := evidenceIDs(st.Evidence)
	if len(ids) == 0 || st.CaseID == "" {
		return nil
	}
	got, err := s.store.CaseAttachments(c.Request.Context(), st.TenantID, st.CaseID, ids)
	if err != nil {
		s.log.Warn("a refund's evidence files are left out", "refund", st.RefundID, "err", err)
		return nil
	}
	return attachmentsJSON(got)
}
