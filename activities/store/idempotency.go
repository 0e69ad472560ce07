package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"gorm.io/gorm/clause"
)

// IdempotencyKey records which case a case-opening request created.
type IdempotencyKey struct {
	TenantID    string `gorm:"primaryKey"`
	Key         string `gorm:"primaryKey"`
	RequestHash string
	CaseID      string
	CreatedAt   time.Time
}

// ClaimIdempotencyKey records key → caseID for a request with the given hash.
// first is true for exactly one caller per key; a caller whose request hash
// differs from the first one's gets ErrIdempotencyMismatch.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, tenantID, key, requestHash, caseID string) (first bool, err error) {
	row := IdempotencyKey{TenantID: tenantID, Key: key, RequestHash: requestHash, CaseID: caseID}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return false, fmt.Errorf("claim idempotency key: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	var have IdempotencyKey
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND key = ?", tenantID, key).Take(&have).Error; err != nil {
		return false, fmt.Errorf("read idempotency key: %w", err)
	}
	if have.RequestHash == erasedRequestHash {
		return false, ErrCustomerErased
	}
	if have.RequestHash != requestHash || have.CaseID != caseID {
		return false, ErrIdempotencyMismatch
	}
	return false, nil
}

// UseUpdateKey records the first use of a keyed update of a case and
// returns when that was (now, the first time).
func (s *Store) UseUpdateKey(ctx context.Context, tenantID, caseID, updateID string) (time.Time, error) {
	var first time.Time
	err := s.db.WithContext(ctx).Raw(`INSERT INTO update_keys (tenant_id, case_id, update_id) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, case_id, update_id) DO UPDATE SET first_used = update_keys.first_used
		RETURNING first_used`, tenantID, caseID, updateID).Scan(&first).Error
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return time.Time{}, NotFound("case") // no such case in the tenant
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("use update key: %w", err)
	}
	return first, nil
}
