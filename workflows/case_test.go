package workflows_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"tandem/policies/service"
	"tandem/workflows"
)

// recorder stands in for the store: it keeps what RecordCase was asked to write
// and can fail the first calls.
type recorder struct {
	mu       sync.Mutex
	failures int
	calls    int
	records  []workflows.RecordCaseInput
}

func (r *recorder) RecordCase(_ context.Context, in workflows.RecordCaseInput) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.failures > 0 {
		r.failures--
		return errors.New("postgres unavailable")
	}
	r.records = append(r.records, in)
	return nil
}

// fakeAI stands in for the AI layer: by default it answers every message
// confidently from one article; answer can be replaced per test.
type fakeAI struct {
	answer func(workflows.AITurnInput) (workflows.AITurnResult, error)
	// agents are offered cases in turn by PickAgent, skipping excluded ones.
	agents []string
	picks  []workflows.PickAgentInput
}

func (f *fakeAI) PickAgent(_ context.Context, in workflows.PickAgentInput) (workflows.PickAgentResult, error) {
	f.picks = append(f.picks, in)
	for _, a := range f.agents {
		if !slices.Contains(in.Exclude, a) {
			return workflows.PickAgentResult{AgentID: a}, nil
		}
	}
	return workflows.PickAgentResult{}, nil
}

func confidentAnswer(in workflows.AITurnInput) (workflows.AITurnResult, error) {
	return workflows.AITurnResult{Engine: "fake", Model: "fake-1", Answer: "Answer to: " + in.Message, ArticleID: "art-" + in.Message,
		ArticleVersion: 1, Intent: "faq", Confidence: 0.9, Language: "en"}, nil
}

func (f *fakeAI) AITurn(_ context.Context, in workflows.AITurnInput) (workflows.AITurnResult, error) {
	if f.answer == nil {
		return confidentAnswer(in)
	}
	return f.answer(in)
}

func newEnv(rec *recorder) *testsuite.TestWorkflowEnvironment {
	return newEnvWithAI(rec, &fakeAI{})
}

func newEnvWithAI(rec *recorder, ai *fakeAI) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.CaseWorkflow, workflowOpts)
	env.RegisterActivityWithOptions(rec.RecordCase, activity.RegisterOptions{Name: workflows.ActivityRecordCase})
	env.RegisterActivityWithOptions(ai.AITurn, activity.RegisterOptions{Name: workflows.ActivityAITurn})
	env.RegisterActivityWithOptions(ai.PickAgent, activity.RegisterOptions{Name: workflows.ActivityPickAgent})
	return env
}

var input = workflows.CaseInput{CaseOpening: workflows.CaseOpening{
	TenantID: "acme", CaseID: "9b2f7c1e-0000-4000-8000-000000000001",
	CustomerRef: "cust-1", Channel: "web_chat", Subject: "late order", Priority: "normal",
}}

// update sends an update and returns its result or error through the callbacks.
type updateOutcome struct {
	rejected, err error
	result        any
	done          bool
}

func callbacks(out *updateOutcome) *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { out.rejected, out.done = err, true },
		OnComplete: func(res any, err error) {
			out.result, out.err, out.done = res, err, true
		},
	}
}

