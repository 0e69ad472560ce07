package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/activities/store/storetest"
	"tandem/workflows"
)

// BenchmarkRecordCaseNotifying measures what the webhook trigger's NOTIFY
// costs the projection write it is part of: PostgreSQL serialises the
// commits of transactions that notify. Eight writers open cases with a
// webhook endpoint taking every event, in one tenant (whose audit chain
// already serialises its writes) and in eight; the trigger disabled (the
// baseline) and enabled, alternately, in one process.
//
//	go test -run '^$' -bench RecordCaseNotifying -benchtime 2000x ./activities/store/
func BenchmarkRecordCaseNotifying(b *testing.B) {
	st := storetestNew(b)
	ctx := context.Background()
	tenants := benchTenants(b, st)
	for _, tenant := range tenants {
		if _, err := st.CreateWebhook(ctx, tenant, "admin-1", store.WebhookSpec{URL: "http://127.0.0.1:9/h", EventTypes: store.WebhookEventTypes},
			"whsec_dGVzdC1vbmx5LXNlY3JldC0yNGJ5dGVz"); err != nil {
			b.Fatal(err)
		}
	}
	owner := st.Owner(b)
	var n atomic.Int64
	write := func(tenant string) error {
		id := fmt.Sprintf("44444444-0000-4000-8000-%012d", n.Add(1))
		now := time.Now()
		c := store.Case{TenantID: tenant, ID: id, WorkflowID: "case:" + tenant + ":" + id, CustomerRef: "c", Subject: "s",
			Channel: "api", Priority: "normal", Status: workflows.StatusAIHandling, LastSeq: 1, OpenedAt: now, UpdatedAt: now}
		a := store.AuditEvent{TenantID: tenant, ID: c.WorkflowID + ":1:case.open", OccurredAt: now, ActorKind: "service", ActorID: "k",
			Action: workflows.AuditCaseOpen, ObjectType: "case", ObjectID: id, CaseID: id, Decision: "allow", Outcome: "success"}
		_, err := st.RecordCase(ctx, c, nil, []store.AuditEvent{a})
		return err
	}
	off := `ALTER TABLE webhook_deliveries DISABLE TRIGGER webhook_delivery_due`
	on := `ALTER TABLE webhook_deliveries ENABLE TRIGGER webhook_delivery_due`
	for _, spread := range []int{1, len(tenants)} {
		// Twice each, alternately: the tables grow as it runs.
		for _, bc := range []struct{ name, sql string }{{"off", off}, {"on", on}, {"off", off}, {"on", on}} {
			if err := owner.Exec(bc.sql).Error; err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("tenants=%d/trigger=%s", spread, bc.name), func(b *testing.B) {
				var writer atomic.Int64
				b.SetParallelism(4) // 8 writers on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					tenant := tenants[int(writer.Add(1))%spread]
					for pb.Next() {
						if err := write(tenant); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// benchTenants makes seven tenants besides acme and returns the eight.
func benchTenants(b *testing.B, st *storetest.DB) []string {
	tenants := []string{"acme"}
	for i := range 7 {
		tenants = append(tenants, fmt.Sprintf("bench-%d", i))
		if err := st.EnsureTenant(context.Background(), tenants[i+1], tenants[i+1]); err != nil {
			b.Fatal(err)
		}
	}
	return tenants
}
