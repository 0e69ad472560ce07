package payments

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"tandem/activities/money"
	"tandem/activities/store"
	"tandem/workflows"
)

// Reconciliation is a check of a tenant's ledger against each refund's
// status and against the payment provider.
type Reconciliation struct {
	Balanced bool `json:"balanced"` // every currency's balances sum to zero
	// Reconciled: every refund's movements match its status (RuleBreaches)
	// and the provider agrees with the ledger on every payment (Mismatches).
	Reconciled   bool                   `json:"reconciled"`
	TrialBalance []money.AccountBalance `json:"trial_balance"`
	RuleBreaches []RuleBreach           `json:"rule_breaches"`
	Mismatches   []Mismatch             `json:"mismatches"`
	// PaymentUnknown lists refunds whose payment the provider has not
	// confirmed or declined in time: finance looks at each.
	PaymentUnknown []store.StuckRefund `json:"payment_unknown"`
	// Stuck lists refunds that have stood in a state their saga passes
	// through in seconds (requested, approved) for longer than StuckAfter.
	Stuck      []store.StuckRefund `json:"stuck"`
	StuckAfter string              `json:"stuck_after"`
	CheckedAt  time.Time           `json:"checked_at"`
}

// DefaultStuckAfter is how long a refund may stand requested or approved
// before reconciliation reports it: its saga takes seconds, or retries a
// payment for some minutes.
const DefaultStuckAfter = 15 * time.Minute

// OK says the ledger balances, agrees with every refund's status and with
// the provider, and has nothing stuck or unknown.
func (r Reconciliation) OK() bool {
	return r.Balanced && r.Reconciled && len(r.Stuck) == 0 && len(r.PaymentUnknown) == 0
}

// RuleBreach is a refund whose ledger movements do not match its status.
type RuleBreach struct {
	RefundID string `json:"refund_id"`
	Status   string `json:"status"`
	Want     string `json:"want"` // what the status requires of the ledger
	Has      string `json:"has"`  // the movements the ledger holds
}

// Mismatch is a difference between the ledger and the payment provider
// over one payment.
type Mismatch struct {
	Key      string `json:"key"` // the payment's idempotency key (a refund ID)
	Status   string `json:"status"`
	Ledger   string `json:"ledger_amount"`   // what the ledger says left through the provider
	Provider string `json:"provider_amount"` // what the provider says it paid ("0": nothing)
}

// Books is what reconciliation reads of the ledger and the refunds
// (*store.Store).
type Books interface {
	TrialBalance(ctx context.Context, tenantID string) ([]money.AccountBalance, error)
	RefundLedgers(ctx context.Context, tenantID string) ([]money.RefundBooks, error)
	ClearingByRefund(ctx context.Context, tenantID string) (map[string]string, error)
	RefundsIn(ctx context.Context, tenantID string, statuses []string, before time.Time) ([]store.StuckRefund, error)
}

// Reconcile checks a tenant's books: that the ledger balances, that each
// refund's movements are what its status requires (money.LedgerRule), and
// that the provider's payments (its settlement report, Gateway.Payments)
// and what the ledger says left through it agree refund by refund — a
// payment the ledger lacks (a refund recorded failed whose payment went
// out, a payment for no refund) or one the provider never made. It lists
// refunds parked as payment_unknown and those standing requested or
// approved for longer than stuckAfter. A real provider's adapter is checked
// the same way as the simulated one.
func Reconcile(ctx context.Context, st Books, provider Gateway, tenantID string, stuckAfter time.Duration) (Reconciliation, error) {
	now := time.Now().UTC()
	out := Reconciliation{CheckedAt: now, StuckAfter: stuckAfter.String(),
		TrialBalance: []money.AccountBalance{}, RuleBreaches: []RuleBreach{}, Mismatches: []Mismatch{}}
	tb, err := st.TrialBalance(ctx, tenantID)
	if err != nil {
		return out, err
	}
	if tb != nil {
		out.TrialBalance = tb
	}
	if out.Balanced, err = money.Balanced(tb); err != nil {
		return out, err
	}
	books, err := st.RefundLedgers(ctx, tenantID)
	if err != nil {
		return out, err
	}
	status := map[string]string{}
	for _, b := range books {
		status[b.ID] = b.Status
		if want, ok := money.LedgerRule(b); !ok {
			out.RuleBreaches = append(out.RuleBreaches, RuleBreach{RefundID: b.ID, Status: b.Status, Want: want, Has: b.Movements()})
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
		if !money.SameAmount(l, p) {
			out.Mismatches = append(out.Mismatches, Mismatch{Key: k, Status: status[k], Ledger: l, Provider: p})
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
