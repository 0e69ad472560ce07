package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"tandem/api"
	"tandem/workflows"
)

// An update that finds no running workflow means a closed case only when
// the case's run completed (or, once Temporal has forgotten it, when the
// record says it closed). A run that was terminated left the case neither
// closed nor workable: a fault, 500, never 409 case_closed.
func TestUpdateToAnEndedCaseWorkflow(t *testing.T) {
	t.Parallel() // Temporal deletes a run in the background, in seconds
	s := newStack(t)
	ctx := t.Context()
	msg := api.PostMessageRequest{Body: inScope(2)}
	post := func(id string) response {
		t.Helper()
		return s.do("POST", "/v1/cases/"+id+"/messages", tenantA, msg)
	}

	terminated := s.openCase(tenantA, sampleCase()).Case.ID
	if err := s.temporal.TerminateWorkflow(ctx, workflows.CaseWorkflowID(tenantA, terminated), "", "operator"); err != nil {
		t.Fatal(err)
	}
	if r := post(terminated); r.Status != http.StatusInternalServerError || r.errorCode(t) != "internal" {
		t.Fatalf("message to a terminated case: %d %s, want 500 internal", r.Status, r.Body)
	}

	closed := s.openCase(tenantA, sampleCase()).Case.ID
	if r := s.do("POST", "/v1/cases/"+closed+"/close", tenantA, api.CloseCaseRequest{Reason: "done"}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	if r := post(closed); r.Status != http.StatusConflict || r.errorCode(t) != "case_closed" {
		t.Fatalf("message to a closed case: %d %s, want 409 case_closed", r.Status, r.Body)
	}
	// Temporal forgets the closed run, as its retention does: the record says it closed.
	if _, err := s.temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflows.CaseWorkflowID(tenantA, closed)},
	}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.temporal, workflows.CaseWorkflowID(tenantA, closed))
	if r := post(closed); r.Status != http.StatusConflict || r.errorCode(t) != "case_closed" {
		t.Fatalf("message to a closed case Temporal forgot: %d %s, want 409 case_closed", r.Status, r.Body)
	}
}

// An update that times out on a workflow whose task keeps failing (a panic
// or a non-determinism in the worker) is a bug no retry fixes: 500, counted
// and logged, not 503 with Retry-After.
func TestUpdateToAFailingWorkflowIs500(t *testing.T) {
	t.Parallel() // the task's attempts back off: half a minute to the fifth
	s := newStack(t)
	ctx := t.Context()
	id := s.openCase(tenantA, sampleCase()).Case.ID
	wfID := s.caseOnAFailingWorkflow(id)
	deadline := time.Now().Add(60 * time.Second)
	for {
		desc, err := s.temporal.DescribeWorkflowExecution(ctx, wfID, "")
		if err != nil {
			t.Fatal(err)
		}
		if desc.GetPendingWorkflowTask().GetAttempt() >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workflow task has not failed five times: %+v", desc.GetPendingWorkflowTask())
		}
		time.Sleep(200 * time.Millisecond)
	}
	r := s.do("POST", "/v1/cases/"+id+"/messages", tenantA, api.PostMessageRequest{Body: inScope(0)})
	if r.Status != http.StatusInternalServerError || r.errorCode(t) != "internal" || r.Header.Get("Retry-After") != "" {
		t.Fatalf("message to a case whose workflow task fails: %d %v %s, want 500 internal without Retry-After", r.Status, r.Header, r.Body)
	}
}

