package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"tandem/activities/store"
	"tandem/workflows"
)

// claimCase gives a queued case to the calling agent. Of agents claiming at
// once exactly one wins; the others get 409 not_claimable. The winner
// retrying gets the case again.
func (s *Server) claimCase(c *gin.Context) {
	// One read decides both: a second read could find the winner's claim
	// recorded in between and turn a lost race into a 404.
	if _, err := uuid.Parse(c.Param("id")); err != nil {
		respondError(c, s.log, errCaseNotFound)
		return
	}
	row, err := s.store.GetCaseRow(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
	if err == nil && s.lostClaim(c, row) {
		respondError(c, s.log, errorf(http.StatusConflict, "not_claimable", "another agent claimed the case first"))
		return
	}
	if err == nil {
		err = s.inScope(c, row)
	}
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	p := principalOf(c)
	var state workflows.CaseState
	// One update ID per agent: a retry in the same run is the same claim,
	// and the workflow answers a retry in a later run with the case it holds.
	if err := s.update(c.Request.Context(), row, "claim:"+p.ID, workflows.UpdateClaim,
		workflows.ClaimInput{Actor: actorOf(c)}, &state); err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFromState(state)})
}

// queueTasks lists the cases waiting in a queue, oldest first by opening.
// Agents see only the queues they work.
func (s *Server) queueTasks(c *gin.Context) {
	queue := c.Param("queue")
	if !queueName.MatchString(queue) {
		respondError(c, s.log, errorf(http.StatusNotFound, "queue_not_found", "no such queue"))
		return
	}
	scope, err := s.agentScope(c)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	if scope != nil && !slices.Contains(scope.Queues, queue) {
		respondError(c, s.log, errorf(http.StatusForbidden, "forbidden", "you do not work this queue"))
		return
	}
	limit, limitErr := pageLimit(c)
	if limitErr != nil {
		respondError(c, s.log, validationError([]FieldError{*limitErr}))
		return
	}
	s.respondCaseList(c, store.ListFilter{Status: workflows.StatusQueued, Queue: queue, Cursor: c.Query("cursor"), Limit: limit})
}

// AgentMessageRequest is the body of POST /v1/cases/{id}/reply and
// /request-info; it has the shape of PostMessageRequest, which reads it.
type AgentMessageRequest = PostMessageRequest

// ResolveRequest is the body of POST /v1/cases/{id}/resolve.
type ResolveRequest struct {
	Code string `json:"code"`
}

// updateID is "<action>:<Idempotency-Key>", so a retry is the same update
// within a run, or a fresh ID when the caller sent no key.
func updateID(c *gin.Context, action string) (string, error) {
	key, err := idempotencyKey(c)
	if err != nil || key == "" {
		return action + ":" + uuid.NewString(), err
	}
	return action + ":" + key, nil
}

// agentMessage handles reply and request-info: a person's message to the customer.
func (s *Server) agentMessage(update string) gin.HandlerFunc {
	return func(c *gin.Context) {
		row, body, ok := s.loadCaseAndBody(c)
		if !ok {
			return
		}
		id, err := updateID(c, update)
		if err != nil {
			respondError(c, s.log, err)
			return
		}
		key, _ := idempotencyKey(c) // checked by updateID
		var res workflows.PostMessageResult
		in := workflows.AgentMessageInput{Actor: actorOf(c), Body: body, ClientKey: key}
		if err := s.update(c.Request.Context(), row, id, update, in, &res); err != nil {
			respondError(c, s.log, err)
			return
		}
		out, err := s.exchange(c.Request.Context(), row.TenantID, row.ID, res, body)
		if err != nil {
			respondError(c, s.log, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"case": out.Case, "message": out.Message})
	}
}

func (s *Server) releaseCase(c *gin.Context) {
	row, ok := s.loadCase(c)
	if !ok {
		return
	}
	id, err := updateID(c, workflows.UpdateRelease)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	var state workflows.CaseState
	if err := s.update(c.Request.Context(), row, id, workflows.UpdateRelease, workflows.ActorInput{Actor: actorOf(c)}, &state); err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFromState(state)})
}

func (s *Server) resolveCase(c *gin.Context) {
	row, ok := s.loadCase(c)
	if !ok {
		return
	}
	var req ResolveRequest
	if err := decodeJSON(c, &req); err != nil {
		respondError(c, s.log, err)
		return
	}
	if !slices.Contains(workflows.ResolutionCodes, req.Code) {
		respondError(c, s.log, validationError([]FieldError{{"code", "must be one of " + strings.Join(workflows.ResolutionCodes, ", ")}}))
		return
	}
	id, err := updateID(c, workflows.UpdateResolve)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	var state workflows.CaseState
	if err := s.update(c.Request.Context(), row, id, workflows.UpdateResolve, workflows.ResolveInput{Actor: actorOf(c), Code: req.Code}, &state); err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFromState(state)})
}

// ReassignRequest is the body of POST /v1/cases/{id}/reassign.
type ReassignRequest struct {
	AgentID string `json:"agent_id"`
}

// reassignCase gives a case to another agent of the tenant (supervisors).
func (s *Server) reassignCase(c *gin.Context) {
	row, ok := s.loadCase(c)
	if !ok {
		return
	}
	var req ReassignRequest
	if err := decodeJSON(c, &req); err != nil {
		respondError(c, s.log, err)
		return
	}
	if _, err := s.store.GetAgent(c.Request.Context(), principalOf(c).Tenant, req.AgentID); errors.Is(err, store.ErrNotFound) || req.AgentID == "" {
		respondError(c, s.log, validationError([]FieldError{{"agent_id", "must be an agent of your tenant (one with availability or queues)"}}))
		return
	} else if err != nil {
		respondError(c, s.log, err)
		return
	}
	id, err := updateID(c, workflows.UpdateReassign)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	var state workflows.CaseState
	if err := s.update(c.Request.Context(), row, id, workflows.UpdateReassign,
		workflows.ReassignInput{Actor: actorOf(c), To: req.AgentID}, &state); err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFromState(state)})
}

// escalateCase sends a case from its owner to the supervisors' queue.
func (s *Server) escalateCase(c *gin.Context) {
	row, ok := s.loadCase(c)
	if !ok {
		return
	}
	id, err := updateID(c, workflows.UpdateEscalate)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	var state workflows.CaseState
	if err := s.update(c.Request.Context(), row, id, workflows.UpdateEscalate, workflows.EscalateInput{Actor: actorOf(c)}, &state); err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFromState(state)})
}

// lostClaim says an agent's claim came after another agent's: the case was
// in a queue the agent works and someone else owns it now. Out of their
// scope, it would read as 404; the agent raced for it, so it is a 409.
func (s *Server) lostClaim(c *gin.Context, row store.Case) bool {
	scope, err := s.agentScope(c)
	if err != nil || scope == nil || row.AssigneeID == nil || *row.AssigneeID == scope.AgentID || row.Queue == nil {
		return false
	}
	return slices.Contains(scope.Queues, *row.Queue)
}
