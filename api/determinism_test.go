package api_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"tandem/activities"
	"tandem/activities/ai"
	"tandem/activities/store"
	"tandem/workflows"
	"tandem/workflows/codec"
)

// flakyKeys is the store's key lookups, failing a third of them as a
// PostgreSQL too slow to answer does, and every one while the store is down,
// until the store recovers.
type flakyKeys struct {
	st              *store.Store
	down, recovered atomic.Bool
	reads, failed   atomic.Int64
}

func (k *flakyKeys) fail() bool {
	k.reads.Add(1)
	if k.recovered.Load() {
		return false
	}
	if k.down.Load() || rand.IntN(3) == 0 {
		k.failed.Add(1)
		return true
	}
	return false
}

func (k *flakyKeys) WorkflowKey(ctx context.Context, workflowID string) (string, []byte, bool, error) {
	if k.fail() {
		return "", nil, false, fmt.Errorf("read data key: %w", context.DeadlineExceeded)
	}
	return k.st.WorkflowKey(ctx, workflowID)
}

func (k *flakyKeys) DataKey(ctx context.Context, id string) ([]byte, error) {
	if k.fail() {
		return nil, fmt.Errorf("read data key: %w", context.DeadlineExceeded)
	}
	return k.st.DataKey(ctx, id)
}

// taskLog keeps what the worker logged that says a workflow took another
// path on replay, or that an update was refused for want of a key.
type taskLog struct {
	mu    sync.Mutex
	found []string
}

func (l *taskLog) keep(msg string, kv []any) {
	line := fmt.Sprint(append([]any{msg}, kv...)...)
	for _, bad := range []string{"TMPRL1100", "nondetermin", "unable to decode"} {
		if strings.Contains(strings.ToLower(line), strings.ToLower(bad)) {
			l.mu.Lock()
			l.found = append(l.found, line)
			l.mu.Unlock()
			return
		}
	}
}

func (l *taskLog) Debug(msg string, kv ...any) { l.keep(msg, kv) }
func (l *taskLog) Info(msg string, kv ...any)  { l.keep(msg, kv) }
func (l *taskLog) Warn(msg string, kv ...any)  { l.keep(msg, kv) }
func (l *taskLog) Error(msg string, kv ...any) { l.keep(msg, kv) }

