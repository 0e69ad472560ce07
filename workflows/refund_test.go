package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
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
	recorded workflows.RefundRequestResult // what a record from an earlier attempt says
	placed   time.Time                     // when the order was placed; zero: an hour before the saga starts
	decline  bool
	statuses []string
	rules    []string // the saga's rule at each step
	actions  []string
	notified []string
	payments int
	ledger   []workflows.LedgerMovement
	// ledgerDown fails this many ledger postings first (PostgreSQL away).
	ledgerDown int
	// unknown: this many payment attempts end without an answer, as a
	// provider that times out or answers 5xx does; onAnswer runs (locked)
	// before the first attempt that is answered.
	unknown  int
	onAnswer func()
	attempts int
	// askedFirst counts attempts told to look the payment up before paying.
	askedFirst int
}

func (f *fakeMoney) RequestRefund(ctx context.Context, _ workflows.RefundInput) (workflows.RefundRequestResult, error) {
	placed := f.placed
	if placed.IsZero() {
		placed = activity.GetInfo(ctx).StartedTime.Add(-time.Hour)
	}
	return workflows.RefundRequestResult{Refused: f.refuse, PlacedAt: placed, Recorded: f.recorded.Recorded, Settled: f.recorded.Settled}, nil
}

func (f *fakeMoney) SetRefundStatus(_ context.Context, in workflows.RefundStatusInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, in.Status)
	f.rules = append(f.rules, in.State.Rule)
	f.actions = append(f.actions, in.Action)
	for _, to := range in.Notify {
		f.notified = append(f.notified, in.Action+">"+to)
	}
	return nil
}

func (f *fakeMoney) PayRefund(_ context.Context, in workflows.PayRefundInput) (workflows.PayRefundResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if in.LookUpFirst {
		f.askedFirst++
	}
	if f.attempts <= f.unknown {
		return workflows.PayRefundResult{}, errors.New("payment gateway: 503 service unavailable")
	}
	if f.attempts == f.unknown+1 && f.onAnswer != nil {
		f.onAnswer()
	}
	if f.decline {
		return workflows.PayRefundResult{}, temporal.NewNonRetryableApplicationError("declined", workflows.ErrTypeDeclined, errors.New("no"))
	}
	f.payments++
	return workflows.PayRefundResult{Reference: "psp-" + in.Key}, nil
}

func (f *fakeMoney) PostLedger(_ context.Context, in workflows.PostLedgerInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ledgerDown > 0 {
		f.ledgerDown--
		return errors.New("postgres unavailable")
	}
	f.ledger = append(f.ledger, in.Movements...)
	return nil
}

// balances sums the fake ledger by account.
func (f *fakeMoney) balances() map[string]string {
	sums := map[string]*big.Rat{}
	add := func(acct, amount string, sign int64) {
		v, _ := new(big.Rat).SetString(amount)
		if sums[acct] == nil {
			sums[acct] = new(big.Rat)
		}
		sums[acct].Add(sums[acct], v.Mul(v, big.NewRat(sign, 1)))
	}
	for _, m := range f.ledger {
		add(m.DebitAccount, m.Amount, 1)
		add(m.CreditAccount, m.Amount, -1)
	}
	out := map[string]string{}
	for acct, v := range sums {
		out[acct] = v.FloatString(2)
	}
	return out
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
	// Booked as payable, then paid out through the gateway's clearing account.
	if fmt.Sprint(f.balances()) != "map[customer_refunds:49.99 psp_clearing:-49.99 refunds_payable:0.00]" {
		t.Fatalf("ledger %+v", f.ledger)
	}
	if fmt.Sprint(f.actions) != "[refund.approve refund.paid]" || fmt.Sprint(f.notified) != "[refund.paid>customer]" {
		t.Fatalf("steps %v, notified %v", f.actions, f.notified)
	}
}

// PostgreSQL is away for longer than one attempt's timeout right after the
// payment went out: the ledger entry is retried until it is written, and the
// saga ends paid, posted once.
func TestRefundPostsItsLedgerEntryPastOneAttemptsTimeout(t *testing.T) {
	f := &fakeMoney{ledgerDown: 8} // backoff 0.1 + 0.2 + … + 10 s, in test time
	env := refundEnv(f)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("49.99", limit50))
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatalf("the saga failed while PostgreSQL was away: %v", err)
	}
	if st.Status != workflows.RefundPaid || f.payments != 1 ||
		fmt.Sprint(f.balances()) != "map[customer_refunds:49.99 psp_clearing:-49.99 refunds_payable:0.00]" {
		t.Fatalf("state %+v, %d payments, ledger %v", st, f.payments, f.balances())
	}
}

