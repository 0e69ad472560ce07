package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"tandem/activities/store"
	"tandem/workflows"
)

// EraseCustomerRequest is the body of POST /v1/customers/erase.
type EraseCustomerRequest struct {
	CustomerRef string `json:"customer_ref"`
	Reason      string `json:"reason"`
}

// PlaceHoldRequest is the body of POST /v1/legal-holds: a case or a customer.
type PlaceHoldRequest struct {
	CaseID      string `json:"case_id"`
	CustomerRef string `json:"customer_ref"`
	Reason      string `json:"reason"`
}

var errLegalHold = errorf(http.StatusConflict, "legal_hold", "a legal hold is on this customer or one of their cases")

// eraseCustomer crypto-shreds a customer's personal data: every data key of
// theirs is destroyed, in the same transaction as its audit entry.
func (s *Server) eraseCustomer(c *gin.Context) error {
	var req EraseCustomerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.CustomerRef = strings.TrimSpace(req.CustomerRef)
	var errs []FieldError
	if req.CustomerRef == "" || utf8.RuneCountInString(req.CustomerRef) > maxCustomerRefRunes {
		errs = append(errs, FieldError{"customer_ref", "is required, at most 128 characters"})
	}
	if msg := reasonCodeError(req.Reason, true); msg != "" {
		errs = append(errs, FieldError{"reason", msg})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	ctx, tenant := c.Request.Context(), principalOf(c).Tenant
	if held, err := s.store.CustomerHeld(ctx, tenant, req.CustomerRef); err != nil {
		return err
	} else if held {
		return s.refused(c, "customer.erase", "legal_hold", errLegalHold)
	}
	// Open cases are closed while their workflows can still read their
	// payloads: once the key is destroyed, no worker can.
	cases, err := s.store.CasesOf(ctx, tenant, req.CustomerRef)
	if err != nil {
		return err
	}
	closed, err := s.closeErasedCases(c, cases)
	if err != nil {
		return err // nothing is erased yet; erasing again closes what is left open
	}
	var destroyed []string
	err = s.store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if destroyed, err = tx.EraseCustomer(c.Request.Context(), principalOf(c).Tenant, req.CustomerRef); err != nil {
			return err
		}
		// The audit entry names no personal data: the erased reference stays erased.
		return tx.AppendAuditEvent(c.Request.Context(), s.auditEvent(c, auditEntry{Action: "customer.erase", ObjectType: "customer", Reason: req.Reason,
			Details: map[string]string{"keys_destroyed": strconv.Itoa(len(destroyed))}}))
	})
	if errors.Is(err, store.ErrLegalHold) {
		return s.refused(c, "customer.erase", "legal_hold", errLegalHold)
	}
	if err != nil {
		return err
	}
	// This process reads payloads no more with the destroyed keys; others
	// drop them from their caches within a minute.
	if s.forgetKeys != nil {
		s.forgetKeys(destroyed...)
	}
	if cases, err = s.store.CasesOf(ctx, tenant, req.CustomerRef); err != nil { // and any opened meanwhile
		return err
	}
	deleted, running, err := s.forgetHistories(ctx, cases)
	if err != nil {
		return err // erasing again deletes what is left
	}
	c.JSON(http.StatusOK, gin.H{"keys_destroyed": len(destroyed), "cases_closed": closed,
		"workflow_runs_deleted": deleted, "workflow_runs_running": running})
	return nil
}

// forgetHistories deletes from Temporal every run of the erased customer's
// cases and of their refund sagas. Their payloads are sealed under the
// customer's destroyed key, so they are unreadable already; deleting them
// also removes what histories recorded before payloads had customers' keys
// (under the deployment's payload key). A workflow still running (a refund
// waiting for a decision) can never read its history again: after a few
// seconds to finish, it is terminated. Runs that could not be ended are
// counted; erasing again deletes them.
func (s *Server) forgetHistories(ctx context.Context, cases []store.Case) (deleted, running int, err error) {
	for _, row := range cases {
		ids := []string{row.WorkflowID}
		refunds, err := s.store.CaseRefunds(ctx, row.TenantID, row.ID)
		if err != nil {
			return deleted, running, err
		}
		for _, r := range refunds {
			ids = append(ids, workflows.RefundWorkflowID(row.TenantID, r.ID))
		}
		for _, id := range ids {
			n, done, err := s.forgetRuns(ctx, id)
			if err != nil {
				return deleted, running, err
			}
			deleted += n
			if !done {
				running++
			}
		}
	}
	return deleted, running, nil
}

