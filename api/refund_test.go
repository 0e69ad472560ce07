package api_test

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/api"
	"tandem/policies/service"
	"tandem/workflows"
)

type refundOut struct {
	Refund workflows.RefundState `json:"refund"`
}

// waitRefund polls the refund until done says it stands as wanted.
// A tenant's name alone reads as its supervisor: the staff's view holds
// every field (a front end sees the customer's).
func (s *stack) waitRefund(id, who string, done func(workflows.RefundState) bool) workflows.RefundState {
	s.t.Helper()
	if !strings.Contains(who, "/") && !strings.HasPrefix(who, "raw:") {
		who += "/supervisor"
	}
	var out refundOut
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out = refundOut{}
		s.do("GET", "/v1/refunds/"+id, who, nil).decode(s.t, &out)
		if done(out.Refund) {
			return out.Refund
		}
	}
	s.t.Fatalf("refund %s: %+v", id, out.Refund)
	return out.Refund
}

func final(r workflows.RefundState) bool {
	return slices.Contains([]string{workflows.RefundPaid, workflows.RefundIssued, workflows.RefundFailed}, r.Status) ||
		(r.Status == workflows.RefundRejected && !r.Appealable)
}

// askRefund posts a refund request and returns the status and the refund.
func (s *stack) askRefund(caseID, who string, body any, key string) (int, workflows.RefundState) {
	s.t.Helper()
	var out refundOut
	r := s.do("POST", "/v1/cases/"+caseID+"/refunds", who, body, "Idempotency-Key", key)
	if r.Status >= 300 {
		s.t.Logf("asking for a refund: %d %s", r.Status, r.Body)
	}
	r.decode(s.t, &out)
	return r.Status, out.Refund
}

// refundBody is a refund request's body.
func refundBody(order, amount string) map[string]string {
	return map[string]string{"order_ref": order, "amount": amount, "currency": "EUR", "reason_code": "damaged"}
}

// ledgerOK checks that the tenant's ledger balances and agrees with the gateway.
func (s *stack) ledgerOK(tenant string) payments.Reconciliation {
	s.t.Helper()
	rec, err := payments.Reconcile(context.Background(), s.store, s.gateway, tenant, payments.DefaultStuckAfter)
	if err != nil || !rec.Balanced || !rec.Reconciled {
		s.t.Fatalf("ledger of %s: %+v %v", tenant, rec, err)
	}
	return rec
}

// balance is an account's balance in the tenant's trial balance ("0" if none).
func balance(rec payments.Reconciliation, account string) string {
	for _, b := range rec.TrialBalance {
		if b.Account == account {
			v, _ := new(big.Rat).SetString(b.Balance)
			return v.FloatString(2)
		}
	}
	return "0"
}

