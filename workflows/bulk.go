package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A bulk action: a supervisor's change to many cases at once (close,
// reassign, set fields), run as a workflow so that it survives crashes and
// changes every case exactly once. The selection is recorded in
// PostgreSQL when the action is asked for; the workflow has its pages
// applied, each case by an update whose ID is the bulk action's (a retried
// page sends the same update, which the case answers and does not apply
// again), at a bounded rate so live traffic is not starved, until none is
// left or it is cancelled.

// Bulk actions.
const (
	BulkClose     = "close"
	BulkReassign  = "reassign"
	BulkSetFields = "set_fields"
)

// BulkActions lists them.
var BulkActions = []string{BulkClose, BulkReassign, BulkSetFields}

// Limits of a bulk action.
const (
	MaxBulkCases    = 10_000
	DefaultBulkRate = 20 // cases a second
	bulkPagesPerRun = 100
)

// BulkInput starts a bulk action's workflow: what to do to each case of the
// selection, as whom, and how fast.
type BulkInput struct {
	TenantID string         `json:"tenant_id"`
	BulkID   string         `json:"bulk_id"`
	Actor    Actor          `json:"actor"`
	Action   string         `json:"action"`
	Reason   string         `json:"reason,omitempty"` // close: a reason code
	To       string         `json:"to,omitempty"`     // reassign: the agent
	Fields   SetFieldsInput `json:"fields"`           // set_fields
	Rate     int            `json:"rate,omitempty"`   // cases a second; 0: DefaultBulkRate
}

// BulkUpdateID is the update ID a bulk action sends each case: the same
// for every try, so that a case takes it once.
func BulkUpdateID(bulkID string) string { return "bulk:" + bulkID }

// BulkPageResult says what a page did and how many cases are left.
type BulkPageResult struct {
	Applied   int `json:"applied"`
	Failed    int `json:"failed"`
	Remaining int `json:"remaining"`
}

// BulkFinishInput ends a bulk action: cancelled, the cases left are marked so.
type BulkFinishInput struct {
	TenantID  string `json:"tenant_id"`
	BulkID    string `json:"bulk_id"`
	Actor     Actor  `json:"actor"`
	Cancelled bool   `json:"cancelled"`
}

// BulkWorkflow applies a bulk action page by page until no case is left,
// or it is cancelled (SignalBulkCancel); it continues as new after
// bulkPagesPerRun pages, so that its history stays small.
func BulkWorkflow(ctx workflow.Context, in BulkInput) error {
	cancel := workflow.GetSignalChannel(ctx, SignalBulkCancel)
	// A page heartbeats each case; a cancellation reaches it with the next
	// heartbeat (within about 4 s), and the workflow waits for it to stop
	// after the case it is on, so every case's record says what became of it.
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    5 * time.Second,
		WaitForCancellation: true,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	cancelled := false
	for page := 0; !cancelled; page++ {
		if page == bulkPagesPerRun {
			return workflow.NewContinueAsNewError(ctx, BulkWorkflowName, in)
		}
		pctx, stopPage := workflow.WithCancel(actx)
		f := workflow.ExecuteActivity(pctx, ActivityBulkPage, in)
		var res BulkPageResult
		var err error
		pageDone := false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f, func(f workflow.Future) { err, pageDone = f.Get(ctx, &res), true })
		sel.AddReceive(cancel, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			cancelled = true
			stopPage()
		})
		sel.Select(ctx)
		if cancelled {
			_ = f.Get(ctx, nil) // the page stops after the case it is on
			break
		}
		if !pageDone {
			continue
		}
		if err != nil {
			return err
		}
		if res.Remaining == 0 {
			break
		}
	}
	return workflow.ExecuteActivity(actx, ActivityBulkFinish, BulkFinishInput{TenantID: in.TenantID, BulkID: in.BulkID,
		Actor: in.Actor, Cancelled: cancelled}).Get(ctx, nil)
}
