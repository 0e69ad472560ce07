package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// queuedAudit is an audit entry waiting for its position in its chain.
type queuedAudit struct {
	TenantID   string
	QSeq       int64 `gorm:"column:qseq;primaryKey;autoIncrement"`
	ID         string
	OccurredAt time.Time
	ActorKind  string
	ActorID    string
	Action     string
	ObjectType string
	ObjectID   string
	CaseID     string
	Decision   string
	Outcome    string
	Reason     string
	Details    string
	QueuedAt   time.Time `gorm:"default:now()"`
}

func (queuedAudit) TableName() string { return "audit_queue" }

func toQueued(e AuditEvent) queuedAudit {
	return queuedAudit{TenantID: e.TenantID, ID: e.ID, OccurredAt: e.OccurredAt, ActorKind: e.ActorKind, ActorID: e.ActorID,
		Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, CaseID: e.CaseID, Decision: e.Decision, Outcome: e.Outcome,
		Reason: e.Reason, Details: e.Details}
}

func (q queuedAudit) event() AuditEvent {
	return AuditEvent{TenantID: q.TenantID, ID: q.ID, OccurredAt: q.OccurredAt, ActorKind: q.ActorKind, ActorID: q.ActorID,
		Action: q.Action, ObjectType: q.ObjectType, ObjectID: q.ObjectID, CaseID: q.CaseID, Decision: q.Decision,
		Outcome: q.Outcome, Reason: q.Reason, Details: q.Details}
}

// sequenceBatch is how many queued entries one sequencing transaction takes.
const sequenceBatch = 1000

// SequenceAudit gives the tenant's queued entries their positions in its
// chain, in the order they were queued, a batch per transaction, and
// returns how many it added. Sequencers of one tenant take turns on its
// head; each transaction is short (read the queue, append, advance the
// head), so writers that queue meanwhile are not held up, and whoever
// sequences next takes their entries too. An ID already in the chain (two
// transactions queued one entry) is added once; one whose ID the chain
// holds with other content is added under the ID with @q<n>, so nothing
// queued is lost.
func (s *Store) SequenceAudit(ctx context.Context, tenantID string) (int, error) {
	total := 0
	for {
		n, _, err := s.sequenceBatch(ctx, tenantID, nil)
		total += n
		if err != nil || n < sequenceBatch {
			return total, err
		}
	}
}

// sequenceWith sequences a batch of the tenant's queue and then entries
// (prepared, not queued), in one transaction, and returns entries as stored.
func (s *Store) sequenceWith(ctx context.Context, tenantID string, entries []AuditEvent) ([]AuditEvent, error) {
	_, out, err := s.sequenceBatch(ctx, tenantID, entries)
	return out, err
}