func TestCaseWorkflowConversationAndClose(t *testing.T) {
	rec := &recorder{}
	env := newEnv(rec)
	var first, empty, second, closeOut, afterClose updateOutcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&first), workflows.PostMessageInput{Body: "Where is my parcel?"})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "u2", callbacks(&empty), workflows.PostMessageInput{Body: "  "})
	}, 2*time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "u3", callbacks(&second), workflows.PostMessageInput{Body: "Hello?"})
	}, 3*time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&closeOut), workflows.CloseInput{Reason: "answered"})
		env.UpdateWorkflow(workflows.UpdatePostMessage, "u5", callbacks(&afterClose), workflows.PostMessageInput{Body: "too late"})
	}, 4*time.Second)

	env.ExecuteWorkflow(workflows.CaseWorkflowName, input)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete after close")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	res, ok := first.result.(workflows.PostMessageResult)
	if !ok || first.err != nil {
		t.Fatalf("first message: %v %v", first.result, first.err)
	}
	if res.Message.Seq != 1 || res.Reply.Seq != 2 || res.Reply.AuthorKind != workflows.AuthorAI ||
		// The case's first AI answer says it is an AI.
		res.Reply.Body != service.DefaultDisclosure["en"]+"\n\nAnswer to: Where is my parcel?" || !res.Reply.AIDisclosure ||
		res.Reply.ArticleID != "art-Where is my parcel?" || res.Case.Status != workflows.StatusAIHandling {
		t.Fatalf("first exchange = %+v", res)
	}
	// The result reports what the API shows, not
	// the workflow's memory, which every update's result would otherwise
	// write into the history again: the customer's recent messages, the
	// clocks, the applied update IDs.
	if res.Case.CaseID != input.CaseID || len(res.Case.AI.Recent) != 0 ||
		len(res.Case.SLA.Clocks) != 0 || len(res.Case.Applied) != 0 {
		t.Fatalf("first exchange reports the case as %+v", res.Case)
	}
	assertAppError(t, "blank message", empty.rejected, workflows.ErrTypeInvalidMessage)
	if res2, _ := second.result.(workflows.PostMessageResult); res2.Message.Seq != 3 || res2.Case.Seq != 4 {
		t.Fatalf("second exchange = %+v (a rejected update must not consume a sequence)", second.result)
	}
	if st, _ := closeOut.result.(workflows.CaseState); st.Status != workflows.StatusClosed || st.ClosedAt == nil || st.Seq != 5 {
		t.Fatalf("close = %+v %v", closeOut.result, closeOut.err)
	}
	assertAppError(t, "message after close", afterClose.rejected, workflows.ErrTypeCaseClosed)

	var out workflows.CaseResult
	if err := env.GetWorkflowResult(&out); err != nil || out.State.Status != workflows.StatusClosed || out.State.Messages != 4 {
		t.Fatalf("result = %+v, %v", out, err)
	}
	if len(rec.records) != 3 {
		t.Fatalf("%d projection writes, want 3 (two exchanges and the close)", len(rec.records))
	}
	if got := rec.records[2].Case; got.Status != workflows.StatusClosed || got.CloseReason != "answered" {
		t.Fatalf("close snapshot = %+v", got)
	}
}

// PostgreSQL refuses the first projection writes; the opening message must
// still succeed once it is back, then the close, and the workflow never fails.
func TestCaseWorkflowRetriesProjectionUntilItSucceeds(t *testing.T) {
	for _, failures := range []int{
		3,
		// Away longer than one attempt's 5 s: backoff 0.1 + 0.2 + 0.4 + 0.8 +
		// 1.6 + 3.2 s (test time). Without ScheduleToCloseTimeout the SDK
		// ends the retries there, and a timer's transition fails the workflow.
		6,
	} {
		rec := &recorder{failures: failures}
		env := newEnv(rec)
		var out updateOutcome
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&out), workflows.PostMessageInput{Body: "hi"})
		}, time.Second)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{})
		}, time.Hour)
		env.ExecuteWorkflow(workflows.CaseWorkflowName, input)
		if out.err != nil || !out.done || env.GetWorkflowError() != nil {
			t.Fatalf("%d failures: message done=%v err=%v, workflow %v", failures, out.done, out.err, env.GetWorkflowError())
		}
		if rec.calls != failures+2 || len(rec.records) != 2 {
			t.Fatalf("%d calls and %d writes; want %d failures, then the message, then the close", rec.calls, len(rec.records), failures)
		}
	}
}

