package api

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

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

// SplitRequest is the body of POST /v1/cases/{id}/split: the customer's
// messages (by sequence) that start a new case, and its subject (default:
// the case's own).
type SplitRequest struct {
	MessageSeqs []int64 `json:"message_seqs"`
	Subject     string  `json:"subject,omitempty"`
}

// maxSplitMessages bounds the messages one split takes.
const maxSplitMessages = 50

// splitCase starts a new case of the same customer and channel from chosen
// customer messages of this one, which keeps them: the new case opens with
// their text (the AI answers it as any opening), and a note on each case
// names the other. The new case's ID derives from the case and the
// messages, so a retry finds it.
func (s *Server) splitCase(c *gin.Context) error {
	var req SplitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var errs []FieldError
	if len(req.MessageSeqs) == 0 || len(req.MessageSeqs) > maxSplitMessages {
		errs = append(errs, FieldError{"message_seqs", "1 to 50 of the case's customer messages"})
	}
	req.Subject = strings.TrimSpace(req.Subject)
	if utf8.RuneCountInString(req.Subject) > maxSubjectRunes {
		errs = append(errs, FieldError{"subject", "at most 200 characters"})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	source, err := s.loadCase(c)
	if err != nil {
		return err
	}
	if source.Status == workflows.StatusClosed {
		return errCaseClosed
	}
	seqs := slices.Sorted(slices.Values(slices.Compact(slices.Sorted(slices.Values(req.MessageSeqs)))))
	msgs, err := s.store.MessagesBySeq(c.Request.Context(), source.TenantID, source.ID, seqs...)
	if err != nil {
		return err
	}
	var parts []string
	for _, m := range msgs {
		if m.AuthorKind == workflows.AuthorCustomer && !m.Internal && !m.Erased {
			parts = append(parts, m.Body)
		}
	}
	if len(parts) != len(seqs) {
		return validationError([]FieldError{{"message_seqs", "each one of the case's customer messages"}})
	}
	body := strings.Join(parts, "\n\n")
	if reason := workflows.ValidateMessageBody(body); reason != "" {
		return validationError([]FieldError{{"message_seqs", "together: " + reason}})
	}
	names := make([]string, len(seqs))
	for i, q := range seqs {
		names[i] = strconv.FormatInt(q, 10)
	}
	caseID := uuid.NewSHA1(caseIDNamespace, []byte(source.TenantID+"\x00split:"+source.ID+":"+strings.Join(names, ","))).String()
	opening := workflows.CaseOpening{TenantID: source.TenantID, CaseID: caseID, CustomerRef: source.CustomerRef, Channel: source.Channel,
		Subject: cmp.Or(req.Subject, source.Subject), Priority: source.Priority}
	res, err := s.startCase(c.Request.Context(), opening, body, actorOf(c))
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return errorf(http.StatusConflict, "case_closed", "the case split from these messages is closed already")
	}
	if err != nil {
		return err
	}
	actor, list := actorOf(c), strings.Join(names, ", ")
	for _, n := range []struct {
		row  store.Case
		text string
	}{
		{source, "Messages " + list + " were split into case " + caseID + "."},
		{store.Case{TenantID: source.TenantID, ID: caseID, WorkflowID: workflows.CaseWorkflowID(source.TenantID, caseID)},
			"Split from case " + source.ID + " (messages " + list + ")."},
	} {
		var noted workflows.PostMessageResult
		if err := s.sendUpdate(c.Request.Context(), caseUpdate(n.row, workflows.UpdateAddNote, "split:"+caseID,
			workflows.NoteInput{Actor: actor, Body: n.text}), &noted); err != nil {
			return err
		}
	}
	out, err := s.exchange(c.Request.Context(), source.TenantID, caseID, res, body)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, out)
	return nil
}
