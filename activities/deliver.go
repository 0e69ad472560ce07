package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"

	"tandem/activities/store"
	"tandem/activities/webhooks"
	"tandem/workflows"
)

// Webhook metrics, by outcome: delivered, failed (to be tried again), dead
// (given up after webhooks.GiveUpAfter, or its customer erased).
const (
	MetricWebhookDeliveries = "tandem_webhook_deliveries"
	MetricWebhookLag        = "tandem_webhook_delivery_lag" // from the transition to the receiver's 2xx
)

// How long the delivery loop waits when nothing is due: woken by
// PostgreSQL when a delivery is written (Activities.Due), it looks again
// at least every webhookRecheck (a retry's backoff ends on its own clock);
// without notifications, every webhookIdle.
const (
	webhookIdle    = 50 * time.Millisecond
	webhookRecheck = 10 * time.Second
)

// DeliverWebhooks sends an endpoint's due deliveries until in.RunFor has
// passed or the endpoint is disabled or deleted, heartbeating as it goes.
// Each delivery is one POST signed by the Standard Webhooks scheme; a 2xx is
// delivered, anything else (or no answer in 10 s) is tried again with
// backoff, and after 24 h of failures dead-lettered. A run of failures as
// long as the endpoint's threshold disables it.
func (a *Activities) DeliverWebhooks(ctx context.Context, in workflows.DeliverWebhooksInput) (workflows.DeliverWebhooksResult, error) {
	allow, err := a.Store.WebhooksAllowPrivate(ctx, in.TenantID)
	if err != nil {
		return workflows.DeliverWebhooksResult{}, err
	}
	client := webhooks.Client(allow)
	metrics := activity.GetMetricsHandler(ctx)
	var woken <-chan struct{}
	if a.Due != nil {
		var stop func()
		woken, stop = a.Due.Subscribe(in.TenantID, in.EndpointID)
		defer stop()
	}
	until := time.Now().Add(in.RunFor)
	for time.Now().Before(until) {
		activity.RecordHeartbeat(ctx)
		w, err := a.Store.GetWebhook(ctx, in.TenantID, in.EndpointID)
		if errors.Is(err, store.ErrNotFound) {
			return workflows.DeliverWebhooksResult{Done: true}, nil
		}
		if err != nil {
			return workflows.DeliverWebhooksResult{}, err
		}
		if !w.Enabled {
			return workflows.DeliverWebhooksResult{Done: true}, nil
		}
		due, err := a.Store.DueDeliveries(ctx, in.TenantID, in.EndpointID, 50)
		if err != nil {
			return workflows.DeliverWebhooksResult{}, err
		}
		if len(due) == 0 {
			wait, err := a.idleWait(ctx, in)
			if err != nil {
				return workflows.DeliverWebhooksResult{}, err
			}
			select {
			case <-ctx.Done():
				return workflows.DeliverWebhooksResult{}, ctx.Err()
			case <-woken:
			case <-time.After(min(wait, time.Until(until))):
			}
			continue
		}
		secrets, err := a.Store.WebhookSecrets(ctx, w)
		if err != nil {
			return workflows.DeliverWebhooksResult{}, err
		}
		for _, d := range due {
			status, sendErr := post(ctx, client, w.URL, secrets, d)
			outcome, next := store.DeliveryDelivered, time.Time{}
			errText := ""
			if sendErr != nil {
				errText = sendErr.Error()
				first := time.Now()
				if d.FirstAttemptAt != nil {
					first = *d.FirstAttemptAt
				}
				outcome, next = store.DeliveryPending, time.Now().Add(webhooks.Backoff(d.Attempts+1))
				if time.Since(first) >= webhooks.GiveUpAfter {
					outcome = store.DeliveryDead
				}
			}
			if err := a.Store.FinishDelivery(ctx, in.TenantID, in.EndpointID, d.EventID, outcome, status, errText, next); err != nil {
				return workflows.DeliverWebhooksResult{}, err
			}
			tag := outcome
			if outcome == store.DeliveryPending {
				tag = "failed"
			}
			metrics.WithTags(map[string]string{"outcome": tag}).Counter(MetricWebhookDeliveries).Inc(1)
			if outcome == store.DeliveryDelivered {
				metrics.Timer(MetricWebhookLag).Record(time.Since(d.OccurredAt))
			}
			disabled, err := a.Store.WebhookOutcome(ctx, w, sendErr == nil)
			if err != nil {
				return workflows.DeliverWebhooksResult{}, err
			}
			if disabled {
				activity.GetLogger(ctx).Warn("webhook endpoint disabled after failing", "tenant", in.TenantID, "endpoint", in.EndpointID)
				return workflows.DeliverWebhooksResult{Done: true}, nil
			}
		}
	}
	return workflows.DeliverWebhooksResult{}, nil
}

// idleWait is how long an endpoint's loop may wait with nothing due: until
// its next retry is due, or webhookRecheck, when notifications will wake it
// for anything new; webhookIdle when they are not being received.
func (a *Activities) idleWait(ctx context.Context, in workflows.DeliverWebhooksInput) (time.Duration, error) {
	if a.Due == nil || !a.Due.Listening() {
		return webhookIdle, nil
	}
	wait := a.WebhookRecheck
	if wait == 0 {
		wait = webhookRecheck
	}
	next, err := a.Store.NextDeliveryAt(ctx, in.TenantID, in.EndpointID)
	if err != nil {
		return 0, err
	}
	if !next.IsZero() {
		// Not less than webhookIdle: a clock a little ahead of PostgreSQL's
		// must not make the loop spin.
		wait = min(wait, max(time.Until(next), webhookIdle))
	}
	return wait, nil
}

// post sends one delivery; its error says why it did not count as delivered.
func post(ctx context.Context, client *http.Client, url string, secrets []string, d store.Delivery) (*int, error) {
	now := time.Now()
	sig, err := webhooks.Signature(secrets, d.EventID, now, d.Payload)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Tandem-Webhooks/1")
	req.Header.Set("webhook-id", d.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	status := resp.StatusCode
	if status < 200 || status > 299 {
		return &status, fmt.Errorf("the receiver answered %d", status)
	}
	return &status, nil
}
