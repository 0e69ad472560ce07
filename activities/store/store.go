// Package store is Tandem's PostgreSQL record store: tenants, the case
// projection, conversation messages and idempotency keys. The case workflow's
// activities write through it; the API reads through it.
package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"tandem/activities/envelope"
	"tandem/activities/objects"
)

// Domain errors the API maps to HTTP statuses.
var (
	// ErrNotFound: no such record in the caller's tenant. Every store
	// function says which record with a *NotFoundError, which is ErrNotFound.
	ErrNotFound = errors.New("not found")
	// ErrIdempotencyMismatch: an idempotency key was reused for a different request.
	ErrIdempotencyMismatch = errors.New("idempotency key was used with a different request")
	// ErrBadCursor: a pagination cursor that this store did not issue.
	ErrBadCursor = errors.New("malformed cursor")
)

// NotFoundError says which record is not in the caller's tenant: a "case",
// "refund", "agent", "api_key", "article", "legal_hold", "notification",
// "tenant". errors.Is(err, ErrNotFound) holds for it.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string        { return e.What + " not found" }
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// NotFound is the error for a missing record of the kind what.
func NotFound(what string) error { return &NotFoundError{What: what} }

// Store wraps a gorm connection pool and the master keys that protect
// personal data.
type Store struct {
	db        *gorm.DB
	keys      *envelope.Keyring
	unwrapped *unwrappedKeys
	dsn       string // for a connection of its own (KeyCache.Listen)
	// queued names the tenants whose audit entries a transaction's Store
	// has queued, to sequence once it commits; nil outside a transaction.
	queued map[string]bool
	// objects, when set, keeps attachments' bytes; doomed, the objects a
	// transaction recorded to delete once it commits.
	objects *objects.Bucket
	doomed  []doomedPrefix
}

// Open connects to PostgreSQL at dsn and checks the connection.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqlDB.SetMaxOpenConns(20)
	sqlDB.SetMaxIdleConns(20)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, dsn: dsn}
	if err := s.Ping(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// DB exposes the pool for migrations and tests.
func (s *Store) DB() *gorm.DB { return s.db }

// Close releases the pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Tenant is an organisation using Tandem.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// EnsureTenant creates the tenant if it does not exist; an existing one is left as it is.
func (s *Store) EnsureTenant(ctx context.Context, id, name string) error {
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&Tenant{ID: id, Name: name}).Error
	if err != nil {
		return fmt.Errorf("ensure tenant %s: %w", id, err)
	}
	return nil
}

// TenantExists reports whether the tenant is known.
func (s *Store) TenantExists(ctx context.Context, id string) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Tenant{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return false, fmt.Errorf("look up tenant: %w", err)
	}
	return n > 0, nil
}

// Case is a row of the case projection. CustomerRef and Subject are held in
// clear only in memory; the row keeps them sealed under the customer's data key.
type Case struct {
	TenantID         string `gorm:"primaryKey"`
	ID               string `gorm:"primaryKey"`
	WorkflowID       string
	CustomerRef      string  `gorm:"-"`
	CustomerErased   bool    `gorm:"-"` // the customer's data key was destroyed
	LegacyRef        *string `gorm:"column:customer_ref"`
	CustomerRefCT    []byte  `gorm:"column:customer_ref_ct"`
	CustomerHash     []byte
	KeyID            *string
	Channel          string
	Subject          string  `gorm:"-"`
	LegacySubject    *string `gorm:"column:subject"`
	SubjectCT        []byte  `gorm:"column:subject_ct"`
	Priority         string
	Status           string
	LastSeq          int64
	OpenedAt         time.Time
	UpdatedAt        time.Time `gorm:"autoUpdateTime:false"`
	ClosedAt         *time.Time
	PurgedAt         *time.Time // content removed at the end of the retention period
	AssigneeID       *string    // the agent working the case
	Queue            *string    // the queue the case waits in
	EscalationReason *string    // why the case went to people, if it did
	ResolvedAt       *time.Time
	Resolution       *string  // the resolution code
	CloseReason      *string  // the reason code it was closed with
	MergedInto       *string  // the case it was merged into
	MergedFrom       []string `gorm:"serializer:json"` // the cases merged into it
	PolicyProfile    *string  // the service policy pinned at open
	PolicyVersion    *int64
	SLADueAt         *time.Time // the earliest deadline of a running SLA clock
	SLABreachedAt    *time.Time // the first breach of an SLA target
	OfferedTo        *string    // the agent a queued case is offered to
	// Tags and the values of custom fields: Fields in clear, TextFields
	// (text fields' values) sealed in FieldsCT under the customer's key.
	Tags       []string          `gorm:"serializer:json"`
	Fields     map[string]string `gorm:"serializer:json"`
	FieldsCT   []byte            `gorm:"column:fields_ct"`
	TextFields map[string]string `gorm:"-"`
	ProjGen    int64             // where in the workflow's history the row was written (see RecordCase)
	ProjEvent  int64
	// ProjRun is the workflow run whose task wrote the row, when a workflow
	// did: its webhook events are held until that task is known to have
	// committed (ReleaseEvents). Not stored with the row.
	ProjRun string `gorm:"-"`
}

