package store

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"time"

	"gorm.io/gorm"

	"tandem/workflows"
)

// LedgerEntry is one movement: Amount leaves CreditAccount for DebitAccount.
type LedgerEntry struct {
	TenantID      string    `json:"tenant_id"`
	ID            string    `json:"id"` // idempotency: the same ID posts once
	RefundID      *string   `json:"refund_id,omitempty"`
	DebitAccount  string    `json:"debit_account"`
	CreditAccount string    `json:"credit_account"`
	Amount        string    `json:"amount"`
	Currency      string    `json:"currency"`
	Memo          string    `json:"memo,omitempty"`
	PostedAt      time.Time `json:"posted_at"`
}

// PostLedger appends movements in one transaction, each once by ID.
func (s *Store) PostLedger(ctx context.Context, entries []LedgerEntry) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, e := range entries {
			if err := tx.Exec(`INSERT INTO ledger_entries (tenant_id, id, refund_id, debit_account, credit_account, amount, currency, memo, posted_at)
				VALUES (?, ?, ?, ?, ?, ?::numeric, ?, ?, ?) ON CONFLICT (tenant_id, id) DO NOTHING`,
				e.TenantID, e.ID, e.RefundID, e.DebitAccount, e.CreditAccount, e.Amount, e.Currency, e.Memo, e.PostedAt).Error; err != nil {
				return fmt.Errorf("post ledger entry %s: %w", e.ID, err)
			}
		}
		return nil
	})
}

// AccountBalance is an account's balance in one currency: debits less credits.
type AccountBalance struct {
	Account  string `json:"account"`
	Currency string `json:"currency"`
	Balance  string `json:"balance"`
}

// TrialBalance lists every account's balance, by currency and account. Each
// currency's balances sum to zero: every movement debits and credits alike.
func (s *Store) TrialBalance(ctx context.Context, tenantID string) ([]AccountBalance, error) {
	var out []AccountBalance
	err := s.db.WithContext(ctx).Raw(`SELECT account, currency, sum(amount)::text AS balance FROM (
			SELECT debit_account AS account, currency, amount FROM ledger_entries WHERE tenant_id = ?
			UNION ALL
			SELECT credit_account, currency, -amount FROM ledger_entries WHERE tenant_id = ?) m
		GROUP BY currency, account ORDER BY currency, account`, tenantID, tenantID).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("trial balance: %w", err)
	}
	return out, nil
}

// Mismatch is a difference between the ledger and the payment provider
// over one payment.
type Mismatch struct {
	Key      string `json:"key"` // the payment's idempotency key (a refund ID)
	Status   string `json:"status"`
	Ledger   string `json:"ledger_amount"`   // what the ledger says left through the provider
	Provider string `json:"provider_amount"` // what the provider says it paid ("0": nothing)
}

// ClearingAccount is the ledger account money leaves by through the gateway.
const ClearingAccount = "psp_clearing"

