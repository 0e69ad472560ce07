package api_test

import (
	"net/http"
	"testing"
	"time"

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
