package api

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/policies"
)

// AvailabilityRequest is the body of PUT /v1/agents/{id}/availability.
type AvailabilityRequest struct {
	Status    string   `json:"status"`    // available, away, offline
	Capacity  *int     `json:"capacity"`  // cases held at once, 0–50
	Languages []string `json:"languages"` // en, zh-Hans, zh-Hant; none: any
}

// QueuesRequest is the body of PUT /v1/agents/{id}/queues.
type QueuesRequest struct {
	Queues []string `json:"queues"`
}

var (
	agentStatuses  = []string{"available", "away", "offline"}
	agentLanguages = []string{"en", "zh-Hans", "zh-Hant"}
	queueName      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
)

const (
	maxCapacity    = 50
	maxAgentQueues = 20
)

// agentParam reads the agent ID from the path: a subject of a person's token.
func agentParam(c *gin.Context) (string, error) {
	id := c.Param("id")
	if id == "" || len(id) > 128 || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return "", errorf(http.StatusNotFound, "agent_not_found", "no such agent")
	}
	return id, nil
}

// setAvailability lets an agent set their own availability, and supervisors
// and admins anyone's in their tenant.
func (s *Server) setAvailability(c *gin.Context) error {
	p := principalOf(c)
	id, err := agentParam(c)
	if err != nil {
		return err
	}
	if id != p.ID && policies.CaseScope(p.Roles) == policies.ScopeAssigned {
		return errorf(http.StatusForbidden, "forbidden", "agents set only their own availability")
	}
	var req AvailabilityRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var errs []FieldError
	if !slices.Contains(agentStatuses, req.Status) {
		errs = append(errs, FieldError{"status", "must be one of " + strings.Join(agentStatuses, ", ")})
	}
	if req.Capacity == nil || *req.Capacity < 0 || *req.Capacity > maxCapacity {
		errs = append(errs, FieldError{"capacity", "is required, from 0 to 50"})
	}
	slices.Sort(req.Languages)
	req.Languages = slices.Compact(req.Languages)
	for _, l := range req.Languages {
		if !slices.Contains(agentLanguages, l) {
			errs = append(errs, FieldError{"languages", "each one of " + strings.Join(agentLanguages, ", ")})
			break
		}
	}
	if req.Languages == nil {
		req.Languages = []string{}
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	var agent store.Agent
	err = s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		agent, err = tx.SetAvailability(c.Request.Context(), store.Agent{
			TenantID: p.Tenant, AgentID: id, Status: req.Status, Capacity: *req.Capacity, Languages: req.Languages, UpdatedBy: p.ID})
		if err != nil {
			return err
		}
		return s.auditTx(c, tx, "agent.availability", "agent", id,
			map[string]string{"status": req.Status, "capacity": strconv.Itoa(*req.Capacity), "languages": strings.Join(req.Languages, ",")})
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"agent": agent})
	return nil
}

// setQueues replaces the queues an agent works (supervisors and admins).
func (s *Server) setQueues(c *gin.Context) error {
	p := principalOf(c)
	id, err := agentParam(c)
	if err != nil {
		return err
	}
	var req QueuesRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	slices.Sort(req.Queues)
	req.Queues = slices.Compact(req.Queues)
	if len(req.Queues) > maxAgentQueues {
		return validationError([]FieldError{{"queues", "at most 20 queues"}})
	}
	for _, q := range req.Queues {
		if !queueName.MatchString(q) {
			return validationError([]FieldError{{"queues", "queue names are lower-case letters, digits, - and _, at most 40"}})
		}
	}
	var agent store.Agent
	err = s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		if err := tx.SetAgentQueues(c.Request.Context(), p.Tenant, id, req.Queues); err != nil {
			return err
		}
		var err error
		if agent, err = tx.GetAgent(c.Request.Context(), p.Tenant, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		agent.AgentID, agent.TenantID = id, p.Tenant
		return s.auditTx(c, tx, "agent.queues", "agent", id, map[string]string{"queues": strings.Join(req.Queues, ",")})
	})
	if err != nil {
		return err
	}
	if agent.Queues == nil {
		agent.Queues = []string{}
	}
	c.JSON(http.StatusOK, gin.H{"agent": agent})
	return nil
}

func (s *Server) getAgent(c *gin.Context) error {
	p := principalOf(c)
	id, err := agentParam(c)
	if err == nil && id != p.ID && policies.CaseScope(p.Roles) == policies.ScopeAssigned {
		err = errorf(http.StatusForbidden, "forbidden", "agents see only their own availability")
	}
	if err != nil {
		return err
	}
	agent, err := s.store.GetAgent(c.Request.Context(), p.Tenant, id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"agent": agent})
	return nil
}

func (s *Server) listAgents(c *gin.Context) error {
	agents, err := s.store.ListAgents(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"agents": agents})
	return nil
}
