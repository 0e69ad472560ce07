package workflows

import (
	"time"

	"tandem/policies/service"
)

// Refund statuses.
const (
	RefundRequested        = "requested" // being checked and recorded
	RefundAwaitingApproval = "awaiting_approval"
	RefundApproved         = "approved"
	RefundRejected         = "rejected" // by a rule (appealable or not) or by a person
	RefundAppealed         = "appealed" // a rule's rejection waits for a person's review
	RefundPaid             = "paid"     // money went out through the gateway
	RefundIssued           = "issued"   // a compensation (credit, coupon, waiver) was granted
	RefundFailed           = "failed"   // the payment failed; what was done was reversed
	// RefundPaymentUnknown: the provider has not said whether the payment
	// went out within the policy's time; finance looks at it while the saga
	// goes on asking. Never reversed while unknown.
	RefundPaymentUnknown = "payment_unknown"
)

// RefundStatuses lists every status a refund can have (the database's check
// holds the same list).
var RefundStatuses = []string{RefundRequested, RefundAwaitingApproval, RefundApproved, RefundRejected, RefundAppealed,
	RefundPaid, RefundIssued, RefundFailed, RefundPaymentUnknown}

// RefundsInFlight are the statuses a saga passes through in seconds (or a
// few minutes of payment retries): a refund standing in one for long is stuck.
var RefundsInFlight = []string{RefundRequested, RefundApproved}

// Rules: why a refund was decided as it was.
const (
	RuleAutoApprove       = "auto_approve_under_limit"
	RuleOverLimit         = "over_limit_needs_person"
	RulePolicyNeedsPerson = "policy_needs_person"
	RuleOutsideWindow     = "outside_refund_window" // older than the auto-approve window: a person decides
	RuleOutsidePeriod     = "outside_refund_period" // older than the policy refunds at all: rejected, appealable
	RuleNonRefundable     = "non_refundable_reason" // a reason code the policy does not refund: rejected, appealable
	RuleApprovedByPerson  = "approved_by_person"
	RuleRejectedByPerson  = "rejected_by_person"
	RuleOverturned        = "overturned_on_appeal"
	RuleUpheld            = "upheld_on_appeal"
	RulePaymentFailed     = "payment_failed"  // the provider declined the payment
	RulePaymentUnknown    = "payment_unknown" // the provider has not said, within the policy's time
	// A compensation over the policy's compensation limit, and a request in
	// another currency than the policy's (whose limits are in its currency).
	RuleCompensationOverLimit = "compensation_over_limit"
	RuleOtherCurrency         = "other_currency_needs_person"
)

// RefundKinds: a refund or shipping refund pays money back through the
// gateway; the others are compensations, granted on the ledger alone.
var RefundKinds = []string{"refund", "goodwill_credit", "coupon", "fee_waiver", "shipping_refund"}

// RefundItem is a line of the order the refund is for.
type RefundItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// RefundInput starts a refund saga. Policy is the case's pinned refund policy.
type RefundInput struct {
	TenantID    string       `json:"tenant_id"`
	CaseID      string       `json:"case_id"`
	RefundID    string       `json:"refund_id"`
	OrderRef    string       `json:"order_ref"`
	Kind        string       `json:"kind"`
	Amount      string       `json:"amount"` // decimal string
	Currency    string       `json:"currency"`
	ReasonCode  string       `json:"reason_code"`
	Items       []RefundItem `json:"items,omitempty"`
	Evidence    []string     `json:"evidence,omitempty"` // references: attachment IDs, URLs
	RequestedBy Actor        `json:"requested_by"`
	// RequestedVia is the person who made the API key it was asked with:
	// they may not decide it either (four-eyes across identities).
	RequestedVia string          `json:"requested_via,omitempty"`
	Policy       service.Refunds `json:"policy"`
}

// RefundRequestResult says whether the request was recorded, or the fact of
// the order that refused it; for a retry, where the recorded one stands.
type RefundRequestResult struct {
	Refused  string    `json:"refused,omitempty"` // order_not_found, not_customers_order, currency_mismatch, over_refundable_amount
	PlacedAt time.Time `json:"placed_at,omitempty"`
	Recorded string    `json:"recorded_status,omitempty"`
	// Settled: the record shows a step later than the saga's first workflow
	// task takes (a person's decision, an appeal, a payment, a closed appeal window).
	Settled bool `json:"settled,omitempty"`
}

// RefundStatusInput is the argument of ActivitySetRefundStatus: where the
// refund stands after a step, the step's timeline entry (Action, by Actor,
// unique by Step) and who is told. Runs before refund-v2 set only the status.
type RefundStatusInput struct {
	TenantID string      `json:"tenant_id"`
	RefundID string      `json:"refund_id"`
	Status   string      `json:"status"`
	State    RefundState `json:"state"`
	Action   string      `json:"action,omitempty"`
	Step     int         `json:"step,omitempty"`
	Actor    Actor       `json:"actor"`
	Notify   []string    `json:"notify,omitempty"` // customer, supervisor, finance, …
	At       time.Time   `json:"at"`
}

// PayRefundInput is the argument of ActivityPayRefund; Key is the gateway's
// idempotency key, the refund's ID, so every retry names the same payment.
type PayRefundInput struct {
	TenantID string `json:"tenant_id"`
	Key      string `json:"key"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	// LookUpFirst: an earlier activity may have paid under the key (its
	// answer lost), so even the first attempt asks the provider first.
	LookUpFirst bool `json:"look_up_first,omitempty"`
}

// PayRefundResult is the gateway's reference for the payment.
type PayRefundResult struct {
	Reference string `json:"reference"`
}

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

// RefundAppealInput is the argument of UpdateRefundAppeal.
type RefundAppealInput struct {
	Actor  Actor     `json:"actor"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at,omitempty"` // set by the saga
}

// RefundState is the saga's view of a refund, returned by QueryRefund and as its result.
type RefundState struct {
	RefundInput
	Status        string             `json:"status"`
	Rule          string             `json:"rule,omitempty"`          // why it stands as it does: auto_approve_under_limit, outside_refund_period, …
	AutoRejected  bool               `json:"auto_rejected,omitempty"` // a rule, not a person, rejected it
	Appealable    bool               `json:"appealable,omitempty"`    // a policy rule rejected it: a person may review it
	AppealUntil   *time.Time         `json:"appeal_until,omitempty"`
	Appeal        *RefundAppealInput `json:"appeal,omitempty"`
	Overturned    bool               `json:"overturned,omitempty"`
	AwaitingSince *time.Time         `json:"awaiting_since,omitempty"`
	EscalatedAt   *time.Time         `json:"escalated_at,omitempty"` // the approval outlived its SLA
	DecidedBy     string             `json:"decided_by,omitempty"`
	PaymentRef    string             `json:"payment_ref,omitempty"`
	Steps         []string           `json:"steps,omitempty"` // what the saga did, and undid, in order
}

// Ledger accounts refunds and compensations move money between.
const (
	AccountRefunds   = "customer_refunds" // expense: refunds paid back
	AccountShipping  = "shipping_refunds" // expense: shipping paid back
	AccountGoodwill  = "goodwill_expense"
	AccountMarketing = "marketing_expense"
	AccountFeeWaiver = "fees_waived"
	AccountPayable   = "refunds_payable" // liability: approved, not yet paid
	AccountClearing  = "psp_clearing"    // what left through the payment gateway
	AccountCredit    = "customer_credit" // liability: store credit granted
	AccountCoupons   = "coupons_outstanding"
	AccountFees      = "accounts_receivable" // fees the customer owed
)
