package workflows

import (
	"errors"
	"math/big"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tandem/policies/service"
)

// paysOut says the kind moves money through the payment gateway.
func PaysOut(kind string) bool { return kind == "refund" || kind == "shipping_refund" }

// accounts names the expense a kind is booked to and the account it is
// owed from until settled: the payable for money paid out, otherwise what
// the compensation grants.
func accounts(kind string) (expense, settled string) {
	switch kind {
	case "shipping_refund":
		return AccountShipping, AccountPayable
	case "goodwill_credit":
		return AccountGoodwill, AccountCredit
	case "coupon":
		return AccountMarketing, AccountCoupons
	case "fee_waiver":
		return AccountFeeWaiver, AccountFees
	}
	return AccountRefunds, AccountPayable
}

// payOptions are the payment activity's options: retried for some minutes,
// never after a decline.
func payOptions(timeout time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 10, NonRetryableErrorTypes: []string{ErrTypeDeclined}},
	}
}

var localRefundOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    5 * time.Second,
	ScheduleToCloseTimeout: RetryRecordsFor,
	// Records and ledger entries are retried until PostgreSQL takes them:
	// a payment that went out is always followed by its ledger entry.
	RetryPolicy: &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
}

// RefundWorkflow is a refund's or compensation's saga, a child of its case:
// check the order and record the request; decide by the pinned policy
// (approve under the limit inside the refund window, reject by rule — the
// rule kept and appealable to a person — or wait for a person who is not
// the requester, escalating the approval when it ages); book the amount as
// payable, pay through the gateway with the refund's ID as idempotency key,
// and post the payment. A payment that fails reverses the booking and
// releases the hold on the order, in that order, and says so on the case.
// Compensations are granted on the ledger, without the gateway.
func RefundWorkflow(ctx workflow.Context, in RefundInput) (RefundState, error) {
	r := &refundSaga{in: in, st: RefundState{RefundInput: in, Status: RefundRequested}}
	if err := r.setup(ctx); err != nil {
		return r.st, err
	}
	if workflow.GetVersion(ctx, "refund-v2", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return r.runV1(ctx)
	}
	r.v2 = true
	return r.run(ctx)
}

type refundSaga struct {
	in       RefundInput
	st       RefundState
	v2       bool
	decision *RefundDecisionInput
	appeal   *RefundAppealInput
	step     int // numbers the timeline entries, which makes each one unique
}

func (r *refundSaga) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryRefund, func() (RefundState, error) { return r.st, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRefundDecision, r.decide,
		workflow.UpdateHandlerOptions{Validator: r.validateDecision}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateRefundAppeal, r.appealed,
		workflow.UpdateHandlerOptions{Validator: r.validateAppeal})
}

func (r *refundSaga) validateDecision(_ workflow.Context, d RefundDecisionInput) error {
	waiting := r.st.Status == RefundAwaitingApproval || r.st.Status == RefundAppealed
	if !r.v2 {
		waiting = r.st.Status == RefundRequested
	}
	switch {
	case !waiting || r.decision != nil:
		return temporal.NewApplicationError("the refund is not waiting for a decision", ErrTypeNotAwaitingDecision)
	case d.Actor.ID == "" || d.Actor.ID == r.in.RequestedBy.ID || d.Actor.ID == r.in.RequestedVia:
		return temporal.NewApplicationError("the requester, or who made the key it was asked with, may not decide it", ErrTypeFourEyes)
	case r.appeal != nil && d.Actor.ID == r.appeal.Actor.ID:
		return temporal.NewApplicationError("the person who appealed may not decide the appeal", ErrTypeFourEyes)
	}
	return nil
}

// decide takes a person's decision and answers once the saga has acted on it.
func (r *refundSaga) decide(ctx workflow.Context, d RefundDecisionInput) (RefundState, error) {
	before := r.st.Status
	r.decision = &d
	if err := workflow.Await(ctx, func() bool { return r.st.Status != before }); err != nil {
		return r.st, err
	}
	return r.st, nil
}

