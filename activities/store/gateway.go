package store

import (
	"context"
	"fmt"
	"time"
)

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

// GatewayPayment returns the simulated gateway's payment under key, if any.
func (s *Store) GatewayPayment(ctx context.Context, tenantID, key string) (GatewayPayment, bool, error) {
	var ps []GatewayPayment
	err := s.db.WithContext(ctx).Raw(`SELECT tenant_id, idempotency_key, amount::text AS amount, currency, reference, created_at
		FROM gateway_payments WHERE tenant_id = ? AND idempotency_key = ?`, tenantID, key).Scan(&ps).Error
	if err != nil {
		return GatewayPayment{}, false, fmt.Errorf("gateway payment: %w", err)
	}
	if len(ps) == 0 {
		return GatewayPayment{}, false, nil
	}
	return ps[0], true, nil
}

// GatewayPayments lists the simulated gateway's payments for a tenant.
func (s *Store) GatewayPayments(ctx context.Context, tenantID string) ([]GatewayPayment, error) {
	var ps []GatewayPayment
	err := s.db.WithContext(ctx).Raw(`SELECT tenant_id, idempotency_key, amount::text AS amount, currency, reference, created_at
		FROM gateway_payments WHERE tenant_id = ? ORDER BY created_at, idempotency_key`, tenantID).Scan(&ps).Error
	if err != nil {
		return nil, fmt.Errorf("gateway payments: %w", err)
	}
	return ps, nil
}

// ClearingByRefund is what the ledger says left through the provider
// (credits to ClearingAccount), by refund.
func (s *Store) ClearingByRefund(ctx context.Context, tenantID string) (map[string]string, error) {
	var rows []struct{ Key, Amount string }
	err := s.db.WithContext(ctx).Raw(`SELECT refund_id::text AS key, sum(amount)::text AS amount FROM ledger_entries
		WHERE tenant_id = ? AND credit_account = ? AND refund_id IS NOT NULL GROUP BY refund_id`, tenantID, ClearingAccount).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("ledger payments: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Key] = r.Amount
	}
	return out, nil
}
