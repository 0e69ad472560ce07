package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tandem/policies/service"
)

type tenantServicePolicy struct {
	TenantID  string `gorm:"primaryKey"`
	Document  string
	Version   int64
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
	UpdatedBy string
}

// ServicePolicy returns the tenant's current service policy: its own, or the
// default profile at version 0.
func (s *Store) ServicePolicy(ctx context.Context, tenantID string) (service.Policy, error) {
	var row tenantServicePolicy
	err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return service.Profile(service.DefaultProfile)
	}
	if err != nil {
		return service.Policy{}, fmt.Errorf("read service policy: %w", err)
	}
	p, err := service.Parse([]byte(row.Document))
	if err != nil {
		return service.Policy{}, err
	}
	p.Version = row.Version
	return p, nil
}

// SetServicePolicy stores a new version of the tenant's policy and returns it.
// Open cases keep the version they pinned.
func (s *Store) SetServicePolicy(ctx context.Context, tenantID string, p service.Policy, by string) (service.Policy, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cur tenantServicePolicy
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("tenant_id = ?", tenantID).Take(&cur).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		p.Version = cur.Version + 1
		doc, err := json.Marshal(p)
		if err != nil {
			return err
		}
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "tenant_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"document", "version", "updated_at", "updated_by"}),
		}).Create(&tenantServicePolicy{TenantID: tenantID, Document: string(doc), Version: p.Version,
			UpdatedAt: time.Now().UTC(), UpdatedBy: by}).Error
	})
	if err != nil {
		return service.Policy{}, fmt.Errorf("set service policy: %w", err)
	}
	return p, nil
}