func (s *Store) sequenceBatch(ctx context.Context, tenantID string, extra []AuditEvent) (int, []AuditEvent, error) {
	taken := 0
	var out []AuditEvent
	err := s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		var head auditHead
		err := db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("tenant_id = ?", tenantID).Take(&head).Error
		if errors.Is(err, gorm.ErrRecordNotFound) && len(extra) == 0 {
			var any []int64
			if err := db.Raw(`SELECT qseq FROM audit_queue WHERE tenant_id = ? LIMIT 1`, tenantID).Scan(&any).Error; err != nil {
				return fmt.Errorf("read audit queue: %w", err)
			}
			if len(any) == 0 {
				return nil // no chain, and nothing to start one with
			}
		}
		if errors.Is(err, gorm.ErrRecordNotFound) { // the tenant's first entry
			if err := db.Clauses(clause.OnConflict{DoNothing: true}).
				Create(&auditHead{TenantID: tenantID, Seq: 0, Hash: genesis}).Error; err != nil {
				return fmt.Errorf("create audit head: %w", err)
			}
			err = db.Clauses(clause.Locking{Strength: "UPDATE"}).Where("tenant_id = ?", tenantID).Take(&head).Error
		}
		if err != nil {
			return fmt.Errorf("lock audit head: %w", err)
		}
		var queued []queuedAudit
		if err := db.Where("tenant_id = ?", tenantID).Order("qseq").Limit(sequenceBatch).Find(&queued).Error; err != nil {
			return fmt.Errorf("read audit queue: %w", err)
		}
		if len(queued) == 0 && len(extra) == 0 {
			return nil
		}
		ids := make([]string, 0, 2*len(queued)+len(extra))
		qseqs := make([]int64, len(queued))
		for i, q := range queued {
			ids = append(ids, q.ID, q.ID+"@q"+strconv.FormatInt(q.QSeq, 10))
			qseqs[i] = q.QSeq
		}
		for _, e := range extra {
			ids = append(ids, e.ID)
			queued = append(queued, toQueued(e)) // QSeq 0: not in the queue
		}
		var found []AuditEvent
		if err := db.Where("id IN ?", ids).Find(&found).Error; err != nil {
			return fmt.Errorf("look up audit events: %w", err)
		}
		stored := make(map[string]AuditEvent, len(found)+len(queued))
		for _, e := range found {
			stored[e.ID] = e
		}
		var fresh []AuditEvent
		seq, prev := head.Seq, head.Hash
		for _, q := range queued {
			e := q.event()
			if had, ok := stored[e.ID]; ok {
				if sameAudit(had, e) || q.QSeq == 0 { // an append of an ID the chain holds returns what it holds
					continue
				}
				e.ID += "@q" + strconv.FormatInt(q.QSeq, 10)
				if _, ok := stored[e.ID]; ok {
					continue
				}
			}
			seq++
			e.Seq, e.PrevHash = seq, prev
			e.Hash = ChainHash(prev, e)
			prev = e.Hash
			stored[e.ID] = e
			fresh = append(fresh, e)
		}
		if len(fresh) > 0 {
			if err := db.Create(&fresh).Error; err != nil {
				return fmt.Errorf("append audit events: %w", err)
			}
			if err := db.Model(&auditHead{}).Where("tenant_id = ?", tenantID).
				Updates(map[string]any{"seq": seq, "hash": prev}).Error; err != nil {
				return fmt.Errorf("advance audit head: %w", err)
			}
		}
		if len(qseqs) > 0 {
			if err := db.Exec(`DELETE FROM audit_queue WHERE qseq IN ?`, qseqs).Error; err != nil {
				return fmt.Errorf("empty audit queue: %w", err)
			}
		}
		taken, out = len(qseqs), nil
		for _, e := range extra {
			out = append(out, stored[e.ID])
		}
		return nil
	})
	return taken, out, err
}

// AuditBacklog is what waits to be sequenced: entries the API has
// acknowledged that are not yet in their chain.
type AuditBacklog struct {
	Entries int64         `json:"entries"`
	Oldest  time.Duration `json:"oldest"` // how long the oldest has waited
}

// SequenceAll sequences every tenant's queued entries (the worker's round,
// for entries whose writer stopped before it sequenced them) and returns
// the backlog it found.
func (s *Store) SequenceAll(ctx context.Context) (AuditBacklog, error) {
	var b struct {
		Entries int64
		Oldest  float64
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT count(*) AS entries, coalesce(extract(epoch FROM now() - min(queued_at)), 0) AS oldest FROM audit_queue`).
		Scan(&b).Error; err != nil {
		return AuditBacklog{}, fmt.Errorf("read audit queue: %w", err)
	}
	backlog := AuditBacklog{Entries: b.Entries, Oldest: time.Duration(b.Oldest * float64(time.Second))}
	if b.Entries == 0 {
		return backlog, nil
	}
	var tenants []string
	if err := s.db.WithContext(ctx).Raw(`SELECT DISTINCT tenant_id FROM audit_queue`).Scan(&tenants).Error; err != nil {
		return backlog, fmt.Errorf("read audit queue: %w", err)
	}
	for _, t := range tenants {
		if _, err := s.SequenceAudit(ctx, t); err != nil {
			return backlog, err
		}
	}
	return backlog, nil
}