// The customer asks for a refund under the limit, in a case the AI has: the
// case starts the saga as its child; it is paid once, posted, the customer
// told, and the steps are on the case's timeline. A request over the
// order's remainder is refused for that fact, which cannot be appealed.
func TestRefundSagaOnTheRealStack(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case // customer cust-42
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	status, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "40.00"), "first")
	if status != http.StatusAccepted {
		t.Fatalf("request: %d %+v", status, asked)
	}
	paid := s.waitRefund(asked.RefundID, tenantA, final)
	if paid.Status != workflows.RefundPaid || paid.PaymentRef == "" || paid.Rule != workflows.RuleAutoApprove {
		t.Fatalf("under the limit: %+v", paid)
	}
	rec := s.ledgerOK(tenantA)
	if balance(rec, workflows.AccountRefunds) != "40.00" || balance(rec, workflows.AccountClearing) != "-40.00" || balance(rec, workflows.AccountPayable) != "0.00" {
		t.Fatalf("trial balance: %+v", rec.TrialBalance)
	}
	if rem, _ := s.store.RefundableRemainder(ctx, tenantA, "1001"); rem != "60.0000" {
		t.Fatalf("remainder %s", rem)
	}
	var got api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil).decode(t, &got)
	var steps []string
	for _, st := range got.Timeline {
		if st.Action[:7] == "refund." {
			steps = append(steps, st.Action)
		}
	}
	if fmt.Sprint(steps) != "[refund.request refund.approve refund.paid]" || got.Case.Status != workflows.StatusAIHandling {
		t.Fatalf("timeline: %v, case %s", steps, got.Case.Status)
	}
	notes, err := s.store.CaseNotifications(ctx, tenantA, c.ID)
	if err != nil || len(notes) != 1 || notes[0].Recipient != "customer" || notes[0].Kind != workflows.AuditRefundPaid {
		t.Fatalf("notifications: %+v %v", notes, err)
	}
	// The channel gateway reads what it owes, delivers it, and says so once.
	var pending api.NotificationList
	s.do("GET", "/v1/notifications", tenantA, nil).decode(t, &pending)
	if len(pending.Notifications) != 1 || pending.Notifications[0].ID != notes[0].ID || pending.Notifications[0].SubjectID != asked.RefundID {
		t.Fatalf("pending: %+v", pending)
	}
	for range 2 {
		if r := s.do("POST", "/v1/notifications/"+notes[0].ID+"/sent", tenantA, nil); r.Status != http.StatusOK {
			t.Fatalf("sent: %d %s", r.Status, r.Body)
		}
	}
	s.do("GET", "/v1/notifications", tenantA, nil).decode(t, &pending)
	if len(pending.Notifications) != 0 {
		t.Fatalf("still pending: %+v", pending)
	}
	if acks, _ := s.store.ListAudit(ctx, tenantA, store.AuditFilter{Action: "notification.sent", Limit: 10}); len(acks) != 1 {
		t.Fatalf("%d audit entries for one delivery, want 1", len(acks))
	}
	if r := s.do("POST", "/v1/notifications/"+notes[0].ID+"/sent", tenantB, nil); r.Status != http.StatusNotFound || r.errorCode(t) != "notification_not_found" {
		t.Fatalf("another tenant: %d %s", r.Status, r.Body)
	}

	_, over := s.askRefund(c.ID, tenantA, refundBody("1001", "70.00"), "second")
	refused := s.waitRefund(over.RefundID, tenantA, final)
	if refused.Status != workflows.RefundRejected || refused.Rule != "over_refundable_amount" || refused.Appealable || !refused.AutoRejected {
		t.Fatalf("over the remainder: %+v", refused)
	}
	if r := s.do("POST", "/v1/refunds/"+over.RefundID+"/appeal", tenantA, map[string]string{"reason": "please"}); r.Status != http.StatusConflict || r.errorCode(t) != "not_appealable" {
		t.Fatalf("appealing a fact: %d %s", r.Status, r.Body)
	}
	var n int64
	if err := s.store.DB().Table("gateway_payments").Count(&n).Error; err != nil || n != 1 {
		t.Fatalf("%d gateway payments, want 1 (%v)", n, err)
	}
	s.recordHistory(workflows.RefundWorkflowID(tenantA, asked.RefundID), "v2_paid")
	s.recordHistory(workflows.CaseWorkflowID(tenantA, c.ID), "refund_requested")
}

