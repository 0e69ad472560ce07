package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"tandem/activities/store"
	"tandem/policies/service"
	"tandem/workflows"
)

// The money rules at the edge: a front end asks for refunds, not
// compensations; whoever made the key a request came with may not decide
// it; limits are in the policy's currency, so another currency is finance's
// to decide; and one customer's compensations stay within the budget.
func TestMoneyRulesAtTheEdge(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	p, _ := service.Profile("efficiency-first")
	p.Refunds.CompensationBudget = "15.00"
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	key, _, err := s.store.CreateAPIKeyFor(ctx, store.APIKeySpec{TenantID: tenantA, Name: "shop", Role: "service", CreatedBy: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	shop := "raw:Bearer " + key
	c := s.openCase(tenantA, sampleCase()).Case
	for order, currency := range map[string]string{"1001": "EUR", "2001": "KWD"} {
		if err := s.store.PutOrder(ctx, tenantA, order, "cust-42", currency, "500.00", time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	coupon := refundBody("1001", "5.00")
	coupon["kind"] = "coupon"
	if r := s.do("POST", "/v1/cases/"+c.ID+"/refunds", shop, coupon, "Idempotency-Key", "c0"); r.Status != http.StatusForbidden || r.errorCode(t) != "compensation_staff_only" {
		t.Fatalf("a front end asking for a coupon: %d %s", r.Status, r.Body)
	}

	// Over the auto-approve limit, asked through Ada's key: not Ada's to decide.
	_, asked := s.askRefund(c.ID, shop, refundBody("1001", "80.00"), "r1")
	s.waitRefund(asked.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/decide", tenantA+"/supervisor:ada", map[string]any{"approve": true}); r.Status != http.StatusForbidden || r.errorCode(t) != "four_eyes" {
		t.Fatalf("the key's maker deciding: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/decide", tenantA+"/supervisor", map[string]any{"approve": true}); r.Status != http.StatusOK {
		t.Fatalf("another supervisor deciding: %d %s", r.Status, r.Body)
	}

	// 40.000 KWD is under "50.00" only if currencies are ignored.
	kwd := refundBody("2001", "40.000")
	kwd["currency"] = "KWD"
	_, inKWD := s.askRefund(c.ID, shop, kwd, "r2")
	waiting := s.waitRefund(inKWD.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	if waiting.Rule != workflows.RuleOtherCurrency {
		t.Fatalf("KWD refund: %+v", waiting)
	}
	if r := s.do("POST", "/v1/refunds/"+inKWD.RefundID+"/decide", tenantA+"/supervisor", map[string]any{"approve": true}); r.Status != http.StatusForbidden || r.errorCode(t) != "approval_limit" {
		t.Fatalf("a supervisor deciding in KWD: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/refunds/"+inKWD.RefundID+"/decide", tenantA+"/finance", map[string]any{"approve": true}); r.Status != http.StatusOK {
		t.Fatalf("finance deciding in KWD: %d %s", r.Status, r.Body)
	}

	// Staff offer compensations: over the compensation limit a person
	// decides; within the customer's budget of 15.00 one of 10.00 is issued,
	// a second is refused by the budget.
	big := refundBody("1001", "12.00")
	big["kind"] = "goodwill_credit"
	_, credit := s.askRefund(c.ID, tenantA+"/supervisor:sue", big, "c1")
	if w := s.waitRefund(credit.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval }); w.Rule != workflows.RuleCompensationOverLimit {
		t.Fatalf("a credit over the limit: %+v", w)
	}
	if r := s.do("POST", "/v1/refunds/"+credit.RefundID+"/decide", tenantA+"/supervisor", map[string]any{"approve": false}); r.Status != http.StatusOK {
		t.Fatalf("declining the credit: %d %s", r.Status, r.Body)
	}
	s.waitRefund(credit.RefundID, tenantA, final)
	coupon["amount"] = "10.00"
	_, first := s.askRefund(c.ID, tenantA+"/supervisor:sue", coupon, "c2")
	if done := s.waitRefund(first.RefundID, tenantA, final); done.Status != workflows.RefundIssued {
		t.Fatalf("a coupon within the budget: %+v", done)
	}
	_, second := s.askRefund(c.ID, tenantA+"/supervisor:sue", coupon, "c3")
	if done := s.waitRefund(second.RefundID, tenantA, final); done.Status != workflows.RefundRejected || done.Rule != string(store.ErrOverBudget) {
		t.Fatalf("a coupon over the budget: %+v", done)
	}
}
