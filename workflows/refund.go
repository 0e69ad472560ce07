package workflows

import (
	"math/big"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tandem/policies/service"
)

// RefundWorkflowName is the registered type name of RefundWorkflow.
const RefundWorkflowName = "RefundWorkflow"

// RefundWorkflowID is the workflow ID of a refund: one refund, one saga.
func RefundWorkflowID(tenantID, refundID string) string {
	return "refund:" + tenantID + ":" + refundID
}

// Names of the refund saga's update, query and activities.
const (
	UpdateRefundDecision = "decide" // a person approves or rejects a refund awaiting approval
	QueryRefund          = "refund"

	ActivityRequestRefund   = "RequestRefund"   // checks and records the request (RefundInput → RefundRequestResult)
	ActivitySetRefundStatus = "SetRefundStatus" // projects the saga's status (RefundStatusInput)
	ActivityPayRefund       = "PayRefund"       // pays through the gateway, idempotent by key (PayRefundInput → PayRefundResult)
	ActivityPostLedger      = "PostLedger"      // writes the ledger movements, each once (PostLedgerInput)
)

// Refund statuses.
const (
	RefundRequested = "requested" // checked and recorded; waiting for a decision
	RefundApproved  = "approved"
	RefundRejected  = "rejected"
	RefundPaid      = "paid"
	RefundFailed    = "failed"
)

// ErrTypeFourEyes: a person may not decide a refund they requested.
const ErrTypeFourEyes = "FourEyes"

// RefundInput starts a refund saga. Policy is the case's pinned refund policy.
type RefundInput struct {
	TenantID    string          `json:"tenant_id"`
	CaseID      string          `json:"case_id"`
	RefundID    string          `json:"refund_id"`
	OrderRef    string          `json:"order_ref"`
	Kind        string          `json:"kind"`
	Amount      string          `json:"amount"` // decimal string
	Currency    string          `json:"currency"`
	ReasonCode  string          `json:"reason_code"`
	RequestedBy Actor           `json:"requested_by"`
	Policy      service.Refunds `json:"policy"`
}

// RefundRequestResult says whether the request was recorded, or the rule
// that refused it.
type RefundRequestResult struct {
	Refused string `json:"refused,omitempty"` // order_not_found, not_customers_order, currency_mismatch, over_refundable_amount
}

// RefundStatusInput is the argument of ActivitySetRefundStatus.
type RefundStatusInput struct {
	TenantID string `json:"tenant_id"`
	RefundID string `json:"refund_id"`
	Status   string `json:"status"`
}