// Over HTTP: a retry with the same Idempotency-Key asks once; over the
// limit a refund waits for a person other than the requester, each
// approver within their role's limit; a refund over the limit hands a case
// the AI has to people.
func TestRefundsOverHTTP(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "2000.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	status, small := s.askRefund(c.ID, tenantA, refundBody("1001", "20.00"), "small-1")
	if status != http.StatusAccepted || small.RefundID == "" {
		t.Fatalf("request: %d %+v", status, small)
	}
	if _, again := s.askRefund(c.ID, tenantA, refundBody("1001", "20.0"), "small-1"); again.RefundID != small.RefundID {
		t.Fatalf("a retry asked again: %s then %s", small.RefundID, again.RefundID)
	}
	if r := s.do("POST", "/v1/cases/"+c.ID+"/refunds", tenantA, refundBody("1001", "25.00"), "Idempotency-Key", "small-1"); r.Status != http.StatusUnprocessableEntity || r.errorCode(t) != "idempotency_key_reused" {
		t.Fatalf("the key with another amount: %d %s", r.Status, r.Body)
	}
	if paid := s.waitRefund(small.RefundID, tenantA, final); paid.Status != workflows.RefundPaid {
		t.Fatalf("small refund: %+v", paid)
	}

	// The customer asks for more than the limit (efficiency-first: 50.00)
	// while the AI has the case: people take it over.
	_, big := s.askRefund(c.ID, tenantA, refundBody("1001", "120.00"), "big-1")
	s.waitRefund(big.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	var cs api.CaseWithMessages
	s.do("GET", "/v1/cases/"+c.ID, tenantA+"/supervisor", nil).decode(t, &cs)
	if cs.Case.Status != workflows.StatusQueued || cs.Case.Escalation != workflows.ReasonRefundNeedsPerson {
		t.Fatalf("case after an over-limit request: %s %s", cs.Case.Status, cs.Case.Escalation)
	}
	agent := tenantA + "/agent:agent-1"
	s.handTo(agent, c.ID)
	decide := func(id, who string, approve bool) response {
		return s.do("POST", "/v1/refunds/"+id+"/decide", who, map[string]any{"approve": approve, "reason": "checked"})
	}
	// Agents approve up to 100.00 in efficiency-first.
	if r := decide(big.RefundID, agent, true); r.Status != http.StatusForbidden || r.errorCode(t) != "approval_limit" {
		t.Fatalf("an agent approving 120.00: %d %s", r.Status, r.Body)
	}
	if r := decide(big.RefundID, tenantA+"/supervisor:sam", true); r.Status != http.StatusOK {
		t.Fatalf("the supervisor deciding: %d %s", r.Status, r.Body)
	}
	done := s.waitRefund(big.RefundID, tenantA+"/finance", final)
	if done.DecidedBy != "sam" || done.Status != workflows.RefundPaid || done.Rule != workflows.RuleApprovedByPerson {
		t.Fatalf("decided: %+v", done)
	}
	if r := decide(big.RefundID, tenantA+"/finance", false); r.Status != http.StatusConflict || r.errorCode(t) != "not_awaiting_decision" {
		t.Fatalf("deciding again: %d %s", r.Status, r.Body)
	}

	// The agent asks; they may not decide their own request, whatever their role.
	_, mid := s.askRefund(c.ID, agent, refundBody("1001", "80.00"), "mid-1")
	s.waitRefund(mid.RefundID, agent, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	if r := decide(mid.RefundID, tenantA+"/supervisor:agent-1", true); r.Status != http.StatusForbidden || r.errorCode(t) != "four_eyes" {
		t.Fatalf("the requester deciding: %d %s", r.Status, r.Body)
	}
	if r := decide(mid.RefundID, tenantA+"/supervisor:sam", false); r.Status != http.StatusOK {
		t.Fatalf("a supervisor rejecting: %d %s", r.Status, r.Body)
	}
	if r := s.waitRefund(mid.RefundID, agent, final); r.Status != workflows.RefundRejected || r.Rule != workflows.RuleRejectedByPerson || r.Appealable {
		t.Fatalf("rejected by a person: %+v", r)
	}

	// The customer asks for 60.00; the agent who owns the case approves it,
	// within agents' 100.00.
	_, within := s.askRefund(c.ID, tenantA, refundBody("1001", "60.00"), "within-1")
	s.waitRefund(within.RefundID, agent, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	if r := decide(within.RefundID, agent, true); r.Status != http.StatusOK {
		t.Fatalf("the agent approving 60.00: %d %s", r.Status, r.Body)
	}
	if r := s.waitRefund(within.RefundID, agent, final); r.Status != workflows.RefundPaid || r.DecidedBy != "agent-1" {
		t.Fatalf("approved by the agent: %+v", r)
	}

	// Above a supervisor's approval limit (500.00) only finance approves.
	_, large := s.askRefund(c.ID, agent, refundBody("1001", "800.00"), "large-1")
	s.waitRefund(large.RefundID, agent, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	if r := decide(large.RefundID, tenantA+"/supervisor:sam", true); r.Status != http.StatusForbidden || r.errorCode(t) != "approval_limit" {
		t.Fatalf("a supervisor approving 800.00: %d %s", r.Status, r.Body)
	}
	// The approvers' queue shows what waits, and for how long.
	var queue api.RefundList
	s.do("GET", "/v1/refunds?status=awaiting_approval", tenantA+"/finance", nil).decode(t, &queue)
	if len(queue.Refunds) != 1 || queue.Refunds[0].ID != large.RefundID || queue.Refunds[0].WaitingSeconds == nil {
		t.Fatalf("approval queue: %+v", queue)
	}
	if r := s.do("GET", "/v1/refunds?status=awaiting_approval", tenantB+"/finance", nil); r.Status != http.StatusOK || string(r.Body) != `{"refunds":[]}` {
		t.Fatalf("another tenant's queue: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/refunds?status=lost", tenantA+"/finance", nil); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad status filter: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/refunds?cursor=bm9wZQ", tenantA+"/finance", nil); r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid_cursor" {
		t.Fatalf("a foreign cursor: %d %s", r.Status, r.Body)
	}
	var page1, page2 api.RefundList
	s.do("GET", "/v1/refunds?limit=3", tenantA+"/finance", nil).decode(t, &page1)
	s.do("GET", "/v1/refunds?limit=3&cursor="+page1.NextCursor, tenantA+"/finance", nil).decode(t, &page2)
	if len(page1.Refunds) != 3 || page1.NextCursor == "" || len(page2.Refunds) != 2 || page2.NextCursor != "" || page2.Refunds[0].ID == page1.Refunds[2].ID {
		t.Fatalf("pages: %d (%q) then %d (%q)", len(page1.Refunds), page1.NextCursor, len(page2.Refunds), page2.NextCursor)
	}
	if r := decide(large.RefundID, tenantA+"/finance:fin-1", true); r.Status != http.StatusOK {
		t.Fatalf("finance approving 800.00: %d %s", r.Status, r.Body)
	}
	s.waitRefund(large.RefundID, agent, final)

	var list struct{ Refunds []store.Refund }
	s.do("GET", "/v1/cases/"+c.ID+"/refunds", tenantA+"/compliance", nil).decode(t, &list)
	var statuses []string
	for _, r := range list.Refunds {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != "[paid paid rejected paid paid]" {
		t.Fatalf("case refunds: %v", statuses)
	}
	var rec payments.Reconciliation
	if r := s.do("GET", "/v1/ledger/reconciliation", tenantA+"/finance", nil); r.Status != http.StatusOK {
		t.Fatalf("reconciliation: %d %s", r.Status, r.Body)
	} else {
		r.decode(t, &rec)
	}
	if !rec.Balanced || !rec.Reconciled || balance(rec, workflows.AccountClearing) != "-1000.00" {
		t.Fatalf("reconciliation: %+v", rec)
	}
	// Validation, and another tenant's view.
	for _, body := range []any{
		map[string]any{"order_ref": "1001", "amount": 12.5, "currency": "EUR", "reason_code": "x"}, // a float
	} {
		if r := s.do("POST", "/v1/cases/"+c.ID+"/refunds", tenantA, body); r.Status != http.StatusBadRequest {
			t.Fatalf("%v: %d %s", body, r.Status, r.Body)
		}
	}
	for _, body := range []any{
		refundBody("1001", "-3"),
		refundBody("1001", "0.00"),
		map[string]any{"order_ref": "1001", "amount": "1.00", "currency": "XYZ", "reason_code": "x"},
		map[string]any{"order_ref": "1001", "amount": "1.005", "currency": "EUR", "reason_code": "x"},
		map[string]any{"order_ref": "1001", "amount": "100.5", "currency": "JPY", "reason_code": "x"},
		map[string]any{"order_ref": "1001", "amount": "1.00", "currency": "EUR", "reason_code": "x", "kind": "cash"},
		map[string]any{"order_ref": "1001", "amount": "1.00", "currency": "EUR", "reason_code": "x", "items": []map[string]any{{"sku": "A1", "quantity": 0}}},
		map[string]any{"order_ref": "1001", "amount": "1.00", "currency": "EUR", "reason_code": "x", "evidence": make([]string, 11)},
	} {
		if r := s.do("POST", "/v1/cases/"+c.ID+"/refunds", tenantA, body); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("%v: %d %s", body, r.Status, r.Body)
		}
	}
	if r := s.do("GET", "/v1/refunds/"+small.RefundID, tenantB, nil); r.Status != http.StatusNotFound || r.errorCode(t) != "refund_not_found" {
		t.Fatalf("another tenant: %d %s", r.Status, r.Body)
	}
}

// A risk-sensitive tenant: every refund waits for a person, who must step
// up with TOTP to approve it; it is then paid once.
func TestRefundApprovalNeedsStepUp(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", map[string]string{"profile": "risk-sensitive"}); r.Status != http.StatusOK {
		t.Fatalf("switch profile: %d %s", r.Status, r.Body)
	}
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "30.00"), "k")
	s.waitRefund(asked.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundAwaitingApproval })
	body := map[string]any{"approve": true}
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/decide", tenantA+"/supervisor", body); r.Status != http.StatusUnauthorized || r.errorCode(t) != "step_up_required" {
		t.Fatalf("without step-up: %d %s", r.Status, r.Body)
	}
	records := "raw:Bearer " + s.steppedUpFor(tenantA+"/supervisor:sam", api.StepUpRecords)
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/decide", records, body); r.Status != http.StatusUnauthorized || r.errorCode(t) != "step_up_required" {
		t.Fatalf("with a step-up for records, not money: %d %s", r.Status, r.Body)
	}
	for range 2 { // the approver's retry is the same decision
		if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/decide", tenantA+"/supervisor+totp", body); r.Status != http.StatusOK {
			t.Fatalf("with step-up: %d %s", r.Status, r.Body)
		}
	}
	paid := s.waitRefund(asked.RefundID, tenantA, final)
	if paid.Status != workflows.RefundPaid || paid.Rule != workflows.RuleApprovedByPerson {
		t.Fatalf("%+v", paid)
	}
	var n int64
	if err := s.store.DB().Table("gateway_payments").Where("idempotency_key = ?", asked.RefundID).Count(&n).Error; err != nil || n != 1 {
		t.Fatalf("%d payments, want 1 (%v)", n, err)
	}
	s.ledgerOK(tenantA)
}

