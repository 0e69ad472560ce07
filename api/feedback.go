package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"tandem/workflows"
)

// FeedbackRequest is the body of POST /v1/cases/{id}/messages/{seq}/feedback.
type FeedbackRequest struct {
	Helpful *bool `json:"helpful"`
}

// feedback records the customer's verdict on an AI answer. A helpful answer
// resolves a case the AI still has; enough unhelpful ones (by the pinned
// policy) hand it to people. The first verdict on an answer stands: a retry,
// or a second verdict, returns the case unchanged.
func (s *Server) feedback(c *gin.Context) {
	row, ok := s.loadCase(c)
	if !ok {
		return
	}
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	if err != nil || seq < 1 {
		respondError(c, s.log, errorf(http.StatusNotFound, "message_not_found", "no such message"))
		return
	}
	var req FeedbackRequest
	if err := decodeJSON(c, &req); err != nil {
		respondError(c, s.log, err)
		return
	}
	if req.Helpful == nil {
		respondError(c, s.log, validationError([]FieldError{{"helpful", "is required: true or false"}}))
		return
	}
	if row.Status == workflows.StatusClosed {
		respondError(c, s.log, errCaseClosed)
		return
	}
	var state workflows.CaseState
	in := workflows.FeedbackInput{Actor: actorOf(c), Seq: seq, Helpful: *req.Helpful}
	if err := s.update(c.Request.Context(), row, "feedback:"+c.Param("seq"), workflows.UpdateFeedback, in, &state); err != nil {
		respondError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFromState(state)})
}