// waitGone waits until Temporal no longer describes the workflow (a delete
// is carried out in the background).
func waitGone(t *testing.T, tc client.Client, wfID string) {
	t.Helper()
	for range 1800 { // three minutes: the deletion waits in a busy server's task queue
		if _, err := tc.DescribeWorkflowExecution(t.Context(), wfID, ""); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("workflow %s is still there", wfID)
}

// Closed is final: an opening retried with its Idempotency-Key after the
// case closed and Temporal forgot its run (as retention does) is answered
// from the closed case's records, and never starts the case again.
func TestLateOpeningRetryOfAClosedCase(t *testing.T) {
	t.Parallel() // Temporal deletes a run in the background, in seconds
	s := newStack(t)
	ctx := t.Context()
	req := sampleCase()
	key := "late-retry-" + randomHex(6) // the case's workflow ID is the key's: one of its own on a shared server
	first := s.do("POST", "/v1/cases", tenantA, req, "Idempotency-Key", key)
	if first.Status != http.StatusCreated {
		t.Fatalf("open: %d %s", first.Status, first.Body)
	}
	var opened api.ExchangeJSON
	first.decode(t, &opened)
	if r := s.do("POST", "/v1/cases/"+opened.Case.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "done"}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	wfID := workflows.CaseWorkflowID(tenantA, opened.Case.ID)
	retry := func(what string) {
		t.Helper()
		r := s.do("POST", "/v1/cases", tenantA, req, "Idempotency-Key", key)
		var got api.ExchangeJSON
		if r.Status == http.StatusOK {
			r.decode(t, &got)
		}
		if r.Status != http.StatusOK || got.Case.ID != opened.Case.ID || got.Case.Status != workflows.StatusClosed ||
			got.Message.Body != req.Message {
			t.Fatalf("%s: %d %s, want 200 with the closed case", what, r.Status, r.Body)
		}
	}
	retry("retry while Temporal has the closed run")
	if _, err := s.temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wfID},
	}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.temporal, wfID)
	retry("retry after Temporal forgot the run")
	if _, err := s.temporal.DescribeWorkflowExecution(ctx, wfID, ""); err == nil {
		t.Fatal("the late retry started the closed case's workflow again")
	}
	row, err := s.store.CaseRecord(ctx, tenantA, opened.Case.ID)
	if err != nil || row.Status != workflows.StatusClosed {
		t.Fatalf("record after the late retry: %+v, %v", row, err)
	}
}

// An agent who claimed a case, released it and claims it again holds it:
// the second claim is a new request, not a retry of the first (whose
// answer, "assigned to you", would no longer be true). A retry of a claim
// sent with its Idempotency-Key is still the same claim.
func TestClaimAfterReleaseIsANewClaim(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	s.handTo(tenantA+"/agent", c.ID)
	if r := s.do("POST", "/v1/cases/"+c.ID+"/release", tenantA+"/agent", nil); r.Status != http.StatusOK {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	claim := func(headers ...string) api.CaseJSON {
		t.Helper()
		r := s.do("POST", "/v1/cases/"+c.ID+"/claim", tenantA+"/agent", nil, headers...)
		var out struct{ Case api.CaseJSON }
		if r.Status != http.StatusOK {
			t.Fatalf("claim: %d %s", r.Status, r.Body)
		}
		r.decode(t, &out)
		return out.Case
	}
	answered := claim("Idempotency-Key", "claim-again")
	held := s.staffCase(tenantA, c.ID)
	if answered.Status != workflows.StatusAssigned || held.Status != workflows.StatusAssigned || held.Assignee != "agent-1" {
		t.Fatalf("claim after release answered %s; the case is %s with %q", answered.Status, held.Status, held.Assignee)
	}
	if again := claim("Idempotency-Key", "claim-again"); again.Status != workflows.StatusAssigned {
		t.Fatalf("a retry of the claim: %+v", again)
	}
}

// A closed case answers a message's retry only for a key its committed run
// took: a message row a lost workflow task wrote under a key is not taken
// for an answer while Temporal keeps the finished run.
func TestClosedCaseAnswersOnlyCommittedKeys(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	msg := api.PostMessageRequest{Body: inScope(1)}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, msg, "Idempotency-Key", "taken"); r.Status != http.StatusOK {
		t.Fatalf("message: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "done"}); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	// What a lost workflow task left: a message under a key the committed run never took.
	if err := s.store.DB().Exec(`INSERT INTO messages (tenant_id, case_id, seq, author_kind, author_id, body_ct, key_id, client_key, created_at, proj_event)
		SELECT tenant_id, case_id, 99, author_kind, author_id, body_ct, key_id, 'ghost', created_at, 1 FROM messages WHERE case_id = ? AND client_key = 'taken'`, c.ID).Error; err != nil {
		t.Fatal(err)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, msg, "Idempotency-Key", "taken"); r.Status != http.StatusOK {
		t.Fatalf("a retry of a message the case took: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, msg, "Idempotency-Key", "ghost"); r.Status != http.StatusConflict || r.errorCode(t) != "case_closed" {
		t.Fatalf("a key only a lost task's row holds: %d %s, want 409 case_closed", r.Status, r.Body)
	}
}

// caseOnAFailingWorkflow replaces the case's workflow by one of its own
// whose every task fails (no worker knows its type), as a panic or a
// non-determinism in the worker makes them, and returns its ID.
func (s *stack) caseOnAFailingWorkflow(caseID string) string {
	s.t.Helper()
	ctx := context.Background()
	wfID := workflows.CaseWorkflowID(tenantA, caseID)
	if err := s.temporal.TerminateWorkflow(ctx, wfID, "", "replaced by a failing workflow"); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: s.queue}, "NoSuchWorkflowType"); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = s.temporal.TerminateWorkflow(context.Background(), wfID, "", "test over") })
	return wfID
}
