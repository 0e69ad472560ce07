package payments

import (
	"context"
	"fmt"
	"time"
)

// gatewayRow is the simulated gateway's record of one payment.
type gatewayRow struct {
	TenantID       string    `json:"tenant_id"`
	IdempotencyKey string    `json:"idempotency_key"`
	Amount         string    `json:"amount"`
	Currency       string    `json:"currency"`
	Reference      string    `json:"reference"`
	CreatedAt      time.Time `json:"created_at"`
}

// record records a payment once per idempotency key, as a payment
// service provider honours its idempotency keys: a repeated request returns
// the first payment (created false) and moves no money again.
func (g *Simulated) record(ctx context.Context, tenantID, key, amount, currency, reference string) (gatewayRow, bool, error) {
	res := g.Store.DB().WithContext(ctx).Exec(`INSERT INTO gateway_payments (tenant_id, idempotency_key, amount, currency, reference, created_at)
		VALUES (?, ?, ?::numeric, ?, ?, ?) ON CONFLICT DO NOTHING`, tenantID, key, amount, currency, reference, time.Now().UTC())
	if res.Error != nil {
		return gatewayRow{}, false, fmt.Errorf("gateway payment: %w", res.Error)
	}
	var p gatewayRow
	err := g.Store.DB().WithContext(ctx).Raw(`SELECT tenant_id, idempotency_key, amount::text AS amount, currency, reference, created_at
		FROM gateway_payments WHERE tenant_id = ? AND idempotency_key = ?`, tenantID, key).Scan(&p).Error
	return p, res.RowsAffected == 1, err
}

// payment returns the simulated gateway's payment under key, if any.
func (g *Simulated) payment(ctx context.Context, tenantID, key string) (gatewayRow, bool, error) {
	var ps []gatewayRow
	err := g.Store.DB().WithContext(ctx).Raw(`SELECT tenant_id, idempotency_key, amount::text AS amount, currency, reference, created_at
		FROM gateway_payments WHERE tenant_id = ? AND idempotency_key = ?`, tenantID, key).Scan(&ps).Error
	if err != nil {
		return gatewayRow{}, false, fmt.Errorf("gateway payment: %w", err)
	}
	if len(ps) == 0 {
		return gatewayRow{}, false, nil
	}
	return ps[0], true, nil
}

// payments lists the simulated gateway's payments for a tenant.
func (g *Simulated) payments(ctx context.Context, tenantID string) ([]gatewayRow, error) {
	var ps []gatewayRow
	err := g.Store.DB().WithContext(ctx).Raw(`SELECT tenant_id, idempotency_key, amount::text AS amount, currency, reference, created_at
		FROM gateway_payments WHERE tenant_id = ? ORDER BY created_at, idempotency_key`, tenantID).Scan(&ps).Error
	if err != nil {
		return nil, fmt.Errorf("gateway payments: %w", err)
	}
	return ps, nil
}
