package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"tandem/workflows"
)

// BulkJob is a bulk action and how far it has come.
type BulkJob struct {
	TenantID    string          `json:"-"`
	ID          string          `json:"id"`
	Action      string          `json:"action"`
	Request     json.RawMessage `json:"request"` // what was asked, without the list of cases
	RequestedBy string          `json:"requested_by"`
	Status      string          `json:"status"` // running, completed, cancelled
	Total       int             `json:"total"`
	CreatedAt   time.Time       `json:"created_at"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	// Counts of its cases by status: pending, done, failed, cancelled.
	Counts map[string]int `json:"counts" gorm:"-"`
}

// BulkItem is one case of a bulk action.
type BulkItem struct {
	CaseID  string  `json:"case_id"`
	Status  string  `json:"status"`
	Outcome *string `json:"outcome,omitempty"`
}

// ErrTooManyCases refuses a selection past workflows.MaxBulkCases.
var ErrTooManyCases = errors.New("a bulk action takes at most 10,000 cases")

// SelectBulkCases is the open cases a filter selects, or those of ids the
// tenant has (unknown ones dropped), at most workflows.MaxBulkCases.
func (s *Store) SelectBulkCases(ctx context.Context, tenantID string, f ListFilter, ids []string) ([]string, error) {
	q := s.db.WithContext(ctx).Table("cases").Where("tenant_id = ? AND status <> ?", tenantID, workflows.StatusClosed)
	if ids != nil {
		q = q.Where("id::text IN ?", ids)
	}
	q = f.narrow(q, "")
	var out []string
	if err := q.Order("opened_at, id").Limit(workflows.MaxBulkCases+1).Pluck("id::text", &out).Error; err != nil {
		return nil, fmt.Errorf("select cases: %w", err)
	}
	if len(out) > workflows.MaxBulkCases {
		return nil, ErrTooManyCases
	}
	return out, nil
}

// CreateBulkJob records a bulk action and its cases, once: a second call
// with the same ID finds it (created false).
func (s *Store) CreateBulkJob(ctx context.Context, j BulkJob, caseIDs []string) (created bool, err error) {
	res := s.db.WithContext(ctx).Exec(`INSERT INTO bulk_jobs (tenant_id, id, action, request, requested_by, status, total, created_at)
		VALUES (?, ?, ?, ?, ?, 'running', ?, ?) ON CONFLICT DO NOTHING`,
		j.TenantID, j.ID, j.Action, string(j.Request), j.RequestedBy, len(caseIDs), j.CreatedAt)
	if res.Error != nil {
		return false, fmt.Errorf("record bulk action: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	for start := 0; start < len(caseIDs); start += 1000 {
		chunk := caseIDs[start:min(start+1000, len(caseIDs))]
		if err := s.db.WithContext(ctx).Exec(`INSERT INTO bulk_items (tenant_id, bulk_id, case_id)
			SELECT ?, ?, unnest(?::uuid[])`, j.TenantID, j.ID, "{"+strings.Join(chunk, ",")+"}").Error; err != nil {
			return false, fmt.Errorf("record bulk cases: %w", err)
		}
	}
	return true, nil
}

// BulkJob returns a bulk action with its counts.
func (s *Store) BulkJob(ctx context.Context, tenantID, id string) (BulkJob, error) {
	var j BulkJob
	if !validUUID(id) {
		return j, NotFound("bulk")
	}
	err := s.db.WithContext(ctx).Raw(`SELECT tenant_id, id::text AS id, action, request, requested_by, status, total, created_at, finished_at
		FROM bulk_jobs WHERE tenant_id = ? AND id = ?`, tenantID, id).Take(&j).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return j, NotFound("bulk")
	}
	if err != nil {
		return j, fmt.Errorf("read bulk action: %w", err)
	}
	var counts []struct {
		Status string
		N      int
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT status, count(*) AS n FROM bulk_items WHERE tenant_id = ? AND bulk_id = ? GROUP BY status`,
		tenantID, id).Scan(&counts).Error; err != nil {
		return j, fmt.Errorf("count bulk cases: %w", err)
	}
	j.Counts = map[string]int{"pending": 0, "done": 0, "failed": 0, "cancelled": 0}
	for _, c := range counts {
		j.Counts[c.Status] = c.N
	}
	return j, nil
}

// BulkItems lists a bulk action's cases of a status (all: ""), by case ID,
// after a case ID, at most limit.
func (s *Store) BulkItems(ctx context.Context, tenantID, id, status, after string, limit int) ([]BulkItem, error) {
	q := s.db.WithContext(ctx).Table("bulk_items").Select("case_id::text AS case_id, status, outcome").
		Where("tenant_id = ? AND bulk_id = ?", tenantID, id)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if after != "" {
		q = q.Where("case_id > ?", after)
	}
	var out []BulkItem
	if err := q.Order("case_id").Limit(limit).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("read bulk cases: %w", err)
	}
	return out, nil
}

// PendingBulkCases are the next cases of a bulk action still to do.
func (s *Store) PendingBulkCases(ctx context.Context, tenantID, id string, limit int) ([]string, error) {
	var out []string
	err := s.db.WithContext(ctx).Table("bulk_items").Where("tenant_id = ? AND bulk_id = ? AND status = 'pending'", tenantID, id).
		Order("case_id").Limit(limit).Pluck("case_id::text", &out).Error
	if err != nil {
		return nil, fmt.Errorf("read pending bulk cases: %w", err)
	}
	return out, nil
}

// CountPendingBulkCases counts them.
func (s *Store) CountPendingBulkCases(ctx context.Context, tenantID, id string) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Table("bulk_items").Where("tenant_id = ? AND bulk_id = ? AND status = 'pending'", tenantID, id).Count(&n).Error
	return int(n), err
}

// FinishBulkCase records what became of one case.
func (s *Store) FinishBulkCase(ctx context.Context, tenantID, id, caseID, status, outcome string) error {
	return s.db.WithContext(ctx).Exec(`UPDATE bulk_items SET status = ?, outcome = nullif(?, ''), updated_at = now()
		WHERE tenant_id = ? AND bulk_id = ? AND case_id = ?`, status, outcome, tenantID, id, caseID).Error
}

// FinishBulkJob ends a bulk action: its cases still pending are cancelled
// when it was; it says whether this call ended it.
func (s *Store) FinishBulkJob(ctx context.Context, tenantID, id string, cancelled bool) (bool, error) {
	ended := false
	err := s.InTx(ctx, func(tx *Store) error {
		status := "completed"
		if cancelled {
			status = "cancelled"
			if err := tx.db.WithContext(ctx).Exec(`UPDATE bulk_items SET status = 'cancelled', updated_at = now()
				WHERE tenant_id = ? AND bulk_id = ? AND status = 'pending'`, tenantID, id).Error; err != nil {
				return err
			}
		}
		res := tx.db.WithContext(ctx).Exec(`UPDATE bulk_jobs SET status = ?, finished_at = now() WHERE tenant_id = ? AND id = ? AND status = 'running'`,
			status, tenantID, id)
		ended = res.RowsAffected == 1
		return res.Error
	})
	return ended, err
}