// Determinism under load: concurrent customer messages to a few cases,
// through a worker whose workflow tasks fail and time out — a one-second
// task timeout against AI turns that take longer, a payload codec whose
// data-key reads fail a third of the time and every time while the key
// store is down (outages longer than the codec's lookup, its cache emptied
// every 100 ms), the sticky cache purged so tasks replay from history, the
// worker stopped and started again mid-run. The worker never takes another
// path on replay than it took live (no non-determinism error, no update
// refused for a key it could not read), every resulting history replays,
// and once the key store recovers every message is answered, once.
func TestCaseHistoriesReplayAfterFailingTasks(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real worker under injected failures")
	}
	s := newStack(t)
	s.worker.Stop() // this test's worker takes the stack's queue
	ctx := t.Context()
	keys := &flakyKeys{st: s.store}
	flaky, err := codec.New(keys, testPayloadKey)
	if err != nil {
		t.Fatal(err)
	}
	flaky.SetLookupLimit(50 * time.Millisecond)
	seen := &taskLog{}
	wc, err := client.Dial(client.Options{HostPort: s.temporalAddr, Logger: seen, DataConverter: flaky.WorkerDataConverter(),
		FailureConverter: flaky.WorkerFailureConverter()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wc.Close)
	slowAI := &slowEngine{s.engine}
	newWorker := func() worker.Worker {
		w := worker.New(wc, s.queue, worker.Options{MaxConcurrentWorkflowTaskExecutionSize: 2, MaxConcurrentLocalActivityExecutionSize: 4})
		workflows.Register(w)
		(&activities.Activities{Store: s.store, AI: slowAI, LLM: s.llm, Gateway: s.gateway, Due: s.due, WebhookRecheck: time.Hour}).Register(w)
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := newWorker()
	t.Cleanup(func() { w.Stop() })
	forget, stopForgetting := context.WithCancel(ctx)
	forgetting := make(chan struct{})
	go func() {
		defer close(forgetting)
		for forget.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			flaky.Forget(dataKeyIDs(forget, s.store)...)
			worker.PurgeStickyWorkflowCache() // the next task replays from history
		}
	}()
	defer func() { stopForgetting(); <-forgetting }()
	go func() { // the key store goes down for 300 ms at a time
		for forget.Err() == nil {
			time.Sleep(time.Duration(300+rand.IntN(400)) * time.Millisecond)
			keys.down.Store(true)
			time.Sleep(300 * time.Millisecond)
			keys.down.Store(false)
		}
	}()

	const cases, senders, each = 3, 6, 4
	ids := make([]string, cases)
	policy, err := s.store.ServicePolicy(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		ids[i] = uuid.NewString()
		wfID := workflows.CaseWorkflowID(tenantA, ids[i])
		if err := s.store.BindCaseKey(ctx, tenantA, "cust-42", wfID); err != nil {
			t.Fatal(err)
		}
		if _, err := sendUntilDone(ctx, func(ctx context.Context) (client.WorkflowUpdateHandle, error) {
			op := s.temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{ID: wfID, TaskQueue: s.queue,
				WorkflowTaskTimeout: time.Second, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING},
				workflows.CaseWorkflowName, workflows.CaseInput{CaseOpening: workflows.CaseOpening{TenantID: tenantA, CaseID: ids[i],
					CustomerRef: "cust-42", Channel: "web_chat", Subject: "load", Priority: "normal"}, Policy: policy, HistoryLimit: 60})
			return s.temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: op,
				UpdateOptions: client.UpdateWorkflowOptions{WorkflowID: wfID, UpdateID: workflows.OpenUpdateID, UpdateName: workflows.UpdatePostMessage,
					Args: []any{workflows.PostMessageInput{Body: inScope(i)}}, WaitForStage: client.WorkflowUpdateStageCompleted}})
		}); err != nil {
			t.Fatalf("open case %d: %v", i, err)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for g := range senders {
		wg.Go(func() {
			for j := range each {
				wfID := workflows.CaseWorkflowID(tenantA, ids[(g+j)%cases])
				key := fmt.Sprintf("load-%d-%d", g, j)
				_, err := sendUntilDone(ctx, func(ctx context.Context) (client.WorkflowUpdateHandle, error) {
					return s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wfID, UpdateID: workflows.MessageUpdateID(key),
						UpdateName: workflows.UpdatePostMessage, WaitForStage: client.WorkflowUpdateStageCompleted,
						Args: []any{workflows.PostMessageInput{Body: inScope(g + j), ClientKey: key, Actor: workflows.Actor{Kind: "service", ID: "load"}}}})
				})
				if err != nil {
					errs <- fmt.Errorf("%s %s: %w", wfID, key, err)
				}
			}
		})
	}
	time.Sleep(3 * time.Second) // mid-run, the worker dies and another takes over
	w.Stop()
	w = newWorker()
	// The key store recovers after a while. How many messages get through
	// before then depends on the machine's speed; that every one does after
	// it, whatever state the failures left the tasks in, does not.
	time.Sleep(20 * time.Second)
	keys.recovered.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if keys.failed.Load() == 0 {
		t.Fatal("no data-key read failed: the test injected nothing")
	}
	stopForgetting()
	w.Stop()
	seen.mu.Lock()
	for i, line := range seen.found {
		if i == 5 {
			t.Errorf("… and %d more", len(seen.found)-i)
			break
		}
		t.Errorf("the worker took another path on replay, or refused an update it could not read: %s", line)
	}
	seen.mu.Unlock()

	replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: s.codec.DataConverter()})
	if err != nil {
		t.Fatal(err)
	}
	workflows.Register(replayer)
	messages := 0
	for _, id := range ids {
		for _, h := range runHistories(t, s.temporal, workflows.CaseWorkflowID(tenantA, id)) {
			if len(h.Events) < 3 {
				continue // a run just continued as new: no task of it has run, nothing to replay
			}
			if err := replayer.ReplayWorkflowHistory(nil, h); err != nil {
				t.Errorf("case %s does not replay: %v", id, err)
			}
		}
		row, err := s.store.CaseRecord(ctx, tenantA, id)
		if err != nil {
			t.Fatal(err)
		}
		upTo, _, err := s.store.MessageCounts(ctx, tenantA, id, row.LastSeq)
		if err != nil {
			t.Fatal(err)
		}
		messages += int(upTo)
	}
	// Every message sent once is recorded once, whatever the retries.
	var sent struct{ All, Keys int }
	if err := s.store.DB().Raw(`SELECT count(*) AS all, count(DISTINCT client_key) AS keys FROM messages
		WHERE tenant_id = ? AND case_id IN ? AND client_key LIKE 'load-%'`, tenantA, ids).Scan(&sent).Error; err != nil {
		t.Fatal(err)
	}
	if sent.All != senders*each || sent.Keys != senders*each {
		t.Errorf("%d keyed messages recorded under %d keys, want %d once each", sent.All, sent.Keys, senders*each)
	}
	t.Logf("%d of %d data-key reads failed; %d messages recorded", keys.failed.Load(), keys.reads.Load(), messages)
}

// slowEngine answers as the stack's AI does, after longer than a workflow
// task's one-second timeout, so tasks heartbeat and time out.
type slowEngine struct{ ai.Engine }

func (e *slowEngine) Respond(ctx context.Context, req ai.Request) (ai.Response, error) {
	time.Sleep(time.Duration(800+rand.IntN(800)) * time.Millisecond)
	return e.Engine.Respond(ctx, req)
}

// sendUntilDone sends an update until Temporal answers it, as a client
// retrying with its key does: a refusal while the workflow's task fails,
// or a timeout, is tried again for up to three minutes.
func sendUntilDone(ctx context.Context, send func(context.Context) (client.WorkflowUpdateHandle, error)) (workflows.PostMessageResult, error) {
	var res workflows.PostMessageResult
	var err error
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
		uctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var h client.WorkflowUpdateHandle
		if h, err = send(uctx); err == nil {
			err = h.Get(uctx, &res)
		}
		cancel()
		if err == nil || ctx.Err() != nil || strings.Contains(err.Error(), "unable to decode") {
			return res, err // refused for a payload the worker could not read: not a retry's business
		}
		time.Sleep(500 * time.Millisecond)
	}
	return res, errors.Join(errors.New("no answer in three minutes"), err)
}

// runHistories is every run's history of a workflow, oldest first.
func runHistories(t *testing.T, tc client.Client, wfID string) []*historypb.History {
	t.Helper()
	var out []*historypb.History
	runID := ""
	for {
		it := tc.GetWorkflowHistory(t.Context(), wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		h := &historypb.History{}
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			h.Events = append(h.Events, ev)
		}
		out = append([]*historypb.History{h}, out...)
		first := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if first == "" {
			return out
		}
		runID = first
	}
}

// dataKeyIDs lists the data keys in the store (none once ctx ends).
func dataKeyIDs(ctx context.Context, st *store.Store) []string {
	var ids []string
	_ = st.DB().WithContext(ctx).Raw(`SELECT id FROM data_keys`).Scan(&ids).Error
	return ids
}
