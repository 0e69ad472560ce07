package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
)

// RatingRequest is the body of POST /v1/cases/{id}/rating: the customer's
// satisfaction from 1 to 5, and what they want to say (optional).
type RatingRequest struct {
	Score   int    `json:"score"`
	Comment string `json:"comment,omitempty"`
}

// maxCommentRunes bounds a rating's comment.
const maxCommentRunes = 1000

// rateCase takes the customer's rating of their resolved case, once, within
// the tenant's survey window; the same rating again answers the same.
func (s *Server) rateCase(c *gin.Context) error {
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	var req RatingRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var errs []FieldError
	if req.Score < 1 || req.Score > 5 {
		errs = append(errs, FieldError{"score", "must be a whole number from 1 to 5"})
	}
	if utf8.RuneCountInString(req.Comment) > maxCommentRunes || strings.ContainsFunc(req.Comment, isControlNotSpace) {
		errs = append(errs, FieldError{"comment", "at most 1000 characters, none of them control characters but line breaks and tabs"})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	policy, err := s.store.ServicePolicy(c.Request.Context(), row.TenantID)
	if err != nil {
		return err
	}
	err = s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		first, err := tx.RateCase(c.Request.Context(), row.TenantID, row.ID, req.Score, req.Comment, policy.Survey())
		if err != nil || !first {
			return err
		}
		return tx.AppendAuditEvent(c.Request.Context(), s.auditEvent(c, auditEntry{Action: "case.rating", ObjectType: "case", ObjectID: row.ID, CaseID: row.ID,
			Details: map[string]string{"score": strconv.Itoa(req.Score), "commented": strconv.FormatBool(req.Comment != "")}}))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"case_id": row.ID, "score": req.Score})
	return nil
}

// maxStatsRange bounds one stats query.
const maxStatsRange = 366 * 24 * time.Hour

// stats answers GET /v1/stats?from=&to= (RFC 3339; default the last 30 days)
// over the cases opened in the range.
func (s *Server) stats(c *gin.Context) error {
	to, from := time.Now().UTC(), time.Time{}
	var errs []FieldError
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if raw := c.Query(name); raw != "" {
			t, err := time.Parse(time.RFC3339, raw)
			if err != nil {
				errs = append(errs, FieldError{name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
			}
			*dst = t
		}
	}
	if from.IsZero() {
		from = to.Add(-30 * 24 * time.Hour)
	}
	if len(errs) == 0 && (!from.Before(to) || to.Sub(from) > maxStatsRange) {
		errs = append(errs, FieldError{"from", "must be before to, at most 366 days earlier"})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	st, err := s.store.CaseStats(c.Request.Context(), principalOf(c).Tenant, from, to)
	if err != nil {
		return err
	}
	rs, err := s.store.RefundStatistics(c.Request.Context(), principalOf(c).Tenant, from, to)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, StatsJSON{Stats: st, Refunds: refundStatsJSON(rs)})
	return nil
}

// StatsJSON is the body of GET /v1/stats: the cases' figures and the refunds'.
type StatsJSON struct {
	store.Stats
	Refunds RefundStatsJSON `json:"refunds"`
}

// RefundStatsJSON are the refund decisions of the range: how often rules
// rejected a request, and how often a person overturned such a rejection
// on appeal (null when there is nothing to divide by).
type RefundStatsJSON struct {
	store.RefundStats
	AutoRejectRate  *float64 `json:"auto_reject_rate"`
	OverturnedShare *float64 `json:"overturned_share"` // of appealed rejections
}

func refundStatsJSON(rs store.RefundStats) RefundStatsJSON {
	out := RefundStatsJSON{RefundStats: rs}
	if rs.Requests > 0 {
		r := float64(rs.AutoRejected) / float64(rs.Requests)
		out.AutoRejectRate = &r
	}
	if rs.Appealed > 0 {
		r := float64(rs.Overturned) / float64(rs.Appealed)
		out.OverturnedShare = &r
	}
	return out
}
