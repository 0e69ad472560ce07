package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"tandem/activities/objects"
)

// SetRetention sets how many days a tenant keeps closed cases' content; nil keeps it for ever.
func (s *Store) SetRetention(ctx context.Context, tenantID string, days *int) error {
	res := s.db.WithContext(ctx).Model(&Tenant{}).Where("id = ?", tenantID).Update("retention_days", days)
	if res.Error != nil {
		return fmt.Errorf("set retention: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return NotFound("tenant")
	}
	return nil
}

// Retention returns a tenant's retention period in days, or nil.
func (s *Store) Retention(ctx context.Context, tenantID string) (*int, error) {
	var t struct{ RetentionDays *int }
	if err := s.db.WithContext(ctx).Model(&Tenant{}).Select("retention_days").Where("id = ?", tenantID).Take(&t).Error; err != nil {
		return nil, fmt.Errorf("read retention: %w", err)
	}
	return t.RetentionDays, nil
}

// PurgeResult counts what a retention run did in one tenant.
type PurgeResult struct {
	TenantID string `json:"tenant_id"`
	Purged   int    `json:"purged"`
	Held     int    `json:"held"` // due, but under a legal hold
}

// PurgeExpired removes the conversation and personal fields of the tenant's
// cases closed before now minus its retention period, unless a legal hold is
// on the case or its customer; each purge is audited in its own transaction.
// It handles at most limit cases per call.
func (s *Store) PurgeExpired(ctx context.Context, tenantID string, now time.Time, limit int) (PurgeResult, error) {
	res := PurgeResult{TenantID: tenantID}
	days, err := s.Retention(ctx, tenantID)
	if err != nil || days == nil {
		return res, err
	}
	cutoff := now.Add(-time.Duration(*days) * 24 * time.Hour)
	expired := s.db.WithContext(ctx).Model(&Case{}).Where("tenant_id = ? AND closed_at < ? AND purged_at IS NULL", tenantID, cutoff)
	// Held cases are counted, not selected: a batch full of them must not
	// hide the expired cases behind it.
	const held = `EXISTS (SELECT 1 FROM legal_holds h WHERE h.tenant_id = cases.tenant_id AND h.released_at IS NULL
		AND (h.case_id = cases.id OR h.customer_hash = cases.customer_hash))`
	var heldCount int64
	if err := expired.Session(&gorm.Session{}).Where(held).Count(&heldCount).Error; err != nil {
		return res, fmt.Errorf("count held cases: %w", err)
	}
	res.Held = int(heldCount)
	var due []Case
	err = expired.Session(&gorm.Session{}).Select("tenant_id, id, customer_hash").Where("NOT " + held).
		Order("closed_at").Limit(limit).Find(&due).Error
	if err != nil {
		return res, fmt.Errorf("find expired cases: %w", err)
	}
	for _, c := range due {
		purged, err := s.purgeCase(ctx, c, *days, now) // re-checks holds under the tenant's lock
		if err != nil {
			return res, err
		}
		if purged {
			res.Purged++
		} else {
			res.Held++ // a hold placed since the selection
		}
	}
	return res, nil
}

func (s *Store) purgeCase(ctx context.Context, c Case, days int, now time.Time) (bool, error) {
	purged := false
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.lockTenantKeys(ctx, c.TenantID); err != nil {
			return err
		}
		var holds int64
		q := tx.db.WithContext(ctx).Model(&LegalHold{}).Where("tenant_id = ? AND released_at IS NULL", c.TenantID)
		if c.CustomerHash != nil {
			q = q.Where("case_id = ? OR customer_hash = ?", c.ID, c.CustomerHash)
		} else {
			q = q.Where("case_id = ?", c.ID)
		}
		if err := q.Count(&holds).Error; err != nil {
			return fmt.Errorf("check legal holds: %w", err)
		}
		if holds > 0 {
			return nil
		}
		db := tx.db.WithContext(ctx)
		if err := db.Model(&Message{}).Where("tenant_id = ? AND case_id = ?", c.TenantID, c.ID).
			Updates(map[string]any{"body": gorm.Expr("NULL"), "body_ct": gorm.Expr("NULL")}).Error; err != nil {
			return fmt.Errorf("purge messages: %w", err)
		}
		for _, q := range []string{
			`DELETE FROM search_terms WHERE tenant_id = ? AND case_id = ?`,
			`DELETE FROM attachment_blobs b USING attachments a WHERE b.tenant_id = a.tenant_id AND b.id = a.id AND a.tenant_id = ? AND a.case_id = ?`,
			`UPDATE attachments SET meta_ct = NULL WHERE tenant_id = ? AND case_id = ?`,
		} {
			if err := db.Exec(q, c.TenantID, c.ID).Error; err != nil {
				return fmt.Errorf("purge the case's search terms and attachments: %w", err)
			}
		}
		if err := tx.doomObjects(ctx, c.TenantID, objects.CasePrefix(c.TenantID, c.ID)); err != nil {
			return err
		}
		res := db.Model(&Case{}).Where("tenant_id = ? AND id = ? AND purged_at IS NULL", c.TenantID, c.ID).
			Updates(map[string]any{"customer_ref": gorm.Expr("NULL"), "customer_ref_ct": gorm.Expr("NULL"),
				"subject": gorm.Expr("NULL"), "subject_ct": gorm.Expr("NULL"), "purged_at": now.UTC()})
		if res.Error != nil {
			return fmt.Errorf("purge case: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // purged meanwhile by another run
		}
		purged = true
		_, err := tx.appendAudit(ctx, AuditEvent{
			TenantID: c.TenantID, ID: "purge:" + c.TenantID + ":" + c.ID, OccurredAt: now,
			ActorKind: "system", ActorID: "retention", Action: "case.purge", ObjectType: "case", ObjectID: c.ID, CaseID: c.ID,
			Decision: "allow", Outcome: "success", Reason: "retention period of " + strconv.Itoa(days) + " days",
		})
		return err
	})
	return purged, err
}

// RetentionTenants lists the tenants that have a retention period.
func (s *Store) RetentionTenants(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&Tenant{}).Where("retention_days IS NOT NULL").Order("id").Pluck("id", &ids).Error
	return ids, err
}
