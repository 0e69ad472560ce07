package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"tandem/activities/money"
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

// TrialBalance lists every account's balance, by currency and account. Each
// currency's balances sum to zero: every movement debits and credits alike.
func (s *Store) TrialBalance(ctx context.Context, tenantID string) ([]money.AccountBalance, error) {
	var out []money.AccountBalance
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

// RefundLedgers lists every refund of the tenant with its ledger movements.
func (s *Store) RefundLedgers(ctx context.Context, tenantID string) ([]money.RefundBooks, error) {
	var out []money.RefundBooks
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

// StuckRefund is a refund whose saga has not moved it on.
type StuckRefund struct {
	ID        string    `json:"id"`
	CaseID    string    `json:"case_id"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

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

// LedgerTenants lists the tenants with ledger entries or gateway payments.
func (s *Store) LedgerTenants(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Raw(`SELECT tenant_id FROM ledger_entries UNION SELECT tenant_id FROM gateway_payments ORDER BY 1`).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("ledger tenants: %w", err)
	}
	return ids, nil
}
