package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"tandem/policies"

	"gorm.io/gorm"
)

// ListFilter narrows and pages a case listing.
type ListFilter struct {
	Status string               // empty: any
	Queue  string               // empty: any
	Agent  *policies.AgentScope // non-nil: only the cases this agent may see
	// CustomerRef: only this customer's cases (matched through the tenant's
	// blind index: the reference is never stored or compared in clear).
	CustomerRef string
	Channels    []string // non-nil: only cases of these channels
	// Tags: only cases with every one of them; Fields: only cases whose
	// fields in clear hold these values.
	Tags   []string
	Fields map[string]string
	// OpenedFrom and OpenedTo bound when the case was opened: from
	// inclusive, to exclusive; nil: unbounded.
	OpenedFrom, OpenedTo *time.Time
	Limit                int    // rows per page, at least 1
	Cursor               string // from a previous page's NextCursor; empty: first page
}

// AgentQueues returns the queues an agent works.
func (s *Store) AgentQueues(ctx context.Context, tenantID, agentID string) ([]string, error) {
	var queues []string
	err := s.db.WithContext(ctx).Table("agent_queues").Where("tenant_id = ? AND agent_id = ?", tenantID, agentID).
		Order("queue").Pluck("queue", &queues).Error
	if err != nil {
		return nil, fmt.Errorf("read agent queues: %w", err)
	}
	return queues, nil
}

// ListCases returns the tenant's cases, newest first, and the cursor of the
// next page ("" on the last page).
func (s *Store) ListCases(ctx context.Context, tenantID string, f ListFilter) ([]Case, string, error) {
	q, err := s.listQuery(ctx, tenantID, f)
	if err != nil {
		return nil, "", err
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil || !validUUID(id) { // case IDs are UUIDs
			return nil, "", ErrBadCursor
		}
		q = q.Where("(cases.opened_at, cases.id) < (?, ?)", at, id)
	}
	var rows []Case
	if err := q.Order("cases.opened_at DESC, cases.id DESC").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", fmt.Errorf("list cases: %w", err)
	}
	if err := s.openCases(ctx, rows); err != nil {
		return nil, "", err
	}
	rows, next := page(rows, f.Limit, func(c Case) (time.Time, string) { return c.OpenedAt, c.ID })
	return rows, next, nil
}

// page trims a listing read with one row more than limit, and returns the
// cursor of the next page ("" when that extra row was not there).
func page[T any](rows []T, limit int, key func(T) (time.Time, string)) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, encodeCursor(key(rows[len(rows)-1]))
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(cur string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return time.Time{}, "", ErrBadCursor
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || id == "" {
		return time.Time{}, "", ErrBadCursor
	}
	return at, id, nil
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case ('0' <= r && r <= '9') || ('a' <= r && r <= 'f'):
		default:
			return false
		}
	}
	return true
}

// narrow adds the filter's status, queue, tags and fields to a query of
// cases (alias: the cases table's, "" for none).
// listQuery is the tenant's cases the filter passes, before paging and order.
func (s *Store) listQuery(ctx context.Context, tenantID string, f ListFilter) (*gorm.DB, error) {
	q := f.narrow(s.db.WithContext(ctx).Model(&Case{}).Where("cases.tenant_id = ?", tenantID), "cases")
	if f.Agent != nil {
		cond, args := f.Agent.Where()
		q = q.Where(cond, args...)
	}
	if f.Channels != nil {
		q = q.Where("cases.channel IN ?", f.Channels)
	}
	if f.CustomerRef != "" {
		hash, err := s.customerHash(ctx, tenantID, strings.TrimSpace(f.CustomerRef))
		if err != nil {
			return nil, err
		}
		q = q.Where("cases.customer_hash = ?", hash)
	}
	return q, nil
}

func (f ListFilter) narrow(q *gorm.DB, alias string) *gorm.DB {
	if alias != "" {
		alias += "."
	}
	if f.Status != "" {
		q = q.Where(alias+"status = ?", f.Status)
	}
	if f.Queue != "" {
		q = q.Where(alias+"queue = ?", f.Queue)
	}
	if len(f.Tags) > 0 {
		q = q.Where(alias+"tags @> ?::jsonb", jsonText(f.Tags))
	}
	if len(f.Fields) > 0 {
		q = q.Where(alias+"fields @> ?::jsonb", fieldsText(f.Fields))
	}
	if f.OpenedFrom != nil {
		q = q.Where(alias+"opened_at >= ?", *f.OpenedFrom)
	}
	if f.OpenedTo != nil {
		q = q.Where(alias+"opened_at < ?", *f.OpenedTo)
	}
	return q
}