// Conflict is a projection row that a committed write found holding
// something else, written by a workflow task that was then lost.
type Conflict struct {
	CaseID string
	Seq    int64
	Kind   string // message_replaced, audit_diverged
}

// RecordCase writes a snapshot of the case, any new messages and their audit
// entries in one transaction, at the position (c.ProjGen, c.ProjEvent) in the
// case's history. Of two writes of one row the later position wins: a write
// from a workflow task lost in a crash is replaced by the committed one, done
// again later in the history. So the case row moves forward only (by
// position, then sequence); a message is written once per position, and one
// that replaces different content is a conflict; an audit entry is appended
// once per ID, and one whose ID was taken by different content is appended
// under a new ID and is a conflict. Conflicts are recorded, audited and returned.
func (s *Store) RecordCase(ctx context.Context, c Case, msgs []Message, audit []AuditEvent) ([]Conflict, error) {
	var conflicts []Conflict
	// The entries are queued with the write and sequenced by the worker's
	// round or the next reader: a projection write waits on no other.
	err := s.inTx(ctx, false, func(tx *Store) error {
		conflicts = nil
		gtx := tx.db
		hash, err := tx.customerHash(ctx, c.TenantID, c.CustomerRef)
		if err != nil {
			return err
		}
		keyID, dek, err := tx.customerKey(ctx, c.TenantID, hash)
		if errors.Is(err, ErrCustomerErased) {
			// The customer was erased while the case ran (erasure then
			// closes it): its state moves on, nothing personal is written.
			return tx.recordErasedCase(ctx, c, audit)
		}
		if err != nil {
			return err
		}
		if c.CustomerRefCT, err = envelope.Seal(dek, []byte(c.CustomerRef), caseAAD(c.TenantID, c.ID, "customer_ref")); err != nil {
			return err
		}
		if c.SubjectCT, err = envelope.Seal(dek, []byte(c.Subject), caseAAD(c.TenantID, c.ID, "subject")); err != nil {
			return err
		}
		c.Tags, c.MergedFrom, c.FieldsCT = nonNil(c.Tags), nonNil(c.MergedFrom), nil
		if c.Fields == nil {
			c.Fields = map[string]string{}
		}
		if len(c.TextFields) > 0 {
			plain, err := json.Marshal(c.TextFields) // map keys are sorted: stable bytes
			if err != nil {
				return err
			}
			if c.FieldsCT, err = envelope.Seal(dek, plain, caseAAD(c.TenantID, c.ID, "fields")); err != nil {
				return err
			}
		}
		c.CustomerHash, c.KeyID = hash, &keyID
		upsert := gtx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "tenant_id"}, {Name: "id"}},
			DoUpdates: clause.AssignmentColumns([]string{
				"priority", "status", "last_seq", "updated_at", "closed_at", "assignee_id", "queue",
				"escalation_reason", "resolved_at", "sla_due_at", "sla_breached_at", "offered_to", "tags", "fields", "fields_ct", "resolution", "close_reason", "merged_into", "merged_from",
				"proj_gen", "proj_event",
			}),
			Where: clause.Where{Exprs: []clause.Expression{
				clause.Expr{SQL: "(cases.proj_gen, cases.proj_event, cases.last_seq) <= (excluded.proj_gen, excluded.proj_event, excluded.last_seq)"},
			}},
		}).Create(&c)
		if upsert.Error != nil {
			return fmt.Errorf("upsert case: %w", upsert.Error)
		}
		for i := range msgs {
			m := &msgs[i]
			if m.BodyCT, err = envelope.Seal(dek, []byte(m.Body), messageAAD(m.TenantID, m.CaseID, m.Seq)); err != nil {
				return err
			}
			m.KeyID = &keyID
			m.ProjGen, m.ProjEvent = c.ProjGen, c.ProjEvent
			m.Fingerprint = messageFingerprint(dek, *m)
		}
		replaced, fresh, err := writeMessages(ctx, gtx, c.TenantID, c.ID, msgs)
		if err != nil {
			return err
		}
		// A replaced message's new words are indexed too; its old ones stay
		// until the case is reindexed (a replacement is a recorded conflict).
		idx, err := tx.tenantIndexKey(ctx, c.TenantID)
		if err != nil {
			return err
		}
		if err := indexMessages(ctx, gtx, c, keyID, dek, tagKey(idx), msgs, append(fresh, replaced...)); err != nil {
			return err
		}
		for _, seq := range replaced {
			conflicts = append(conflicts, Conflict{CaseID: c.ID, Seq: seq, Kind: ConflictMessageReplaced})
		}
		if err := linkAttachments(ctx, gtx, c.TenantID, c.ID, msgs); err != nil {
			return err
		}
		if err := notifyMentions(ctx, gtx, c, msgs); err != nil {
			return err
		}
		sealed := make([]AuditEvent, len(audit))
		for i, e := range audit {
			if err := sealPersonal(&e, keyID, dek); err != nil {
				return err
			}
			sealed[i] = e
		}
		stored, err := tx.appendAudits(ctx, sealed)
		if err != nil {
			return err
		}
		written := make([]AuditEvent, 0, len(audit))
		var diverged []AuditEvent
		for i, e := range sealed {
			if sameAudit(stored[i], e) {
				written = append(written, e)
				continue
			}
			// The ID was taken by what a lost task recorded: the committed
			// entry is appended too, under an ID of its position.
			e.ID = fmt.Sprintf("%s@%d.%d", e.ID, c.ProjGen, c.ProjEvent)
			diverged = append(diverged, e)
			conflicts = append(conflicts, Conflict{CaseID: c.ID, Seq: c.LastSeq, Kind: ConflictAuditDiverged})
		}
		if _, err := tx.appendAudits(ctx, diverged); err != nil {
			return err
		}
		written = append(written, diverged...)
		if err := requestSurveys(ctx, gtx, c, written); err != nil {
			return err
		}
		// The events feed webhooks and the live stream (GET /v1/events).
		var at *WrittenAt
		if c.ProjRun != "" {
			at = &WrittenAt{WorkflowID: c.WorkflowID, RunID: c.ProjRun, Gen: c.ProjGen, Event: c.ProjEvent}
		}
		if err := emitWebhookEvents(ctx, gtx, c.TenantID, caseWebhookEvents(c, msgs, written), keyID, dek, at); err != nil {
			return err
		}
		return tx.noteConflicts(ctx, c.TenantID, c.WorkflowID, c.ProjGen, c.ProjEvent, conflicts)
	})
	if err != nil {
		return nil, err
	}
	return conflicts, nil
}

