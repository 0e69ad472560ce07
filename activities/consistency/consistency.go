// Package consistency holds each case's record against its workflow: the
// committed workflow state (read by Query, or a finished workflow's result)
// is the truth, and the PostgreSQL record a projection of it. It reports
// where they differ and repairs the record from the workflow (invariant 8).
// `tandem doctor` and GET /v1/admin/consistency run it.
package consistency

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"tandem/activities"
	"tandem/activities/store"
	"tandem/workflows"
)

// Records is what the check reads and repairs of the records
// (*store.Store).
type Records interface {
	CaseCustomerErased(ctx context.Context, tenantID, caseID string) (bool, error)
	CaseRecord(ctx context.Context, tenantID, caseID string) (store.Case, error)
	CaseRefundIDs(ctx context.Context, tenantID, caseID string) ([]string, error)
	CasesToCheck(ctx context.Context, tenantID string, closedAfter time.Time, limit int) ([]store.Case, error)
	HeldWrites(ctx context.Context, limit int) ([]store.HeldWrite, error)
	MessageCounts(ctx context.Context, tenantID, caseID string, seq int64) (upTo int64, after []int64, err error)
	ProjectionConflicts(ctx context.Context, tenantID string) (int64, error)
	ReleaseEvents(ctx context.Context, w store.HeldWrite) error
	RepairCase(ctx context.Context, c store.Case) ([]store.Conflict, error)
	VoidEvents(ctx context.Context, w store.HeldWrite) (int, error)
}

// Checker compares records with workflows.
type Checker struct {
	Store     Records
	Temporal  client.Client
	Namespace string // Temporal's; "": default
	// Settle is how long a difference must last to count: a record is
	// written just before its workflow task commits, so an exchange in
	// flight differs for a moment. 0: DefaultSettle.
	Settle time.Duration
	// Limit bounds the cases one check reads (0: MaxCases).
	Limit int
	// Rate bounds the workflows queried a second (0: as fast as
	// Concurrency allows). The worker's periodic check is paced, so that
	// its load stays the same however many cases are open, instead of a
	// burst that slows every customer's message while it lasts.
	Rate float64
}

// DefaultSettle outlasts an exchange in flight.
const DefaultSettle = 2 * time.Second

// MaxCases bounds the cases one check reads.
const MaxCases = 10_000

func (c *Checker) limit() int {
	if c.Limit <= 0 || c.Limit > MaxCases {
		return MaxCases
	}
	return c.Limit
}

// Watermark is the closedAfter for the next periodic check after one that
// started at start and reported rep: the cases recorded closed before it
// have been compared since they closed, unless the check read as many cases
// as it may (then older ones may have been left out) or found a difference
// it left unrepaired (then it is looked at again). A closed case's workflow
// has finished, so its record cannot drift after that comparison. The
// margin covers a close whose record was written just after the check
// listed the cases.
func (c *Checker) Watermark(prev, start time.Time, rep Report) time.Time {
	if rep.Checked >= c.limit() || !rep.Clean {
		return prev
	}
	return start.Add(-WatermarkMargin)
}

// WatermarkMargin is how far before a periodic check's start its watermark
// lies.
const WatermarkMargin = 10 * time.Minute

// Concurrency is how many workflows one check queries at once.
const Concurrency = 8

// Difference is one field on which a case's record and workflow disagree.
type Difference struct {
	CaseID   string `json:"case_id"`
	Field    string `json:"field"` // workflow, status, queue, assignee, last_seq, messages, uncommitted_messages, refunds
	Record   string `json:"record"`
	Workflow string `json:"workflow"`
	Repaired bool   `json:"repaired"`
}

// Report is the result of a check.
type Report struct {
	TenantID    string       `json:"tenant_id"`
	Checked     int          `json:"checked"`
	Differences []Difference `json:"differences"`
	Repaired    int          `json:"repaired"` // cases whose record was repaired
	// Conflicts counts every conflict the projection has detected and
	// repaired for the tenant so far, as it wrote (and as this check repaired).
	Conflicts int64     `json:"conflicts_recorded"`
	Clean     bool      `json:"clean"` // no difference is left unrepaired
	CheckedAt time.Time `json:"checked_at"`
}

// Check compares every case of the tenant that may differ (store.CasesToCheck)
// with its workflow, and with repair set makes the record agree.
func (c *Checker) Check(ctx context.Context, tenantID string, repair bool) (Report, error) {
	return c.CheckSince(ctx, tenantID, repair, time.Time{})
}

