package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PolicyRule is one casbin line: p, role, tenant, object, action, effect, or
// g, role, parent.
type PolicyRule struct {
	PType string `gorm:"column:ptype;primaryKey"`
	V0    string `gorm:"primaryKey"`
	V1    string `gorm:"primaryKey"`
	V2    string `gorm:"primaryKey"`
	V3    string `gorm:"primaryKey"`
	V4    string `gorm:"primaryKey"`
}

func (r PolicyRule) row() []string {
	if r.PType == "g" {
		return []string{r.PType, r.V0, r.V1}
	}
	return []string{r.PType, r.V0, r.V1, r.V2, r.V3, r.V4}
}

func ruleFrom(row []string) PolicyRule {
	r := PolicyRule{PType: row[0]}
	for i, dst := range []*string{&r.V0, &r.V1, &r.V2, &r.V3, &r.V4} {
		if i+1 < len(row) {
			*dst = row[i+1]
		}
	}
	return r
}

type policyVersion struct {
	ID      bool `gorm:"primaryKey"`
	Version int64
}

func (policyVersion) TableName() string { return "policy_version" }

// PolicyRules returns every rule, as rows for the authorizer, and the version.
func (s *Store) PolicyRules(ctx context.Context) ([][]string, int64, error) {
	var rules []PolicyRule
	var v policyVersion
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Take(&v).Error; err != nil {
			return err
		}
		return tx.Order("ptype, v0, v1, v2, v3, v4").Find(&rules).Error
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read policy rules: %w", err)
	}
	rows := make([][]string, len(rules))
	for i, r := range rules {
		rows[i] = r.row()
	}
	return rows, v.Version, nil
}

// PolicyVersion returns the version of the rules, which changes with them.
func (s *Store) PolicyVersion(ctx context.Context) (int64, error) {
	var v policyVersion
	if err := s.db.WithContext(ctx).Take(&v).Error; err != nil {
		return 0, fmt.Errorf("read policy version: %w", err)
	}
	return v.Version, nil
}

// SyncDefaultPolicyRules makes the stored defaults — role inheritance and
// grants for every tenant ("*") — equal to rows, the ones the code embeds:
// new defaults are added and dropped ones removed, while tenants' own rules
// stay. It reports whether anything changed. Concurrent callers are serialised.
func (s *Store) SyncDefaultPolicyRules(ctx context.Context, rows [][]string) (bool, error) {
	changed := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var v policyVersion
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&v).Error; err != nil {
			return err
		}
		want := map[PolicyRule]bool{}
		for _, row := range rows {
			want[ruleFrom(row)] = true
		}
		var stored []PolicyRule
		if err := tx.Where("ptype = 'g' OR v1 = '*'").Find(&stored).Error; err != nil {
			return err
		}
		for _, r := range stored {
			if want[r] {
				delete(want, r)
				continue
			}
			if err := tx.Where("ptype = ? AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ? AND v4 = ?",
				r.PType, r.V0, r.V1, r.V2, r.V3, r.V4).Delete(&PolicyRule{}).Error; err != nil {
				return err
			}
			changed = true
		}
		for r := range want {
			if err := tx.Create(ptr(r)).Error; err != nil {
				return err
			}
			changed = true
		}
		if !changed {
			return nil
		}
		return tx.Model(&policyVersion{}).Where("id").Update("version", gorm.Expr("version + 1")).Error
	})
	if err != nil {
		return false, fmt.Errorf("sync default policy rules: %w", err)
	}
	return changed, nil
}

// AddPolicyRule stores a rule; it reports false if it was there already.
func (s *Store) AddPolicyRule(ctx context.Context, row []string) (bool, error) {
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(ptr(ruleFrom(row)))
	if res.Error != nil {
		return false, fmt.Errorf("add policy rule: %w", res.Error)
	}
	return res.RowsAffected == 1, s.bumpPolicyVersion(ctx, res.RowsAffected)
}

// RemovePolicyRule deletes a rule; it reports false if there was none.
func (s *Store) RemovePolicyRule(ctx context.Context, row []string) (bool, error) {
	r := ruleFrom(row)
	res := s.db.WithContext(ctx).Where("ptype = ? AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ? AND v4 = ?", r.PType, r.V0, r.V1, r.V2, r.V3, r.V4).Delete(&PolicyRule{})
	if res.Error != nil {
		return false, fmt.Errorf("remove policy rule: %w", res.Error)
	}
	return res.RowsAffected == 1, s.bumpPolicyVersion(ctx, res.RowsAffected)
}

func (s *Store) bumpPolicyVersion(ctx context.Context, changed int64) error {
	if changed == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Model(&policyVersion{}).Where("id").Update("version", gorm.Expr("version + 1")).Error
}

func ptr[T any](v T) *T { return &v }
