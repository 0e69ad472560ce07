package api_test

import (
	"context"
	"net/http"
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

type refundOut struct {
	Refund workflows.RefundState `json:"refund"`
}

// waitRefund polls the refund until it leaves the given statuses.
func (s *stack) waitRefund(id, who string, done func(workflows.RefundState) bool) workflows.RefundState {
	s.t.Helper()
	var out refundOut
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out = refundOut{}
		s.do("GET", "/v1/refunds/"+id, who, nil).decode(s.t, &out)
		if done(out.Refund) {
			return out.Refund
		}
	}
	s.t.Fatalf("refund %s: %+v", id, out.Refund)
	return out.Refund
}

// Over HTTP: a customer's refund under the limit is paid; one over it waits
// for a person other than the requester; the requester cannot decide it;
// a retry with the same Idempotency-Key asks once.
func TestRefundsOverHTTP(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "2000.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	ask := func(who, amount, key string) (int, workflows.RefundState) {
		var out refundOut
		r := s.do("POST", "/v1/cases/"+c.ID+"/refunds", who, refundBody("1001", amount), "Idempotency-Key", key)
		r.decode(t, &out)
		return r.Status, out.Refund
	}
	status, small := ask(tenantA, "20.00", "small-1")
	if status != http.StatusAccepted || small.RefundID == "" {
		t.Fatalf("request: %d %+v", status, small)
	}
	if _, again := ask(tenantA, "20.00", "small-1"); again.RefundID != small.RefundID {
		t.Fatalf("a retry asked again: %s then %s", small.RefundID, again.RefundID)
	}
	paid := s.waitRefund(small.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundPaid })
	if paid.Rule != "auto_approve_under_limit" || paid.PaymentRef == "" {
		t.Fatalf("small refund: %+v", paid)
	}

	// An agent working the case asks for more than the limit (efficiency-first: 50.00).
	agent := tenantA + "/agent:agent-1"
	s.handTo(agent, c.ID)
	_, big := ask(agent, "120.00", "big-1")
	s.waitRefund(big.RefundID, agent, func(r workflows.RefundState) bool { return r.Rule == "over_limit_needs_person" })
	decide := func(who string, approve bool) response {
		return s.do("POST", "/v1/refunds/"+big.RefundID+"/decide", who, map[string]any{"approve": approve, "reason": "checked"})
	}
	if r := decide(tenantA+"/supervisor:agent-1", true); r.Status != http.StatusForbidden || r.errorCode(t) != "four_eyes" {
		t.Fatalf("the requester deciding: %d %s", r.Status, r.Body)
	}
	if r := decide(agent, true); r.Status != http.StatusForbidden {
		t.Fatalf("an agent deciding: %d %s", r.Status, r.Body)
	}
	if r := decide(tenantA+"/supervisor:sam", true); r.Status != http.StatusOK {
		t.Fatalf("the supervisor deciding: %d %s", r.Status, r.Body)
	}
	done := s.waitRefund(big.RefundID, tenantA+"/finance", func(r workflows.RefundState) bool { return r.Status == workflows.RefundPaid })
	if done.DecidedBy != "sam" {
		t.Fatalf("decided by %q", done.DecidedBy)
	}
	if r := decide(tenantA+"/finance", false); r.Status != http.StatusConflict || r.errorCode(t) != "not_awaiting_decision" {
		t.Fatalf("deciding again: %d %s", r.Status, r.Body)
	}

	// Above a supervisor's approval limit (500.00 in efficiency-first) only finance approves.
	_, large := ask(agent, "800.00", "large-1")
	s.waitRefund(large.RefundID, agent, func(r workflows.RefundState) bool { return r.Rule == "over_limit_needs_person" })
	if r := s.do("POST", "/v1/refunds/"+large.RefundID+"/decide", tenantA+"/supervisor:sam", map[string]any{"approve": true}); r.Status != http.StatusForbidden || r.errorCode(t) != "approval_limit" {
		t.Fatalf("a supervisor approving 800.00: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/refunds/"+large.RefundID+"/decide", tenantA+"/finance:fin-1", map[string]any{"approve": true}); r.Status != http.StatusOK {
		t.Fatalf("finance approving 800.00: %d %s", r.Status, r.Body)
	}
	s.waitRefund(large.RefundID, agent, func(r workflows.RefundState) bool { return r.Status == workflows.RefundPaid })

	var list struct{ Refunds []store.Refund }
	s.do("GET", "/v1/cases/"+c.ID+"/refunds", tenantA+"/compliance", nil).decode(t, &list)
	if len(list.Refunds) != 3 || list.Refunds[0].Status != "paid" || list.Refunds[1].Status != "paid" || list.Refunds[2].Status != "paid" {
		t.Fatalf("case refunds: %+v", list.Refunds)
	}
	if m, err := s.store.Reconcile(ctx, tenantA); err != nil || len(m) != 0 {
		t.Fatalf("reconciliation: %+v %v", m, err)
	}
	// Validation, and another tenant's view.
	if r := s.do("POST", "/v1/cases/"+c.ID+"/refunds", tenantA, map[string]any{"order_ref": "1001", "amount": 12.5, "currency": "EUR", "reason_code": "x"}); r.Status != http.StatusBadRequest {
		t.Fatalf("a float amount: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/refunds", tenantA, refundBody("1001", "-3")); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a negative amount: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/refunds/"+small.RefundID, tenantB, nil); r.Status != http.StatusNotFound || r.errorCode(t) != "refund_not_found" {
		t.Fatalf("another tenant: %d %s", r.Status, r.Body)
	}
}

// refundBody is a refund request's body.
func refundBody(order, amount string) map[string]string {
	return map[string]string{"order_ref": order, "amount": amount, "currency": "EUR", "reason_code": "damaged"}
}