// recordErasedCase writes what RecordCase writes of a case whose customer
// was erased: the case row's state (a row the projection never wrote stays
// unwritten) and the audit entries; no message.
func (s *Store) recordErasedCase(ctx context.Context, c Case, audit []AuditEvent) error {
	err := s.db.WithContext(ctx).Model(&Case{}).
		Where("tenant_id = ? AND id = ? AND (proj_gen, proj_event, last_seq) <= (?, ?, ?)", c.TenantID, c.ID, c.ProjGen, c.ProjEvent, c.LastSeq).
		Updates(caseState(c)).Error
	if err != nil {
		return fmt.Errorf("update erased case: %w", err)
	}
	for _, e := range audit {
		if _, err := s.appendAudit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// caseState is what a write of the projection changes in an existing case
// row: the case's state and the position that wrote it.
func caseState(c Case) map[string]any {
	return map[string]any{"priority": c.Priority, "status": c.Status, "last_seq": c.LastSeq, "updated_at": c.UpdatedAt,
		"closed_at": c.ClosedAt, "assignee_id": c.AssigneeID, "queue": c.Queue, "escalation_reason": c.EscalationReason,
		"resolved_at": c.ResolvedAt, "sla_due_at": c.SLADueAt, "sla_breached_at": c.SLABreachedAt, "offered_to": c.OfferedTo,
		"tags": jsonText(c.Tags), "fields": fieldsText(c.Fields), "resolution": c.Resolution, "close_reason": c.CloseReason,
		"merged_into": c.MergedInto, "merged_from": jsonText(c.MergedFrom), "proj_gen": c.ProjGen, "proj_event": c.ProjEvent}
}

// Kinds of Conflict.
const (
	ConflictMessageReplaced = "message_replaced"
	ConflictAuditDiverged   = "audit_diverged"
	ConflictCaseRepaired    = "case_repaired"
	ConflictMessageRemoved  = "message_removed"
	ConflictMessageRestored = "message_restored"
)

// AuditProjectionRepaired is the audit action of a repaired projection row.
const AuditProjectionRepaired = "case.projection_repaired"

// noteConflicts records each conflict and audits it on the case's trail.
func (s *Store) noteConflicts(ctx context.Context, tenantID, workflowID string, gen, event int64, conflicts []Conflict) error {
	for i, cf := range conflicts {
		if err := s.db.WithContext(ctx).Exec(`INSERT INTO projection_conflicts (tenant_id, case_id, seq, kind) VALUES (?, ?, ?, ?)`,
			tenantID, cf.CaseID, cf.Seq, cf.Kind).Error; err != nil {
			return fmt.Errorf("record projection conflict: %w", err)
		}
		details, _ := json.Marshal(map[string]string{"seq": strconv.FormatInt(cf.Seq, 10), "kind": cf.Kind}) // strings always marshal
		if _, err := s.appendAudit(ctx, AuditEvent{TenantID: tenantID, ID: fmt.Sprintf("%s:%d:%s:%s@%d.%d.%d", workflowID, cf.Seq, AuditProjectionRepaired, cf.Kind, gen, event, i),
			ActorKind: "system", ActorID: "tandem", Action: AuditProjectionRepaired, ObjectType: "case", ObjectID: cf.CaseID, CaseID: cf.CaseID,
			Decision: "allow", Outcome: "success", Reason: cf.Kind, Details: string(details)}); err != nil {
			return err
		}
	}
	return nil
}

// sameAudit says a stored entry records what e records; only the time may
// differ, as a task done again runs at another time.
func sameAudit(stored, e AuditEvent) bool {
	return stored.Action == e.Action && stored.ActorKind == e.ActorKind && stored.ActorID == e.ActorID &&
		stored.Reason == e.Reason && stored.Details == cmp.Or(e.Details, "{}") && stored.ObjectID == e.ObjectID
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The additional data bind each ciphertext to its row.
func caseAAD(tenantID, caseID, column string) []byte {
	return []byte("case:" + tenantID + ":" + caseID + ":" + column)
}

// dataKeys fetches the given data keys of a tenant in one query; destroyed
// keys map to nil.
func (s *Store) dataKeys(ctx context.Context, tenantID string, ids []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if len(ids) == 0 {
		return out, nil
	}
	if s.keys == nil {
		return nil, ErrNoKeyring
	}
	var dks []dataKey
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND id IN ?", tenantID, ids).Find(&dks).Error; err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	for _, dk := range dks {
		if dk.WrappedKey == nil {
			out[dk.ID] = nil
			continue
		}
		raw, err := s.keys.Unwrap(dk.MasterKeyID, dk.WrappedKey, "data-key:"+dk.ID)
		if err != nil {
			return nil, err
		}
		out[dk.ID] = raw
	}
	return out, nil
}

// openCases fills in the customer references of rows read from the database.
func (s *Store) openCases(ctx context.Context, rows []Case) error {
	if len(rows) == 0 {
		return nil
	}
	var ids []string
	for _, r := range rows {
		if r.KeyID != nil {
			ids = append(ids, *r.KeyID)
		}
	}
	keys, err := s.dataKeys(ctx, rows[0].TenantID, ids)
	if err != nil {
		return err
	}
	for i := range rows {
		r := &rows[i]
		switch {
		case r.KeyID == nil: // written before encryption at rest
			if r.LegacyRef != nil {
				r.CustomerRef = *r.LegacyRef
			}
			if r.LegacySubject != nil {
				r.Subject = *r.LegacySubject
			}
		case keys[*r.KeyID] == nil || r.PurgedAt != nil:
			r.CustomerErased = true
		default:
			ref, err := envelope.Open(keys[*r.KeyID], r.CustomerRefCT, caseAAD(r.TenantID, r.ID, "customer_ref"))
			if err != nil {
				return fmt.Errorf("open customer reference of case %s: %w", r.ID, err)
			}
			r.CustomerRef = string(ref)
			if r.SubjectCT == nil { // sealed before subjects were
				if r.LegacySubject != nil {
					r.Subject = *r.LegacySubject
				}
				continue
			}
			subject, err := envelope.Open(keys[*r.KeyID], r.SubjectCT, caseAAD(r.TenantID, r.ID, "subject"))
			if err != nil {
				return fmt.Errorf("open subject of case %s: %w", r.ID, err)
			}
			r.Subject = string(subject)
			if r.FieldsCT != nil {
				plain, err := envelope.Open(keys[*r.KeyID], r.FieldsCT, caseAAD(r.TenantID, r.ID, "fields"))
				if err != nil {
					return fmt.Errorf("open fields of case %s: %w", r.ID, err)
				}
				if err := json.Unmarshal(plain, &r.TextFields); err != nil {
					return fmt.Errorf("read fields of case %s: %w", r.ID, err)
				}
			}
		}
	}
	return nil
}

// GetCaseRow returns a case of the tenant without its conversation.
func (s *Store) GetCaseRow(ctx context.Context, tenantID, caseID string) (Case, error) {
	c, err := s.GetCaseRowSealed(ctx, tenantID, caseID)
	if err != nil {
		return Case{}, err
	}
	rows := []Case{c}
	if err := s.openCases(ctx, rows); err != nil {
		return Case{}, err
	}
	return rows[0], nil
}

// GetCaseRowSealed is GetCaseRow with the customer's fields left sealed
// (CustomerRef and Subject empty): for a caller that needs only the case's
// state, a message's hot path, it spares reading and opening the data key.
func (s *Store) GetCaseRowSealed(ctx context.Context, tenantID, caseID string) (Case, error) {
	var c Case
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", tenantID, caseID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Case{}, NotFound("case")
	}
	if err != nil {
		return Case{}, fmt.Errorf("get case: %w", err)
	}
	return c, nil
}

// GetCase returns a case of the tenant with its messages in order, without notes.
func (s *Store) GetCase(ctx context.Context, tenantID, caseID string) (Case, []Message, error) {
	c, err := s.GetCaseRow(ctx, tenantID, caseID)
	if err != nil {
		return Case{}, nil, err
	}
	var msgs []Message
	err = s.db.WithContext(ctx).Where("tenant_id = ? AND case_id = ? AND NOT internal", tenantID, caseID).
		Order("seq").Find(&msgs).Error
	if err != nil {
		return Case{}, nil, fmt.Errorf("get messages: %w", err)
	}
	if err := s.openMessages(ctx, tenantID, msgs); err != nil {
		return Case{}, nil, err
	}
	return c, msgs, nil
}

// ProjectionConflicts counts the conflicts the tenant's projection has
// detected and repaired.
func (s *Store) ProjectionConflicts(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw(`SELECT count(*) FROM projection_conflicts WHERE tenant_id = ?`, tenantID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count projection conflicts: %w", err)
	}
	return n, nil
}
