package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"tandem/activities/store"
	"tandem/policies/service"
	"tandem/workflows"
)

// The refund saga on the real stack (until the case and the API start it):
// a refund under the policy's limit is checked against the order, paid once
// through the simulated gateway and posted once to the ledger, which then
// reconciles with the gateway; one over the order's remainder is refused by
// its rule.
func TestRefundSagaOnTheRealStack(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case // customer cust-42
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	policy, _ := service.Profile("efficiency-first")
	run := func(amount string) workflows.RefundState {
		t.Helper()
		id := uuid.NewString()
		in := workflows.RefundInput{TenantID: tenantA, CaseID: c.ID, RefundID: id, OrderRef: "1001", Kind: "refund", Amount: amount,
			Currency: "EUR", ReasonCode: "damaged", RequestedBy: workflows.Actor{Kind: "user", ID: "agent-1"}, Policy: policy.Refunds}
		wr, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.RefundWorkflowID(tenantA, id), TaskQueue: s.queue},
			workflows.RefundWorkflowName, in)
		if err != nil {
			t.Fatal(err)
		}
		var st workflows.RefundState
		if err := wr.Get(ctx, &st); err != nil {
			t.Fatal(err)
		}
		if st.Status == workflows.RefundPaid {
			s.recordHistory(workflows.RefundWorkflowID(tenantA, id), "auto_paid")
		}
		return st
	}
	paid := run("40.00")
	if paid.Status != workflows.RefundPaid || paid.PaymentRef == "" || paid.Rule != "auto_approve_under_limit" {
		t.Fatalf("under the limit: %+v", paid)
	}
	if m, err := s.store.Reconcile(ctx, tenantA); err != nil || len(m) != 0 {
		t.Fatalf("reconciliation: %+v %v", m, err)
	}
	tb, err := s.store.TrialBalance(ctx, tenantA)
	if err != nil || len(tb) != 2 || tb[0].Balance != "40.0000" || tb[1].Balance != "-40.0000" {
		t.Fatalf("trial balance: %+v %v", tb, err)
	}
	if rem, _ := s.store.RefundableRemainder(ctx, tenantA, "1001"); rem != "60.0000" {
		t.Fatalf("remainder %s", rem)
	}
	refused := run("70.00")
	if refused.Status != workflows.RefundRejected || refused.Rule != "over_refundable_amount" {
		t.Fatalf("over the remainder: %+v", refused)
	}
	var n int64
	if err := s.store.DB().Model(&store.GatewayPayment{}).Table("gateway_payments").Count(&n).Error; err != nil || n != 1 {
		t.Fatalf("%d gateway payments, want 1 (%v)", n, err)
	}
}
