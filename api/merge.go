package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"tandem/activities/store"
	"tandem/workflows"
)

// MergeRequest is the body of POST /v1/cases/{id}/merge: the case the
// duplicate in the path is merged into.
type MergeRequest struct {
	Into string `json:"into"`
}

// MergedBody answers a merge: the duplicate, closed, and the case it went into.
type MergedBody struct {
	Case CaseJSON `json:"case"`
	Into CaseJSON `json:"into"`
}

// caseMerged answers a message to a merged case: front ends follow case_id.
func caseMerged(into string) *Error {
	return &Error{Status: http.StatusConflict, Code: "case_merged", Message: "the case was merged into another: write to that one", CaseID: into}
}

// mergeCase merges a duplicate into another case of the same customer,
// both of which the caller may work: the target takes it in (a staff note
// where it happened), then the duplicate closes as merged, naming the
// target. Each step is an update whose ID names the other case, so a retry
// changes neither twice.
func (s *Server) mergeCase(c *gin.Context) error {
	var req MergeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	source, err := s.loadCase(c)
	if err != nil {
		return err
	}
	if !canonicalUUID(req.Into) || req.Into == source.ID {
		return validationError([]FieldError{{"into", "another case's ID"}})
	}
	target, err := s.store.GetCaseRowSealed(c.Request.Context(), source.TenantID, req.Into)
	if errors.Is(err, store.ErrNotFound) {
		return validationError([]FieldError{{"into", "no such case"}})
	}
	if err != nil {
		return err
	}
	if err := s.inScope(c, target); errors.Is(err, errCaseNotFound) {
		return validationError([]FieldError{{"into", "no such case"}})
	} else if err != nil {
		return err
	}
	if string(target.CustomerHash) != string(source.CustomerHash) {
		return validationError([]FieldError{{"into", "a case of another customer: only one customer's duplicates merge"}})
	}
	if source.MergedInto != nil && *source.MergedInto == target.ID {
		// A retry of a merge done: answer it as it stands.
	} else if target.Status == workflows.StatusClosed {
		return errorf(http.StatusConflict, "case_closed", "the case to merge into is closed")
	}
	actor := actorOf(c)
	var took workflows.PostMessageResult
	if err := s.sendUpdate(c.Request.Context(), caseUpdate(target, workflows.UpdateMergeFrom, "merge:"+source.ID,
		workflows.MergeInput{Actor: actor, Other: source.ID}), &took); err != nil {
		return err
	}
	var closed workflows.CaseState
	if err := s.sendUpdate(c.Request.Context(), caseUpdate(source, workflows.UpdateMergeInto, "merge:"+target.ID,
		workflows.MergeInput{Actor: actor, Other: target.ID}), &closed); err != nil {
		return err
	}
	c.JSON(http.StatusOK, MergedBody{Case: caseFromState(closed), Into: caseFromState(took.Case)})
	return nil
}
