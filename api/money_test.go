package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"tandem/activities/money"
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
	if done := s.waitRefund(second.RefundID, tenantA, final); done.Status != workflows.RefundRejected || done.Rule != string(money.ErrOverBudget) {
		t.Fatalf("a coupon over the budget: %+v", done)
	}
}

// Limits per currency, in its minor units: a policy in EUR that lists JPY
// and KWD holds each request to the limits of its own currency. 4000 yen
// are paid without a person (auto_approve 5000); 50.000 dinars, which a
// "50.00" limit read in the wrong currency would pass, go to a person (KWD
// auto_approve 20000 = 20.000 dinars), and a supervisor may approve them
// only up to the supervisor's KWD limit.
func TestLimitsPerCurrencyInMinorUnits(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	p, _ := service.Profile("efficiency-first")
	p.Refunds.Currencies = map[string]service.CurrencyLimits{
		"JPY": {AutoApprove: 5000, CompensationAuto: 1000, CompensationBudget: 1500, Approval: map[string]int64{"supervisor": 50000, "finance": 5000000}},
		"KWD": {AutoApprove: 20000, CompensationAuto: 3000, Approval: map[string]int64{"supervisor": 40000, "finance": 5000000}},
	}
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	bad := p
	bad.Refunds.Currencies = map[string]service.CurrencyLimits{"EUR": {AutoApprove: 1}, "XYZ": {AutoApprove: -1}}
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", bad); r.Status != http.StatusUnprocessableEntity ||
		!contains(string(r.Body), "refunds.currencies.EUR") || !contains(string(r.Body), "refunds.currencies.XYZ") {
		t.Fatalf("limits in the policy's own currency or an unknown one: %d %s", r.Status, r.Body)
	}
	c := s.openCase(tenantA, sampleCase()).Case
	for order, currency := range map[string]string{"J-1": "JPY", "K-1": "KWD"} {
		if err := s.store.PutOrder(ctx, tenantA, order, "cust-42", currency, "100000", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	inCurrency := func(order, amount, currency, key string) workflows.RefundState {
		b := refundBody(order, amount)
		b["currency"] = currency
		_, asked := s.askRefund(c.ID, tenantA, b, key)
		return s.waitRefund(asked.RefundID, tenantA, func(r workflows.RefundState) bool {
			return r.Status == workflows.RefundAwaitingApproval || final(r)
		})
	}
	if yen := inCurrency("J-1", "4000", "JPY", "y1"); yen.Status != workflows.RefundPaid || yen.Rule != workflows.RuleAutoApprove {
		t.Fatalf("4000 yen under a 5000-yen limit: %+v", yen)
	}
	dinars := inCurrency("K-1", "50.000", "KWD", "k1")
	if dinars.Status != workflows.RefundAwaitingApproval || dinars.Rule != workflows.RuleOverLimit {
		t.Fatalf("50.000 KWD over a 20.000 KWD limit: %+v", dinars)
	}
	decide := func(who string) response {
		return s.do("POST", "/v1/refunds/"+dinars.RefundID+"/decide", who, map[string]any{"approve": true})
	}
	if r := decide(tenantA + "/supervisor"); r.Status != http.StatusForbidden || r.errorCode(t) != "approval_limit" {
		t.Fatalf("a supervisor (40.000 KWD) approving 50.000 KWD: %d %s", r.Status, r.Body)
	}
	if r := decide(tenantA + "/finance"); r.Status != http.StatusOK {
		t.Fatalf("finance approving 50.000 KWD: %d %s", r.Status, r.Body)
	}
	if done := s.waitRefund(dinars.RefundID, tenantA, final); done.Status != workflows.RefundPaid {
		t.Fatalf("after finance approved: %+v", done)
	}
	// Compensations in yen: within the 1000-yen limit without a person, and
	// within the customer's 1500-yen budget, which only yen count against.
	coupon := func(amount, currency, key string) workflows.RefundState {
		b := refundBody("J-1", amount)
		b["currency"], b["kind"] = currency, "coupon"
		_, asked := s.askRefund(c.ID, tenantA+"/supervisor:sue", b, key)
		return s.waitRefund(asked.RefundID, tenantA, final)
	}
	if first := coupon("1000", "JPY", "cj1"); first.Status != workflows.RefundIssued {
		t.Fatalf("a 1000-yen coupon: %+v", first)
	}
	if second := coupon("1000", "JPY", "cj2"); second.Status != workflows.RefundRejected || second.Rule != string(money.ErrOverBudget) {
		t.Fatalf("a second 1000-yen coupon over the 1500-yen budget: %+v", second)
	}
	if small := coupon("500", "JPY", "cj3"); small.Status != workflows.RefundIssued {
		t.Fatalf("a 500-yen coupon, the budget's rest: %+v", small)
	}
}