// The gateway declines: the saga reverses its booking and releases the
// order's hold, in that order; the ledger still balances, nothing was paid,
// the case's timeline and the customer say so, and the case, which the AI
// had, goes to people.
func TestRefundPaymentFailsAndIsCompensated(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	s.gateway.Behave(tenantA, payments.Behaviour{Decline: true})
	_, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "30.00"), "k")
	failed := s.waitRefund(asked.RefundID, tenantA, final)
	if failed.Status != workflows.RefundFailed || failed.Rule != workflows.RulePaymentFailed ||
		fmt.Sprint(failed.Steps[len(failed.Steps)-4:]) != "[payment_failed booking_reversed hold_released refund.failed]" {
		t.Fatalf("%+v", failed)
	}
	rec := s.ledgerOK(tenantA)
	if balance(rec, workflows.AccountRefunds) != "0.00" || balance(rec, workflows.AccountPayable) != "0.00" || balance(rec, workflows.AccountClearing) != "0" {
		t.Fatalf("trial balance: %+v", rec.TrialBalance)
	}
	if rem, _ := s.store.RefundableRemainder(ctx, tenantA, "1001"); rem != "100.0000" {
		t.Fatalf("the hold was not released: remainder %s", rem)
	}
	notes, _ := s.store.CaseNotifications(ctx, tenantA, c.ID)
	if len(notes) != 1 || notes[0].Kind != workflows.AuditRefundFailed {
		t.Fatalf("notifications: %+v", notes)
	}
	// The AI had the case: it goes to people, who tell the customer what next.
	got := s.waitCase(c.ID, func(c api.CaseJSON) bool { return c.Status == workflows.StatusQueued })
	if got.Case.Escalation != workflows.ReasonRefundFailed {
		t.Fatalf("case after the failure: %s %s", got.Case.Status, got.Case.Escalation)
	}
	// Once the gateway pays again, a new request goes through.
	s.gateway.Behave(tenantA, payments.Behaviour{})
	_, again := s.askRefund(c.ID, tenantA, refundBody("1001", "40.00"), "k2")
	if r := s.waitRefund(again.RefundID, tenantA, final); r.Status != workflows.RefundPaid {
		t.Fatalf("%+v", r)
	}
	s.recordHistory(workflows.RefundWorkflowID(tenantA, asked.RefundID), "v2_failed_compensated")
	s.recordHistory(workflows.CaseWorkflowID(tenantA, c.ID), "refund_failed")
}

