package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// WebhookInput names the endpoint a WebhookWorkflow delivers to.
type WebhookInput struct {
	TenantID   string `json:"tenant_id"`
	EndpointID string `json:"endpoint_id"`
}

// DeliverWebhooksInput is the delivery activity's: the endpoint, and how
// long to work before handing back to the workflow.
type DeliverWebhooksInput struct {
	TenantID   string        `json:"tenant_id"`
	EndpointID string        `json:"endpoint_id"`
	RunFor     time.Duration `json:"run_for"`
}

// DeliverWebhooksResult says whether the endpoint is done with: disabled or
// deleted.
type DeliverWebhooksResult struct {
	Done bool `json:"done"`
}

// webhookRunFor is how long one delivery activity works; webhookRuns
// activities make a run before it continues as new.
const (
	webhookRunFor = 30 * time.Minute
	webhookRuns   = 48
)

// WebhookWorkflow delivers an endpoint's events for as long as it is
// enabled: one long delivery activity at a time, which sends each case's
// events in order with backoff and heartbeats as it goes; if its worker
// dies, Temporal starts it again on another, and it carries on from the
// deliveries' records. It ends when the endpoint is disabled or deleted.
func WebhookWorkflow(ctx workflow.Context, in WebhookInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: webhookRunFor + 5*time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	for range webhookRuns {
		var res DeliverWebhooksResult
		err := result(ctx, workflow.ExecuteActivity(ctx, ActivityDeliverWebhooks,
			DeliverWebhooksInput{TenantID: in.TenantID, EndpointID: in.EndpointID, RunFor: webhookRunFor}), &res)
		if err != nil {
			return err
		}
		if res.Done {
			return nil
		}
	}
	return workflow.NewContinueAsNewError(ctx, WebhookWorkflowName, in)
}
