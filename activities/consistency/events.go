package consistency

import (
	"context"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"tandem/activities/store"
)

// Settled counts what SettleEvents did.
type Settled struct {
	Released, Voided, Pending int
}

// SettleEvents decides the webhook events held by projection writes: a
// write is made by a local activity inside a workflow task that started at
// history event P (its position); event P+1 says what became of the task.
// Completed, its events go to webhooks and the live stream; failed or timed
// out, the write was lost: its events are dropped before anyone is told,
// the loss is recorded as a conflict, and the case's record is repaired
// from the workflow. A task still running leaves them held.
func (c *Checker) SettleEvents(ctx context.Context) (Settled, error) {
	var out Settled
	var repairs error // the periodic check repairs what is left
	held, err := c.Store.HeldWrites(ctx, 500)
	if err != nil || len(held) == 0 {
		return out, err
	}
	type run struct{ workflowID, runID string }
	byRun := map[run][]store.HeldWrite{}
	var order []run
	for _, w := range held {
		r := run{w.WorkflowID, w.RunID}
		if _, ok := byRun[r]; !ok {
			order = append(order, r)
		}
		byRun[r] = append(byRun[r], w)
	}
	for _, r := range order {
		writes := byRun[r]
		from := writes[0].Event
		for _, w := range writes {
			from = min(from, w.Event)
		}
		outcomes, err := c.taskOutcomes(ctx, r.workflowID, r.runID, from)
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			outcomes = nil // the run is gone from Temporal: nothing can say it was lost
		} else if err != nil {
			return out, err
		}
		for _, w := range writes {
			outcome, known := outcomes[w.Event+1]
			switch {
			case outcomes != nil && !known:
				out.Pending++
			case outcome == enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED || outcome == enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				if _, err := c.Store.VoidEvents(ctx, w); err != nil {
					return out, err
				}
				out.Voided++
				repairs = errors.Join(repairs, c.repairCase(ctx, w.TenantID, w.CaseID))
			default:
				if err := c.Store.ReleaseEvents(ctx, w); err != nil {
					return out, err
				}
				out.Released++
			}
		}
	}
	return out, repairs
}

// taskOutcomes reads the run's history from its end back to event from+1
// and returns each event's type by its ID.
func (c *Checker) taskOutcomes(ctx context.Context, workflowID, runID string, from int64) (map[int64]enumspb.EventType, error) {
	out := map[int64]enumspb.EventType{}
	req := &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
		Namespace:       c.namespace(),
		Execution:       &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID},
		MaximumPageSize: 32, // the task's outcome is a few events from the end
	}
	for {
		resp, err := c.Temporal.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, ev := range resp.GetHistory().GetEvents() {
			if ev.GetEventId() <= from {
				return out, nil
			}
			out[ev.GetEventId()] = ev.GetEventType()
		}
		if len(resp.GetNextPageToken()) == 0 {
			return out, nil
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
}

// repairCase holds one case's record against its workflow and repairs it.
func (c *Checker) repairCase(ctx context.Context, tenantID, caseID string) error {
	row, err := c.Store.CaseRecord(ctx, tenantID, caseID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the lost task's write was the case's first: the committed one will make it
	}
	if err != nil {
		return err
	}
	diffs, st, err := c.compareOne(ctx, row)
	if err != nil {
		return fmt.Errorf("repair case %s after a lost write: %w", caseID, err)
	}
	if len(diffs) == 0 || st == nil || !repairable(diffs) {
		return nil
	}
	_, err = c.Repair(ctx, row, *st)
	return err
}

func (c *Checker) namespace() string {
	if c.Namespace == "" {
		return "default"
	}
	return c.Namespace
}
