package activities_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"gorm.io/gorm"

	"tandem/activities"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
	"tandem/activities/webhooks"
	"tandem/workflows"
)

// BenchmarkIdleWebhookEndpoint measures what an endpoint with nothing to
// send costs PostgreSQL: statements a second of its delivery loop, woken
// by notifications (the worker's way) against polling (the way before, and
// the fallback while notifications are not received), in one process.
//
//	go test -run '^$' -bench IdleWebhookEndpoint -benchtime 1x ./activities/
func BenchmarkIdleWebhookEndpoint(b *testing.B) {
	db := storetest.New(b)
	st := db.Store
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := st.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		b.Fatal(err)
	}
	hook, err := st.CreateWebhook(ctx, "acme", "admin-1", store.WebhookSpec{URL: "http://127.0.0.1:9/h", EventTypes: []string{"case.opened"}},
		"whsec_dGVzdC1vbmx5LXNlY3JldC0yNGJ5dGVz")
	if err != nil {
		b.Fatal(err)
	}
	due := webhooks.NewDeliveriesDue(db.AppURL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go due.Listen(ctx)
	for deadline := time.Now().Add(10 * time.Second); !due.Listening(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("not listening after 10 s")
		}
	}
	statements := countStatements(b, st)
	const idle = 25 * time.Second // the notified loop looks again every 10 s
	for _, bc := range []struct {
		name string
		due  *webhooks.DeliveriesDue
	}{{"poll", nil}, {"notified", due}} {
		b.Run(bc.name, func(b *testing.B) {
			acts := &activities.Activities{Store: st, Due: bc.due}
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(acts.DeliverWebhooks)
			before := statements.Load()
			for b.Loop() {
				if _, err := env.ExecuteActivity(acts.DeliverWebhooks, workflows.DeliverWebhooksInput{TenantID: "acme", EndpointID: hook.ID, RunFor: idle}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(statements.Load()-before)/(float64(b.N)*idle.Seconds()), "statements/s")
		})
	}
}

// countStatements counts the statements st sends PostgreSQL.
func countStatements(b *testing.B, st *store.Store) *atomic.Int64 {
	b.Helper()
	var n atomic.Int64
	count := func(*gorm.DB) { n.Add(1) }
	cb := st.DB().Callback()
	for name, err := range map[string]error{
		"create": cb.Create().After("gorm:create").Register("bench:count", count),
		"query":  cb.Query().After("gorm:query").Register("bench:count", count),
		"update": cb.Update().After("gorm:update").Register("bench:count", count),
		"delete": cb.Delete().After("gorm:delete").Register("bench:count", count),
		"row":    cb.Row().After("gorm:row").Register("bench:count", count),
		"raw":    cb.Raw().After("gorm:raw").Register("bench:count", count),
	} {
		if err != nil {
			b.Fatalf("count %s statements: %v", name, err)
		}
	}
	return &n
}