func TestCaseWorkflowCloseIsIdempotent(t *testing.T) {
	rec := &recorder{}
	env := newEnv(rec)
	var a, b updateOutcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClose, "c1", callbacks(&a), workflows.CloseInput{Reason: "first"})
		env.UpdateWorkflow(workflows.UpdateClose, "c2", callbacks(&b), workflows.CloseInput{Reason: "second"})
	}, time.Second)
	env.ExecuteWorkflow(workflows.CaseWorkflowName, input)

	sa, _ := a.result.(workflows.CaseState)
	sb, _ := b.result.(workflows.CaseState)
	if a.err != nil || b.err != nil || sa.CloseReason != "first" || sb.CloseReason != "first" || sb.Seq != sa.Seq {
		t.Fatalf("two closes: %+v / %+v (%v, %v)", sa, sb, a.err, b.err)
	}
	if len(rec.records) != 1 {
		t.Fatalf("%d projection writes for two closes, want 1", len(rec.records))
	}
}

func TestValidateMessageBody(t *testing.T) {
	long := make([]rune, workflows.MaxMessageRunes+1)
	for i := range long {
		long[i] = '字'
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{"hello", true},
		{"转人工", true},
		{string(long[:workflows.MaxMessageRunes]), true},
		{string(long), false},
		{"", false},
		{" \n\t", false},
	} {
		if got := workflows.ValidateMessageBody(tc.body) == ""; got != tc.ok {
			t.Errorf("ValidateMessageBody(%d runes) ok = %v, want %v", len([]rune(tc.body)), got, tc.ok)
		}
	}
}

func assertAppError(t *testing.T, what string, err error, typ string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != typ {
		t.Fatalf("%s: error %v, want application error %s", what, err, typ)
	}
}

func TestCaseWorkflowHandoffAndClaimsAcceptedTogether(t *testing.T) {
	rec := &recorder{}
	env := newEnv(rec)
	var ask, silent, first, second, early updateOutcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClaim, "c0", callbacks(&early), workflows.ClaimInput{Actor: workflows.Actor{Kind: "user", ID: "agent-0"}})
		env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&ask), workflows.PostMessageInput{Body: "人工客服"})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "m2", callbacks(&silent), workflows.PostMessageInput{Body: "hello?"})
		env.UpdateWorkflow(workflows.UpdateClaim, "c1", callbacks(&first), workflows.ClaimInput{Actor: workflows.Actor{Kind: "user", ID: "agent-1"}})
		env.UpdateWorkflow(workflows.UpdateClaim, "c2", callbacks(&second), workflows.ClaimInput{Actor: workflows.Actor{Kind: "user", ID: "agent-2"}})
	}, 2*time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{})
	}, 3*time.Second)
	env.ExecuteWorkflow(workflows.CaseWorkflowName, input)

	assertAppError(t, "claim before escalation", early.rejected, workflows.ErrTypeNotClaimable)
	res, _ := ask.result.(workflows.PostMessageResult)
	if res.Case.Status != workflows.StatusQueued || res.Case.Escalation != workflows.ReasonCustomerRequest || res.Reply.Body != workflows.HandoffNotice {
		t.Fatalf("asking for a person: %+v", res)
	}
	if r, _ := silent.result.(workflows.PostMessageResult); r.Reply.Seq != 0 {
		t.Fatalf("the AI replied while the case waited for a person: %+v", r.Reply)
	}
	won, _ := first.result.(workflows.CaseState)
	if first.err != nil || won.Status != workflows.StatusAssigned || won.Assignee != "agent-1" {
		t.Fatalf("first claim: %+v %v", first.result, first.err)
	}
	// The second claim was accepted (or rejected) before or after the first ran; either way it does not win.
	err := second.err
	if err == nil {
		err = second.rejected
	}
	assertAppError(t, "second claim", err, workflows.ErrTypeNotClaimable)
}

