package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"tandem/api"
	"tandem/workflows"
)

// Erasure reaches Temporal: every run of the customer's case (it continued
// as new) and of its refund saga is deleted, so what their histories held
// (the customer's words, reference and order number) cannot be read with
// the payload key or any other. Before the erasure the test reads the text
// with the payload key, so it would see it if it were still there.
func TestErasureDeletesWorkflowHistories(t *testing.T) {
	t.Parallel() // most of it is waiting for Temporal's deletions
	s := newStackWith(t, 40)
	ctx := context.Background()
	const secret = "my neighbour Ruth Example signed for it"
	c := openFor(s, tenantA, "cust-history", secret)
	for i := range 8 {
		if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}); r.Status != http.StatusOK {
			t.Fatalf("message %d: %d %s", i, r.Status, r.Body)
		}
	}
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-history", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "10.00"), "r")
	s.waitRefund(asked.RefundID, tenantA, final)

	runs := map[string][]string{}
	for _, id := range []string{c.WorkflowID, workflows.RefundWorkflowID(tenantA, asked.RefundID)} {
		want := int64(1)
		if id == c.WorkflowID {
			want = 2
		}
		if n := countRunsAtLeast(t, s.temporal, id, want); n < want {
			t.Fatalf("%s: %d runs, want %d", id, n, want)
		}
		resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = '%s'", id)})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetExecutions() {
			runs[id] = append(runs[id], e.GetExecution().GetRunId())
		}
	}
	first := runs[c.WorkflowID][len(runs[c.WorkflowID])-1] // listed newest first
	if !strings.Contains(runInputs(t, s, c.WorkflowID, first), secret) {
		t.Fatal("the first run's history does not hold the customer's words: the test would prove nothing")
	}

	r := s.do("POST", "/v1/customers/erase", tenantA+"/admin+totp", api.EraseCustomerRequest{CustomerRef: "cust-history", Reason: "erasure request"})
	var out struct {
		Deleted int `json:"workflow_runs_deleted"`
		Running int `json:"workflow_runs_running"`
	}
	r.decode(t, &out)
	total := len(runs[c.WorkflowID]) + len(runs[workflows.RefundWorkflowID(tenantA, asked.RefundID)])
	if r.Status != http.StatusOK || out.Deleted != total || out.Running != 0 {
		t.Fatalf("erase: %d %s, want %d runs deleted", r.Status, r.Body, total)
	}
	// Temporal deletes in the background (within half a minute on the dev
	// server): every run's history goes.
	for id, ids := range runs {
		for _, run := range ids {
			deadline := time.Now().Add(90 * time.Second)
			for {
				_, err := s.temporal.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT).Next()
				var notFound *serviceerror.NotFound
				if errors.As(err, &notFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s run %s (of %v) still readable after erasure (%v)", id, run, ids, err)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	// The case's record stays, erased.
	got := s.waitCase(c.ID, func(c api.CaseJSON) bool { return c.Status == "closed" })
	if !got.Case.Erased {
		t.Fatalf("case after erasure: %+v", got.Case)
	}
}

// runInputs is what a run was given, its start and its updates, as the
// payload key reads it.
func runInputs(t *testing.T, s *stack, workflowID, runID string) string {
	t.Helper()
	var b strings.Builder
	it := s.temporal.GetWorkflowHistory(context.Background(), workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		payloads := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
		payloads = append(payloads, ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetArgs().GetPayloads()...)
		for _, p := range payloads {
			b.WriteString(payloadCodec.DataConverter().ToString(p))
		}
	}
	return b.String()
}
