package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"tandem/activities/envelope"
	"tandem/workflows"
)

// Errors of a rating: the case is not done, its survey window has closed,
// or its customer rated it already, otherwise.
var (
	ErrNotRatable   = errors.New("the case is not resolved")
	ErrSurveyClosed = errors.New("the survey closed")
	ErrAlreadyRated = errors.New("the case is rated already")
)

// RateCase records the customer's rating of a resolved or closed case,
// with an optional comment sealed under their data key, within window of
// its resolution (or closing). A case is rated once: the same rating again
// is a retry (first false), another is ErrAlreadyRated.
func (s *Store) RateCase(ctx context.Context, tenantID, caseID string, score int, comment string, window time.Duration) (first bool, err error) {
	err = s.InTx(ctx, func(tx *Store) error {
		var c Case
		err := tx.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", tenantID, caseID).Take(&c).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return NotFound("case")
		}
		if err != nil {
			return fmt.Errorf("read case: %w", err)
		}
		if !slices.Contains(workflows.Done, c.Status) {
			return ErrNotRatable
		}
		done := c.ResolvedAt
		if done == nil {
			done = c.ClosedAt
		}
		if done != nil && time.Since(*done) > window {
			return ErrSurveyClosed
		}
		var dek []byte
		if c.KeyID != nil {
			keys, err := tx.dataKeys(ctx, tenantID, []string{*c.KeyID})
			if err != nil {
				return err
			}
			if dek = keys[*c.KeyID]; dek == nil {
				return ErrCustomerErased
			}
		}
		var had []struct {
			Score     int
			CommentCT []byte
		}
		if err := tx.db.WithContext(ctx).Raw(`SELECT score, comment_ct FROM case_ratings WHERE tenant_id = ? AND case_id = ? FOR UPDATE`,
			tenantID, caseID).Scan(&had).Error; err != nil {
			return fmt.Errorf("read rating: %w", err)
		}
		if len(had) > 0 {
			var said string
			if had[0].CommentCT != nil && dek != nil {
				plain, err := envelope.Open(dek, had[0].CommentCT, ratingAAD(tenantID, caseID))
				if err != nil {
					return fmt.Errorf("open rating comment: %w", err)
				}
				said = string(plain)
			}
			if had[0].Score != score || said != comment {
				return ErrAlreadyRated
			}
			return nil
		}
		var sealed []byte
		if comment != "" && dek != nil {
			if sealed, err = envelope.Seal(dek, []byte(comment), ratingAAD(tenantID, caseID)); err != nil {
				return err
			}
		}
		first = true
		return tx.db.WithContext(ctx).Exec(`INSERT INTO case_ratings (tenant_id, case_id, score, rated_at, comment_ct, key_id) VALUES (?, ?, ?, ?, ?, ?)`,
			tenantID, caseID, score, time.Now().UTC(), sealed, c.KeyID).Error
	})
	return first, err
}

func ratingAAD(tenantID, caseID string) []byte {
	return []byte("rating:" + tenantID + ":" + caseID)
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
	// CSAT by who handled the case (ai: never escalated; person), by the
	// queue and the agent it ended with, and the latest comments.
	CSATByHandler []CSATGroup   `json:"csat_by_handler"`
	CSATByQueue   []CSATGroup   `json:"csat_by_queue"`
	CSATByAgent   []CSATGroup   `json:"csat_by_agent"`
	CSATComments  []CSATComment `json:"csat_comments"`
}

// CSATGroup is the customers' ratings of one group of cases.
type CSATGroup struct {
	Key     string  `json:"key"`
	Average float64 `json:"average"`
	Count   int64   `json:"count"`
}

// CSATComment is a rating's comment ("" with Erased once the customer was).
type CSATComment struct {
	CaseID  string    `json:"case_id"`
	Score   int       `json:"score"`
	Comment string    `json:"comment"`
	Erased  bool      `json:"erased,omitempty"`
	RatedAt time.Time `json:"rated_at"`
}

// maxCSATComments bounds the comments a stats answer carries.
const maxCSATComments = 20

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
	for _, g := range []struct {
		key string
		out *[]CSATGroup
	}{
		{"CASE WHEN c.escalation_reason IS NULL THEN 'ai' ELSE 'person' END", &st.CSATByHandler},
		{"coalesce(c.queue, '')", &st.CSATByQueue},
		{"c.assignee_id", &st.CSATByAgent},
	} {
		*g.out = []CSATGroup{}
		if err := db.Raw(`SELECT `+g.key+` AS key, avg(r.score)::float8 AS average, count(*) AS count
			FROM case_ratings r JOIN cases c ON c.tenant_id = r.tenant_id AND c.id = r.case_id
			WHERE r.tenant_id = ? AND c.opened_at >= ? AND c.opened_at < ? AND `+g.key+` IS NOT NULL
			GROUP BY 1 ORDER BY 1`, tenantID, from, to).Scan(g.out).Error; err != nil {
			return st, fmt.Errorf("csat groups: %w", err)
		}
	}
	var comments []struct {
		CaseID    string
		Score     int
		CommentCT []byte
		KeyID     *string
		RatedAt   time.Time
	}
	if err := db.Raw(`SELECT r.case_id::text AS case_id, r.score, r.comment_ct, r.key_id, r.rated_at
		FROM case_ratings r JOIN cases c ON c.tenant_id = r.tenant_id AND c.id = r.case_id
		WHERE r.tenant_id = ? AND c.opened_at >= ? AND c.opened_at < ? AND r.comment_ct IS NOT NULL
		ORDER BY r.rated_at DESC LIMIT ?`, tenantID, from, to, maxCSATComments).Scan(&comments).Error; err != nil {
		return st, fmt.Errorf("csat comments: %w", err)
	}
	var ids []string
	for _, c := range comments {
		if c.KeyID != nil {
			ids = append(ids, *c.KeyID)
		}
	}
	keys, err := s.dataKeys(ctx, tenantID, ids)
	if err != nil {
		return st, err
	}
	st.CSATComments = []CSATComment{}
	for _, c := range comments {
		out := CSATComment{CaseID: c.CaseID, Score: c.Score, RatedAt: c.RatedAt.UTC(), Erased: true}
		if c.KeyID != nil && keys[*c.KeyID] != nil {
			plain, err := envelope.Open(keys[*c.KeyID], c.CommentCT, ratingAAD(tenantID, c.CaseID))
			if err != nil {
				return st, fmt.Errorf("open rating comment of case %s: %w", c.CaseID, err)
			}
			out.Comment, out.Erased = string(plain), false
		}
		st.CSATComments = append(st.CSATComments, out)
	}
	return st, nil
}
