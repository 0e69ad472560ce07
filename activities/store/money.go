package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Errors of refund requests, each a reason the request is refused.
var (
	ErrOrderNotFound     = errors.New("no such order")
	ErrNotCustomersOrder = errors.New("the order is not the case's customer's")
	ErrCurrencyMismatch  = errors.New("the refund's currency is not the order's")
	ErrOverRefund        = errors.New("the amount is above what is left to refund on the order")
)

// Order is an order of the built-in order book. Total is a decimal string.
type Order struct {
	TenantID     string    `json:"tenant_id"`
	OrderRef     string    `json:"order_ref"`
	CustomerHash []byte    `json:"-"`
	Currency     string    `json:"currency"`
	Total        string    `json:"total"`
	PlacedAt     time.Time `json:"placed_at"`
}

// PutOrder adds an order of a customer to the order book (demo data and tests).
func (s *Store) PutOrder(ctx context.Context, tenantID, orderRef, customerRef, currency, total string, placedAt time.Time) error {
	hash, err := s.customerHash(ctx, tenantID, customerRef)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Exec(`INSERT INTO orders (tenant_id, order_ref, customer_hash, currency, total, placed_at)
		VALUES (?, ?, ?, ?, ?::numeric, ?) ON CONFLICT DO NOTHING`, tenantID, orderRef, hash, currency, total, placedAt).Error
}

