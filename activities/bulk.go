package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"tandem/activities/store"
	"tandem/workflows"
)

// bulkPage is how many cases one BulkPage activity takes.
const bulkPage = 50

// BulkPage applies a bulk action to the next page of its cases, at its
// rate, heartbeating each. Each case gets the bulk action's update ID, so
// a page retried after a crash sends a case the same update, which it
// answers and does not apply again. A case that refuses the change (closed,
// with nobody, not the reassignee's to take) is recorded failed with why;
// a dependency down fails the page, to be retried.
func (a *Activities) BulkPage(ctx context.Context, in workflows.BulkInput) (workflows.BulkPageResult, error) {
	var res workflows.BulkPageResult
	ids, err := a.Store.PendingBulkCases(ctx, in.TenantID, in.BulkID, bulkPage)
	if err != nil {
		return res, err
	}
	per := in.Rate
	if per <= 0 {
		per = workflows.DefaultBulkRate
	}
	limit := rate.NewLimiter(rate.Limit(per), 1)
	// A case begun is finished and recorded even if the action is
	// cancelled meanwhile: the cancellation stops the page before the next.
	work := context.WithoutCancel(ctx)
	for _, caseID := range ids {
		if err := limit.Wait(ctx); err != nil {
			return res, err
		}
		activity.RecordHeartbeat(ctx, caseID)
		status, outcome, err := a.applyToCase(work, in, caseID)
		if err != nil {
			return res, err
		}
		if err := a.Store.FinishBulkCase(work, in.TenantID, in.BulkID, caseID, status, outcome); err != nil {
			return res, err
		}
		if status == "done" {
			res.Applied++
		} else {
			res.Failed++
		}
	}
	res.Remaining, err = a.Store.CountPendingBulkCases(ctx, in.TenantID, in.BulkID)
	return res, err
}

// applyToCase sends one case the bulk action's update and says what became
// of it: done, or failed with the case's reason; err is for a retry.
func (a *Activities) applyToCase(ctx context.Context, in workflows.BulkInput, caseID string) (string, string, error) {
	var name string
	var arg any
	switch in.Action {
	case workflows.BulkClose:
		name, arg = workflows.UpdateClose, workflows.CloseInput{Actor: in.Actor, Reason: in.Reason}
	case workflows.BulkReassign:
		name, arg = workflows.UpdateReassign, workflows.ReassignInput{Actor: in.Actor, To: in.To}
	case workflows.BulkSetFields:
		f := in.Fields
		f.Actor = in.Actor
		name, arg = workflows.UpdateSetFields, f
	default:
		return "failed", "unknown_action", nil
	}
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: workflows.CaseWorkflowID(in.TenantID, caseID),
		UpdateID: workflows.BulkUpdateID(in.BulkID), UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	var app *temporal.ApplicationError
	var gone *serviceerror.NotFound
	switch {
	case err == nil:
		return "done", "", nil
	case errors.As(err, &app):
		return "failed", app.Type(), nil
	case errors.As(err, &gone): // the case's workflow has finished: it is closed
		if in.Action == workflows.BulkClose {
			return "done", "already_closed", nil
		}
		return "failed", workflows.ErrTypeCaseClosed, nil
	}
	return "", "", fmt.Errorf("case %s: %w", caseID, err)
}

// BulkFinish ends a bulk action, its remaining cases cancelled when it was,
// and appends the batch's closing entry to the tenant's trail.
func (a *Activities) BulkFinish(ctx context.Context, in workflows.BulkFinishInput) error {
	// The entry's ID is the batch's: a retry after a crash appends it once.
	if _, err := a.Store.FinishBulkJob(ctx, in.TenantID, in.BulkID, in.Cancelled); err != nil {
		return err
	}
	j, err := a.Store.BulkJob(ctx, in.TenantID, in.BulkID)
	if err != nil {
		return err
	}
	_, err = a.Store.AppendAudit(ctx, store.AuditEvent{TenantID: in.TenantID, ID: "bulk:" + in.BulkID + ":finished", OccurredAt: time.Now().UTC(),
		ActorKind: in.Actor.Kind, ActorID: in.Actor.ID, Action: "bulk.finished", ObjectType: "bulk", ObjectID: in.BulkID,
		Decision: "allow", Outcome: "success", Reason: j.Status,
		Details: fmt.Sprintf(`{"done":"%d","failed":"%d","cancelled":"%d"}`, j.Counts["done"], j.Counts["failed"], j.Counts["cancelled"])})
	return err
}