// forgetRuns deletes a finished workflow's runs, the latest first, following
// each run back to the one it continued; done is false for a workflow still
// running (a case just closed is given a few seconds to finish).
func (s *Server) forgetRuns(ctx context.Context, workflowID string) (deleted int, done bool, err error) {
	var notFound *serviceerror.NotFound
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if errors.As(err, &notFound) {
		return 0, true, nil // never started, or deleted by an earlier erasure
	}
	if err != nil {
		return 0, false, err
	}
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	if desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		wait, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.temporal.GetWorkflow(wait, workflowID, "").Get(wait, nil)
		cancel()
		if wait.Err() != nil {
			// A payment in flight has had its seconds; the saga's ledger
			// shows the reconciliation what it left.
			err = s.temporal.TerminateWorkflow(ctx, workflowID, "", CloseReasonErased)
			if err != nil && !errors.As(err, &notFound) {
				return 0, false, err
			}
		} else if err != nil && !isWorkflowEnded(err) {
			return 0, false, err
		}
		if desc, err = s.temporal.DescribeWorkflowExecution(ctx, workflowID, ""); err != nil {
			return 0, false, err
		}
		runID = desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	}
	for runID != "" {
		first, err := s.temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT).Next()
		if errors.As(err, &notFound) {
			break
		}
		if err != nil {
			return deleted, false, err
		}
		prev := first.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		_, err = s.temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: s.namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID}})
		if err != nil && !errors.As(err, &notFound) {
			return deleted, false, err
		}
		deleted++
		runID = prev
	}
	return deleted, true, nil
}

// isWorkflowEnded says a workflow's Get failed only because of how it ended
// (failed, terminated, timed out, cancelled): it has ended all the same.
func isWorkflowEnded(err error) bool {
	var failed *temporal.WorkflowExecutionError
	return errors.As(err, &failed)
}

// CloseReasonErased is the reason code of a case closed by its customer's erasure.
const CloseReasonErased = "customer_erased"

// closeErasedCases closes the erased customer's open cases, each with the
// reason code customer_erased, so no workflow goes on talking to or about
// them. An erasure asked again closes what a failure left open.
func (s *Server) closeErasedCases(c *gin.Context, cases []store.Case) (int, error) {
	closed := 0
	for _, row := range cases {
		if row.Status == workflows.StatusClosed {
			continue
		}
		var state workflows.CaseState
		err := s.sendUpdate(c.Request.Context(), caseUpdate(row, workflows.UpdateClose, workflows.UpdateClose,
			workflows.CloseInput{Reason: CloseReasonErased, Actor: actorOf(c)}), &state)
		if err != nil && !isCaseClosed(err) {
			return closed, err
		}
		closed++
	}
	return closed, nil
}

// refused audits a refused change and returns apiErr, its answer.
func (s *Server) refused(c *gin.Context, action, reason string, apiErr *Error) error {
	if err := s.audit(c, auditEntry{Action: action, Outcome: "refused", Reason: reason}); err != nil {
		return err
	}
	return apiErr
}

// holdObject says what a hold is on without naming the customer: the
// permanent chain holds no customer identifier, not even the blind index,
// whose key outlives an erasure.
func holdObject(req PlaceHoldRequest) string {
	if req.CaseID != "" {
		return "case"
	}
	return "customer"
}

func (s *Server) placeHold(c *gin.Context) error {
	var req PlaceHoldRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var errs []FieldError
	if (req.CaseID == "") == (req.CustomerRef == "") {
		errs = append(errs, FieldError{"case_id", "give exactly one of case_id and customer_ref"})
	}
	if req.CaseID != "" {
		if _, err := uuid.Parse(req.CaseID); err != nil {
			return errCaseNotFound
		}
	}
	if msg := reasonCodeError(req.Reason, true); msg != "" {
		errs = append(errs, FieldError{"reason", msg})
	}
	if len(errs) > 0 {
		return validationError(errs)
	}
	p := principalOf(c)
	var hold store.LegalHold
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if hold, err = tx.PlaceHold(c.Request.Context(), p.Tenant, req.CaseID, req.CustomerRef, req.Reason, p.ID); err != nil {
			return err
		}
		return tx.AppendAuditEvent(c.Request.Context(), s.auditEvent(c, auditEntry{Action: "legal_hold.place", ObjectType: "legal_hold", ObjectID: hold.ID,
			CaseID: req.CaseID, Reason: req.Reason, Details: map[string]string{"on": holdObject(req)}}))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"legal_hold": hold})
	return nil
}

func (s *Server) releaseHold(c *gin.Context) error {
	p := principalOf(c)
	var hold store.LegalHold
	err := s.store.InTx(c.Request.Context(), func(tx *store.Store) error {
		var err error
		if hold, err = tx.ReleaseHold(c.Request.Context(), p.Tenant, c.Param("id"), p.ID); err != nil {
			return err
		}
		return tx.AppendAuditEvent(c.Request.Context(), s.auditEvent(c, auditEntry{Action: "legal_hold.release", ObjectType: "legal_hold", ObjectID: hold.ID}))
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"legal_hold": hold})
	return nil
}

func (s *Server) listHolds(c *gin.Context) error {
	holds, err := s.store.ListHolds(c.Request.Context(), principalOf(c).Tenant)
	if err != nil {
		return err
	}
	if holds == nil {
		holds = []store.LegalHold{}
	}
	c.JSON(http.StatusOK, gin.H{"legal_holds": holds})
	return nil
}
