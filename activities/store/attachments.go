package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tandem/activities/envelope"
	"tandem/activities/objects"
)

// attachmentPiece is the plaintext size of the pieces a file is sealed in:
// a download opens and sends one piece at a time, never the whole file.
const attachmentPiece = 64 << 10

// Attachment is a file uploaded to a case. Its bytes (in attachment_blobs)
// and its name and digest (MetaCT) are sealed under the customer's data
// key; its type and size say nothing of the person and stay in clear. It
// belongs to the message it went out with (MessageSeq), or to nobody yet.
type Attachment struct {
	TenantID     string `gorm:"primaryKey"`
	ID           string `gorm:"primaryKey"`
	CaseID       string
	KeyID        string
	UploaderKind string // service (a front end, for the customer) or user (the staff)
	UploaderID   string
	ContentType  string
	Size         int64
	MetaCT       []byte `gorm:"column:meta_ct"`
	MessageSeq   *int64
	StoredIn     string    // postgres (attachment_blobs) or objects (the object store)
	ChunkSize    int       // the pieces' plaintext size (envelope.SealPieces); 0 for one piece
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
	// Opened from MetaCT: the file's name and the SHA-256 of its bytes
	// (hex); Erased when the customer's key is gone or the case purged.
	Name   string `gorm:"-"`
	SHA256 string `gorm:"-"`
	Erased bool   `gorm:"-"`
	// Internal: the message it went out with is a staff note.
	Internal bool `gorm:"-"`
}

type attachmentMeta struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

type attachmentBlob struct {
	TenantID string `gorm:"primaryKey"`
	ID       string `gorm:"primaryKey"`
	DataCT   []byte `gorm:"column:data_ct"`
}

func attachmentAAD(tenantID, id, part string) []byte {
	return []byte("attachment:" + tenantID + ":" + id + ":" + part)
}

// PutAttachment stores an upload to the case c (as read by GetCaseRow):
// the bytes and the name sealed under the customer's data key, the bytes
// in the object store when one is configured. An upload of the same ID (a
// retried request) is not stored again: it returns the first, and false.
func (s *Store) PutAttachment(ctx context.Context, c Case, a Attachment, data []byte) (Attachment, bool, error) {
	created := false
	err := s.InTx(ctx, func(tx *Store) error {
		keyID, dek, err := tx.customerKey(ctx, c.TenantID, c.CustomerHash)
		if err != nil {
			return err
		}
		// Held until this commits, so an erasure (which destroys the key)
		// waits for it, and then finds this upload's object to delete.
		var live int64
		if err := tx.db.WithContext(ctx).Raw(`SELECT count(*) FROM (SELECT 1 FROM data_keys WHERE tenant_id = ? AND id = ? AND destroyed_at IS NULL FOR SHARE) k`,
			c.TenantID, keyID).Scan(&live).Error; err != nil {
			return fmt.Errorf("hold the customer's key: %w", err)
		}
		if live == 0 {
			return ErrCustomerErased
		}
		meta, err := json.Marshal(attachmentMeta{Name: a.Name, SHA256: a.SHA256})
		if err != nil {
			return err
		}
		a.TenantID, a.CaseID, a.KeyID, a.MessageSeq = c.TenantID, c.ID, keyID, nil
		a.StoredIn, a.ChunkSize = "postgres", attachmentPiece
		if tx.objects != nil {
			a.StoredIn = "objects"
		}
		if a.MetaCT, err = envelope.Seal(dek, meta, attachmentAAD(a.TenantID, a.ID, "meta")); err != nil {
			return err
		}
		sealed, err := envelope.SealPieces(dek, data, attachmentAAD(a.TenantID, a.ID, "data"), a.ChunkSize)
		if err != nil {
			return err
		}
		db := tx.db.WithContext(ctx)
		res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&a)
		if res.Error != nil {
			return fmt.Errorf("store attachment: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // the first upload of this ID stands
		}
		created = true
		if a.StoredIn == "objects" {
			// Written before the row commits: a crash between leaves an
			// object no row names, under the case's prefix, which a purge
			// or erasure deletes with the rest.
			return tx.objects.Put(ctx, objects.Name(a.TenantID, a.CaseID, a.ID), sealed)
		}
		if err := db.Create(&attachmentBlob{TenantID: a.TenantID, ID: a.ID, DataCT: sealed}).Error; err != nil {
			return fmt.Errorf("store attachment bytes: %w", err)
		}
		return nil
	})
	if err != nil {
		return Attachment{}, false, err
	}
	got, err := s.CaseAttachments(ctx, c.TenantID, c.ID, []string{a.ID})
	if err != nil {
		return Attachment{}, false, err
	}
	if len(got) != 1 {
		return Attachment{}, false, ErrNotFound
	}
	return got[0], created, nil
}

