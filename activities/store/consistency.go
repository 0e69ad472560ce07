package store

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"tandem/workflows"
)

// CasesToCheck lists the tenant's cases whose record may still differ from
// their workflow: every case not recorded closed, and those recorded closed
// in the last day (a close a lost workflow task wrote reads as closed too)
// and after closedAfter (a periodic check has checked those before it). At
// most limit, newest update first: a record a lost workflow task wrote is
// among the latest written, so with more open cases than the limit those are
// the ones checked (oldest first, they were the ones never reached).
func (s *Store) CasesToCheck(ctx context.Context, tenantID string, closedAfter time.Time, limit int) ([]Case, error) {
	if day := time.Now().Add(-24 * time.Hour); closedAfter.Before(day) {
		closedAfter = day
	}
	var rows []Case
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND (status <> ? OR updated_at > ?)", tenantID, workflows.StatusClosed, closedAfter).
		Order("updated_at DESC, id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("cases to check: %w", err)
	}
	return rows, nil
}

// MessageCounts counts a case's message rows up to and including seq, and
// lists those after it.
func (s *Store) MessageCounts(ctx context.Context, tenantID, caseID string, seq int64) (upTo int64, after []int64, err error) {
	db := s.db.WithContext(ctx)
	if err := db.Raw(`SELECT count(*) FROM messages WHERE tenant_id = ? AND case_id = ? AND seq <= ?`, tenantID, caseID, seq).Scan(&upTo).Error; err != nil {
		return 0, nil, fmt.Errorf("count messages: %w", err)
	}
	if err := db.Raw(`SELECT seq FROM messages WHERE tenant_id = ? AND case_id = ? AND seq > ? ORDER BY seq`, tenantID, caseID, seq).Scan(&after).Error; err != nil {
		return 0, nil, fmt.Errorf("list messages: %w", err)
	}
	return upTo, after, nil
}

// CaseRefundIDs lists the refunds recorded for a case.
func (s *Store) CaseRefundIDs(ctx context.Context, tenantID, caseID string) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Raw(`SELECT id FROM refunds WHERE tenant_id = ? AND case_id = ? ORDER BY id`, tenantID, caseID).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("case refunds: %w", err)
	}
	return ids, nil
}

// RepairCase makes a case's record agree with its workflow's committed
// state c, read at the position (c.ProjGen, c.ProjEvent): the row, unless a
// write at a later position has already moved it on (an update committed
// since the state was read: the record never moves backwards), and no
// message after c.LastSeq written before that position (only lost workflow
// tasks wrote those; a later committed write is after it). Each repair is
// recorded and audited as a conflict; none returned means nothing changed.
func (s *Store) RepairCase(ctx context.Context, c Case) ([]Conflict, error) {
	var conflicts []Conflict
	err := s.InTx(ctx, func(tx *Store) error {
		conflicts = nil
		var before Case
		if err := tx.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).
			Where("tenant_id = ? AND id = ?", c.TenantID, c.ID).Take(&before).Error; err != nil {
			return fmt.Errorf("read case: %w", err)
		}
		// A write at the state's own position that the state does not hold
		// is a lost task's (a task started there and committed is in the
		// state), whatever its sequence: only a later position is ahead.
		ahead := cmp.Compare(before.ProjGen, c.ProjGen) > 0 || before.ProjGen == c.ProjGen && before.ProjEvent > c.ProjEvent
		if !ahead && (before.LastSeq != c.LastSeq || before.Status != c.Status || deref(before.Queue) != deref(c.Queue) ||
			deref(before.AssigneeID) != deref(c.AssigneeID)) {
			if err := tx.db.WithContext(ctx).Model(&Case{}).Where("tenant_id = ? AND id = ?", c.TenantID, c.ID).
				Updates(caseState(c)).Error; err != nil {
				return fmt.Errorf("repair case: %w", err)
			}
			conflicts = append(conflicts, Conflict{CaseID: c.ID, Seq: c.LastSeq, Kind: ConflictCaseRepaired})
		}
		var removed []int64
		if err := tx.db.WithContext(ctx).Raw(`DELETE FROM messages WHERE tenant_id = ? AND case_id = ? AND seq > ?
			AND (proj_gen, proj_event) < (?, ?) RETURNING seq`, c.TenantID, c.ID, c.LastSeq, c.ProjGen, c.ProjEvent).Scan(&removed).Error; err != nil {
			return fmt.Errorf("remove uncommitted messages: %w", err)
		}
		for _, seq := range removed {
			conflicts = append(conflicts, Conflict{CaseID: c.ID, Seq: seq, Kind: ConflictMessageRemoved})
		}
		return tx.noteConflicts(ctx, c.TenantID, c.WorkflowID, c.ProjGen, c.ProjEvent, conflicts)
	})
	if err != nil {
		return nil, err
	}
	return conflicts, nil
}

// CaseRecord reads a case's row as it is now, without opening its sealed fields.
func (s *Store) CaseRecord(ctx context.Context, tenantID, caseID string) (Case, error) {
	var c Case
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", tenantID, caseID).Take(&c).Error; err != nil {
		return Case{}, fmt.Errorf("read case: %w", err)
	}
	return c, nil
}

// CaseTenants lists the tenants that have cases.
func (s *Store) CaseTenants(ctx context.Context) ([]string, error) {
	var ids []string
	if err := s.db.WithContext(ctx).Raw(`SELECT DISTINCT tenant_id FROM cases ORDER BY 1`).Scan(&ids).Error; err != nil {
		return nil, fmt.Errorf("case tenants: %w", err)
	}
	return ids, nil
}
