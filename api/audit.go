package api

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"tandem/activities/store"
)

// auditEntry is what the API records of a request on the audit trail. An
// empty Decision is "allow" and an empty Outcome "success".
type auditEntry struct {
	Action, ObjectType, ObjectID, CaseID string
	Decision, Outcome, Reason            string
	Details                              map[string]string
}

// audit appends an entry for what the caller is doing now. Entries made here
// are events of the request itself (a read, a denial), so each gets a fresh
// ID; changes to cases are audited by the workflow with the change.
func (s *Server) audit(c *gin.Context, e auditEntry) error {
	_, err := s.store.AppendAudit(c.Request.Context(), s.auditEvent(c, e))
	return err
}

// auditTx appends a successful, allowed change inside the transaction that makes it.
func (s *Server) auditTx(c *gin.Context, tx *store.Store, action, objType, objID string, details map[string]string) error {
	return tx.AppendAuditEvent(c.Request.Context(), s.auditEvent(c, auditEntry{Action: action, ObjectType: objType, ObjectID: objID, Details: details}))
}

func (s *Server) auditEvent(c *gin.Context, e auditEntry) store.AuditEvent {
	p := principalOf(c)
	details := maps.Clone(e.Details)
	if details == nil {
		details = map[string]string{}
	}
	details["request_id"] = c.Writer.Header().Get(requestIDHeader)
	raw, _ := json.Marshal(details) // a map of strings always marshals
	return store.AuditEvent{
		TenantID: p.Tenant, ID: uuid.NewString(), OccurredAt: time.Now(),
		ActorKind: p.Kind, ActorID: p.ID, Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID,
		CaseID: e.CaseID, Decision: cmp.Or(e.Decision, "allow"), Outcome: cmp.Or(e.Outcome, "success"), Reason: e.Reason, Details: string(raw),
	}
}

// AuditEventList is the body of GET /v1/audit/events.
type AuditEventList struct {
	Events     []store.AuditEvent `json:"events"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) listAuditEvents(c *gin.Context) error {
	f := store.AuditFilter{CaseID: c.Query("case_id"), ActorID: c.Query("actor_id"), Action: c.Query("action")}
	var errs []FieldError
	var limitErr *FieldError
	if f.Limit, limitErr = pageLimit(c, defaultPageSize, maxPageSize); limitErr != nil {
		errs = append(errs, *limitErr)
	}
	// The filter goes onto the permanent trail (audit.read): only a case ID.
	if f.CaseID != "" && !canonicalUUID(f.CaseID) {
		errs = append(errs, FieldError{"case_id", "must be a case ID (a UUID)"})
	}
	if len(f.ActorID) > 200 || len(f.Action) > 100 {
		errs = append(errs, FieldError{"actor_id", "actor_id at most 200 and action at most 100 characters"})
	}
	if raw := c.Query("cursor"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "invalid_cursor", "the cursor is not one this API issued")
		}
		f.AfterSeq = n
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if raw := c.Query(name); raw != "" {
			t, err := time.Parse(time.RFC3339, raw)
			if err != nil {
				errs = append(errs, FieldError{name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
			}
			*dst = t
		}
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	if err := s.audit(c, auditEntry{Action: "audit.read", ObjectType: "audit", CaseID: f.CaseID}); err != nil {
		return err
	}
	events, err := s.store.ListAudit(c.Request.Context(), principalOf(c).Tenant, f)
	if err != nil {
		return err
	}
	out := AuditEventList{Events: events}
	if out.Events == nil {
		out.Events = []store.AuditEvent{}
	}
	if len(events) == f.Limit {
		out.NextCursor = strconv.FormatInt(events[len(events)-1].Seq, 10)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// TrailEntry is one step of a case's trail: an audit entry, with the message
// it concerns when it concerns one.
type TrailEntry struct {
	Event   store.AuditEvent `json:"event"`
	Message *MessageJSON     `json:"message,omitempty"`
	// Proof (exports only) is the entry's inclusion proof in the tree the
	// export's checkpoint signs; absent for entries newer than it.
	Proof []string `json:"proof,omitempty"`
}

// CaseTrail is the body of GET /v1/cases/{id}/trail.
type CaseTrail struct {
	Case      CaseJSON     `json:"case"`
	Trail     []TrailEntry `json:"trail"`
	NextAfter int64        `json:"next_after,omitempty"` // ?after= of the next page (a chain position); absent on the last
}

// caseTrail returns, in chain order, everything that happened to a case and
// who did it, with the conversation's messages where they occurred.
// Pages come by ?after=<chain position>&limit= (100 by default, at most 500).
func (s *Server) caseTrail(c *gin.Context) error {
	after, limit, err := messagePage(c)
	if err != nil {
		return err
	}
	trail, err := s.loadTrail(c, "case.trail.read", nil, after, limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, trail)
	return nil
}

// loadTrail audits the access as action (with details), then reads the
// case's trail after chain position after: limit entries, or all of them
// (limit 0, for exports); the access's own entry is part of it.
func (s *Server) loadTrail(c *gin.Context, action string, details map[string]string, after int64, limit int) (CaseTrail, error) {
	ctx := c.Request.Context()
	row, err := s.loadCase(c)
	if err != nil {
		return CaseTrail{}, err
	}
	if err := s.audit(c, auditEntry{Action: action, ObjectType: "case", ObjectID: row.ID, CaseID: row.ID, Details: details}); err != nil {
		return CaseTrail{}, err
	}
	out := CaseTrail{Case: caseFromRow(row), Trail: []TrailEntry{}}
	f := store.AuditFilter{CaseID: row.ID, AfterSeq: after, Limit: 1000}
	if limit > 0 {
		f.Limit = limit + 1
	}
	for {
		events, err := s.store.ListAudit(ctx, row.TenantID, f)
		if err != nil {
			return CaseTrail{}, err
		}
		if limit > 0 && len(events) > limit {
			events = events[:limit]
			out.NextAfter = events[limit-1].Seq
		}
		entries, err := s.withMessages(ctx, row, events)
		if err != nil {
			return CaseTrail{}, err
		}
		out.Trail = append(out.Trail, entries...)
		if limit > 0 || len(events) < f.Limit {
			return out, nil
		}
		f.AfterSeq = events[len(events)-1].Seq
	}
}

// withMessages pairs trail entries with the messages they concern.
func (s *Server) withMessages(ctx context.Context, row store.Case, events []store.AuditEvent) ([]TrailEntry, error) {
	entries := make([]TrailEntry, len(events))
	var seqs []int64
	for i, e := range events {
		entries[i].Event = e
		var d map[string]string
		if json.Unmarshal([]byte(e.Details), &d) == nil {
			if seq, err := strconv.ParseInt(d["message_seq"], 10, 64); err == nil {
				seqs = append(seqs, seq)
			}
		}
	}
	if len(seqs) == 0 {
		return entries, nil
	}
	msgs, err := s.store.MessagesBySeq(ctx, row.TenantID, row.ID, seqs...)
	if err != nil {
		return nil, err
	}
	bySeq := map[string]MessageJSON{}
	for _, m := range msgs {
		bySeq[strconv.FormatInt(m.Seq, 10)] = messageFromRow(m)
	}
	for i, e := range events {
		var d map[string]string
		if json.Unmarshal([]byte(e.Details), &d) == nil {
			if m, ok := bySeq[d["message_seq"]]; ok {
				entries[i].Message = &m
			}
		}
	}
	return entries, nil
}
