package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"tandem/activities/store"
	"tandem/workflows"
)

// workflowUpdate is an update sent to a workflow, whose result is awaited.
type workflowUpdate struct {
	WorkflowID string
	Name       string // the update's name (workflows.Update…)
	ID         string // its update ID: a retry with the same ID is the same update
	Arg        any
	// Finished is what it means that the workflow's run has completed: a
	// closed case, a saga that has run its course.
	Finished error
	// Ended is what a run that ended otherwise (failed, terminated, timed
	// out) means; nil: the same as Finished.
	Ended error
	// Gone is what it means that Temporal no longer has the workflow at all
	// (its retention passed, or an erasure deleted it); nil: Finished.
	Gone error
}

// caseUpdate is an update of a case's workflow. Only a completed run is a
// closed case: one that failed or was terminated left its case neither
// closed nor workable, which is a fault for a person to look at (500).
// Once Temporal has forgotten the workflow, the record says whether it closed.
func caseUpdate(row store.Case, name, id string, arg any) workflowUpdate {
	return workflowUpdate{WorkflowID: row.WorkflowID, Name: name, ID: id, Arg: arg, Finished: errCaseClosed,
		Ended: fmt.Errorf("case %s: its workflow ended without closing the case", row.ID), Gone: caseGone(row)}
}

// caseGone is the answer when Temporal no longer has the case's workflow:
// closed, if its record says so; otherwise the record and Temporal disagree.
func caseGone(row store.Case) error {
	if row.Status != workflows.StatusClosed {
		return fmt.Errorf("case %s: its workflow is gone while its record says %s", row.ID, row.Status)
	}
	return errCaseClosed
}

// sendUpdate sends u and waits for its result.
func (s *Server) sendUpdate(ctx context.Context, u workflowUpdate, result any) error {
	handle, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: u.WorkflowID, UpdateID: u.ID, UpdateName: u.Name, Args: []any{u.Arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = handle.Get(ctx, result)
	}
	var notFound *serviceerror.NotFound
	var deadline *serviceerror.DeadlineExceeded
	var notReady *serviceerror.WorkflowNotReady
	switch {
	case errors.As(err, &notFound) && u.Finished != nil:
		return s.updateNotFound(ctx, u, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadline) || errors.As(err, &notReady):
		return s.updateNotTaken(ctx, u, err)
	}
	return err
}

// updateNotFound says what it means that Temporal found no running
// workflow for u: how its run ended.
func (s *Server) updateNotFound(ctx context.Context, u workflowUpdate, err error) error {
	desc, derr := s.temporal.DescribeWorkflowExecution(ctx, u.WorkflowID, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(derr, &notFound):
		return cmp.Or(u.Gone, u.Finished)
	case derr != nil:
		return derr
	}
	switch st := desc.GetWorkflowExecutionInfo().GetStatus(); st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return u.Finished
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return err // started again between the two calls: the update's own error stands
	default:
		if u.Ended == nil {
			return u.Finished
		}
		return fmt.Errorf("%w (%s)", u.Ended, st)
	}
}

// updateNotTaken tells a bug from a slow dependency when an update timed
// out or Temporal refused it while the workflow's task is failing (which it
// does right after a worker crash too, until the task is redone): a workflow
// whose task keeps failing (a panic or non-determinism in the worker) will
// not accept it however often the client retries, so that is a 500 and an
// alert (log and tandem_workflow_task_failing), not a 503.
func (s *Server) updateNotTaken(ctx context.Context, u workflowUpdate, err error) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	desc, derr := s.temporal.DescribeWorkflowExecution(dctx, u.WorkflowID, "")
	if derr != nil {
		return err
	}
	task := desc.GetPendingWorkflowTask()
	if task == nil || task.GetAttempt() < failingTaskAttempts {
		return err
	}
	// A task that keeps failing while PostgreSQL is away (its payloads'
	// keys cannot be read) waits for it: that is an outage, not a bug.
	if perr := s.store.Ping(dctx); perr != nil {
		return err
	}
	s.metrics.failingTasks.Add(ctx, 1)
	s.log.ErrorContext(ctx, "workflow task failing: update cannot be taken", "workflow_id", u.WorkflowID, "update", u.Name,
		"attempt", task.GetAttempt(), "err", err)
	return &failingTaskError{workflowID: u.WorkflowID, attempt: task.GetAttempt()}
}

// failingTaskAttempts is how many attempts of one workflow task make it a
// failing one rather than one redone after a worker or two restarted.
const failingTaskAttempts = 5

// failingTaskError is an update refused because its workflow's task keeps
// failing. It is not a dependency down: a retry will not help.
type failingTaskError struct {
	workflowID string
	attempt    int32
}