func (r *refundSaga) validateAppeal(_ workflow.Context, a RefundAppealInput) error {
	if !r.v2 || r.st.Status != RefundRejected || !r.st.Appealable || r.appeal != nil {
		return temporal.NewApplicationError("only a rejection by a policy rule can be appealed, once, within the appeal window", ErrTypeNotAppealable)
	}
	if a.Actor.ID == "" {
		return temporal.NewApplicationError("an appeal needs who makes it", ErrTypeWrongState)
	}
	return nil
}

func (r *refundSaga) appealed(ctx workflow.Context, a RefundAppealInput) (RefundState, error) {
	a.At = workflow.Now(ctx)
	r.appeal = &a
	if err := workflow.Await(ctx, func() bool { return r.st.Status != RefundRejected }); err != nil {
		return r.st, err
	}
	return r.st, nil
}

func (r *refundSaga) run(ctx workflow.Context) (RefundState, error) {
	in, st := r.in, &r.st
	local := workflow.WithLocalActivityOptions(ctx, localRefundOptions)

	var req RefundRequestResult
	if err := result(ctx, workflow.ExecuteLocalActivity(local, ActivityRequestRefund, in), &req); err != nil {
		return *st, err
	}
	// A record past "requested" that only the saga's first workflow task
	// writes (Settled false) comes from that task, lost in a crash: it
	// decides nothing, and the saga goes on from the order's facts, every
	// step idempotent. A settled record (a person's decision, an appeal, a
	// payment) means this refund's saga ran to its end before; Temporal
	// refuses a second start, and if one came it would stand as recorded.
	// (Runs that stood on any record before keep doing so on replay.)
	if req.Recorded != "" && req.Recorded != RefundRequested && (req.Settled ||
		workflow.GetVersion(ctx, "refund-records-decide-nothing", workflow.DefaultVersion, 1) == workflow.DefaultVersion) {
		st.Status = req.Recorded
		return *st, nil
	}
	st.Steps = append(st.Steps, "checked")
	if req.Refused != "" { // a fact of the order, not a judgement: nothing to appeal
		st.Status, st.Rule, st.AutoRejected = RefundRejected, req.Refused, true
		return r.finish(ctx, r.record(ctx, AuditRefundReject, SystemActor, "customer"))
	}

	rule, verdict := policyDecision(in, req.PlacedAt, workflow.Now(ctx))
	if verdict == verdictApprove && moneyRule(in) != "" && workflow.GetVersion(ctx, "refund-money-rules", workflow.DefaultVersion, 1) == 1 {
		rule, verdict = moneyRule(in), verdictPerson
	}
	st.Rule = rule
	switch verdict {
	case verdictReject:
		st.Status, st.AutoRejected, st.Appealable = RefundRejected, true, true
		until := workflow.Now(ctx).Add(durationOr(in.Policy.AppealWindow, service.DefaultAppealWindow))
		st.AppealUntil = &until
		if err := r.record(ctx, AuditRefundReject, SystemActor, "customer"); err != nil {
			return *st, err
		}
		appealed, err := workflow.AwaitWithTimeout(ctx, until.Sub(workflow.Now(ctx)), func() bool { return r.appeal != nil })
		if err != nil {
			return *st, err
		}
		if !appealed { // final now: the amount it held of the order is free again
			st.Appealable = false
			return r.finish(ctx, r.record(ctx, AuditRefundAppealClosed, SystemActor))
		}
		st.Status, st.Appeal, st.Appealable = RefundAppealed, r.appeal, false
		if err := r.record(ctx, AuditRefundAppeal, r.appeal.Actor, refundApprovers...); err != nil {
			return *st, err
		}
		if stop, err := r.personDecides(ctx, RuleUpheld, RuleOverturned); stop {
			return r.finish(ctx, err)
		}
		st.Overturned = true
	case verdictPerson:
		st.Status = RefundAwaitingApproval
		if err := r.record(ctx, AuditRefundAwaiting, SystemActor, refundApprovers...); err != nil {
			return *st, err
		}
		if stop, err := r.personDecides(ctx, RuleRejectedByPerson, RuleApprovedByPerson); stop {
			return r.finish(ctx, err)
		}
	}
	approver := SystemActor
	if r.decision != nil {
		approver = r.decision.Actor
	}
	st.Status = RefundApproved
	if err := r.record(ctx, AuditRefundApprove, approver); err != nil {
		return *st, err
	}

	expense, settled := accounts(in.Kind)
	booked := LedgerMovement{ID: in.RefundID + ":booked", DebitAccount: expense, CreditAccount: settled,
		Amount: in.Amount, Currency: in.Currency, Memo: in.Kind + " " + in.ReasonCode}
	if err := r.post(ctx, booked); err != nil {
		return *st, err
	}
	st.Steps = append(st.Steps, "booked")
	if !PaysOut(in.Kind) {
		st.Status = RefundIssued
		return r.finish(ctx, r.record(ctx, AuditRefundIssued, SystemActor, "customer"))
	}

	var paid PayRefundResult
	var err error
	unknownIsNotFailed := workflow.GetVersion(ctx, "refund-payment-unknown", workflow.DefaultVersion, 1) == 1
	if unknownIsNotFailed {
		paid, err = r.payUntilKnown(ctx)
	} else {
		// Runs that reached the payment before: ten attempts, then failed.
		pay := workflow.WithActivityOptions(ctx, payOptions(10*time.Second))
		err = result(ctx, workflow.ExecuteActivity(pay, ActivityPayRefund,
			PayRefundInput{TenantID: in.TenantID, Key: in.RefundID, Amount: in.Amount, Currency: in.Currency}), &paid)
	}
	if err != nil {
		if unknownIsNotFailed && !isDeclined(err) {
			return *st, err // the saga's own failure; never a payment's
		}
		// Compensate in reverse order: reverse the booking, then release the
		// hold on the order (a failed refund no longer counts against it)
		// and tell the customer and the case.
		st.Steps = append(st.Steps, "payment_failed")
		reversal := LedgerMovement{ID: in.RefundID + ":reversed", DebitAccount: settled, CreditAccount: expense,
			Amount: in.Amount, Currency: in.Currency, Memo: "reversal: payment failed"}
		if err := r.post(ctx, reversal); err != nil {
			return *st, err
		}
		st.Steps = append(st.Steps, "booking_reversed")
		st.Status, st.Rule = RefundFailed, RulePaymentFailed
		st.Steps = append(st.Steps, "hold_released") // recording it failed is what frees the order's remainder
		if err := r.record(ctx, AuditRefundFailed, SystemActor, "customer"); err != nil {
			return *st, err
		}
		// Tell the case, which hands itself to people if the AI has it. A
		// case that has closed since is not told: its timeline says it.
		_ = workflow.SignalExternalWorkflow(ctx, CaseWorkflowID(in.TenantID, in.CaseID), "", SignalRefundFailed,
			RefundFailedSignal{RefundID: in.RefundID, Rule: st.Rule}).Get(ctx, nil)
		return r.finish(ctx, nil)
	}
	st.PaymentRef = paid.Reference
	st.Steps = append(st.Steps, "paid")
	out := LedgerMovement{ID: in.RefundID + ":paid", DebitAccount: settled, CreditAccount: AccountClearing,
		Amount: in.Amount, Currency: in.Currency, Memo: "paid " + paid.Reference}
	if err := r.post(ctx, out); err != nil {
		return *st, err
	}
	st.Steps = append(st.Steps, "posted")
	st.Status = RefundPaid
	return r.finish(ctx, r.record(ctx, AuditRefundPaid, SystemActor, "customer"))
}

