package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
)

// historyEvents counts the events of a workflow's current run.
func historyEvents(ctx context.Context, tc client.Client, wfID string) (int, error) {
	it := tc.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

func bareWorkflow(ctx workflow.Context, activities int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for range activities {
		if err := workflow.ExecuteActivity(ctx, noopActivity).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func noopActivity(context.Context) error { return nil }

// floorPing is the floor update's argument: how many no-op local
// activities to run (the floor is one) and a payload that each of them and
// the update return.
type floorPing struct {
	LocalActivities int    `json:"local_activities"`
	Payload         []byte `json:"payload,omitempty"`
}

// floorWorkflow is the floor under a customer's message: a workflow that
// answers an Update by running no-op local activities one after another, as
// a case answers a message by running its AI turn and projection write. It
// waits for updates until it is terminated.
func floorWorkflow(ctx workflow.Context) error {
	err := workflow.SetUpdateHandler(ctx, "ping", func(ctx workflow.Context, in floorPing) ([]byte, error) {
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second})
		for range in.LocalActivities {
			if err := workflow.ExecuteLocalActivity(ctx, echoActivity, in.Payload).Get(ctx, nil); err != nil {
				return nil, err
			}
		}
		return in.Payload, nil
	})
	if err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return false })
}

func echoActivity(_ context.Context, payload []byte) ([]byte, error) { return payload, nil }

// benchFloor starts n floor workflows (not measured), then measures one
// Update to each at concurrency c, running las local activities with
// payloads of pad random bytes, and terminates them. It also returns what
// one of their histories held before and after its update.
func benchFloor(ctx context.Context, tc client.Client, queue string, n, c, las, pad int) (res benchResult, before, after map[string]int, cpu string, err error) {
	id := func(i int) string { return fmt.Sprintf("%s-floor%d-%d-%d", queue, las, pad, i) }
	started := measure(ctx, n, c, func(ctx context.Context, i int) error {
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id(i), TaskQueue: queue}, "BenchFloor")
		return err
	})
	if started.errors > 0 {
		return benchResult{}, nil, nil, "", fmt.Errorf("bench: starting the floor's workflows: %w", started.firstErr)
	}
	defer func() {
		for i := range n {
			_ = tc.TerminateWorkflow(context.WithoutCancel(ctx), id(i), "", "benchmark over")
		}
	}()
	if before, err = historyCounts(ctx, tc, id(0), "WORKFLOW_TASK_COMPLETED"); err != nil {
		return benchResult{}, nil, nil, "", err
	}
	ping := floorPing{LocalActivities: las, Payload: make([]byte, pad)}
	_, _ = rand.Read(ping.Payload) // incompressible, as sealed payloads are
	cpuBefore := cpuByProcess()
	res = measure(ctx, n, c, func(ctx context.Context, i int) error {
		h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id(i), UpdateName: "ping", Args: []any{ping},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	})
	cpu = cpuText(cpuBefore, cpuByProcess(), n)
	after, err = historyCounts(ctx, tc, id(0), "")
	return res, before, after, cpu, err
}

// historyCounts counts a workflow's history events by type; with until, it
// waits until an event of that type is there (a just-started workflow's
// first task).
func historyCounts(ctx context.Context, tc client.Client, wfID, until string) (map[string]int, error) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		counts := map[string]int{}
		it := tc.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, err
			}
			counts[strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")]++
		}
		if until == "" || counts[until] > 0 || time.Now().After(deadline) {
			return counts, nil
		}
	}
}

// countsText is what a history gained between before and after: events in
// all, workflow tasks, local activities (markers) and the rest by type.
func countsText(after, before map[string]int) string {
	total, parts := 0, []string{}
	for _, t := range slices.Sorted(maps.Keys(after)) {
		if d := after[t] - before[t]; d > 0 {
			total += d
			parts = append(parts, fmt.Sprintf("%s %d", strings.ToLower(t), d))
		}
	}
	return fmt.Sprintf("%d events (%s)", total, strings.Join(parts, ", "))
}