// A rule rejects a request on an old order; the customer appeals; the
// requester cannot decide it; a supervisor overturns it and it is paid.
// The stats report the auto-reject rate and the share overturned.
func TestRefundAppealOverHTTP(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case
	// efficiency-first refunds orders up to 90 days old.
	if err := s.store.PutOrder(ctx, tenantA, "old", "cust-42", "EUR", "100.00", time.Now().Add(-100*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, asked := s.askRefund(c.ID, tenantA, refundBody("old", "20.00"), "k")
	rejected := s.waitRefund(asked.RefundID, tenantA, func(r workflows.RefundState) bool { return r.Status == workflows.RefundRejected })
	if rejected.Rule != workflows.RuleOutsidePeriod || !rejected.Appealable || rejected.AppealUntil == nil {
		t.Fatalf("rejected: %+v", rejected)
	}
	var stats api.StatsJSON
	s.do("GET", "/v1/stats", tenantA+"/supervisor", nil).decode(t, &stats)
	if stats.Refunds.AutoRejected != 1 || stats.Refunds.AutoRejectRate == nil || *stats.Refunds.AutoRejectRate != 1 || stats.Refunds.OverturnedShare != nil {
		t.Fatalf("stats before the appeal: %+v", stats.Refunds)
	}
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/appeal", tenantA, map[string]string{}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("an appeal without a reason: %d %s", r.Status, r.Body)
	}
	var appealed refundOut
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/appeal", tenantA, map[string]string{"reason": "it never arrived; I only noticed now"}); r.Status != http.StatusOK {
		t.Fatalf("appeal: %d %s", r.Status, r.Body)
	} else {
		r.decode(t, &appealed)
	}
	if appealed.Refund.Status != workflows.RefundAppealed {
		t.Fatalf("appealed: %+v", appealed.Refund)
	}
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/appeal", tenantA+"/supervisor:sue", map[string]string{"reason": "again"}); r.Status != http.StatusConflict || r.errorCode(t) != "not_appealable" {
		t.Fatalf("a second appeal: %d %s", r.Status, r.Body)
	}
	var queue api.RefundList
	s.do("GET", "/v1/refunds?status=appealed", tenantA+"/supervisor", nil).decode(t, &queue)
	if len(queue.Refunds) != 1 || queue.Refunds[0].AppealedBy == "" {
		t.Fatalf("appeals queue: %+v", queue)
	}
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/decide", tenantA+"/supervisor:sam", map[string]any{"approve": true}); r.Status != http.StatusOK {
		t.Fatalf("overturn: %d %s", r.Status, r.Body)
	}
	paid := s.waitRefund(asked.RefundID, tenantA, final)
	if paid.Status != workflows.RefundPaid || paid.Rule != workflows.RuleOverturned || !paid.Overturned {
		t.Fatalf("overturned: %+v", paid)
	}
	s.do("GET", "/v1/stats", tenantA+"/supervisor", nil).decode(t, &stats)
	if stats.Refunds.Appealed != 1 || stats.Refunds.Overturned != 1 || stats.Refunds.OverturnedShare == nil || *stats.Refunds.OverturnedShare != 1 {
		t.Fatalf("stats after the appeal: %+v", stats.Refunds)
	}
	s.ledgerOK(tenantA)
	s.recordHistory(workflows.RefundWorkflowID(tenantA, asked.RefundID), "v2_appeal_overturned")
}

