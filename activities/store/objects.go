package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"tandem/activities/objects"
)

// UseObjects keeps new attachments' bytes in the bucket rather than in
// PostgreSQL; those kept there before are read from there still.
func (s *Store) UseObjects(o *objects.Bucket) { s.objects = o }

// doomedPrefix is a prefix of object names a transaction recorded to delete.
type doomedPrefix struct{ TenantID, Prefix string }

// doomObjects records, in the caller's transaction, that the objects under
// the prefixes (objects.CasePrefix, objects.Name) are to be deleted; they are
// deleted once it commits, or by the next retention run. Without an object
// store configured here, it records them only if rows say files were put in
// one (a setting since removed, or another process's): a configured
// process deletes them.
func (s *Store) doomObjects(ctx context.Context, tenantID string, prefixes ...string) error {
	if len(prefixes) == 0 {
		return nil
	}
	db := s.db.WithContext(ctx)
	if s.objects == nil {
		cases := make([]string, len(prefixes)) // each prefix is of one case
		for i, p := range prefixes {
			t, rest, _ := strings.Cut(p, "/")
			c, _, _ := strings.Cut(rest, "/")
			cases[i] = objects.CasePrefix(t, c)
		}
		var stored bool
		if err := db.Raw(`SELECT EXISTS (SELECT 1 FROM attachments WHERE tenant_id = ? AND stored_in = 'objects'
			AND tenant_id || '/' || case_id || '/' IN ?)`, tenantID, cases).Scan(&stored).Error; err != nil {
			return fmt.Errorf("look for stored objects: %w", err)
		}
		if !stored {
			return nil
		}
	}
	rows := make([]map[string]any, 0, len(prefixes))
	for _, p := range prefixes {
		rows = append(rows, map[string]any{"tenant_id": tenantID, "prefix": p, "created_at": time.Now().UTC()})
		s.doomed = append(s.doomed, doomedPrefix{tenantID, p})
	}
	if err := db.Table("object_deletions").Clauses(clause.OnConflict{DoNothing: true}).Create(rows).Error; err != nil {
		return fmt.Errorf("record objects to delete: %w", err)
	}
	return nil
}

// DeleteDoomedObjects deletes the objects that purges, erasures and
// expiries recorded and could not delete when they committed (the store
// down, a crash): the retention run's job. A prefix that fails is left for
// the next run and does not hold up the others; the first failure is
// returned.
func (s *Store) DeleteDoomedObjects(ctx context.Context) error {
	if s.objects == nil {
		return nil
	}
	var rows []doomedPrefix
	if err := s.db.WithContext(ctx).Table("object_deletions").Order("created_at").Limit(1000).Find(&rows).Error; err != nil {
		return fmt.Errorf("read objects to delete: %w", err)
	}
	return s.deleteDoomed(ctx, rows)
}

func (s *Store) deleteDoomed(ctx context.Context, rows []doomedPrefix) error {
	var first error
	for _, r := range rows {
		err := s.objects.DeletePrefix(ctx, r.Prefix)
		if err == nil {
			err = s.db.WithContext(ctx).Exec(`DELETE FROM object_deletions WHERE tenant_id = ? AND prefix = ?`, r.TenantID, r.Prefix).Error
		}
		if err != nil && first == nil {
			first = fmt.Errorf("delete objects %s: %w", r.Prefix, err)
		}
	}
	return first
}

// deleteAfterCommit deletes what a committed transaction doomed, for at
// most a few seconds and whatever becomes of the caller's request: a
// failure is logged, the rows stay, and the next retention run retries.
func (s *Store) deleteAfterCommit(ctx context.Context, doomed []doomedPrefix) {
	if s.objects == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.deleteDoomed(ctx, doomed); err != nil {
		slog.Warn("objects of a purge, erasure or expiry are left for the next retention run", "err", err)
	}
}