// CheckSince is Check leaving out the cases recorded closed before
// closedAfter: a periodic check that has compared them since they closed
// need not replay their finished workflows again every period (see
// Watermark).
func (c *Checker) CheckSince(ctx context.Context, tenantID string, repair bool, closedAfter time.Time) (Report, error) {
	out := Report{TenantID: tenantID, Differences: []Difference{}, CheckedAt: time.Now().UTC()}
	rows, err := c.Store.CasesToCheck(ctx, tenantID, closedAfter, c.limit())
	if err != nil {
		return out, err
	}
	// Cases are queried a few at a time: right after a worker dies, a query
	// to a workflow it held waits seconds for Temporal to give up on it, and
	// one at a time those seconds add up past any request's deadline.
	differs := make([]bool, len(rows))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Concurrency)
	pace := rate.NewLimiter(rate.Inf, 1)
	if c.Rate > 0 {
		pace = rate.NewLimiter(rate.Limit(c.Rate), 1)
	}
	for i, row := range rows {
		if err := pace.Wait(gctx); err != nil {
			break // the group's error, or the context's, is returned below
		}
		g.Go(func() error {
			diffs, _, err := c.compareOne(gctx, row)
			differs[i] = len(diffs) > 0
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return out, err
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	var suspects []store.Case
	for i, row := range rows {
		if differs[i] {
			suspects = append(suspects, row)
		}
	}
	out.Checked = len(rows)
	if len(suspects) > 0 {
		settle := c.Settle
		if settle <= 0 {
			settle = DefaultSettle
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(settle):
		}
	}
	for _, row := range suspects {
		diffs, st, err := c.compareOne(ctx, row)
		if err != nil {
			return out, err
		}
		if repair && st != nil && repairable(diffs) {
			repaired, err := c.Repair(ctx, row, *st)
			if err != nil {
				return out, err
			}
			if repaired {
				for i := range diffs {
					diffs[i].Repaired = diffs[i].Field != "messages" && diffs[i].Field != "refunds"
				}
				out.Repaired++
			}
		}
		out.Differences = append(out.Differences, diffs...)
	}
	out.Clean = !slices.ContainsFunc(out.Differences, func(d Difference) bool { return !d.Repaired })
	if out.Conflicts, err = c.Store.ProjectionConflicts(ctx, tenantID); err != nil {
		return out, err
	}
	return out, nil
}

// QueryTimeout bounds how long one case's workflow is waited for. A
// workflow whose tasks fail (a panic, a non-determinism) never answers a
// Query; it is reported and the check goes on to the next case.
const QueryTimeout = 10 * time.Second

// compareOne is compare for one case of many: a case whose workflow cannot
// be read is a difference of its own ("workflow": "unreadable"), not the
// end of the tenant's check. Temporal or PostgreSQL being down, or the
// check's own context ending, still ends it.
func (c *Checker) compareOne(ctx context.Context, row store.Case) ([]Difference, *workflows.CaseState, error) {
	qctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	diffs, st, err := c.compare(qctx, row)
	var unreadable *unreadableError
	switch {
	case err == nil:
		return diffs, st, nil
	case ctx.Err() != nil:
		return nil, nil, ctx.Err()
	case errors.As(err, &unreadable) && !temporalDown(unreadable.err):
		// A closed case whose customer was erased cannot be read, by
		// design: its payloads died with the key, and its records are final.
		if row.Status == workflows.StatusClosed {
			erased, eerr := c.Store.CaseCustomerErased(ctx, row.TenantID, row.ID)
			if eerr != nil {
				return nil, nil, eerr
			}
			if erased {
				return nil, nil, nil
			}
		}
		return []Difference{{CaseID: row.ID, Field: "workflow", Record: row.Status, Workflow: "unreadable"}}, nil, nil
	}
	return nil, nil, err
}

// unreadableError is a case's workflow state that could not be read.
type unreadableError struct {
	caseID string
	err    error
}

func (e *unreadableError) Error() string { return "query case " + e.caseID + ": " + e.err.Error() }
func (e *unreadableError) Unwrap() error { return e.err }

// temporalDown says err is the Temporal service being unavailable, not one
// workflow failing to answer.
func temporalDown(err error) bool {
	var unavailable *serviceerror.Unavailable
	var exhausted *serviceerror.ResourceExhausted
	return errors.As(err, &unavailable) || errors.As(err, &exhausted)
}

// compare reads the case's record and workflow afresh and lists where they
// differ; st is the workflow's state (nil when Temporal no longer has it).
func (c *Checker) compare(ctx context.Context, stale store.Case) ([]Difference, *workflows.CaseState, error) {
	st, err := c.workflowState(ctx, stale)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		if stale.Status == workflows.StatusClosed {
			return nil, nil, nil // closed, and forgotten by Temporal after its retention
		}
		return []Difference{{CaseID: stale.ID, Field: "workflow", Record: stale.Status, Workflow: "missing"}}, nil, nil
	}
	if err != nil {
		return nil, nil, &unreadableError{caseID: stale.ID, err: err}
	}
	// The record is read after the workflow: a write in flight is then at
	// least as new as the state, and settles to it.
	row, err := c.Store.CaseRecord(ctx, stale.TenantID, stale.ID)
	if err != nil {
		return nil, nil, err
	}
	var diffs []Difference
	add := func(field, record, wf string) {
		if record != wf {
			diffs = append(diffs, Difference{CaseID: row.ID, Field: field, Record: record, Workflow: wf})
		}
	}
	add("status", row.Status, st.Status)
	add("queue", deref(row.Queue), st.Queue)
	add("assignee", deref(row.AssigneeID), st.Assignee)
	add("last_seq", strconv.FormatInt(row.LastSeq, 10), strconv.FormatInt(st.Seq, 10))
	upTo, after, err := c.Store.MessageCounts(ctx, row.TenantID, row.ID, st.Seq)
	if err != nil {
		return nil, nil, err
	}
	add("messages", strconv.FormatInt(upTo, 10), strconv.Itoa(st.Messages+st.Notes)) // notes are rows among the messages
	if len(after) > 0 {
		add("uncommitted_messages", fmt.Sprint(after), "[]")
	}
	refunds, err := c.Store.CaseRefundIDs(ctx, row.TenantID, row.ID)
	if err != nil {
		return nil, nil, err
	}
	want := slices.Clone(st.Refunds)
	slices.Sort(want)
	add("refunds", fmt.Sprint(refunds), fmt.Sprint(want))
	return diffs, &st, nil
}

// workflowState is the case's committed workflow state. A case recorded
// closed is normally a finished workflow: its result is its final state, read
// from its last history event, where a Query would have a worker fetch and
// replay the whole history first — which, for a day's closed cases, is most
// of a check's cost. Any other case, or one whose workflow is still running
// or did not complete, is asked by Query.
func (c *Checker) workflowState(ctx context.Context, stale store.Case) (workflows.CaseState, error) {
	if stale.Status == workflows.StatusClosed {
		desc, err := c.Temporal.DescribeWorkflowExecution(ctx, stale.WorkflowID, "")
		if err != nil {
			return workflows.CaseState{}, err
		}
		if desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			var res workflows.CaseResult
			err := c.Temporal.GetWorkflow(ctx, stale.WorkflowID, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()).Get(ctx, &res)
			// Nothing is written after a finished workflow's last task.
			res.State.ReadAt = &workflows.ProjectionPos{Gen: res.State.Gen, Event: desc.GetWorkflowExecutionInfo().GetHistoryLength()}
			return res.State, err
		}
	}
	var st workflows.CaseState
	resp, err := c.Temporal.QueryWorkflow(ctx, stale.WorkflowID, "", workflows.QueryState)
	if err == nil {
		err = resp.Get(&st)
	}
	return st, err
}

// repairable: the workflow is there to repair from.
func repairable(diffs []Difference) bool {
	return !slices.ContainsFunc(diffs, func(d Difference) bool { return d.Field == "workflow" })
}

// Repair writes st, a case's workflow state as the Query read it, to the
// record at the position it was read at (st.ReadAt), and removes messages
// past its sequence written before that position, which only lost workflow
// tasks wrote. A record already written past that position (an update
// committed since the state was read) is left as it is: repair never moves
// a record backwards. Messages the record lacks and refunds are reported,
// not invented: their text is in the history, not the state.
func (c *Checker) Repair(ctx context.Context, row store.Case, st workflows.CaseState) (repaired bool, err error) {
	if st.ReadAt == nil {
		return false, fmt.Errorf("repair case %s: the state does not say where it was read", row.ID)
	}
	conflicts, err := c.Store.RepairCase(ctx, activities.CaseRow(st, *st.ReadAt))
	if err != nil {
		return false, fmt.Errorf("repair case %s: %w", row.ID, err)
	}
	return conflicts != nil, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
