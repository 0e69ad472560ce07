package workflows

import (
	"errors"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func (wf *caseWorkflow) validateRequestRefund(_ workflow.Context, in RequestRefundInput) error {
	switch {
	case wf.state.Status == StatusClosed:
		return temporal.NewApplicationError("the case is closed", ErrTypeCaseClosed)
	case in.RefundID == "" || in.Actor.ID == "":
		return temporal.NewApplicationError("a refund request needs its ID and who asks", ErrTypeWrongState)
	case len(wf.state.Refunds) >= MaxRefundsPerCase && !slices.Contains(wf.state.Refunds, in.RefundID):
		return temporal.NewApplicationError("a case holds at most 50 refunds and compensations", ErrTypeWrongState)
	}
	return nil
}

// requestRefund starts the refund's saga as a child of the case, under the
// case's pinned policy, and records the request on the case's timeline. The
// saga outlives the case if it must (an approval may take longer than the
// case stays open). A request the policy will not let through without a
// person hands a case the AI has to people. Asking again for a refund the
// case has started changes nothing.
func (wf *caseWorkflow) requestRefund(ctx workflow.Context, in RequestRefundInput) (RequestRefundResult, error) {
	out := RequestRefundResult{RefundID: in.RefundID, WorkflowID: RefundWorkflowID(wf.state.TenantID, in.RefundID)}
	if slices.Contains(wf.state.Refunds, in.RefundID) {
		return out, nil
	}
	wf.state.Refunds = append(wf.state.Refunds, in.RefundID)
	saga := RefundInput{TenantID: wf.state.TenantID, CaseID: wf.state.CaseID, RefundID: in.RefundID, OrderRef: in.OrderRef,
		Kind: in.Kind, Amount: in.Amount, Currency: in.Currency, ReasonCode: in.ReasonCode, Items: in.Items, Evidence: in.Evidence,
		RequestedBy: in.Actor, RequestedVia: in.Via, Policy: wf.in.Policy.Refunds}
	now := workflow.Now(ctx)
	audit := []AuditRecord{{Seq: wf.step(now), Action: AuditRefundRequest, Actor: in.Actor, Reason: in.ReasonCode, At: now,
		Details: map[string]string{"refund_id": in.RefundID, "kind": in.Kind, "amount": in.Amount, "currency": in.Currency, "order_ref": in.OrderRef}}}
	var msgs []Message
	if wf.state.Status == StatusAIHandling && (NeedsPerson(saga) || moneyRule(saga) != "" &&
		workflow.GetVersion(ctx, "refund-money-rules", workflow.DefaultVersion, 1) == 1) {
		reply, handoff := wf.handOver(now, ReasonRefundNeedsPerson, wf.state.AI.Language, map[string]string{"refund_id": in.RefundID})
		msgs, audit = append(msgs, reply), append(audit, handoff...)
	}
	// Recorded first, so the request comes before the saga's steps on the timeline.
	if _, err := wf.commit(ctx, msgs, audit...); err != nil {
		return out, err
	}
	child := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            out.WorkflowID,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	})
	err := workflow.ExecuteChildWorkflow(child, RefundWorkflowName, saga).GetChildWorkflowExecution().Get(ctx, nil)
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	if err != nil && !errors.As(err, &started) { // started before this run continued as new: it is the same saga
		return out, err
	}
	return out, nil
}

// refundFailed hands a case the AI has to people when one of its refunds
// failed: the customer was promised money that did not go out, and a person
// should tell them what happens next. A case a person has already shows the
// failure on its timeline; a resolved one reopens when the customer, who was
// told, answers.
func (wf *caseWorkflow) refundFailed(ctx workflow.Context, sig RefundFailedSignal) error {
	if wf.state.Status != StatusAIHandling {
		return nil
	}
	reply, audit := wf.handOver(workflow.Now(ctx), ReasonRefundFailed, wf.state.AI.Language,
		map[string]string{"refund_id": sig.RefundID, "rule": sig.Rule})
	_, err := wf.commit(ctx, []Message{reply}, audit...)
	return err
}

// drainRefundSignals acts on the failures signalled so far. Signals wait in
// their channel until the main loop drains them (await, and before the run
// continues as new), never in a goroutine blocked on Receive: a value handed
// to a goroutine that has not run yet would be lost when the run continues.
func (wf *caseWorkflow) drainRefundSignals(ctx workflow.Context) error {
	for {
		var sig RefundFailedSignal
		if !wf.refundSignals.ReceiveAsync(&sig) {
			return nil
		}
		if err := wf.refundFailed(ctx, sig); err != nil {
			return err
		}
	}
}