// payUntilKnown pays the refund and does not stop until the provider has
// said paid or declined: an error or a timeout leaves the payment unknown
// (it may have gone out and its answer been lost), so each attempt after
// the first looks the payment up by its key before paying. Past the
// policy's PaymentUnknownAfter the refund is parked as payment_unknown,
// finance is told, and the saga goes on asking, more slowly, for as long as
// it takes. Only a decline fails the refund (the error returned).
func (r *refundSaga) payUntilKnown(ctx workflow.Context) (PayRefundResult, error) {
	in := PayRefundInput{TenantID: r.in.TenantID, Key: r.in.RefundID, Amount: r.in.Amount, Currency: r.in.Currency}
	unknownAfter := durationOr(r.in.Policy.PaymentUnknownAfter, service.DefaultPaymentUnknownAfter)
	var paid PayRefundResult
	err := result(ctx, workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: unknownAfter,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeDeclined}},
	}), ActivityPayRefund, in), &paid)
	if err == nil || isDeclined(err) {
		return paid, err
	}
	approvedBy := r.st.Rule // the rule that approved it stands once the provider answers
	r.st.Status, r.st.Rule = RefundPaymentUnknown, RulePaymentUnknown
	if err := r.record(ctx, AuditRefundPaymentUnknown, SystemActor, "finance"); err != nil {
		return paid, err
	}
	defer func() { r.st.Rule = approvedBy }()
	in.LookUpFirst = true
	err = result(ctx, workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: min(time.Minute, unknownAfter), BackoffCoefficient: 2, MaximumInterval: time.Hour,
			NonRetryableErrorTypes: []string{ErrTypeDeclined}},
	}), ActivityPayRefund, in), &paid)
	return paid, err
}