// Refund is a refund or compensation request and where it stands.
type Refund struct {
	TenantID    string    `json:"tenant_id"`
	ID          string    `json:"id"`
	CaseID      string    `json:"case_id"`
	OrderRef    string    `json:"order_ref"`
	Kind        string    `json:"kind"`   // refund, goodwill_credit, coupon, fee_waiver, shipping_refund
	Amount      string    `json:"amount"` // decimal string
	Currency    string    `json:"currency"`
	ReasonCode  string    `json:"reason_code"`
	Status      string    `json:"status"` // requested, approved, rejected, paid, failed, compensated
	RequestedBy string    `json:"requested_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// refundSelect reads amounts back as text, so no float ever holds money.
const refundSelect = `SELECT tenant_id, id::text AS id, case_id::text AS case_id, order_ref, kind, amount::text AS amount,
	currency, reason_code, status, requested_by, created_at, updated_at FROM refunds`

// RequestRefund records a request against an order of the case's customer,
// in the order's currency, for no more than the order's refundable remainder
// (its total less every refund not rejected or failed). The order's row is
// locked for the check, so concurrent requests on one order cannot together
// exceed it. A request whose ID exists returns the stored one: a retry.
func (s *Store) RequestRefund(ctx context.Context, r Refund) (Refund, error) {
	if r.Kind == "" {
		r.Kind = "refund"
	}
	var out Refund
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var existing []Refund
		if err := tx.Raw(refundSelect+` WHERE tenant_id = ? AND id = ?`, r.TenantID, r.ID).Scan(&existing).Error; err != nil {
			return fmt.Errorf("read refund: %w", err)
		}
		if len(existing) > 0 {
			out = existing[0]
			return nil
		}
		var order []struct {
			Currency     string
			CustomerHash []byte
		}
		if err := tx.Raw(`SELECT currency, customer_hash FROM orders WHERE tenant_id = ? AND order_ref = ? FOR UPDATE`,
			r.TenantID, r.OrderRef).Scan(&order).Error; err != nil {
			return fmt.Errorf("read order: %w", err)
		}
		if len(order) == 0 {
			return ErrOrderNotFound
		}
		var owner []struct{ CustomerHash []byte }
		if err := tx.Raw(`SELECT customer_hash FROM cases WHERE tenant_id = ? AND id = ?`, r.TenantID, r.CaseID).Scan(&owner).Error; err != nil {
			return fmt.Errorf("read case: %w", err)
		}
		if len(owner) == 0 {
			return ErrNotFound
		}
		if string(owner[0].CustomerHash) != string(order[0].CustomerHash) {
			return ErrNotCustomersOrder
		}
		if r.Currency != order[0].Currency {
			return ErrCurrencyMismatch
		}
		var fits bool
		if err := tx.Raw(`SELECT (o.total - coalesce((SELECT sum(amount) FROM refunds f
				WHERE f.tenant_id = o.tenant_id AND f.order_ref = o.order_ref AND f.kind = 'refund'
				  AND f.status NOT IN ('rejected', 'failed')), 0)) >= ?::numeric
			FROM orders o WHERE o.tenant_id = ? AND o.order_ref = ?`, r.Amount, r.TenantID, r.OrderRef).Scan(&fits).Error; err != nil {
			return fmt.Errorf("refundable remainder: %w", err)
		}
		if !fits && r.Kind == "refund" {
			return ErrOverRefund
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := tx.Exec(`INSERT INTO refunds (tenant_id, id, case_id, order_ref, kind, amount, currency, reason_code, status, requested_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?::numeric, ?, ?, 'requested', ?, ?, ?)`,
			r.TenantID, r.ID, r.CaseID, r.OrderRef, r.Kind, r.Amount, r.Currency, r.ReasonCode, r.RequestedBy, now, now).Error; err != nil {
			return fmt.Errorf("insert refund: %w", err)
		}
		return tx.Raw(refundSelect+` WHERE tenant_id = ? AND id = ?`, r.TenantID, r.ID).Scan(&out).Error
	})
	return out, err
}

// RefundableRemainder is what is left to refund on an order, as a decimal string.
func (s *Store) RefundableRemainder(ctx context.Context, tenantID, orderRef string) (string, error) {
	var rem []string
	err := s.db.WithContext(ctx).Raw(`SELECT (o.total - coalesce((SELECT sum(amount) FROM refunds f
			WHERE f.tenant_id = o.tenant_id AND f.order_ref = o.order_ref AND f.kind = 'refund'
			  AND f.status NOT IN ('rejected', 'failed')), 0))::text
		FROM orders o WHERE o.tenant_id = ? AND o.order_ref = ?`, tenantID, orderRef).Scan(&rem).Error
	if err != nil {
		return "", fmt.Errorf("refundable remainder: %w", err)
	}
	if len(rem) == 0 {
		return "", ErrOrderNotFound
	}
	return rem[0], nil
}

// GatewayPayment is the simulated gateway's record of one payment.
type GatewayPayment struct {
	TenantID       string    `json:"tenant_id"`
	IdempotencyKey string    `json:"idempotency_key"`
	Amount         string    `json:"amount"`
	Currency       string    `json:"currency"`
	Reference      string    `json:"reference"`
	CreatedAt      time.Time `json:"created_at"`
}

// GatewayPay records a payment once per idempotency key, as a payment
// service provider honours its idempotency keys: a repeated request returns
// the first payment (created false) and moves no money again.
func (s *Store) GatewayPay(ctx context.Context, tenantID, key, amount, currency, reference string) (GatewayPayment, bool, error) {
	res := s.db.WithContext(ctx).Exec(`INSERT INTO gateway_payments (tenant_id, idempotency_key, amount, currency, reference, created_at)
		VALUES (?, ?, ?::numeric, ?, ?, ?) ON CONFLICT DO NOTHING`, tenantID, key, amount, currency, reference, time.Now().UTC())
	if res.Error != nil {
		return GatewayPayment{}, false, fmt.Errorf("gateway payment: %w", res.Error)
	}
	var p GatewayPayment
	err := s.db.WithContext(ctx).Raw(`SELECT tenant_id, idempotency_key, amount::text AS amount, currency, reference, created_at
		FROM gateway_payments WHERE tenant_id = ? AND idempotency_key = ?`, tenantID, key).Scan(&p).Error
	return p, res.RowsAffected == 1, err
}

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

// Mismatch is a difference between the ledger and the gateway's records.
type Mismatch struct {
	Key     string `json:"key"` // the payment's idempotency key (a refund ID)
	Ledger  string `json:"ledger_amount"`
	Gateway string `json:"gateway_amount"`
}

// ClearingAccount is the ledger account money leaves by through the gateway.
const ClearingAccount = "psp_clearing"

// Reconcile compares, refund by refund, what the ledger says left through
// the gateway with what the gateway paid, and lists every difference.
func (s *Store) Reconcile(ctx context.Context, tenantID string) ([]Mismatch, error) {
	var out []Mismatch
	err := s.db.WithContext(ctx).Raw(`
WITH l AS (SELECT refund_id::text AS key, sum(amount) AS amount FROM ledger_entries
           WHERE tenant_id = @t AND credit_account = @acct AND refund_id IS NOT NULL GROUP BY refund_id),
     g AS (SELECT idempotency_key AS key, amount FROM gateway_payments WHERE tenant_id = @t)
SELECT coalesce(l.key, g.key) AS key, coalesce(l.amount, 0)::text AS ledger, coalesce(g.amount, 0)::text AS gateway
FROM l FULL OUTER JOIN g ON l.key = g.key
WHERE coalesce(l.amount, 0) <> coalesce(g.amount, 0)
ORDER BY 1`, map[string]any{"t": tenantID, "acct": ClearingAccount}).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	return out, nil
}

// GetOrder returns an order of the tenant's order book.
func (s *Store) GetOrder(ctx context.Context, tenantID, orderRef string) (Order, error) {
	var out []Order
	err := s.db.WithContext(ctx).Raw(`SELECT tenant_id, order_ref, customer_hash, currency, total::text AS total, placed_at
		FROM orders WHERE tenant_id = ? AND order_ref = ?`, tenantID, orderRef).Scan(&out).Error
	if err != nil {
		return Order{}, fmt.Errorf("get order: %w", err)
	}
	if len(out) == 0 {
		return Order{}, ErrOrderNotFound
	}
	return out[0], nil
}

// SetRefundStatus records where a refund stands (the refund saga's projection).
func (s *Store) SetRefundStatus(ctx context.Context, tenantID, id, status string) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE refunds SET status = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		status, time.Now().UTC(), tenantID, id)
	if res.Error != nil {
		return fmt.Errorf("set refund status: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CaseRefunds lists a case's refund requests, oldest first.
func (s *Store) CaseRefunds(ctx context.Context, tenantID, caseID string) ([]Refund, error) {
	out := []Refund{}
	if !validUUID(caseID) {
		return out, nil
	}
	if err := s.db.WithContext(ctx).Raw(refundSelect+` WHERE tenant_id = ? AND case_id = ? ORDER BY created_at, id`, tenantID, caseID).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("case refunds: %w", err)
	}
	return out, nil
}

// GetRefund returns a recorded refund of the tenant.
func (s *Store) GetRefund(ctx context.Context, tenantID, id string) (Refund, error) {
	var out []Refund
	if !validUUID(id) {
		return Refund{}, ErrNotFound
	}
	if err := s.db.WithContext(ctx).Raw(refundSelect+` WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&out).Error; err != nil {
		return Refund{}, fmt.Errorf("get refund: %w", err)
	}
	if len(out) == 0 {
		return Refund{}, ErrNotFound
	}
	return out[0], nil
}