// Ten requests at once on one order, each for 15.00 of 100.00: six are
// paid, four refused, and no more than the order ever leaves.
func TestConcurrentRefundsOnOneOrder(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 10)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			status, r := s.askRefund(c.ID, tenantA, refundBody("1001", "15.00"), fmt.Sprint("k", i))
			if status != http.StatusAccepted {
				t.Errorf("request %d: %d", i, status)
			}
			ids[i] = r.RefundID
		})
	}
	wg.Wait()
	count := map[string]int{}
	for _, id := range ids {
		r := s.waitRefund(id, tenantA, final)
		count[r.Status+"/"+r.Rule]++
	}
	if fmt.Sprint(count) != "map[paid/auto_approve_under_limit:6 rejected/over_refundable_amount:4]" {
		t.Fatalf("outcomes: %v", count)
	}
	rec := s.ledgerOK(tenantA)
	if balance(rec, workflows.AccountClearing) != "-90.00" {
		t.Fatalf("paid out %s, want 90.00", balance(rec, workflows.AccountClearing))
	}
}

// crashAfterPaying is a gateway that pays and then never answers: the
// worker calling it dies with the payment sent and nothing recorded.
type crashAfterPaying struct {
	payments.Gateway
	paid chan struct{}
	once sync.Once
}