// PayRefundInput is the argument of ActivityPayRefund; Key is the gateway's
// idempotency key, the refund's ID, so every retry names the same payment.
type PayRefundInput struct {
	TenantID string `json:"tenant_id"`
	Key      string `json:"key"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// PayRefundResult is the gateway's reference for the payment.
type PayRefundResult struct {
	Reference string `json:"reference"`
}

// ErrTypeDeclined: the gateway refused the payment for good.
const ErrTypeDeclined = "Declined"

// LedgerMovement is one double-entry movement of a refund.
type LedgerMovement struct {
	ID            string `json:"id"`
	DebitAccount  string `json:"debit_account"`
	CreditAccount string `json:"credit_account"`
	Amount        string `json:"amount"`
	Currency      string `json:"currency"`
	Memo          string `json:"memo"`
}

// PostLedgerInput is the argument of ActivityPostLedger.
type PostLedgerInput struct {
	TenantID  string           `json:"tenant_id"`
	RefundID  string           `json:"refund_id"`
	Movements []LedgerMovement `json:"movements"`
	At        time.Time        `json:"at"`
}

// RefundDecisionInput is the argument of UpdateRefundDecision.
type RefundDecisionInput struct {
	Actor   Actor  `json:"actor"`
	Approve bool   `json:"approve"`
	Reason  string `json:"reason,omitempty"`
}

// RefundState is the saga's view of a refund, returned by QueryRefund and as its result.
type RefundState struct {
	RefundInput
	Status     string `json:"status"`
	Rule       string `json:"rule,omitempty"` // why it was decided as it was: auto_approve_under_limit, over_refundable_amount, …
	DecidedBy  string `json:"decided_by,omitempty"`
	PaymentRef string `json:"payment_ref,omitempty"`
}

// Ledger accounts a refund moves money between.
const (
	AccountRefunds  = "customer_refunds"
	AccountClearing = "psp_clearing"
)

// RefundWorkflow is a refund's saga: check and record the request, decide by
// the pinned policy (approve under the limit; otherwise wait for a person,
// never the requester), pay through the gateway with the refund's ID as the
// idempotency key, and write the ledger. A declined payment ends it failed
// with nothing paid and nothing posted; a payment is always followed by its
// ledger entry, retried until written, so a crash between the two still
// posts exactly one movement.
func RefundWorkflow(ctx workflow.Context, in RefundInput) (RefundState, error) {
	st := RefundState{RefundInput: in, Status: RefundRequested}
	if err := workflow.SetQueryHandler(ctx, QueryRefund, func() (RefundState, error) { return st, nil }); err != nil {
		return st, err
	}
	var decision *RefundDecisionInput
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRefundDecision,
		func(ctx workflow.Context, d RefundDecisionInput) (RefundState, error) {
			decision = &d
			if err := workflow.Await(ctx, func() bool { return st.Status != RefundRequested }); err != nil {
				return st, err
			}
			return st, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, d RefundDecisionInput) error {
			switch {
			case st.Status != RefundRequested || decision != nil:
				return temporal.NewApplicationError("the refund is not waiting for a decision", ErrTypeWrongState)
			case d.Actor.ID == "" || d.Actor.ID == in.RequestedBy.ID:
				return temporal.NewApplicationError("the requester may not decide their own refund", ErrTypeFourEyes)
			}
			return nil
		}}); err != nil {
		return st, err
	}

	local := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
	setStatus := func(status string) error {
		st.Status = status
		return workflow.ExecuteLocalActivity(local, ActivitySetRefundStatus,
			RefundStatusInput{TenantID: in.TenantID, RefundID: in.RefundID, Status: status}).Get(ctx, nil)
	}

	var req RefundRequestResult
	if err := workflow.ExecuteLocalActivity(local, ActivityRequestRefund, in).Get(ctx, &req); err != nil {
		return st, err
	}
	if req.Refused != "" { // refused by a rule: recorded, so it can be appealed to a person
		st.Status, st.Rule = RefundRejected, req.Refused
		return st, nil
	}

	if autoApproves(in) {
		st.Rule = "auto_approve_under_limit"
	} else {
		st.Rule = "over_limit_needs_person"
		if in.Policy.AlwaysHuman {
			st.Rule = "policy_needs_person"
		}
		if err := workflow.Await(ctx, func() bool { return decision != nil }); err != nil {
			return st, err
		}
		st.DecidedBy = decision.Actor.ID
		if !decision.Approve {
			st.Rule = "rejected_by_person"
			return finish(ctx, st, setStatus(RefundRejected))
		}
	}
	if err := setStatus(RefundApproved); err != nil {
		return st, err
	}

	pay := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 10, NonRetryableErrorTypes: []string{ErrTypeDeclined}},
	})
	var paid PayRefundResult
	if err := workflow.ExecuteActivity(pay, ActivityPayRefund,
		PayRefundInput{TenantID: in.TenantID, Key: in.RefundID, Amount: in.Amount, Currency: in.Currency}).Get(ctx, &paid); err != nil {
		st.Rule = "payment_failed" // declined, or still failing after every retry: nothing was posted
		return finish(ctx, st, setStatus(RefundFailed))
	}
	st.PaymentRef = paid.Reference
	movement := LedgerMovement{ID: in.RefundID + ":paid", DebitAccount: AccountRefunds, CreditAccount: AccountClearing,
		Amount: in.Amount, Currency: in.Currency, Memo: in.Kind + " " + in.ReasonCode}
	if err := workflow.ExecuteLocalActivity(local, ActivityPostLedger, PostLedgerInput{TenantID: in.TenantID, RefundID: in.RefundID,
		Movements: []LedgerMovement{movement}, At: workflow.Now(ctx)}).Get(ctx, nil); err != nil {
		return st, err
	}
	return finish(ctx, st, setStatus(RefundPaid))
}

// finish ends the saga once a decision's caller has seen the outcome.
func finish(ctx workflow.Context, st RefundState, err error) (RefundState, error) {
	if err != nil {
		return st, err
	}
	return st, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// autoApproves: the policy lets refunds under its limit through without a person.
func autoApproves(in RefundInput) bool {
	if in.Policy.AlwaysHuman {
		return false
	}
	amount, ok1 := new(big.Rat).SetString(in.Amount)
	limit, ok2 := new(big.Rat).SetString(in.Policy.AutoApproveLimit)
	return ok1 && ok2 && amount.Cmp(limit) <= 0
}
