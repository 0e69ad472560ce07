package payments

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"tandem/activities/store"
	"tandem/workflows"
)

// Reconcile checks a tenant's books: that the ledger balances, that each
// refund's movements are what its status requires (store.LedgerRule), and
// that the provider's payments (its settlement report, Gateway.Payments)
// and what the ledger says left through it agree refund by refund — a
// payment the ledger lacks (a refund recorded failed whose payment went
// out, a payment for no refund) or one the provider never made. It lists
// refunds parked as payment_unknown and those standing requested or
// approved for longer than stuckAfter. A real provider's adapter is checked
// the same way as the simulated one.
func Reconcile(ctx context.Context, st *store.Store, provider Gateway, tenantID string, stuckAfter time.Duration) (store.Reconciliation, error) {
	now := time.Now().UTC()
	out := store.Reconciliation{CheckedAt: now, StuckAfter: stuckAfter.String(),
		TrialBalance: []store.AccountBalance{}, RuleBreaches: []store.RuleBreach{}, Mismatches: []store.Mismatch{}}
	tb, err := st.TrialBalance(ctx, tenantID)
	if err != nil {
		return out, err
	}
	if tb != nil {
		out.TrialBalance = tb
	}
	if out.Balanced, err = store.Balanced(tb); err != nil {
		return out, err
	}
	books, err := st.RefundLedgers(ctx, tenantID)
	if err != nil {
		return out, err
	}
	status := map[string]string{}
	for _, b := range books {
		status[b.ID] = b.Status
		if want, ok := store.LedgerRule(b); !ok {
			out.RuleBreaches = append(out.RuleBreaches, store.RuleBreach{RefundID: b.ID, Status: b.Status, Want: want, Has: b.Movements()})
		}
	}
	ledger, err := st.ClearingByRefund(ctx, tenantID)
	if err != nil {
		return out, err
	}
	paid, err := provider.Payments(ctx, tenantID)
	if err != nil {
		return out, &ProviderError{Err: err}
	}
	byKey := map[string]Found{}
	for _, p := range paid {
		byKey[p.Key] = p
	}
	keys := maps.Clone(ledger)
	for k := range byKey {
		keys[k] = ""
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		l, p := cmp.Or(ledger[k], "0"), "0"
		if f, ok := byKey[k]; ok {
			p = f.Amount
		}
		if !store.SameAmount(l, p) {
			out.Mismatches = append(out.Mismatches, store.Mismatch{Key: k, Status: status[k], Ledger: l, Provider: p})
		}
	}
	out.Reconciled = len(out.RuleBreaches) == 0 && len(out.Mismatches) == 0
	if out.PaymentUnknown, err = st.RefundsIn(ctx, tenantID, []string{workflows.RefundPaymentUnknown}, now); err != nil {
		return out, err
	}
	if out.Stuck, err = st.RefundsIn(ctx, tenantID, workflows.RefundsInFlight, now.Add(-stuckAfter)); err != nil {
		return out, err
	}
	return out, nil
}

// ProviderError is the payment provider not answering a reconciliation's
// question: a dependency down, to ask again later.
type ProviderError struct{ Err error }

func (e *ProviderError) Error() string { return "list payments at the provider: " + e.Err.Error() }

func (e *ProviderError) Unwrap() error { return e.Err }