// CaseAttachments returns the case's attachments of the IDs given, opened.
func (s *Store) CaseAttachments(ctx context.Context, tenantID, caseID string, ids []string) ([]Attachment, error) {
	var rows []Attachment
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND case_id = ? AND id IN ?", tenantID, caseID, ids).Order("id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read attachments: %w", err)
	}
	return rows, s.openAttachments(ctx, tenantID, rows)
}

// AttachmentContent returns an attachment of the case and its bytes, to
// be read as they are opened, a piece at a time; ErrNotFound for none,
// ErrCustomerErased once its customer was erased or its case purged.
func (s *Store) AttachmentContent(ctx context.Context, tenantID, caseID, id string) (Attachment, io.ReadCloser, error) {
	var a Attachment
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND case_id = ? AND id = ?", tenantID, caseID, id).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Attachment{}, nil, ErrNotFound
	}
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("read attachment: %w", err)
	}
	rows := []Attachment{a}
	if err := s.openAttachments(ctx, tenantID, rows); err != nil {
		return Attachment{}, nil, err
	}
	if a = rows[0]; a.Erased {
		return a, nil, ErrCustomerErased
	}
	if err := s.AttachmentsInternal(ctx, tenantID, caseID, rows); err != nil {
		return Attachment{}, nil, err
	}
	a = rows[0]
	keys, err := s.dataKeys(ctx, tenantID, []string{a.KeyID})
	if err != nil {
		return Attachment{}, nil, err
	}
	if keys[a.KeyID] == nil { // destroyed since the row was read
		return a, nil, ErrCustomerErased
	}
	sealed, err := s.attachmentBytes(ctx, a)
	if errors.Is(err, ErrNotFound) {
		return a, nil, ErrCustomerErased // purged or erased since the row was read
	}
	if err != nil {
		return Attachment{}, nil, err
	}
	aad := attachmentAAD(tenantID, id, "data")
	if a.ChunkSize == 0 {
		defer sealed.Close()
		ct, err := io.ReadAll(sealed)
		if err != nil {
			return Attachment{}, nil, fmt.Errorf("read attachment bytes: %w", err)
		}
		data, err := envelope.Open(keys[a.KeyID], ct, aad)
		if err != nil {
			return Attachment{}, nil, fmt.Errorf("open attachment %s: %w", id, err)
		}
		return a, io.NopCloser(bytes.NewReader(data)), nil
	}
	r, err := envelope.OpenPieces(keys[a.KeyID], sealed, aad, a.ChunkSize)
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("open attachment %s: %w", id, err)
	}
	return a, r, nil
}

// AttachmentsInternal sets Internal on the case's rows that went out with
// a staff note.
func (s *Store) AttachmentsInternal(ctx context.Context, tenantID, caseID string, rows []Attachment) error {
	var seqs []int64
	for _, a := range rows {
		if a.MessageSeq != nil {
			seqs = append(seqs, *a.MessageSeq)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	var notes []int64
	if err := s.db.WithContext(ctx).Raw(`SELECT seq FROM messages WHERE tenant_id = ? AND case_id = ? AND seq IN ? AND internal`,
		tenantID, caseID, seqs).Scan(&notes).Error; err != nil {
		return fmt.Errorf("read the attachments' messages: %w", err)
	}
	for i := range rows {
		rows[i].Internal = rows[i].MessageSeq != nil && slices.Contains(notes, *rows[i].MessageSeq)
	}
	return nil
}

// attachmentBytes reads an attachment's sealed bytes from where they are.
func (s *Store) attachmentBytes(ctx context.Context, a Attachment) (io.ReadCloser, error) {
	if a.StoredIn == "objects" {
		if s.objects == nil {
			return nil, fmt.Errorf("%w: attachment %s is in an object store, and none is configured", objects.ErrUnavailable, a.ID)
		}
		r, err := s.objects.Get(ctx, objects.Name(a.TenantID, a.CaseID, a.ID))
		if errors.Is(err, objects.ErrNotFound) {
			return nil, ErrNotFound
		}
		return r, err
	}
	var blob attachmentBlob
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", a.TenantID, a.ID).Take(&blob).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read attachment bytes: %w", err)
	}
	return io.NopCloser(bytes.NewReader(blob.DataCT)), nil
}

// openAttachments opens the rows' names and digests.
func (s *Store) openAttachments(ctx context.Context, tenantID string, rows []Attachment) error {
	if len(rows) == 0 {
		return nil
	}
	var ids []string
	for _, a := range rows {
		ids = append(ids, a.KeyID)
	}
	keys, err := s.dataKeys(ctx, tenantID, ids)
	if err != nil {
		return err
	}
	for i := range rows {
		a := &rows[i]
		if keys[a.KeyID] == nil || a.MetaCT == nil {
			a.Erased = true
			continue
		}
		plain, err := envelope.Open(keys[a.KeyID], a.MetaCT, attachmentAAD(a.TenantID, a.ID, "meta"))
		if err != nil {
			return fmt.Errorf("open attachment %s: %w", a.ID, err)
		}
		var m attachmentMeta
		if err := json.Unmarshal(plain, &m); err != nil {
			return err
		}
		a.Name, a.SHA256 = m.Name, m.SHA256
	}
	return nil
}

