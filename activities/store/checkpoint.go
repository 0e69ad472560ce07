package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"tandem/activities/auditlog"
)

// checkpoints returns the tenant's checkpoints in order.
func (s *Store) checkpoints(ctx context.Context, tenantID string) ([]auditlog.SignedCheckpoint, error) {
	var cps []auditlog.SignedCheckpoint
	if err := s.db.WithContext(ctx).Table("audit_checkpoints").Where("tenant_id = ?", tenantID).Order("seq").Find(&cps).Error; err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return cps, nil
}

// LatestCheckpoint returns the tenant's newest checkpoint in the database, or nil.
func (s *Store) LatestCheckpoint(ctx context.Context, tenantID string) (*auditlog.SignedCheckpoint, error) {
	return s.latestCheckpoint(ctx, s.db.WithContext(ctx).Table("audit_checkpoints").Where("tenant_id = ?", tenantID))
}

// LatestLogCheckpoint returns the tenant's newest checkpoint of its tree
// (one with a note), or nil.
func (s *Store) LatestLogCheckpoint(ctx context.Context, tenantID string) (*auditlog.SignedCheckpoint, error) {
	return s.latestCheckpoint(ctx, s.db.WithContext(ctx).Table("audit_checkpoints").Where("tenant_id = ? AND note IS NOT NULL", tenantID))
}

func (s *Store) latestCheckpoint(ctx context.Context, q *gorm.DB) (*auditlog.SignedCheckpoint, error) {
	var cps []auditlog.SignedCheckpoint
	if err := q.Order("seq DESC").Limit(1).Find(&cps).Error; err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if len(cps) == 0 {
		return nil, nil
	}
	return &cps[0], nil
}