// isDeclined says the provider refused the payment for good.
func isDeclined(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == ErrTypeDeclined
}

// personDecides waits for a person's decision and records a rejection
// under the rule given; stop says the saga ends here (rejected, or err).
func (r *refundSaga) personDecides(ctx workflow.Context, rejected, approved string) (stop bool, err error) {
	if err := r.awaitDecision(ctx); err != nil {
		return true, err
	}
	r.st.DecidedBy = r.decision.Actor.ID
	if !r.decision.Approve {
		r.st.Status, r.st.Rule = RefundRejected, rejected
		return true, r.record(ctx, AuditRefundReject, r.decision.Actor, "customer")
	}
	r.st.Rule = approved
	return false, nil
}

// awaitDecision waits for a person; once the approval has waited past the
// policy's approval SLA it is escalated (recorded, and the escalation role
// told) and waits on.
func (r *refundSaga) awaitDecision(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	r.st.AwaitingSince = &now
	decided, err := workflow.AwaitWithTimeout(ctx, durationOr(r.in.Policy.ApprovalSLA, service.DefaultApprovalSLA),
		func() bool { return r.decision != nil })
	if err != nil || decided {
		return err
	}
	at := workflow.Now(ctx)
	r.st.EscalatedAt = &at
	to := r.in.Policy.EscalateTo
	if to == "" {
		to = service.DefaultEscalateTo
	}
	if err := r.record(ctx, AuditRefundOverdue, SystemActor, to); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return r.decision != nil })
}

// refundApprovers are the roles told that a refund waits for them.
var refundApprovers = []string{"supervisor", "finance"}

// record writes where the refund stands, its timeline entry and its notifications.
func (r *refundSaga) record(ctx workflow.Context, action string, actor Actor, notify ...string) error {
	r.step++
	r.st.Steps = append(r.st.Steps, action)
	in := RefundStatusInput{TenantID: r.in.TenantID, RefundID: r.in.RefundID, Status: r.st.Status, State: r.st,
		Action: action, Step: r.step, Actor: actor, Notify: notify, At: workflow.Now(ctx)}
	if err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localRefundOptions), ActivitySetRefundStatus, in).Get(ctx, nil); err != nil {
		return err
	}
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"status": r.st.Status, "kind": r.in.Kind}).Counter(MetricRefunds).Inc(1)
	return nil
}