// The saga's first workflow task recorded "approved" and was lost in a crash;
// the task done again finds that record. It must pay, not stop: the record
// came from a task Temporal never committed. A settled record (a saga run
// to its end before) stands.
func TestRefundGoesOnPastWhatALostTaskRecorded(t *testing.T) {
	for _, tc := range []struct {
		recorded workflows.RefundRequestResult
		want     string
		payments int
	}{
		{workflows.RefundRequestResult{Recorded: workflows.RefundApproved}, workflows.RefundPaid, 1},
		{workflows.RefundRequestResult{Recorded: workflows.RefundRejected, Settled: true}, workflows.RefundRejected, 0},
	} {
		f := &fakeMoney{recorded: tc.recorded}
		env := refundEnv(f)
		env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("20.00", limit50))
		var st workflows.RefundState
		if err := env.GetWorkflowResult(&st); err != nil {
			t.Fatal(err)
		}
		if st.Status != tc.want || f.payments != tc.payments {
			t.Fatalf("record %+v: saga ended %s with %d payments, want %s with %d", tc.recorded, st.Status, f.payments, tc.want, tc.payments)
		}
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
		if st.Status != want || st.DecidedBy != "sam" || decided.Status != answer || f.payments != payments || st.EscalatedAt != nil {
			t.Fatalf("approve=%v: state %+v, decision result %+v, %d payments", approve, st, decided, f.payments)
		}
		if f.notified[0] != "refund.awaiting_approval>supervisor" {
			t.Fatalf("approvers not told: %v", f.notified)
		}
	}
}

// An approval that outlives the policy's approval SLA is escalated, once,
// to the role the policy names, and still waits for a decision.
func TestRefundApprovalEscalatesWhenItAges(t *testing.T) {
	f := &fakeMoney{}
	env := refundEnv(f)
	policy := limit50
	policy.ApprovalSLA, policy.EscalateTo = service.Duration(4*time.Hour), "finance"
	var decided updateOutcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateRefundDecision, "fin", callbacks(&decided),
			workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "fin-1"}, Approve: true})
	}, 30*time.Hour)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("80.00", policy))
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != workflows.RefundPaid || st.EscalatedAt == nil || st.EscalatedAt.Sub(*st.AwaitingSince) != 4*time.Hour {
		t.Fatalf("state %+v", st)
	}
	if fmt.Sprint(f.actions) != "[refund.awaiting_approval refund.approval_overdue refund.approve refund.paid]" ||
		!slices.Contains(f.notified, "refund.approval_overdue>finance") {
		t.Fatalf("steps %v, notified %v", f.actions, f.notified)
	}
}

// A rule's rejection keeps its rule and may be appealed, once, by someone;
// a person other than the requester and the appellant decides; an
// overturned rejection is paid, an upheld one stays rejected. Unappealed,
// it becomes final when the window passes.
func TestRefundRejectedByRuleCanBeAppealed(t *testing.T) {
	policy := limit50
	policy.NonRefundableReasons = []string{"damaged"}
	policy.AppealWindow = service.Duration(72 * time.Hour)
	for _, overturn := range []bool{true, false} {
		f := &fakeMoney{}
		env := refundEnv(f)
		var appeal, again, byAppellant, decided updateOutcome
		customer := workflows.Actor{Kind: "service", ID: "chat-widget"}
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateRefundAppeal, "a1", callbacks(&appeal), workflows.RefundAppealInput{Actor: customer, Reason: "it arrived broken"})
		}, 24*time.Hour)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateRefundAppeal, "a2", callbacks(&again), workflows.RefundAppealInput{Actor: customer, Reason: "again"})
			env.UpdateWorkflow(workflows.UpdateRefundDecision, "self", callbacks(&byAppellant),
				workflows.RefundDecisionInput{Actor: customer, Approve: true})
		}, 25*time.Hour)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateRefundDecision, "sup", callbacks(&decided),
				workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "sam"}, Approve: overturn})
		}, 26*time.Hour)
		env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("10.00", policy))
		var st workflows.RefundState
		if err := env.GetWorkflowResult(&st); err != nil {
			t.Fatal(err)
		}
		appealed, _ := appeal.result.(workflows.RefundState)
		if appealed.Status != workflows.RefundAppealed || appealed.Appeal == nil || appealed.Appeal.Reason != "it arrived broken" {
			t.Fatalf("appeal answered %+v (%v)", appealed, appeal.rejected)
		}
		assertAppError(t, "a second appeal", again.rejected, workflows.ErrTypeNotAppealable)
		assertAppError(t, "the appellant deciding", byAppellant.rejected, workflows.ErrTypeFourEyes)
		if overturn {
			if st.Status != workflows.RefundPaid || st.Rule != workflows.RuleOverturned || !st.Overturned || !st.AutoRejected || f.payments != 1 {
				t.Fatalf("overturned: %+v", st)
			}
		} else if st.Status != workflows.RefundRejected || st.Rule != workflows.RuleUpheld || st.Overturned || st.Appealable || f.payments != 0 {
			t.Fatalf("upheld: %+v", st)
		}
	}

	f := &fakeMoney{placed: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	env := refundEnv(f)
	policy = limit50
	policy.RejectAfter = service.Duration(90 * 24 * time.Hour)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("10.00", policy))
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != workflows.RefundRejected || st.Rule != workflows.RuleOutsidePeriod || st.Appealable || !st.AutoRejected ||
		fmt.Sprint(f.actions) != "[refund.reject refund.appeal_closed]" {
		t.Fatalf("unappealed: %+v, steps %v", st, f.actions)
	}
}

