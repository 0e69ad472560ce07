package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// refundV1 is the saga as runs started before change "refund-v2" took it:
// no policy rules beyond the limit, no approval SLA or appeals, one ledger
// movement, compensations paid through the gateway. It stays, unchanged,
// until no such run is left (RefundWorkflow_auto_paid.json replays it).
func (r *refundSaga) runV1(ctx workflow.Context) (RefundState, error) {
	in, st := r.in, &r.st
	local := workflow.WithLocalActivityOptions(ctx, localRefundOptions)
	setStatus := func(status string) error {
		st.Status = status
		return workflow.ExecuteLocalActivity(local, ActivitySetRefundStatus,
			RefundStatusInput{TenantID: in.TenantID, RefundID: in.RefundID, Status: status}).Get(ctx, nil)
	}

	var req RefundRequestResult
	if err := result(ctx, workflow.ExecuteLocalActivity(local, ActivityRequestRefund, in), &req); err != nil {
		return *st, err
	}
	if req.Refused != "" {
		st.Status, st.Rule = RefundRejected, req.Refused
		return *st, nil
	}

	if autoApproves(in) {
		st.Rule = RuleAutoApprove
	} else {
		st.Rule = RuleOverLimit
		if in.Policy.AlwaysHuman {
			st.Rule = RulePolicyNeedsPerson
		}
		if err := workflow.Await(ctx, func() bool { return r.decision != nil }); err != nil {
			return *st, err
		}
		st.DecidedBy = r.decision.Actor.ID
		if !r.decision.Approve {
			st.Rule = RuleRejectedByPerson
			return r.finish(ctx, setStatus(RefundRejected))
		}
	}
	if err := setStatus(RefundApproved); err != nil {
		return *st, err
	}

	pay := workflow.WithActivityOptions(ctx, payOptions(30*time.Second))
	var paid PayRefundResult
	if err := result(ctx, workflow.ExecuteActivity(pay, ActivityPayRefund,
		PayRefundInput{TenantID: in.TenantID, Key: in.RefundID, Amount: in.Amount, Currency: in.Currency}), &paid); err != nil {
		st.Rule = RulePaymentFailed
		return r.finish(ctx, setStatus(RefundFailed))
	}
	st.PaymentRef = paid.Reference
	movement := LedgerMovement{ID: in.RefundID + ":paid", DebitAccount: AccountRefunds, CreditAccount: AccountClearing,
		Amount: in.Amount, Currency: in.Currency, Memo: in.Kind + " " + in.ReasonCode}
	if err := workflow.ExecuteLocalActivity(local, ActivityPostLedger, PostLedgerInput{TenantID: in.TenantID, RefundID: in.RefundID,
		Movements: []LedgerMovement{movement}, At: workflow.Now(ctx)}).Get(ctx, nil); err != nil {
		return *st, err
	}
	return r.finish(ctx, setStatus(RefundPaid))
}
