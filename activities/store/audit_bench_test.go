package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/workflows"
)

// BenchmarkProjectionWritesOfOneTenant measures what a tenant's audit log
// costs its projection writes when many land at once: eight writers each
// record a case with a message and two audit entries, all in one tenant
// and then each in its own (the baseline, where nothing of the trail is
// shared), alternately, in one process. The ratio of the two is how much a
// single tenant is held back by its one log. A sequencer runs every 200 ms
// as the worker's does, and the timing includes sequencing the last ones.
//
//	go test -run '^$' -bench ProjectionWritesOfOneTenant -benchtime 3000x ./activities/store/
func BenchmarkProjectionWritesOfOneTenant(b *testing.B) {
	st := storetestNew(b)
	ctx := context.Background()
	tenants := benchTenants(b, st)
	var n atomic.Int64
	write := func(tenant string) error {
		id := fmt.Sprintf("55555555-0000-4000-8000-%012d", n.Add(1))
		now := time.Now()
		c := store.Case{TenantID: tenant, ID: id, WorkflowID: "case:" + tenant + ":" + id, CustomerRef: "c", Subject: "s",
			Channel: "api", Priority: "normal", Status: workflows.StatusAIHandling, LastSeq: 2, OpenedAt: now, UpdatedAt: now}
		m := store.Message{TenantID: tenant, CaseID: id, Seq: 1, AuthorKind: workflows.AuthorCustomer, AuthorID: "c", Body: "where is my parcel?", CreatedAt: now}
		audit := []store.AuditEvent{
			{TenantID: tenant, ID: c.WorkflowID + ":1:case.open", OccurredAt: now, ActorKind: "service", ActorID: "k",
				Action: workflows.AuditCaseOpen, ObjectType: "case", ObjectID: id, CaseID: id, Decision: "allow", Outcome: "success", Details: `{"message_seq":"1"}`},
			{TenantID: tenant, ID: c.WorkflowID + ":2:case.escalate", OccurredAt: now, ActorKind: "ai", ActorID: "tandem",
				Action: workflows.AuditCaseEscalate, ObjectType: "case", ObjectID: id, CaseID: id, Decision: "allow", Outcome: "success"},
		}
		_, err := st.RecordCase(ctx, c, []store.Message{m}, audit)
		return err
	}
	for range 2 { // alternately: the tables grow as it runs
		for _, spread := range []int{len(tenants), 1} {
			b.Run(fmt.Sprintf("tenants=%d", spread), func(b *testing.B) {
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					for {
						select {
						case <-stop:
							return
						case <-time.After(200 * time.Millisecond):
							if _, err := st.SequenceAll(ctx); err != nil {
								b.Error(err)
							}
						}
					}
				}()
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
				close(stop)
				<-done
				if _, err := st.SequenceAll(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
			})
		}
	}
}