// Older than the refund window but inside the refund period: a person decides.
func TestRefundOutsideTheWindowGoesToAPerson(t *testing.T) {
	f := &fakeMoney{placed: time.Now().Add(-60 * 24 * time.Hour)}
	env := refundEnv(f)
	env.SetStartTime(time.Now())
	policy := limit50
	policy.RefundWindow = service.Duration(30 * 24 * time.Hour)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateRefundDecision, "sup", callbacks(&updateOutcome{}),
			workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "sam"}, Approve: true})
	}, time.Minute)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("10.00", policy))
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundPaid || st.Rule != workflows.RuleApprovedByPerson {
		t.Fatalf("%+v %v (steps %v)", st, err, f.actions)
	}
}

func TestRefundRefusedOrDeclined(t *testing.T) {
	f := &fakeMoney{refuse: "over_refundable_amount"}
	env := refundEnv(f)
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("10.00", limit50))
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundRejected || st.Rule != "over_refundable_amount" ||
		st.Appealable || f.payments != 0 || len(f.ledger) != 0 {
		t.Fatalf("refused: %+v %v", st, err)
	}
	// A declined payment is compensated in reverse order: the booking is
	// reversed, then the hold released, and the customer told.
	f = &fakeMoney{decline: true}
	env = refundEnv(f)
	env.OnSignalExternalWorkflow(mock.Anything, workflows.CaseWorkflowID("acme", "c1"), "", workflows.SignalRefundFailed,
		workflows.RefundFailedSignal{RefundID: "r1", Rule: workflows.RulePaymentFailed}).Return(nil).Once()
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("10.00", limit50))
	env.AssertExpectations(t) // the case was told
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundFailed || st.Rule != workflows.RulePaymentFailed {
		t.Fatalf("declined: %+v %v", st, err)
	}
	if fmt.Sprint(f.balances()) != "map[customer_refunds:0.00 refunds_payable:0.00]" || len(f.ledger) != 2 {
		t.Fatalf("declined: ledger %+v", f.ledger)
	}
	if got := fmt.Sprint(st.Steps); got != "[checked refund.approve booked payment_failed booking_reversed hold_released refund.failed]" {
		t.Fatalf("declined: steps %s", got)
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
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundPaid || st.Rule != workflows.RuleApprovedByPerson || st.DecidedBy != "fin-1" {
		t.Fatalf("always human: %+v %v", st, err)
	}
}

// Compensations are granted on the ledger alone: no payment goes out.
func TestCompensationsAreBookedNotPaid(t *testing.T) {
	for kind, want := range map[string]string{
		"goodwill_credit": "map[customer_credit:-5.00 goodwill_expense:5.00]",
		"coupon":          "map[coupons_outstanding:-5.00 marketing_expense:5.00]",
		"fee_waiver":      "map[accounts_receivable:-5.00 fees_waived:5.00]",
	} {
		f := &fakeMoney{}
		env := refundEnv(f)
		in := refundInput("5.00", limit50)
		in.Kind = kind
		env.ExecuteWorkflow(workflows.RefundWorkflowName, in)
		var st workflows.RefundState
		if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundIssued || f.payments != 0 {
			t.Fatalf("%s: %+v %v, %d payments", kind, st, err, f.payments)
		}
		if got := fmt.Sprint(f.balances()); got != want {
			t.Fatalf("%s: ledger %s, want %s", kind, got, want)
		}
	}
}

