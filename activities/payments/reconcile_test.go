package payments_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"tandem/activities/money"
	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/workflows"
)

// Reconciliation holds each refund's ledger to its status and asks the
// provider, through the Gateway interface, about every payment the books
// say went out or may have: a refund recorded failed whose payment went
// out (its answer lost) is found, and so is a paid refund never posted.
func TestReconcileAsksTheProviderAndHoldsEachRefundToItsStatus(t *testing.T) {
	g, st := newGateway(t)
	ctx := context.Background()
	caseID := "6a0e4f4e-0000-4000-8000-000000000001"
	if _, err := st.RecordCase(ctx, store.Case{TenantID: "acme", ID: caseID, WorkflowID: "case:acme:" + caseID, CustomerRef: "cust",
		Channel: "api", Priority: "normal", Status: "assigned", LastSeq: 1, OpenedAt: time.Now(), UpdatedAt: time.Now()}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// Refund IDs are UUIDs; these name what each refund stands for.
	ids := map[string]string{}
	for i, name := range []string{"paid-ok", "failed-ok", "rejected-ok", "failed-but-paid", "paid-not-posted", "rejected-but-booked", "unknown"} {
		ids[name] = fmt.Sprintf("6a0e4f4e-0000-4000-8000-1000000000%02d", i)
	}
	refund := func(name, status string, moves ...string) {
		id := ids[name]
		t.Helper()
		if err := st.DB().Exec(`INSERT INTO refunds (tenant_id, id, case_id, order_ref, kind, amount, currency, reason_code, status,
				items, evidence, requested_by, created_at, updated_at)
			VALUES ('acme', ?, ?, '1001', 'refund', 20.00, 'EUR', 'damaged', ?, '[]', '[]', 'agent-1', now(), now())`, id, caseID, status).Error; err != nil {
			t.Fatal(err)
		}
		accounts := map[string][2]string{"booked": {workflows.AccountRefunds, workflows.AccountPayable},
			"paid": {workflows.AccountPayable, workflows.AccountClearing}, "reversed": {workflows.AccountPayable, workflows.AccountRefunds}}
		for _, m := range moves {
			if err := st.PostLedger(ctx, []store.LedgerEntry{{TenantID: "acme", ID: id + ":" + m, RefundID: &id, DebitAccount: accounts[m][0],
				CreditAccount: accounts[m][1], Amount: "20.00", Currency: "EUR", PostedAt: time.Now()}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pay := func(name string) {
		t.Helper()
		if _, err := g.Pay(ctx, "acme", ids[name], "20.00", "EUR"); err != nil {
			t.Fatal(err)
		}
	}
	refund("paid-ok", workflows.RefundPaid, "booked", "paid")
	pay("paid-ok")
	refund("failed-ok", workflows.RefundFailed, "booked", "reversed")
	refund("rejected-ok", workflows.RefundRejected)
	check := func() payments.Reconciliation {
		t.Helper()
		rec, err := payments.Reconcile(ctx, st, g, "acme", payments.DefaultStuckAfter)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := check(); !rec.OK() || len(rec.Mismatches) != 0 || len(rec.RuleBreaches) != 0 {
		t.Fatalf("books in order: %+v", rec)
	}

	refund("failed-but-paid", workflows.RefundFailed, "booked", "reversed")
	pay("failed-but-paid") // the answer was lost; the saga reversed it
	refund("paid-not-posted", workflows.RefundPaid, "booked")
	pay("paid-not-posted")
	refund("rejected-but-booked", workflows.RefundRejected, "booked")
	refund("unknown", workflows.RefundPaymentUnknown, "booked")
	rec := check()
	names := map[string]string{}
	for name, id := range ids {
		names[id] = name
	}
	mismatched := map[string]payments.Mismatch{}
	for _, m := range rec.Mismatches {
		mismatched[names[m.Key]] = m
	}
	breached := map[string]bool{}
	for _, b := range rec.RuleBreaches {
		breached[names[b.RefundID]] = true
	}
	if m := mismatched["failed-but-paid"]; m.Ledger != "0" || !money.SameAmount(m.Provider, "20") || len(mismatched) != 2 || mismatched["paid-not-posted"].Key == "" {
		t.Fatalf("mismatches: %+v", rec.Mismatches)
	}
	if !breached["paid-not-posted"] || !breached["rejected-but-booked"] || len(breached) != 2 {
		t.Fatalf("rule breaches: %+v", rec.RuleBreaches)
	}
	if len(rec.PaymentUnknown) != 1 || rec.PaymentUnknown[0].ID != ids["unknown"] || rec.Reconciled || rec.OK() {
		t.Fatalf("reconciliation: %+v", rec)
	}

	g.Behave("acme", payments.Behaviour{Unavailable: 1})
	var down *payments.ProviderError
	if _, err := payments.Reconcile(ctx, st, g, "acme", payments.DefaultStuckAfter); !errors.As(err, &down) {
		t.Fatalf("the provider down: %v, want a ProviderError", err)
	}
}