// RefundBooks is what the ledger holds of one refund: its movements by
// step (booked, paid, reversed), each the amount posted or "".
type RefundBooks struct {
	ID       string `json:"id"`
	CaseID   string `json:"case_id"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Booked   string `json:"booked,omitempty"`
	Paid     string `json:"paid,omitempty"`
	Reversed string `json:"reversed,omitempty"`
}

// RefundLedgers lists every refund of the tenant with its ledger movements.
func (s *Store) RefundLedgers(ctx context.Context, tenantID string) ([]RefundBooks, error) {
	var out []RefundBooks
	err := s.db.WithContext(ctx).Raw(`SELECT r.id, r.case_id, r.kind, r.status, r.amount::text AS amount, r.currency,
			coalesce(max(l.amount) FILTER (WHERE l.id = r.id || ':booked')::text, '') AS booked,
			coalesce(max(l.amount) FILTER (WHERE l.id = r.id || ':paid')::text, '') AS paid,
			coalesce(max(l.amount) FILTER (WHERE l.id = r.id || ':reversed')::text, '') AS reversed
		FROM refunds r LEFT JOIN ledger_entries l ON l.tenant_id = r.tenant_id AND l.refund_id = r.id
		WHERE r.tenant_id = ? GROUP BY r.tenant_id, r.id ORDER BY r.created_at, r.id`, tenantID).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("refund ledgers: %w", err)
	}
	return out, nil
}

// RuleBreach is a refund whose ledger movements do not match its status.
type RuleBreach struct {
	RefundID string `json:"refund_id"`
	Status   string `json:"status"`
	Want     string `json:"want"` // what the status requires of the ledger
	Has      string `json:"has"`  // the movements the ledger holds
}

// LedgerRule says what a refund's status requires of its ledger
// movements, and whether b holds it: paid is booked and paid (what was
// payable is paid out: nothing left payable; a saga before refund-v2 paid
// without booking), failed is booked and reversed (or, before refund-v2,
// nothing), issued is booked, payment_unknown is booked and neither paid
// nor reversed (money may be out), rejected and every status before a
// decision is nothing booked, and approved may be booked but not paid or
// reversed yet. Each movement is for the refund's amount.
func LedgerRule(b RefundBooks) (want string, ok bool) {
	has := func(amount string) bool { return amount != "" && SameAmount(amount, b.Amount) }
	none := func(amount string) bool { return amount == "" }
	// Sagas before refund-v2 paid straight from the expense account without
	// booking, and posted nothing for a failed payment: those shapes stand.
	switch b.Status {
	case workflows.RefundPaid:
		return "booked and paid, nothing reversed", (has(b.Booked) || none(b.Booked)) && has(b.Paid) && none(b.Reversed)
	case workflows.RefundFailed:
		return "booked and reversed, nothing paid", (has(b.Booked) && has(b.Reversed) || none(b.Booked) && none(b.Reversed)) && none(b.Paid)
	case workflows.RefundIssued, workflows.RefundPaymentUnknown:
		return "booked, neither paid nor reversed", has(b.Booked) && none(b.Paid) && none(b.Reversed)
	case workflows.RefundApproved:
		return "at most booked", (none(b.Booked) || has(b.Booked)) && none(b.Paid) && none(b.Reversed)
	}
	return "nothing booked", none(b.Booked) && none(b.Paid) && none(b.Reversed)
}

// Movements names the movements b holds, for a report.
func (b RefundBooks) Movements() string {
	var have []string
	for _, m := range []struct{ name, amount string }{{"booked", b.Booked}, {"paid", b.Paid}, {"reversed", b.Reversed}} {
		if m.amount != "" {
			have = append(have, m.name+" "+m.amount)
		}
	}
	if len(have) == 0 {
		return "nothing"
	}
	return strings.Join(have, ", ")
}

// SameAmount says two decimal amounts are equal ("12.5" and "12.5000" are).
func SameAmount(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// Reconciliation is a check of a tenant's ledger against each refund's
// status and against the payment provider.
type Reconciliation struct {
	Balanced bool `json:"balanced"` // every currency's balances sum to zero
	// Reconciled: every refund's movements match its status (RuleBreaches)
	// and the provider agrees with the ledger on every payment (Mismatches).
	Reconciled   bool             `json:"reconciled"`
	TrialBalance []AccountBalance `json:"trial_balance"`
	RuleBreaches []RuleBreach     `json:"rule_breaches"`
	Mismatches   []Mismatch       `json:"mismatches"`
	// PaymentUnknown lists refunds whose payment the provider has not
	// confirmed or declined in time: finance looks at each.
	PaymentUnknown []StuckRefund `json:"payment_unknown"`
	// Stuck lists refunds that have stood in a state their saga passes
	// through in seconds (requested, approved) for longer than StuckAfter.
	Stuck      []StuckRefund `json:"stuck"`
	StuckAfter string        `json:"stuck_after"`
	CheckedAt  time.Time     `json:"checked_at"`
}

// StuckRefund is a refund whose saga has not moved it on.
type StuckRefund struct {
	ID        string    `json:"id"`
	CaseID    string    `json:"case_id"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DefaultStuckAfter is how long a refund may stand requested or approved
// before reconciliation reports it: its saga takes seconds, or retries a
// payment for some minutes.
const DefaultStuckAfter = 15 * time.Minute

// RefundsIn lists the tenant's refunds that have stood in one of statuses
// since before the given time, oldest first.
func (s *Store) RefundsIn(ctx context.Context, tenantID string, statuses []string, before time.Time) ([]StuckRefund, error) {
	out := []StuckRefund{}
	err := s.db.WithContext(ctx).Raw(`SELECT id, case_id, status, updated_at FROM refunds
		WHERE tenant_id = ? AND status IN ? AND updated_at < ? ORDER BY updated_at, id`,
		tenantID, statuses, before).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("refunds by status: %w", err)
	}
	return out, nil
}

// OK says the ledger balances, agrees with every refund's status and with
// the provider, and has nothing stuck or unknown.
func (r Reconciliation) OK() bool {
	return r.Balanced && r.Reconciled && len(r.Stuck) == 0 && len(r.PaymentUnknown) == 0
}

// Balanced says each currency's balances sum to zero.
func Balanced(tb []AccountBalance) (bool, error) {
	sums := map[string]*big.Rat{}
	for _, b := range tb {
		v, ok := new(big.Rat).SetString(b.Balance)
		if !ok {
			return false, fmt.Errorf("balance %q of %s is not a number", b.Balance, b.Account)
		}
		if sums[b.Currency] == nil {
			sums[b.Currency] = new(big.Rat)
		}
		sums[b.Currency].Add(sums[b.Currency], v)
	}
	for _, sum := range sums {
		if sum.Sign() != 0 {
			return false, nil
		}
	}
	return true, nil
}

// LedgerTenants lists the tenants with ledger entries or gateway payments.
func (s *Store) LedgerTenants(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Raw(`SELECT tenant_id FROM ledger_entries UNION SELECT tenant_id FROM gateway_payments ORDER BY 1`).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("ledger tenants: %w", err)
	}
	return ids, nil
}