func (g *crashAfterPaying) Pay(ctx context.Context, tenantID, key, amount, currency string) (payments.Payment, error) {
	p, err := g.Gateway.Pay(ctx, tenantID, key, amount, currency)
	if err != nil {
		return p, err
	}
	g.once.Do(func() { close(g.paid) })
	<-ctx.Done()
	return payments.Payment{}, ctx.Err()
}

// The worker is killed between "payment sent" and "ledger written"; after
// a new worker takes over there is exactly one payment and one set of
// ledger entries, and the ledger reconciles with the gateway.
func TestWorkerKilledBetweenPaymentAndLedger(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	crashing := &crashAfterPaying{Gateway: s.gateway, paid: make(chan struct{})}
	s.restartWorker(crashing)
	_, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "25.00"), "k")
	select {
	case <-crashing.paid:
	case <-time.After(30 * time.Second):
		t.Fatal("the payment was never sent")
	}
	var posted int64
	if err := s.store.DB().Table("ledger_entries").Where("id = ?", asked.RefundID+":paid").Count(&posted).Error; err != nil || posted != 0 {
		t.Fatalf("posted before the crash: %d %v", posted, err)
	}
	s.restartWorker(s.gateway) // the crash, and a new worker
	paid := s.waitRefund(asked.RefundID, tenantA, final)
	if paid.Status != workflows.RefundPaid {
		t.Fatalf("%+v", paid)
	}
	var payments, entries int64
	s.store.DB().Table("gateway_payments").Where("idempotency_key = ?", asked.RefundID).Count(&payments)
	s.store.DB().Table("ledger_entries").Where("refund_id = ?", asked.RefundID).Count(&entries)
	if payments != 1 || entries != 2 { // booked, then paid
		t.Fatalf("%d payments and %d ledger entries, want 1 and 2", payments, entries)
	}
	s.ledgerOK(tenantA)
}

// The AI suggests a refund in the handoff when the customer asked about
// one, with the order number they gave; it never requests one itself.
func TestAISuggestsARefundButNeverRequestsOne(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.Message = "My parcel arrived damaged, order #A-1001"
	c := s.openCase(tenantA, req).Case
	s.escalate(tenantA, c.ID)
	var h api.HandoffJSON
	if r := s.do("GET", "/v1/cases/"+c.ID+"/handoff", tenantA+"/supervisor", nil); r.Status != http.StatusOK {
		t.Fatalf("handoff: %d %s", r.Status, r.Body)
	} else {
		r.decode(t, &h)
	}
	if h.SuggestedRefund == nil || h.SuggestedRefund.ReasonCode != "damaged" || h.SuggestedRefund.OrderRef != "A-1001" {
		t.Fatalf("suggested refund: %+v (intent %s)", h.SuggestedRefund, h.Intent)
	}
	var list struct{ Refunds []store.Refund }
	s.do("GET", "/v1/cases/"+c.ID+"/refunds", tenantA+"/supervisor", nil).decode(t, &list)
	if len(list.Refunds) != 0 {
		t.Fatalf("the AI requested a refund: %+v", list.Refunds)
	}
	// A case about something else suggests none.
	other := s.openCase(tenantA, sampleCase()).Case
	s.escalate(tenantA, other.ID)
	var h2 api.HandoffJSON
	s.do("GET", "/v1/cases/"+other.ID+"/handoff", tenantA+"/supervisor", nil).decode(t, &h2)
	if h2.SuggestedRefund != nil {
		t.Fatalf("suggested for %q: %+v", sampleCase().Message, h2.SuggestedRefund)
	}
}

