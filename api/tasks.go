package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/workflows"
)

// claimCase gives a queued case to the calling agent. Of agents claiming at
// once exactly one wins; the others get 409 not_claimable. The winner
// retrying gets the case again.
func (s *Server) claimCase(c *gin.Context) {
	row, ok := s.loadCase(c)
	if !ok {
		return
	}
	p := principalOf(c)
	if row.Status == workflows.StatusAssigned && row.AssigneeID != nil && *row.AssigneeID == p.ID {
		c.JSON(http.StatusOK, gin.H{"case": caseFromRow(row)}) // a retried claim
		return
	}
	var state workflows.CaseState
	// One update ID per agent: a retry in the same run is the same claim.
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
	f := store.ListFilter{Status: workflows.StatusQueued, Queue: queue, Cursor: c.Query("cursor"), Limit: defaultPageSize}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			respondError(c, s.log, validationError([]FieldError{{"limit", "must be a whole number from 1 to 100"}}))
			return
		}
		f.Limit = n
	}
	rows, next, err := s.store.ListCases(c.Request.Context(), principalOf(c).Tenant, f)
	if err != nil {
		respondError(c, s.log, err)
		return
	}
	out := CaseList{Cases: make([]CaseJSON, 0, len(rows)), NextCursor: next}
	for _, r := range rows {
		out.Cases = append(out.Cases, caseFromRow(r))
	}
	c.JSON(http.StatusOK, out)
}
