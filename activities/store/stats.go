package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tandem/workflows"
)

// ErrNotRatable: only a resolved or closed case can be rated.
var ErrNotRatable = errors.New("the case is not resolved")

// RateCase records the customer's rating of a resolved or closed case; a
// second rating replaces the first (the customer changed their mind).
func (s *Store) RateCase(ctx context.Context, tenantID, caseID string, score int) error {
	var c Case
	err := s.db.WithContext(ctx).Select("status").Where("tenant_id = ? AND id = ?", tenantID, caseID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return NotFound("case")
	}
	if err != nil {
		return fmt.Errorf("read case: %w", err)
	}
	if !slices.Contains(workflows.Done, c.Status) {
		return ErrNotRatable
	}
	return s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "tenant_id"}, {Name: "case_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"score", "rated_at"}),
	}).Table("case_ratings").Create(map[string]any{
		"tenant_id": tenantID, "case_id": caseID, "score": score, "rated_at": time.Now().UTC(),
	}).Error
}

// Stats are a tenant's figures over the cases opened in a time range.
type Stats struct {
	From                  time.Time      `json:"from"`
	To                    time.Time      `json:"to"`
	CasesOpened           int64          `json:"cases_opened"`
	CasesResolvedOrClosed int64          `json:"cases_resolved_or_closed"`
	AIResolvedShare       *float64       `json:"ai_resolved_share"` // of resolved or closed cases, those never escalated
	Escalations           map[string]int `json:"escalations"`       // by reason code
	FirstResponseAISec    *float64       `json:"first_response_ai_p50_seconds"`
	FirstResponseHumanSec *float64       `json:"first_response_human_p50_seconds"` // from opening to a person's first message
	ResolutionSec         *float64       `json:"resolution_p50_seconds"`
	ReopenRate            *float64       `json:"reopen_rate"`     // of resolved or closed cases, those reopened
	SLABreachRate         *float64       `json:"sla_breach_rate"` // of cases opened, those that breached an SLA target
	CSATAverage           *float64       `json:"csat_average"`
	CSATCount             int64          `json:"csat_count"`
}

// CaseStats computes a tenant's figures over the cases opened in [from, to).
func (s *Store) CaseStats(ctx context.Context, tenantID string, from, to time.Time) (Stats, error) {
	st := Stats{From: from, To: to, Escalations: map[string]int{}}
	db := s.db.WithContext(ctx)
	var row struct {
		Opened, Done, DoneByAI, Reopened int64
		Breached                         int64
		AIFirst, HumanFirst, Resolution  *float64
		CSATAvg                          *float64
		CSATCount                        int64
	}
	err := db.Raw(`
WITH c AS (
    SELECT id, opened_at, status, escalation_reason, sla_breached_at, coalesce(resolved_at, closed_at) AS done_at
    FROM cases WHERE tenant_id = @t AND opened_at >= @from AND opened_at < @to
), first_reply AS (
    SELECT m.case_id,
           min(m.created_at) FILTER (WHERE m.author_kind IN ('system', 'ai')) AS ai_at,
           min(m.created_at) FILTER (WHERE m.author_kind = 'agent' AND NOT m.internal) AS agent_at
    FROM messages m JOIN c ON c.id = m.case_id WHERE m.tenant_id = @t GROUP BY m.case_id
), reopened AS (
    SELECT DISTINCT case_id FROM audit_events WHERE tenant_id = @t AND action = @reopen
)
SELECT
    count(*) AS opened,
    count(*) FILTER (WHERE c.sla_breached_at IS NOT NULL) AS breached,
    count(*) FILTER (WHERE c.status IN @done) AS done,
    count(*) FILTER (WHERE c.status IN @done AND c.escalation_reason IS NULL) AS done_by_ai,
    count(*) FILTER (WHERE c.status IN @done AND c.id::text IN (SELECT case_id FROM reopened)) AS reopened,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.ai_at - c.opened_at)) AS ai_first,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.agent_at - c.opened_at)) AS human_first,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.done_at - c.opened_at)) AS resolution,
    (SELECT avg(score) FROM case_ratings r JOIN c ON c.id = r.case_id WHERE r.tenant_id = @t) AS csat_avg,
    (SELECT count(*) FROM case_ratings r JOIN c ON c.id = r.case_id WHERE r.tenant_id = @t) AS csat_count
FROM c LEFT JOIN first_reply f ON f.case_id = c.id`,
		map[string]any{"t": tenantID, "from": from, "to": to, "done": workflows.Done, "reopen": workflows.AuditCaseReopen}).Scan(&row).Error
	if err != nil {
		return st, fmt.Errorf("case stats: %w", err)
	}
	st.CasesOpened, st.CasesResolvedOrClosed = row.Opened, row.Done
	st.FirstResponseAISec, st.FirstResponseHumanSec, st.ResolutionSec = row.AIFirst, row.HumanFirst, row.Resolution
	st.CSATAverage, st.CSATCount = row.CSATAvg, row.CSATCount
	if row.Opened > 0 {
		b := float64(row.Breached) / float64(row.Opened)
		st.SLABreachRate = &b
	}
	if row.Done > 0 {
		ai := float64(row.DoneByAI) / float64(row.Done)
		re := float64(row.Reopened) / float64(row.Done)
		st.AIResolvedShare, st.ReopenRate = &ai, &re
	}
	var reasons []struct {
		Reason string
		N      int
	}
	if err := db.Raw(`SELECT escalation_reason AS reason, count(*) AS n FROM cases
		WHERE tenant_id = ? AND opened_at >= ? AND opened_at < ? AND escalation_reason IS NOT NULL
		GROUP BY escalation_reason ORDER BY escalation_reason`, tenantID, from, to).Scan(&reasons).Error; err != nil {
		return st, fmt.Errorf("escalation reasons: %w", err)
	}
	for _, r := range reasons {
		st.Escalations[r.Reason] = r.N
	}
	return st, nil
}