// An approval that waits past the policy's approval SLA is escalated: the
// refund says when, the approvers' queue marks it overdue, the escalation
// role is told, and it can still be decided. A compensation under the limit
// is granted on the ledger alone.
func TestAgingApprovalEscalatesAndCompensationIsIssued(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	p, _ := service.Profile("efficiency-first")
	p.Refunds.ApprovalSLA = service.Duration(time.Second)
	if r := s.do("PUT", "/v1/admin/service-policy", tenantA+"/admin+totp", p); r.Status != http.StatusOK {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "500.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "300.00"), "k")
	aged := s.waitRefund(asked.RefundID, tenantA, func(r workflows.RefundState) bool { return r.EscalatedAt != nil })
	if aged.Status != workflows.RefundAwaitingApproval {
		t.Fatalf("aged: %+v", aged)
	}
	var queue api.RefundList
	s.do("GET", "/v1/refunds?status=awaiting_approval", tenantA+"/finance", nil).decode(t, &queue)
	if len(queue.Refunds) != 1 || !queue.Refunds[0].Overdue {
		t.Fatalf("queue: %+v", queue)
	}
	notes, _ := s.store.CaseNotifications(ctx, tenantA, c.ID)
	var kinds []string
	for _, n := range notes {
		kinds = append(kinds, n.Kind+">"+n.Recipient)
	}
	if !slices.Contains(kinds, workflows.AuditRefundOverdue+">finance") {
		t.Fatalf("notifications: %v", kinds)
	}
	if r := s.do("POST", "/v1/refunds/"+asked.RefundID+"/decide", tenantA+"/finance", map[string]any{"approve": true}); r.Status != http.StatusOK {
		t.Fatalf("decide: %d %s", r.Status, r.Body)
	}
	s.waitRefund(asked.RefundID, tenantA, final)

	body := refundBody("1001", "10.00")
	body["kind"] = "goodwill_credit"
	_, credit := s.askRefund(c.ID, tenantA+"/supervisor:sue", body, "credit") // compensations are the staff's to offer
	issued := s.waitRefund(credit.RefundID, tenantA, final)
	if issued.Status != workflows.RefundIssued || issued.PaymentRef != "" {
		t.Fatalf("credit: %+v", issued)
	}
	rec := s.ledgerOK(tenantA)
	if balance(rec, workflows.AccountGoodwill) != "10.00" || balance(rec, workflows.AccountCredit) != "-10.00" || balance(rec, workflows.AccountClearing) != "-300.00" {
		t.Fatalf("trial balance: %+v", rec.TrialBalance)
	}
}

// A refund's failure reaches its case after the case has continued as new:
// the saga signals the case's current run, which hands itself to people.
func TestRefundFailureReachesAContinuedCase(t *testing.T) {
	s := newStackWith(t, 40)
	ctx := context.Background()
	c := s.openCase(tenantA, sampleCase()).Case
	if err := s.store.PutOrder(ctx, tenantA, "1001", "cust-42", "EUR", "100.00", time.Now()); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if r := s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)}); r.Status != http.StatusOK {
			t.Fatalf("message %d: %d %s", i, r.Status, r.Body)
		}
	}
	if runs := countRunsAtLeast(t, s.temporal, c.WorkflowID, 2); runs < 2 {
		t.Fatalf("%d runs; the case should have continued as new", runs)
	}
	s.gateway.Behave(tenantA, payments.Behaviour{Decline: true})
	_, asked := s.askRefund(c.ID, tenantA, refundBody("1001", "10.00"), "k")
	for i := 8; i < 12; i++ { // the case keeps moving, and continuing, while the saga runs
		s.do("POST", "/v1/cases/"+c.ID+"/messages", tenantA, api.PostMessageRequest{Body: inScope(i)})
	}
	if r := s.waitRefund(asked.RefundID, tenantA, final); r.Status != workflows.RefundFailed {
		t.Fatalf("%+v", r)
	}
	got := s.waitCase(c.ID, func(c api.CaseJSON) bool { return c.Status == workflows.StatusQueued })
	if got.Case.Escalation != workflows.ReasonRefundFailed {
		t.Fatalf("case: %s %s", got.Case.Status, got.Case.Escalation)
	}
}
