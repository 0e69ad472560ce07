package payments

import (
	"context"
	"fmt"
	"slices"
	"time"

	"tandem/activities/store"
	"tandem/workflows"
)

// Reconcile checks a tenant's books: that the ledger balances, that each
// refund's movements are what its status requires (store.LedgerRule), and
// that the provider, asked through Lookup for every payment the books say
// went out or may have (paid, failed, payment unknown), agrees with the
// ledger. It lists refunds parked as payment_unknown and those standing
// requested or approved for longer than stuckAfter. A real provider's
// adapter is checked the same way as the simulated one.
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
	for _, b := range books {
		if want, ok := store.LedgerRule(b); !ok {
			out.RuleBreaches = append(out.RuleBreaches, store.RuleBreach{RefundID: b.ID, Status: b.Status, Want: want, Has: b.Movements()})
		}
		if !workflows.PaysOut(b.Kind) || !slices.Contains(askProvider, b.Status) {
			continue
		}
		found, err := provider.Lookup(ctx, tenantID, b.ID)
		if err != nil {
			return out, &ProviderError{Key: b.ID, Err: err}
		}
		paid := "0"
		if found.Paid {
			paid = found.Amount
		}
		ledger := b.Paid
		if ledger == "" {
			ledger = "0"
		}
		if !store.SameAmount(paid, ledger) || found.Paid && found.Currency != b.Currency {
			out.Mismatches = append(out.Mismatches, store.Mismatch{Key: b.ID, Status: b.Status, Ledger: ledger, Provider: paid})
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
type ProviderError struct {
	Key string
	Err error
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("look up payment %s at the provider: %v", e.Key, e.Err)
}

func (e *ProviderError) Unwrap() error { return e.Err }

// askProvider are the statuses whose payment the provider is asked about:
// the books say it went out (paid), did not (failed), or may have.
var askProvider = []string{workflows.RefundPaid, workflows.RefundFailed, workflows.RefundPaymentUnknown}
