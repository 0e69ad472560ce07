package api_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tandem/activities/consistency"
	"tandem/activities/store"
	"tandem/workflows"
)

// Events reach webhooks only from committed positions. A projection write
// whose workflow task then fails (a real one: its first task panics) made
// events that no one may be told of; the write of the task done again
// makes the committed ones. The settler reads the run's history: the lost
// write's events are dropped with their deliveries and the loss recorded as
// a conflict; the committed write's go out, in order. Before, both went.
func TestEventsOfALostWorkflowTaskNeverReachWebhooks(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	queue := "lost-task-" + randomHex(6)
	var tries atomic.Int32
	w := worker.New(s.workerClient, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		if tries.Add(1) == 1 {
			panic("this workflow task is lost")
		}
		return nil
	}, workflow.RegisterOptions{Name: "LosesItsFirstTask"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue, WorkflowTaskTimeout: 2 * time.Second}, "LosesItsFirstTask")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// Where each task started: the lost one, then the one that completed.
	var lost, committed int64
	iter := s.temporal.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var prev int64
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			prev = ev.GetEventId()
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			lost = prev
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			committed = prev
		}
	}
	if lost == 0 || committed <= lost {
		t.Fatalf("task positions: lost %d, committed %d", lost, committed)
	}

	hook, err := s.store.CreateWebhook(ctx, tenantA, "admin-1", store.WebhookSpec{URL: "http://127.0.0.1:9/h", EventTypes: store.WebhookEventTypes},
		"whsec_dGVzdC1vbmx5LXNlY3JldC0yNGJ5dGVz")
	if err != nil {
		t.Fatal(err)
	}
	caseID := "66666666-0000-4000-8000-" + fmt.Sprintf("%012d", time.Now().UnixNano()%1e12)
	write := func(at int64, reply string) {
		t.Helper()
		now := time.Now()
		c := store.Case{TenantID: tenantA, ID: caseID, WorkflowID: run.GetID(), CustomerRef: "cust-42", Subject: "s", Channel: "api",
			Priority: "normal", Status: workflows.StatusAIHandling, LastSeq: 1, OpenedAt: now, UpdatedAt: now,
			ProjGen: 0, ProjEvent: at, ProjRun: run.GetRunID()}
		m := store.Message{TenantID: tenantA, CaseID: caseID, Seq: 1, AuthorKind: workflows.AuthorAI, AuthorID: "tandem", Body: reply, CreatedAt: now}
		a := store.AuditEvent{TenantID: tenantA, ID: fmt.Sprintf("%s:1:%s@%d", run.GetID(), workflows.AuditCaseReply, at), OccurredAt: now,
			ActorKind: "ai", ActorID: "tandem", Action: workflows.AuditCaseReply, ObjectType: "case", ObjectID: caseID, CaseID: caseID,
			Decision: "allow", Outcome: "success", Details: `{"message_seq":"1"}`}
		if _, err := s.store.RecordCase(ctx, c, []store.Message{m}, []store.AuditEvent{a}); err != nil {
			t.Fatal(err)
		}
	}
	write(lost, "a reply no one was given")
	write(committed, "the reply the customer was given")

	due, err := s.store.DueDeliveries(ctx, tenantA, hook.ID, 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("deliveries before the writes are settled: %d %v, want none", len(due), err)
	}
	deadline := time.Now().Add(10 * time.Second) // the stack's settler runs every 50 ms
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if due, err = s.store.DueDeliveries(ctx, tenantA, hook.ID, 10); err != nil || len(due) > 0 {
			break
		}
	}
	if len(due) != 1 || !contains(string(due[0].Payload), "the reply the customer was given") {
		t.Fatalf("deliveries once settled: %+v %v, want the committed reply only", due, err)
	}
	events, _, err := s.store.EventsAfter(ctx, tenantA, 0, store.EventFilter{}, 100)
	for _, e := range events {
		if contains(string(e.Payload), "no one was given") {
			t.Fatalf("the live stream carries the lost task's event: %s", e.Payload)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var lostWrites int64
	s.store.DB().Raw(`SELECT count(*) FROM projection_conflicts WHERE case_id = ? AND kind = ?`, caseID, store.ConflictWriteLost).Scan(&lostWrites)
	if lostWrites != 1 {
		t.Fatalf("lost writes recorded: %d, want 1", lostWrites)
	}
	// Nothing is left held: a second round has nothing to do.
	if settled, err := (&consistency.Checker{Store: s.store, Temporal: s.temporal}).SettleEvents(ctx); err != nil || settled != (consistency.Settled{}) {
		t.Fatalf("a second round: %+v %v", settled, err)
	}
}
