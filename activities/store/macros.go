package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Macro is a named reply template (per language: en, zh-Hans, zh-Hant) with
// variables, and what it does to a case. Owner is the agent whose own it
// is; "" for the tenant's.
type Macro struct {
	TenantID  string            `json:"-" gorm:"primaryKey"`
	ID        string            `json:"id" gorm:"primaryKey"`
	Owner     *string           `json:"owner,omitempty"`
	Name      string            `json:"name"`
	Replies   map[string]string `json:"replies" gorm:"serializer:json"`
	Actions   MacroActions      `json:"actions" gorm:"serializer:json"`
	Uses      int64             `json:"uses"`
	CreatedAt time.Time         `json:"created_at" gorm:"autoCreateTime:false"`
	UpdatedAt time.Time         `json:"updated_at" gorm:"autoUpdateTime:false"`
	UpdatedBy string            `json:"updated_by"`
}

// MacroActions is what a macro does after its reply: tags to add and
// remove, field values to set (null clears), then reply, request_info or
// resolve (with a resolution code).
type MacroActions struct {
	AddTags    []string                   `json:"add_tags,omitempty"`
	RemoveTags []string                   `json:"remove_tags,omitempty"`
	Fields     map[string]json.RawMessage `json:"fields,omitempty"`
	Then       string                     `json:"then"`
	Code       string                     `json:"code,omitempty"`
}

// MaxMacros bounds a tenant's macros, its own and its agents'.
const MaxMacros = 500

// ErrMacroNameTaken refuses a second macro of one name for one owner.
var ErrMacroNameTaken = errors.New("a macro of that name exists")

// Macros lists the macros an agent may apply: the tenant's and their own, by name.
func (s *Store) Macros(ctx context.Context, tenantID, agentID string) ([]Macro, error) {
	var out []Macro
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND (owner IS NULL OR owner = ?)", tenantID, agentID).
		Order("name, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("read macros: %w", err)
	}
	return out, nil
}

// Macro returns one macro the agent may apply.
func (s *Store) Macro(ctx context.Context, tenantID, agentID, id string) (Macro, error) {
	var m Macro
	if !validUUID(id) {
		return m, NotFound("macro")
	}
	res := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ? AND (owner IS NULL OR owner = ?)", tenantID, id, agentID).Limit(1).Find(&m)
	if res.Error != nil {
		return m, fmt.Errorf("read macro: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return m, NotFound("macro")
	}
	return m, nil
}

// PutMacro creates a macro, or replaces one of the same owner.
func (s *Store) PutMacro(ctx context.Context, m Macro, create bool) error {
	if m.Replies == nil {
		m.Replies = map[string]string{}
	}
	var err error
	if create {
		var n int64
		if err = s.db.WithContext(ctx).Model(&Macro{}).Where("tenant_id = ?", m.TenantID).Count(&n).Error; err == nil && n >= MaxMacros {
			return fmt.Errorf("a tenant has at most %d macros", MaxMacros)
		}
		err = s.db.WithContext(ctx).Create(&m).Error
	} else {
		res := s.db.WithContext(ctx).Model(&Macro{}).Where("tenant_id = ? AND id = ? AND owner IS NOT DISTINCT FROM ?", m.TenantID, m.ID, m.Owner).
			Updates(map[string]any{"name": m.Name, "replies": jsonOf(m.Replies), "actions": jsonOf(m.Actions), "updated_at": m.UpdatedAt, "updated_by": m.UpdatedBy})
		if err = res.Error; err == nil && res.RowsAffected == 0 {
			return NotFound("macro")
		}
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return ErrMacroNameTaken
	}
	if err != nil {
		return fmt.Errorf("write macro: %w", err)
	}
	return nil
}

// DeleteMacro removes a macro of the owner (nil: the tenant's).
func (s *Store) DeleteMacro(ctx context.Context, tenantID string, owner *string, id string) error {
	if !validUUID(id) {
		return NotFound("macro")
	}
	res := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ? AND owner IS NOT DISTINCT FROM ?", tenantID, id, owner).Delete(&Macro{})
	if res.Error != nil {
		return fmt.Errorf("delete macro: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return NotFound("macro")
	}
	return nil
}

// jsonOf is v as JSON text, for a jsonb column.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// CountMacroUse adds one to a macro's uses for its application to a case
// by an update, once however often the request is retried.
func (s *Store) CountMacroUse(ctx context.Context, tenantID, caseID, updateID, macroID string) error {
	err := s.db.WithContext(ctx).Exec(`WITH used AS (
			INSERT INTO macro_uses (tenant_id, case_id, update_id, macro_id, used_at) VALUES (?, ?, ?, ?, now())
			ON CONFLICT DO NOTHING RETURNING macro_id)
		UPDATE macros SET uses = uses + 1 WHERE tenant_id = ? AND id IN (SELECT macro_id FROM used)`,
		tenantID, caseID, updateID, macroID, tenantID).Error
	if err != nil {
		return fmt.Errorf("count a macro's use: %w", err)
	}
	return nil
}
