package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
	"tandem/workflows"
)

// A refund in a currency the policy does not list, asked while the AI
// handles the case, needs a person: the saga waits for one and the case
// is handed over (the "refund-money-rules" change; its histories are
// committed).
func TestRefundInAnUnlistedCurrencyHandsTheCaseOver(t *testing.T) {
	s := newStack(t)
	p, _ := service.Profile("efficiency-first")
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(t.Context(), tenantA, "2001", "cust-42", "KWD", "500.000", time.Now()); err != nil {
		t.Fatal(err)
	}
	kwd := refundBody("2001", "40.000")
	kwd["currency"] = "KWD"
	_, asked := s.askRefund(c.ID, tenantA, kwd, "kwd")
	waiting := s.waitRefund(asked.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	if waiting.Rule != workflows.RuleOtherCurrency {
		t.Fatalf("refund: %+v", waiting)
	}
	if got := s.staffCase(tenantA, c.ID); got.Status != workflows.StatusQueued || got.Escalation != workflows.ReasonRefundNeedsPerson {
		t.Fatalf("case: %+v, want queued for a person (%s)", got, workflows.ReasonRefundNeedsPerson)
	}
	s.recordHistory(workflows.RefundWorkflowID(tenantA, asked.RefundID), "v2_other_currency")
	s.recordHistory(workflows.CaseWorkflowID(tenantA, c.ID), "refund_other_currency")
}

// Records decide nothing: a refund record that a lost first workflow task
// of the saga left (approved, with no person's decision and no payment) is
// not taken as the saga's outcome; the saga checks the order and pays (the
// "refund-records-decide-nothing" change; its history is committed).
func TestRefundGoesOnPastALostTasksRecord(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(t.Context(), tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	id := api.KeyedRefundID(tenantA, c.ID, "lost")
	if err := s.store.DB().Exec(`INSERT INTO refunds (tenant_id, id, case_id, order_ref, kind, amount, currency, reason_code, status,
			items, evidence, requested_by, created_at, updated_at)
		VALUES (?, ?, ?, '1001', 'refund', 20.00, 'EUR', 'damaged', ?, '[]', '[]', 'customer', now(), now())`,
		tenantA, id, c.ID, workflows.RefundApproved).Error; err != nil {
		t.Fatal(err)
	}
	_, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "20.00"), "lost")
	if asked.RefundID != id {
		t.Fatalf("asked for refund %s, want %s", asked.RefundID, id)
	}
	if done := s.waitRefund(id, tenantA, final); done.Status != workflows.RefundPaid {
		t.Fatalf("refund past a lost task's record: %+v, want paid", done)
	}
	s.ledgerOK(tenantA)
	s.recordHistory(workflows.RefundWorkflowID(tenantA, id), "v2_past_lost_record")
}

// Uncertain is never failed. The provider pays and its answer is lost,
// then answers nothing but 5xx: the refund is not reversed, it is parked as
// payment_unknown for finance once the policy's time has passed, while
// reconciliation says the provider cannot be asked (503). When the provider
// is back, the saga finds the payment by its key, pays nothing twice and
// posts it; the ledger then agrees with the provider.
func TestRefundWhosePaymentIsUnknownIsParkedNotReversed(t *testing.T) {
	s := newStack(t)
	p, _ := service.Profile("efficiency-first")
	p.Refunds.PaymentUnknownAfter = service.Duration(3 * time.Second)
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(t.Context(), tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	s.gateway.Behave(tenantA, payments.Behaviour{LoseReplies: 1, Unavailable: 1_000_000})
	_, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "20.00"), "unknown")
	parked := s.waitRefund(asked.RefundID, tenantA, func(r workflows.RefundState) bool {
		return r.Status != workflows.RefundRequested && r.Status != workflows.RefundApproved
	})
	if parked.Status != workflows.RefundPaymentUnknown || parked.Rule != workflows.RulePaymentUnknown {
		t.Fatalf("refund while the provider does not say: %+v, want %s", parked, workflows.RefundPaymentUnknown)
	}
	if r := s.do("GET", "/v1/ledger/reconciliation", tenantA+"/finance", nil); r.Status != http.StatusServiceUnavailable ||
		r.errorCode(t) != "provider_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("reconciliation with the provider down: %d %s", r.Status, r.Body)
	}
	notes, err := s.store.CaseNotifications(t.Context(), tenantA, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(notes, func(n store.Notification) bool {
		return n.Recipient == "finance" && n.Kind == workflows.AuditRefundPaymentUnknown
	}) {
		t.Fatalf("finance was not told: %+v", notes)
	}

	s.gateway.Behave(tenantA, payments.Behaviour{})
	if done := s.waitRefund(asked.RefundID, tenantA, final); done.Status != workflows.RefundPaid {
		t.Fatalf("refund once the provider answers: %+v, want paid", done)
	}
	var n int64
	if err := s.store.DB().Table("gateway_payments").Where("idempotency_key = ?", asked.RefundID).Count(&n).Error; err != nil || n != 1 {
		t.Fatalf("%d payments under the key, want 1 (%v)", n, err)
	}
	rec := s.ledgerOK(tenantA)
	if len(rec.PaymentUnknown) != 0 || len(rec.RuleBreaches) != 0 {
		t.Fatalf("reconciliation after: %+v", rec)
	}
	s.recordHistory(workflows.RefundWorkflowID(tenantA, asked.RefundID), "v2_payment_unknown_then_paid")
}