// What the amount limit alone would approve still goes to a person when it
// is a compensation over the compensation limit, or in another currency than
// the policy's (its limits are in its currency: 40.000 KWD is not "under
// 50.00"). Whoever made the API key the request came with may not decide it.
func TestMoneyRulesSendRequestsToAPerson(t *testing.T) {
	for _, tc := range []struct {
		kind, amount, currency, rule, ends string
	}{
		{"goodwill_credit", "30.00", "EUR", workflows.RuleCompensationOverLimit, workflows.RefundIssued},
		{"refund", "40.000", "KWD", workflows.RuleOtherCurrency, workflows.RefundPaid},
	} {
		f := &fakeMoney{}
		env := refundEnv(f)
		in := refundInput(tc.amount, limit50)
		in.Kind, in.Currency, in.RequestedBy, in.RequestedVia = tc.kind, tc.currency, workflows.Actor{Kind: "api_key", ID: "key-1"}, "ada"
		var byKeyMaker, bySam updateOutcome
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateRefundDecision, "ada", callbacks(&byKeyMaker),
				workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "ada"}, Approve: true})
		}, time.Minute)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(workflows.UpdateRefundDecision, "sam", callbacks(&bySam),
				workflows.RefundDecisionInput{Actor: workflows.Actor{Kind: "user", ID: "sam"}, Approve: true})
		}, 2*time.Minute)
		env.ExecuteWorkflow(workflows.RefundWorkflowName, in)
		var st workflows.RefundState
		if err := env.GetWorkflowResult(&st); err != nil {
			t.Fatal(err)
		}
		assertAppError(t, "the key's maker deciding", byKeyMaker.rejected, workflows.ErrTypeFourEyes)
		if len(f.rules) == 0 || f.rules[0] != tc.rule || f.statuses[0] != workflows.RefundAwaitingApproval {
			t.Fatalf("%s %s: first step %v %v, want awaiting approval by rule %s", tc.amount, tc.currency, f.statuses, f.rules, tc.rule)
		}
		if st.Status != tc.ends || st.DecidedBy != "sam" {
			t.Fatalf("%s %s: ended %+v", tc.amount, tc.currency, st)
		}
	}
	// Within the compensation limit a credit is granted without a person.
	f := &fakeMoney{}
	env := refundEnv(f)
	in := refundInput("10.00", limit50)
	in.Kind = "coupon"
	env.ExecuteWorkflow(workflows.RefundWorkflowName, in)
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil || st.Status != workflows.RefundIssued || st.Rule != workflows.RuleAutoApprove {
		t.Fatalf("coupon at the limit: %+v %v", st, err)
	}
}

// A payment whose outcome the provider does not tell is never taken for a
// failure: it is retried past any attempt count, parked as payment_unknown
// for finance once the policy's time has passed, never reversed, and paid
// (once) when the provider answers, hours later.
func TestRefundPaymentUnknownIsNeverReversed(t *testing.T) {
	var parked []string
	f := &fakeMoney{unknown: 15}
	f.onAnswer = func() { parked = slices.Clone(f.statuses) }
	env := refundEnv(f)
	policy := service.Refunds{AutoApproveLimit: "50.00", Currency: "EUR", PaymentUnknownAfter: service.Duration(10 * time.Minute)}
	env.ExecuteWorkflow(workflows.RefundWorkflowName, refundInput("20.00", policy))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("%v (statuses %v, %d attempts)", err, f.statuses, f.attempts)
	}
	var st workflows.RefundState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if len(parked) == 0 || parked[len(parked)-1] != workflows.RefundPaymentUnknown {
		t.Fatalf("statuses when the provider answered: %v, want the last to be %s", parked, workflows.RefundPaymentUnknown)
	}
	if !slices.Contains(f.notified, workflows.AuditRefundPaymentUnknown+">finance") {
		t.Fatalf("finance not told: %v", f.notified)
	}
	if f.askedFirst == 0 {
		t.Fatal("the attempts after parking did not look the payment up first: a provider's expired key could pay twice")
	}
	if st.Status != workflows.RefundPaid || f.payments != 1 || f.attempts <= 10 {
		t.Fatalf("saga ended %s after %d attempts, %d payments; want paid once, after more than 10 attempts", st.Status, f.attempts, f.payments)
	}
	for _, m := range f.ledger {
		if strings.HasSuffix(m.ID, ":reversed") {
			t.Fatalf("an unknown payment was reversed: %+v", f.ledger)
		}
	}
	if b := f.balances(); b[workflows.AccountPayable] != "0.00" || b[workflows.AccountClearing] != "-20.00" {
		t.Fatalf("ledger: %v", b)
	}
}
