package consistency

import (
	"context"
	"errors"
	"fmt"
	"sync"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"golang.org/x/sync/errgroup"

	"tandem/activities/store"
)

// Settled counts what SettleEvents did.
type Settled struct {
	Released, Voided, Pending int
}

// SettleEvents decides the webhook events held by projection writes. A
// write is made by a local activity inside a workflow task that started at
// history event P (its position). The write committed if event P is that
// task's start and P+1 its completion: its events go to webhooks and the
// live stream. If the history went past P any other way (the task failed
// or timed out; an attempt of a task retried without events of its own,
// whose position a later event took) or the run closed before reaching
// P+1, the write was lost: its events are dropped before anyone is told,
// the loss is recorded as a conflict, and the case's record is repaired
// from the workflow. A task still running leaves them held. A run that
// cannot be read is skipped this round; the others go on.
func (c *Checker) SettleEvents(ctx context.Context) (Settled, error) {
	var out Settled
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
	var (
		mu   sync.Mutex
		errs error // reported after the round; each run is settled on its own
	)
	// Runs are read from Temporal a few at a time: one at a time, a round
	// settled fewer positions a second than a busy tenant writes.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Concurrency)
	for _, r := range order {
		if gctx.Err() != nil {
			break // shutting down: the rest wait for the next process
		}
		g.Go(func() error {
			got, err := c.settleRun(gctx, r.workflowID, r.runID, byRun[r])
			mu.Lock()
			defer mu.Unlock()
			out.Released += got.Released
			out.Voided += got.Voided
			out.Pending += got.Pending
			errs = errors.Join(errs, err)
			return nil
		})
	}
	_ = g.Wait() // each run's error is in errs
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, errs
}

// settleRun settles one run's held writes against its history's tail.
func (c *Checker) settleRun(ctx context.Context, workflowID, runID string, writes []store.HeldWrite) (Settled, error) {
	var out Settled
	from := writes[0].Event
	for _, w := range writes {
		from = min(from, w.Event)
	}
	h, err := c.runTail(ctx, workflowID, runID, from)
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		out.Pending += len(writes)
		return out, err
	}
	var errs error
	for _, w := range writes {
		var verdict outcome
		if err != nil {
			verdict = committed // the run is gone from Temporal: nothing can say it was lost
		} else {
			verdict = h.outcome(w.Event)
		}
		switch verdict {
		case pending:
			out.Pending++
		case committed:
			if err := c.Store.ReleaseEvents(ctx, w); err != nil {
				errs = errors.Join(errs, err)
				continue
			}
			out.Released++
		case lost:
			n, err := c.Store.VoidEvents(ctx, w)
			if err != nil {
				errs = errors.Join(errs, err)
				continue
			}
			if n > 0 {
				out.Voided++
				// The periodic check repairs what this cannot.
				errs = errors.Join(errs, c.repairCase(ctx, w.TenantID, w.CaseID))
			}
		}
	}
	return out, errs
}

type outcome int

const (
	pending outcome = iota
	committed
	lost
)

// tail is the end of a run's history: each event's type by its ID, from
// some position on, and whether the run has closed.
type tail struct {
	types  map[int64]enumspb.EventType
	last   int64
	closed bool
}

// outcome says what became of the workflow task that started at event p.
func (t tail) outcome(p int64) outcome {
	switch {
	case t.types[p] == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED && t.types[p+1] == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
		return committed
	case t.last > p || t.closed: // the history went past p, or never will
		return lost
	}
	return pending
}

// runTail reads the run's history from its end back to event from.
func (c *Checker) runTail(ctx context.Context, workflowID, runID string, from int64) (tail, error) {
	t := tail{types: map[int64]enumspb.EventType{}}
	req := &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
		Namespace:       c.namespace(),
		Execution:       &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID},
		MaximumPageSize: 32, // the task's outcome is a few events from the end
	}
	for {
		resp, err := c.Temporal.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, req)
		if err != nil {
			return t, err
		}
		for _, ev := range resp.GetHistory().GetEvents() {
			if t.last == 0 {
				t.last, t.closed = ev.GetEventId(), closes(ev.GetEventType())
			}
			if ev.GetEventId() < from {
				return t, nil
			}
			t.types[ev.GetEventId()] = ev.GetEventType()
		}
		if len(resp.GetNextPageToken()) == 0 {
			return t, nil
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
}

// closes says an event ends its run.
func closes(t enumspb.EventType) bool {
	switch t {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return true
	}
	return false
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
