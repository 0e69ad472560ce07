package store

import (
	"context"
	"fmt"

	"tandem/workflows"
)

// ClearingByRefund is what the ledger says left through the provider
// (credits to workflows.AccountClearing), by refund.
func (s *Store) ClearingByRefund(ctx context.Context, tenantID string) (map[string]string, error) {
	var rows []struct{ Key, Amount string }
	err := s.db.WithContext(ctx).Raw(`SELECT refund_id::text AS key, sum(amount)::text AS amount FROM ledger_entries
		WHERE tenant_id = ? AND credit_account = ? AND refund_id IS NOT NULL GROUP BY refund_id`, tenantID, workflows.AccountClearing).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("ledger payments: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Key] = r.Amount
	}
	return out, nil
}
