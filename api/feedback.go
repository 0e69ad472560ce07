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
func (s *Server) feedback(c *gin.Context) error {
	row, err := s.loadCase(c)
	if err != nil {
		return err
	}
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	if err != nil || seq < 1 {
		return errorf(http.StatusNotFound, "message_not_found", "no such message")
	}
	var req FeedbackRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Helpful == nil {
		return validationError([]FieldError{{"helpful", "is required: true or false"}})
	}
	if row.Status == workflows.StatusClosed {
		return errCaseClosed
	}
	var state workflows.CaseState
	in := workflows.FeedbackInput{Actor: actorOf(c), Seq: seq, Helpful: *req.Helpful}
	if err := s.sendUpdate(c.Request.Context(), caseUpdate(row, workflows.UpdateFeedback, "feedback:"+c.Param("seq"), in), &state); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"case": caseFor(c, caseFromState(state))})
	return nil
}
