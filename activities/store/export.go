package store

import (
	"context"
	"fmt"
	"time"
)

// ExportRow is one case as an export lists it: where it stands, how it
// went (first answers by the AI and by a person, resolution, reason codes,
// its SLA), its tags and fields, its rating, and what its refunds paid.
type ExportRow struct {
	Case
	FirstAIAt    *time.Time
	FirstAgentAt *time.Time
	CSAT         *int
	RefundsPaid  string // "EUR 35.0000,USD 5.0000": paid per currency
}

// exportPage is how many cases an export reads at a time: its memory does
// not grow with the tenant's cases. ExportFlushEvery is how often a
// writer of them sends what it has.
const (
	exportPage       = 500
	ExportFlushEvery = 100
)

// ExportCases calls each for every case of the tenant the filter passes,
// oldest first, a page at a time (Limit and Cursor are not used).
func (s *Store) ExportCases(ctx context.Context, tenantID string, f ListFilter, each func(ExportRow) error) error {
	var after struct {
		at time.Time
		id string
	}
	for {
		q := f.narrow(s.db.WithContext(ctx).Table("cases c").Where("c.tenant_id = ?", tenantID), "c")
		if after.id != "" {
			q = q.Where("(c.opened_at, c.id) > (?, ?)", after.at, after.id)
		}
		var rows []ExportRow
		err := q.Select(`c.*,
			(SELECT min(m.created_at) FROM messages m WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND m.author_kind IN ('ai', 'system')) AS first_ai_at,
			(SELECT min(m.created_at) FROM messages m WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND m.author_kind = 'agent' AND NOT m.internal) AS first_agent_at,
			(SELECT r.score FROM case_ratings r WHERE r.tenant_id = c.tenant_id AND r.case_id = c.id) AS csat,
			coalesce((SELECT string_agg(x.currency || ' ' || x.total::text, ',' ORDER BY x.currency) FROM (
				SELECT f.currency, sum(f.amount) AS total FROM refunds f
				WHERE f.tenant_id = c.tenant_id AND f.case_id = c.id AND f.status = 'paid' GROUP BY f.currency) x), '') AS refunds_paid`).
			Order("c.opened_at, c.id").Limit(exportPage).Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("export cases: %w", err)
		}
		cases := make([]Case, len(rows))
		for i := range rows {
			cases[i] = rows[i].Case
		}
		if err := s.openCases(ctx, cases); err != nil {
			return err
		}
		for i := range rows {
			rows[i].Case = cases[i]
			if err := each(rows[i]); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return nil
		}
		last := rows[len(rows)-1]
		after.at, after.id = last.OpenedAt, last.ID
	}
}
