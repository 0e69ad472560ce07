package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"tandem/activities/store"
	"tandem/workflows"
)

// claimCase gives a queued case to the calling agent. Of agents claiming at
// once exactly one wins; the others get 409 not_claimable. The winner
// retrying gets the case again.
func (s *Server) claimCase(c *gin.Context) error {
	// One read decides both: a second read could find the winner's claim
	// recorded in between and turn a lost race into a 404.
	if _, err := uuid.Parse(c.Param("id")); err != nil {
		return errCaseNotFound
	}
	row, err := s.store.GetCaseRow(c.Request.Context(), principalOf(c).Tenant, c.Param("id"))
	if err == nil && s.lostClaim(c, row) {
		return errorf(http.StatusConflict, "not_claimable", "another agent claimed the case first")
	}
	if err == nil {
		err = s.inScope(c, row)
	}
	if err != nil {
		return err
	}
	// The update ID is the request's, never the agent's: an agent who
	// claimed, released and claims again makes a new claim. A retry with the
	// same Idempotency-Key is the same update; one without a key finds the
	// case held by its agent, which the workflow answers as a retry.
	id, err := s.updateID(c, row, workflows.UpdateClaim)
	if err != nil {
		return err
	}
	var state workflows.CaseState
	if err := s.sendUpdate(c.Request.Context(), caseUpdate(row, workflows.UpdateClaim, id, workflows.ClaimInput{Actor: actorOf(c)}), &state); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFromState(state)})
	return nil
}

// queueTasks lists the cases waiting in a queue, oldest first by opening.
// Agents see only the queues they work.
func (s *Server) queueTasks(c *gin.Context) error {
	queue := c.Param("queue")
	if !queueName.MatchString(queue) {
		return errorf(http.StatusNotFound, "queue_not_found", "no such queue")
	}
	scope, err := s.agentScope(c)
	if err != nil {
		return err
	}
	if scope != nil && !slices.Contains(scope.Queues, queue) {
		return errorf(http.StatusForbidden, "forbidden", "you do not work this queue")
	}
	limit, limitErr := pageLimit(c, defaultPageSize, maxPageSize)
	if limitErr != nil {
		return validationError([]FieldError{*limitErr})
	}
	return s.respondCaseList(c, store.ListFilter{Status: workflows.StatusQueued, Queue: queue, Cursor: c.Query("cursor"), Limit: limit}, s.store.ListCases)
}

// AgentMessageRequest is the body of POST /v1/cases/{id}/reply and
// /request-info; it has the shape of PostMessageRequest, which reads it.
type AgentMessageRequest = PostMessageRequest

// ResolveRequest is the body of POST /v1/cases/{id}/resolve.
type ResolveRequest struct {
	Code string `json:"code"`
}

// updateID is "<action>:<Idempotency-Key>", so a retry is the same update,
// or a fresh ID when the caller sent no key. A key first used longer than
// workflows.KeyRetention ago is refused (409 idempotency_key_expired).
func (s *Server) updateID(c *gin.Context, row store.Case, action string) (string, error) {
	key, err := idempotencyKey(c)
	if err != nil || key == "" {
		return action + ":" + uuid.NewString(), err
	}
	id := action + ":" + key
	return id, s.keyInTime(c, row.TenantID, row.ID, id)
}

// keyInTime records the first use of a keyed update of the case and
// refuses it once workflows.KeyRetention has passed since: the workflow
// remembers a key that long, and a retry it no longer knows would be
// applied again.
func (s *Server) keyInTime(c *gin.Context, tenant, caseID, updateID string) error {
	first, err := s.store.UseUpdateKey(c.Request.Context(), tenant, caseID, updateID)
	if err != nil {
		return err
	}
	if time.Since(first) > workflows.KeyRetention {
		return errKeyExpired
	}
	return nil
}

// agentMessage handles reply and request-info: a person's message to the customer.
func (s *Server) agentMessage(update string) handlerFunc {
	return func(c *gin.Context) error {
		row, body, files, err := s.loadCaseAndBody(c)
		if err != nil {
			return err
		}
		id, err := s.updateID(c, row, update)
		if err != nil {
			return err
		}
		key, _ := idempotencyKey(c) // checked by updateID
		var res workflows.PostMessageResult
		in := workflows.AgentMessageInput{Actor: actorOf(c), Body: body, ClientKey: key, Attachments: files}
		if err := s.sendUpdate(c.Request.Context(), caseUpdate(row, update, id, in), &res); err != nil {
			return err
		}
		out, err := s.exchange(c.Request.Context(), row.TenantID, row.ID, res, body)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"case": out.Case, "message": out.Message})
		return nil
	}
}

// caseAction sends the case in the path the update name with the argument
// arg reads from the request (and checks), and answers with the case after
// it. The update ID is the action's with the caller's Idempotency-Key, so a
// retry within a run is the same update.
func (s *Server) caseAction(c *gin.Context, name string, arg func() (any, error)) error {
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	in, err := arg()
	if err != nil {
		return err
	}
	id, err := s.updateID(c, row, name)
	if err != nil {
		return err
	}
	var state workflows.CaseState
	if err := s.sendUpdate(c.Request.Context(), caseUpdate(row, name, id, in), &state); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFromState(state)})
	return nil
}

// releaseCase puts the caller's case back in its queue.
func (s *Server) releaseCase(c *gin.Context) error {
	return s.caseAction(c, workflows.UpdateRelease, func() (any, error) { return workflows.ActorInput{Actor: actorOf(c)}, nil })
}

// escalateCase sends a case from its owner to the supervisors' queue.
func (s *Server) escalateCase(c *gin.Context) error {
	return s.caseAction(c, workflows.UpdateEscalate, func() (any, error) { return workflows.EscalateInput{Actor: actorOf(c)}, nil })
}

// resolveCase resolves the caller's case with a resolution code.
func (s *Server) resolveCase(c *gin.Context) error {
	return s.caseAction(c, workflows.UpdateResolve, func() (any, error) {
		var req ResolveRequest
		if err := decodeJSON(c, &req); err != nil {
			return nil, err
		}
		if !slices.Contains(workflows.ResolutionCodes, req.Code) {
			return nil, validationError([]FieldError{{"code", "must be one of " + strings.Join(workflows.ResolutionCodes, ", ")}})
		}
		required, err := s.requiredFields(c)
		if err != nil {
			return nil, err
		}
		return workflows.ResolveInput{Actor: actorOf(c), Code: req.Code, Required: required}, nil
	})
}

// ReassignRequest is the body of POST /v1/cases/{id}/reassign.
type ReassignRequest struct {
	AgentID string `json:"agent_id"`
}

// reassignCase gives a case to another agent of the tenant (supervisors).
func (s *Server) reassignCase(c *gin.Context) error {
	return s.caseAction(c, workflows.UpdateReassign, func() (any, error) {
		var req ReassignRequest
		if err := decodeJSON(c, &req); err != nil {
			return nil, err
		}
		_, err := s.store.GetAgent(c.Request.Context(), principalOf(c).Tenant, req.AgentID)
		switch {
		case errors.Is(err, store.ErrNotFound) || req.AgentID == "":
			return nil, validationError([]FieldError{{"agent_id", "must be an agent of your tenant (one with availability or queues)"}})
		case err != nil:
			return nil, err
		}
		return workflows.ReassignInput{Actor: actorOf(c), To: req.AgentID}, nil
	})
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
