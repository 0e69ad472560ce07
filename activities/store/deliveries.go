package store

import (
	"context"
	"fmt"
	"time"
)

// NextDeliveryAt is when the endpoint's earliest pending delivery that
// may be sent next (the oldest of its case) is due; zero if none is
// pending.
func (s *Store) NextDeliveryAt(ctx context.Context, tenantID, endpointID string) (time.Time, error) {
	var next *time.Time
	err := s.db.WithContext(ctx).Raw(`SELECT min(next_attempt_at) FROM (
			SELECT DISTINCT ON (coalesce(case_id::text, event_id)) next_attempt_at
			FROM webhook_deliveries WHERE tenant_id = ? AND endpoint_id = ? AND status = 'pending'
			ORDER BY coalesce(case_id::text, event_id), event_seq) heads`, tenantID, endpointID).Row().Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next delivery: %w", err)
	}
	if next == nil {
		return time.Time{}, nil
	}
	return *next, nil
}
