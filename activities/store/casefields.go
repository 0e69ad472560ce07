package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// CaseField is a custom field of a tenant's cases: its type (text, number,
// enum, date, boolean), whether a case needs it before it is resolved, an
// enum's options, and the roles that may set it (none: anyone who may work
// the case).
type CaseField struct {
	TenantID  string    `json:"-" gorm:"primaryKey"`
	Name      string    `json:"name" gorm:"primaryKey"`
	Type      string    `json:"type"`
	Required  bool      `json:"required"`
	Options   []string  `json:"options" gorm:"serializer:json"`
	Roles     []string  `json:"roles" gorm:"serializer:json"`
	UpdatedAt time.Time `json:"updated_at" gorm:"autoUpdateTime:false"`
	UpdatedBy string    `json:"updated_by"`
}

// FieldTypes are the types a custom field may have.
var FieldTypes = []string{"text", "number", "enum", "date", "boolean"}

// MaxCaseFields bounds a tenant's schema.
const MaxCaseFields = 50

// ErrTooManyFields refuses a field past MaxCaseFields.
var ErrTooManyFields = errors.New("a tenant has at most 50 custom fields")

// CaseFields lists the tenant's custom fields by name.
func (s *Store) CaseFields(ctx context.Context, tenantID string) ([]CaseField, error) {
	var out []CaseField
	if err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("read case fields: %w", err)
	}
	return out, nil
}

// PutCaseField creates or replaces a custom field; it says whether it created it.
func (s *Store) PutCaseField(ctx context.Context, f CaseField) (bool, error) {
	f.Options, f.Roles = nonNil(f.Options), nonNil(f.Roles)
	created := false
	err := s.InTx(ctx, func(tx *Store) error {
		// The tenant's schema is changed one writer at a time, so the bound holds.
		if err := tx.db.WithContext(ctx).Exec(`SELECT 1 FROM tenants WHERE id = ? FOR UPDATE`, f.TenantID).Error; err != nil {
			return err
		}
		var have []string
		if err := tx.db.WithContext(ctx).Raw(`SELECT name FROM case_fields WHERE tenant_id = ?`, f.TenantID).Scan(&have).Error; err != nil {
			return err
		}
		created = true
		for _, n := range have {
			if n == f.Name {
				created = false
			}
		}
		if created && len(have) >= MaxCaseFields {
			return ErrTooManyFields
		}
		return tx.db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&f).Error
	})
	if err != nil && !errors.Is(err, ErrTooManyFields) {
		err = fmt.Errorf("write case field: %w", err)
	}
	return created, err
}

// DeleteCaseField removes a custom field from the schema; cases keep the
// values they have.
func (s *Store) DeleteCaseField(ctx context.Context, tenantID, name string) error {
	res := s.db.WithContext(ctx).Where("tenant_id = ? AND name = ?", tenantID, name).Delete(&CaseField{})
	if res.Error != nil {
		return fmt.Errorf("delete case field: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return NotFound("case_field")
	}
	return nil
}

// fieldsText is field values as a JSON object.
func fieldsText(m map[string]string) string {
	if m == nil {
		m = map[string]string{}
	}
	return jsonOf(m)
}

// AllFields is the case's field values by name, sealed ones opened.
func (c Case) AllFields() map[string]string {
	out := make(map[string]string, len(c.Fields)+len(c.TextFields))
	for k, v := range c.Fields {
		out[k] = v
	}
	for k, v := range c.TextFields {
		out[k] = v
	}
	return out
}