func (r *refundSaga) post(ctx workflow.Context, m LedgerMovement) error {
	return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localRefundOptions), ActivityPostLedger,
		PostLedgerInput{TenantID: r.in.TenantID, RefundID: r.in.RefundID, Movements: []LedgerMovement{m}, At: workflow.Now(ctx)}).Get(ctx, nil)
}

// finish ends the saga once a decision's or appeal's caller has seen the outcome.
func (r *refundSaga) finish(ctx workflow.Context, err error) (RefundState, error) {
	if err != nil {
		return r.st, err
	}
	return r.st, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

type verdict int

const (
	verdictApprove verdict = iota
	verdictPerson
	verdictReject
)

// policyDecision applies the pinned policy to a request on an order placed
// at placedAt: rules that reject come first (and may be appealed), then
// those that need a person; what is left is approved.
func policyDecision(in RefundInput, placedAt, now time.Time) (string, verdict) {
	p := in.Policy
	age := now.Sub(placedAt)
	switch {
	case slices.Contains(p.NonRefundableReasons, in.ReasonCode):
		return RuleNonRefundable, verdictReject
	case p.RejectAfter > 0 && !placedAt.IsZero() && age > time.Duration(p.RejectAfter):
		return RuleOutsidePeriod, verdictReject
	case p.AlwaysHuman:
		return RulePolicyNeedsPerson, verdictPerson
	case !autoApproves(in):
		return RuleOverLimit, verdictPerson
	case p.RefundWindow > 0 && !placedAt.IsZero() && age > time.Duration(p.RefundWindow):
		return RuleOutsideWindow, verdictPerson
	}
	return RuleAutoApprove, verdictApprove
}

// moneyRule names why a request the policy would approve on its limit alone
// needs a person after all, or "": a compensation over the compensation
// limit, or a request in another currency than the policy's.
//
// A currency the pinned policy has limits for (refunds.currencies) is held
// to them in its minor units. Policies pinned before those limits existed
// have none, so their runs replay as they ran.
func moneyRule(in RefundInput) string {
	limits, listed := in.Policy.ForCurrency(in.Currency)
	switch {
	case listed && !PaysOut(in.Kind):
		if m, ok := service.MinorAmount(in.Amount, in.Currency); !ok || m > limits.CompensationAuto {
			return RuleCompensationOverLimit
		}
	case in.Policy.Currency != "" && in.Currency != in.Policy.Currency && !listed:
		return RuleOtherCurrency
	case !PaysOut(in.Kind) && !decimalAtMost(in.Amount, in.Policy.CompensationLimit()):
		return RuleCompensationOverLimit
	}
	return ""
}

// decimalAtMost says a ≤ b for decimal strings; an unreadable one is not.
func decimalAtMost(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) <= 0
}

// NeedsPerson says the policy sends the request to a person on its amount
// alone (the case hands itself to people when the AI has it).
func NeedsPerson(in RefundInput) bool {
	return in.Policy.AlwaysHuman || !autoApproves(in)
}

// autoApproves: the policy lets refunds under its limit through without a person.
func autoApproves(in RefundInput) bool {
	if in.Policy.AlwaysHuman {
		return false
	}
	if limits, listed := in.Policy.ForCurrency(in.Currency); listed {
		m, ok := service.MinorAmount(in.Amount, in.Currency)
		return ok && m <= limits.AutoApprove
	}
	amount, ok1 := new(big.Rat).SetString(in.Amount)
	limit, ok2 := new(big.Rat).SetString(in.Policy.AutoApproveLimit)
	return ok1 && ok2 && amount.Cmp(limit) <= 0
}

func durationOr(d service.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
}
