package workflows_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tandem/policies/service"
	"tandem/workflows"
)

// fakeMoney stands in for the refund activities: it records what the saga
// asked for and can refuse requests or decline payments.
type fakeMoney struct {
	mu       sync.Mutex
	refuse   string
	decline  bool
	statuses []string
	payments int
	ledger   []workflows.LedgerMovement
}

func (f *fakeMoney) RequestRefund(_ context.Context, _ workflows.RefundInput) (workflows.RefundRequestResult, error) {
	return workflows.RefundRequestResult{Refused: f.refuse}, nil
}

func (f *fakeMoney) SetRefundStatus(_ context.Context, in workflows.RefundStatusInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, in.Status)
	return nil
}

func (f *fakeMoney) PayRefund(_ context.Context, in workflows.PayRefundInput) (workflows.PayRefundResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.decline {
		return workflows.PayRefundResult{}, temporal.NewNonRetryableApplicationError("declined", workflows.ErrTypeDeclined, errors.New("no"))
	}
	f.payments++
	return workflows.PayRefundResult{Reference: "psp-" + in.Key}, nil
}

func (f *fakeMoney) PostLedger(_ context.Context, in workflows.PostLedgerInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ledger = append(f.ledger, in.Movements...)
	return nil
}

func refundEnv(f *fakeMoney) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.RefundWorkflow, workflow.RegisterOptions{Name: workflows.RefundWorkflowName})
	env.RegisterActivityWithOptions(f.RequestRefund, activity.RegisterOptions{Name: workflows.ActivityRequestRefund})
	env.RegisterActivityWithOptions(f.SetRefundStatus, activity.RegisterOptions{Name: workflows.ActivitySetRefundStatus})
	env.RegisterActivityWithOptions(f.PayRefund, activity.RegisterOptions{Name: workflows.ActivityPayRefund})
	env.RegisterActivityWithOptions(f.PostLedger, activity.RegisterOptions{Name: workflows.ActivityPostLedger})
	return env
}

func refundInput(amount string, policy service.Refunds) workflows.RefundInput {
	return workflows.RefundInput{TenantID: "acme", CaseID: "c1", RefundID: "r1", OrderRef: "1001", Kind: "refund",
		Amount: amount, Currency: "EUR", ReasonCode: "damaged", RequestedBy: workflows.Actor{Kind: "user", ID: "agent-1"}, Policy: policy}
}

var limit50 = service.Refunds{AutoApproveLimit: "50.00", Currency: "EUR"}

func TestRefundUnderTheLimitIsPaidAndPosted(t *testing.T) {
	f := &fakeMoney{}
	env := refundEnv(f)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("49.99", limit50))
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != workflows.RefundPaid || st.Rule != "auto_approve_under_limit" || st.PaymentRef != "psp-r1" || f.payments != 1 {
		t.Fatalf("state %+v, %d payments", st, f.payments)
	}
	if len(f.ledger) != 1 || f.ledger[0].Amount != "49.99" || f.ledger[0].DebitAccount != workflows.AccountRefunds || f.ledger[0].CreditAccount != workflows.AccountClearing {
		t.Fatalf("ledger %+v", f.ledger)
	}
	if got := f.statuses; len(got) != 2 || got[0] != workflows.RefundApproved || got[1] != workflows.RefundPaid {
		t.Fatalf("statuses %v", got)
	}
}

// Over the limit a person decides, never the requester.
func TestRefundOverTheLimitWaitsForAnotherPerson(t *testing.T) {
	for _, approve := range []bool{true, false} {
		f := &fakeMoney{}
		env := refundEnv(f)
		var own, other updateOutcome
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateRefundDecision, "own", callbacks(&own),
				workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "agent-1"}, Approve: true})
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateRefundDecision, "sup", callbacks(&other),
				workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "sam"}, Approve: approve})
		}, 2*time.Hour)
		env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("80.00", limit50))
		var st workflows.RefundState
		if err := env.GetWorkflowResult(&st); err != nil {
			t.Fatal(err)
		}
		assertAppError(t, "the requester approving their own refund", own.rejected, workflows.ErrTypeFourEyes)
		// The approver hears the decision at once; the payment follows.
		decided, _ := other.result.(workflows.RefundState)
		want, answer, payments := workflows.RefundPaid, workflows.RefundApproved, 1
		if !approve {
			want, answer, payments = workflows.RefundRejected, workflows.RefundRejected, 0
		}
		if st.Status != want || st.DecidedBy != "sam" || decided.Status != answer || f.payments != payments {
			t.Fatalf("approve=%v: state %+v, decision result %+v, %d payments", approve, st, decided, f.payments)
		}
	}
}

func TestRefundRefusedOrDeclined(t *testing.T) {
	f := &fakeMoney{refuse: "over_refundable_amount"}
	env := refundEnv(f)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("10.00", limit50))
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundRejected || st.Rule != "over_refundable_amount" || f.payments != 0 {
		t.Fatalf("refused: %+v %v", st, err)
	}
	f = &fakeMoney{decline: true}
	env = refundEnv(f)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("10.00", limit50))
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundFailed || len(f.ledger) != 0 {
		t.Fatalf("declined: %+v %v, ledger %v", st, err, f.ledger)
	}
	// A policy that sends every refund to a person does so even for a cent.
	f = &fakeMoney{}
	env = refundEnv(f)
	var decided updateOutcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateRefundDecision, "fin", callbacks(&decided),
			workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "fin-1"}, Approve: true})
	}, time.Minute)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("0.01", service.Refunds{AutoApproveLimit: "0.00", Currency: "EUR", AlwaysHuman: true}))
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundPaid || st.Rule != "policy_needs_person" || st.DecidedBy != "fin-1" {
		t.Fatalf("always human: %+v %v", st, err)
	}
}