func TestReopenWindowWithTimeSkipping(t *testing.T) {
	agent := workflows.Actor{Kind: "user", ID: "agent-1"}
	in := input
	in.Policy.ReopenWindow = service.Duration(48 * time.Hour)
	for _, reopen := range []bool{false, true} {
		rec := &recorder{}
		env := newEnv(rec)
		var reopened updateOutcome
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "转人工"})
		}, time.Second)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateClaim, "c", callbacks(&updateOutcome{}), workflows.ClaimInput{Actor: agent})
		}, 2*time.Second)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateResolve, "r", callbacks(&updateOutcome{}), workflows.ResolveInput{Actor: agent, Code: "answered"})
		}, 3*time.Second)
		if reopen {
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdatePostMessage, "again", callbacks(&reopened), workflows.PostMessageInput{Body: "not fixed"})
			}, 24*time.Hour)
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&updateOutcome{}), workflows.CloseInput{Actor: agent, Reason: "by hand"})
			}, 100*time.Hour)
		}
		start := env.Now()
		env.ExecuteWorkflow(workflows.CaseWorkflowName, in)
		var out workflows.CaseResult
		if err := env.GetWorkflowResult(&out); err != nil {
			t.Fatal(err)
		}
		closedAfter := out.State.ClosedAt.Sub(start)
		if !reopen && (out.State.CloseReason != "reopen window passed" || closedAfter < 48*time.Hour || closedAfter > 49*time.Hour) {
			t.Fatalf("closed %v after start for %q; want the window to close it at 48h after resolving", closedAfter, out.State.CloseReason)
		}
		if reopen {
			if r, _ := reopened.result.(workflows.PostMessageResult); r.Case.Status != workflows.StatusAIHandling {
				t.Fatalf("message within the window: %+v", r.Case)
			}
			if out.State.CloseReason != "by hand" {
				t.Fatalf("a reopened case was closed by the window: %q", out.State.CloseReason)
			}
		}
	}
}

// escalatedFor says some projection write queued the case for the reason.
func (r *recorder) escalatedFor(reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		for _, a := range rec.Audit {
			if a.Action == workflows.AuditCaseEscalate && a.Reason == reason && rec.Case.Status == workflows.StatusQueued {
				return true
			}
		}
	}
	return false
}

// A refund of the case fails while the AI has it: the case goes to people.
// (api/refund_test.go checks that a failure reaches a case that keeps
// continuing as new.)
func TestCaseHandsItselfToPeopleWhenARefundFails(t *testing.T) {
	rec := &recorder{}
	env := newEnv(rec)
	var closed updateOutcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdatePostMessage, "open", callbacks(&updateOutcome{}), workflows.PostMessageInput{Body: "Refund please"})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalRefundFailed, workflows.RefundFailedSignal{RefundID: "r1", Rule: workflows.RulePaymentFailed})
	}, 2*time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateClose, "close", callbacks(&closed), workflows.CloseInput{Reason: "done"})
	}, 3*time.Second)
	env.ExecuteWorkflow(workflows.CaseWorkflowName, input)
	if err := env.GetWorkflowError(); err != nil || !rec.escalatedFor(workflows.ReasonRefundFailed) {
		t.Fatalf("no handover for the failed refund (%v): %+v", err, rec.records)
	}
}

func TestCallerScope(t *testing.T) {
	for _, tc := range []struct {
		scope             workflows.CallerScope
		channel, customer string
		sees              bool
	}{
		{workflows.CallerScope{}, "web_chat", "cust-1", true},
		{workflows.CallerScope{Channels: []string{"web_chat"}}, "web_chat", "cust-1", true},
		{workflows.CallerScope{Channels: []string{"app"}}, "web_chat", "cust-1", false},
		{workflows.CallerScope{Customer: "cust-1"}, "web_chat", "cust-1", true},
		{workflows.CallerScope{Customer: "cust-2"}, "web_chat", "cust-1", false},
		{workflows.CallerScope{Channels: []string{"web_chat"}, Customer: "cust-2"}, "web_chat", "cust-1", false},
	} {
		if got := tc.scope.Sees(tc.channel, tc.customer); got != tc.sees {
			t.Errorf("%+v sees a %s case of %s: %v, want %v", tc.scope, tc.channel, tc.customer, got, tc.sees)
		}
	}
}