// linkAttachments gives a case's uploads to the messages that carry them;
// an upload already given to a message stays with it.
func linkAttachments(ctx context.Context, db *gorm.DB, tenantID, caseID string, msgs []Message) error {
	for _, m := range msgs {
		if len(m.Attachments) == 0 {
			continue
		}
		if err := db.WithContext(ctx).Exec(`UPDATE attachments SET message_seq = ? WHERE tenant_id = ? AND case_id = ? AND id IN ? AND message_seq IS NULL`,
			m.Seq, tenantID, caseID, m.Attachments).Error; err != nil {
			return fmt.Errorf("link attachments: %w", err)
		}
	}
	return nil
}

// messageFiles fills each message's Files with the attachments it went out with.
func (s *Store) messageFiles(ctx context.Context, tenantID string, msgs []Message) error {
	var cases []string
	for _, m := range msgs {
		if !slices.Contains(cases, m.CaseID) {
			cases = append(cases, m.CaseID)
		}
	}
	if len(cases) == 0 {
		return nil
	}
	var rows []Attachment
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND case_id IN ? AND message_seq IS NOT NULL", tenantID, cases).
		Order("created_at, id").Find(&rows).Error; err != nil {
		return fmt.Errorf("read attachments: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := s.openAttachments(ctx, tenantID, rows); err != nil {
		return err
	}
	for i := range msgs {
		m := &msgs[i]
		for _, a := range rows {
			if a.CaseID == m.CaseID && *a.MessageSeq == m.Seq {
				m.Files = append(m.Files, a)
			}
		}
	}
	return nil
}

// ClaimUploads marks the case's uploads that no message carries yet as
// about to be sent (by a message or as a refund's evidence), which spares
// them the expiry for its whole time; it returns those it claimed. One it
// does not return was expired, or sent meanwhile.
func (s *Store) ClaimUploads(ctx context.Context, tenantID, caseID string, ids []string) ([]string, error) {
	var claimed []string
	err := s.db.WithContext(ctx).Raw(`UPDATE attachments SET claimed_at = ? WHERE tenant_id = ? AND case_id = ? AND id IN ?
		AND message_seq IS NULL RETURNING id`, time.Now().UTC(), tenantID, caseID, ids).Scan(&claimed).Error
	if err != nil {
		return nil, fmt.Errorf("claim uploads: %w", err)
	}
	return claimed, nil
}

// ExpireUnsentUploads deletes at most limit uploads made, and last
// claimed, before cutoff that no message carries and no refund names as
// evidence: their rows and their bytes (in the object store once this
// commits), each with an entry on its case's trail. It returns how many it
// deleted.
func (s *Store) ExpireUnsentUploads(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	var gone []Attachment
	err := s.InTx(ctx, func(tx *Store) error {
		gone = nil
		err := tx.db.WithContext(ctx).Raw(`DELETE FROM attachments WHERE (tenant_id, id) IN (
				SELECT a.tenant_id, a.id FROM attachments a
				WHERE a.message_seq IS NULL AND a.created_at < ? AND (a.claimed_at IS NULL OR a.claimed_at < ?)
				  AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.tenant_id = a.tenant_id AND r.case_id = a.case_id
				                  AND r.evidence @> jsonb_build_array(a.id::text))
				ORDER BY a.created_at LIMIT ? FOR UPDATE SKIP LOCKED)
			RETURNING tenant_id, id, case_id, content_type, size, stored_in`, cutoff, cutoff, limit).Scan(&gone).Error
		if err != nil {
			return fmt.Errorf("expire unsent uploads: %w", err)
		}
		now := time.Now().UTC()
		for _, a := range gone {
			if a.StoredIn == "objects" {
				if err := tx.doomObjects(ctx, a.TenantID, objects.Name(a.TenantID, a.CaseID, a.ID)); err != nil {
					return err
				}
			}
			if _, err := tx.appendAudit(ctx, AuditEvent{TenantID: a.TenantID, ID: "expire:" + a.TenantID + ":" + a.ID, OccurredAt: now,
				ActorKind: "system", ActorID: "retention", Action: "attachment.expire", ObjectType: "attachment", ObjectID: a.ID,
				CaseID: a.CaseID, Decision: "allow", Outcome: "success", Reason: "not sent within its time"}); err != nil {
				return err
			}
		}
		return nil
	})
	return len(gone), err
}
