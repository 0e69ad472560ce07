package store

import (
	"context"
	"fmt"
)

// HeldWrite is a projection write whose webhook events wait for its
// workflow task to be known committed or lost.
type HeldWrite struct {
	TenantID string
	CaseID   string
	WrittenAt
}

// heldWritesSQL reads the oldest held events through their index (a few
// per position: 1000 rows cover any round), never the whole table.
const heldWritesSQL = `SELECT tenant_id, case_id::text AS case_id, workflow_id, run_id, proj_gen, proj_event
	FROM (SELECT * FROM webhook_events WHERE held ORDER BY seq LIMIT 1000) held
	GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY min(seq) LIMIT ?`

// HeldWrites returns the positions that hold events, oldest first.
func (s *Store) HeldWrites(ctx context.Context, limit int) ([]HeldWrite, error) {
	var rows []struct {
		TenantID, CaseID, WorkflowID, RunID string
		ProjGen, ProjEvent                  int64
	}
	err := s.db.WithContext(ctx).Raw(heldWritesSQL, limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("held webhook events: %w", err)
	}
	out := make([]HeldWrite, len(rows))
	for i, r := range rows {
		out[i] = HeldWrite{TenantID: r.TenantID, CaseID: r.CaseID,
			WrittenAt: WrittenAt{WorkflowID: r.WorkflowID, RunID: r.RunID, Gen: r.ProjGen, Event: r.ProjEvent}}
	}
	return out, nil
}

// ReleaseEvents lets the events a committed write made go to webhooks and
// the live stream, and wakes the deliveries waiting for them.
func (s *Store) ReleaseEvents(ctx context.Context, w HeldWrite) error {
	return s.InTx(ctx, func(tx *Store) error {
		var ids []string
		if err := tx.db.Raw(`UPDATE webhook_events SET held = false
			WHERE tenant_id = ? AND held AND run_id = ? AND proj_gen = ? AND proj_event = ? RETURNING id`,
			w.TenantID, w.RunID, w.Gen, w.Event).Scan(&ids).Error; err != nil {
			return fmt.Errorf("release webhook events: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		// The update wakes the endpoints' delivery loops (webhook_delivery_due).
		return tx.db.Exec(`UPDATE webhook_deliveries SET next_attempt_at = now() WHERE tenant_id = ? AND event_id IN ? AND status = 'pending'`,
			w.TenantID, ids).Error
	})
}

// ConflictWriteLost is a projection write whose workflow task was lost:
// its events were never sent, and its case is repaired from the workflow.
const ConflictWriteLost = "write_lost"

// VoidEvents drops the events of a write whose workflow task was lost,
// with their deliveries, before anyone is told of them, and records the
// lost write as a conflict on the case's trail.
func (s *Store) VoidEvents(ctx context.Context, w HeldWrite) (int, error) {
	var n int
	err := s.InTx(ctx, func(tx *Store) error {
		// Locked, and the position checked again once locked: an event the
		// task done again has just moved to its own position is not this
		// write's any more, and a second settler finds nothing left.
		var ids []string
		if err := tx.db.Raw(`SELECT id FROM webhook_events WHERE tenant_id = ? AND held AND run_id = ? AND proj_gen = ? AND proj_event = ? FOR UPDATE`,
			w.TenantID, w.RunID, w.Gen, w.Event).Scan(&ids).Error; err != nil {
			return fmt.Errorf("void webhook events: %w", err)
		}
		if n = len(ids); n == 0 {
			return nil
		}
		if err := tx.db.Exec(`DELETE FROM webhook_deliveries WHERE tenant_id = ? AND event_id IN ?`, w.TenantID, ids).Error; err != nil {
			return fmt.Errorf("void webhook deliveries: %w", err)
		}
		if err := tx.db.Exec(`DELETE FROM webhook_events WHERE tenant_id = ? AND id IN ?`, w.TenantID, ids).Error; err != nil {
			return fmt.Errorf("void webhook events: %w", err)
		}
		return tx.noteConflicts(ctx, w.TenantID, w.WorkflowID, w.Gen, w.Event, []Conflict{{CaseID: w.CaseID, Kind: ConflictWriteLost}})
	})
	return n, err
}
