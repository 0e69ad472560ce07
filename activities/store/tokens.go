package store

import (
	"context"
	"fmt"
	"time"
)

// RevokeToken revokes one token of a person by its jti; revoking twice is one revocation.
func (s *Store) RevokeToken(ctx context.Context, tenantID, jti, by string) error {
	err := s.db.WithContext(ctx).Exec(`INSERT INTO revoked_tokens (tenant_id, jti, revoked_by) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, jti) DO NOTHING`, tenantID, jti, by).Error
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// RevokeSubject revokes every token of a person issued before now's second
// (a token's iat has whole seconds: one issued in that second stays good).
func (s *Store) RevokeSubject(ctx context.Context, tenantID, subject, by string, now time.Time) error {
	now = now.Truncate(time.Second)
	err := s.db.WithContext(ctx).Exec(`INSERT INTO revoked_subjects (tenant_id, subject, revoked_before, revoked_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, subject) DO UPDATE SET revoked_before = greatest(revoked_subjects.revoked_before, excluded.revoked_before),
			revoked_by = excluded.revoked_by`, tenantID, subject, now.UTC(), by).Error
	if err != nil {
		return fmt.Errorf("revoke subject: %w", err)
	}
	return nil
}

// TokenRevoked says whether a person's token (its jti, or "" for none, and
// when it was issued) has been revoked.
func (s *Store) TokenRevoked(ctx context.Context, tenantID, subject, jti string, issuedAt time.Time) (bool, error) {
	var revoked bool
	err := s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE tenant_id = ? AND jti = ? AND jti <> '')
		OR EXISTS (SELECT 1 FROM revoked_subjects WHERE tenant_id = ? AND subject = ? AND revoked_before > ?)`,
		tenantID, jti, tenantID, subject, issuedAt.UTC()).Scan(&revoked).Error
	if err != nil {
		return false, fmt.Errorf("check token revocation: %w", err)
	}
	return revoked, nil
}
