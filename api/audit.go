package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"tandem/activities/store"
)

// audit appends an entry for what the caller is doing now. Entries made here
// are events of the request itself (a read, a denial), so each gets a fresh
// ID; changes to cases are audited by the workflow with the change.
func (s *Server) audit(c *gin.Context, action, objType, objID, caseID, decision, outcome, reason string, details map[string]string) error {
	_, err := s.store.AppendAudit(c.Request.Context(), s.auditEvent(c, action, objType, objID, caseID, decision, outcome, reason, details))
	return err
}

// auditTx appends a successful, allowed change inside the transaction that makes it.
func (s *Server) auditTx(c *gin.Context, tx *store.Store, action, objType, objID string, details map[string]string) error {
	return tx.AppendAuditEvent(c.Request.Context(), s.auditEvent(c, action, objType, objID, "", "allow", "success", "", details))
}

func (s *Server) auditEvent(c *gin.Context, action, objType, objID, caseID, decision, outcome, reason string, details map[string]string) store.AuditEvent {
	p := principalOf(c)
	if details == nil {
		details = map[string]string{}
	}
	details["request_id"] = c.Writer.Header().Get(requestIDHeader)
	raw, _ := json.Marshal(details) // a map of strings always marshals
	return store.AuditEvent{
		TenantID: p.Tenant, ID: uuid.NewString(), OccurredAt: time.Now(),
		ActorKind: p.Kind, ActorID: p.ID, Action: action, ObjectType: objType, ObjectID: objID,
		CaseID: caseID, Decision: decision, Outcome: outcome, Reason: reason, Details: string(raw),
	}
}

// AuditEventList is the body of GET /v1/audit/events.
type AuditEventList struct {
	Events     []store.AuditEvent `json:"events"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) listAuditEvents(c *gin.Context) {
	f := store.AuditFilter{CaseID: c.Query("case_id"), ActorID: c.Query("actor_id"), Action: c.Query("action")}
	var errs []FieldError
	var limitErr *FieldError
	if f.Limit, limitErr = pageLimit(c); limitErr != nil {
		errs = append(errs, *limitErr)
	}
	if raw := c.Query("cursor"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			respondError(c, s.log, errorf(http.StatusBadRequest, "invalid_cursor", "the cursor is not one this API issued"))
			return
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
		respondError(c, s.log, validationError(errs))
		return
	}
	if err := s.audit(c, "audit.read", "audit", "", f.CaseID, "allow", "success", "", nil); err != nil {
		respondError(c, s.log, err)
		return
	}
	events, err := s.store.ListAudit(c.Request.Context(), principalOf(c).Tenant, f)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	out := AuditEventList{Events: events}
	if out.Events == nil {
		out.Events = []store.AuditEvent{}
	}
	if len(events) == f.Limit {
		out.NextCursor = strconv.FormatInt(events[len(events)-1].Seq, 10)
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) verifyAudit(c *gin.Context) {
	if err := s.audit(c, "audit.verify", "audit", "", "", "allow", "success", "", nil); err != nil {
		respondError(c, s.log, err)
		return
	}
	v, err := s.store.VerifyAudit(c.Request.Context(), principalOf(c).Tenant, s.auditKey)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// TrailEntry is one step of a case's trail: an audit entry, with the message
// it concerns when it concerns one.
type TrailEntry struct {
	Event   store.AuditEvent `json:"event"`
	Message *MessageJSON     `json:"message,omitempty"`
}

// CaseTrail is the body of GET /v1/cases/{id}/trail.
type CaseTrail struct {
	Case  CaseJSON     `json:"case"`
	Trail []TrailEntry `json:"trail"`
}

// caseTrail returns, in chain order, everything that happened to a case and
// who did it, with the conversation's messages where they occurred.
func (s *Server) caseTrail(c *gin.Context) {
	trail, err := s.loadTrail(c, "case.trail.read", nil)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, trail)
}

// loadTrail audits the access as action (with details), then reads the
// case's whole trail; the access's own entry is part of it.
func (s *Server) loadTrail(c *gin.Context, action string, details map[string]string) (CaseTrail, error) {
	ctx := c.Request.Context()
	tenant := principalOf(c).Tenant
	row, msgs, err := s.store.GetCase(ctx, tenant, c.Param("id"))
	if err == nil {
		err = s.inScope(c, row)
	}
	if err != nil {
		return CaseTrail{}, err
	}
	if err := s.audit(c, action, "case", row.ID, row.ID, "allow", "success", "", details); err != nil {
		return CaseTrail{}, err
	}
	bySeq := map[string]MessageJSON{}
	for _, m := range msgs {
		bySeq[strconv.FormatInt(m.Seq, 10)] = messageFromRow(m)
	}
	out := CaseTrail{Case: caseFromRow(row), Trail: []TrailEntry{}}
	f := store.AuditFilter{CaseID: row.ID, Limit: 1000}
	for {
		events, err := s.store.ListAudit(ctx, tenant, f)
		if err != nil {
			return CaseTrail{}, err
		}
		for _, e := range events {
			entry := TrailEntry{Event: e}
			var d map[string]string
			if json.Unmarshal([]byte(e.Details), &d) == nil {
				if m, ok := bySeq[d["message_seq"]]; ok {
					entry.Message = &m
				}
			}
			out.Trail = append(out.Trail, entry)
		}
		if len(events) < f.Limit {
			break
		}
		f.AfterSeq = events[len(events)-1].Seq
	}
	return out, nil
}
