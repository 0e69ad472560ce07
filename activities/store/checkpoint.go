package store

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AuditCheckpoint is a signed statement of a chain's head at some position.
type AuditCheckpoint struct {
	TenantID  string    `json:"tenant_id"`
	Seq       int64     `json:"seq"`
	Hash      []byte    `json:"hash"`
	SignedAt  time.Time `json:"signed_at"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// CheckpointMessage is the byte string a checkpoint signs.
func CheckpointMessage(tenantID string, seq int64, hash []byte) []byte {
	return []byte("tandem-audit-checkpoint/v1\n" + tenantID + "\n" + strconv.FormatInt(seq, 10) + "\n" + hex.EncodeToString(hash))
}

// KeyID names a verification key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// CheckpointAudit signs the tenant's chain head, unless the newest checkpoint
// already covers it. It returns the checkpoint made, or nil.
func (s *Store) CheckpointAudit(ctx context.Context, tenantID string, key ed25519.PrivateKey) (*AuditCheckpoint, error) {
	var head auditHead
	err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Take(&head).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && head.Seq == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit head: %w", err)
	}
	var last int64
	if err := s.db.WithContext(ctx).Model(&AuditCheckpoint{}).Where("tenant_id = ?", tenantID).
		Select("coalesce(max(seq), 0)").Scan(&last).Error; err != nil {
		return nil, fmt.Errorf("read last checkpoint: %w", err)
	}
	if last >= head.Seq {
		return nil, nil
	}
	cp := AuditCheckpoint{
		TenantID: tenantID, Seq: head.Seq, Hash: head.Hash, SignedAt: time.Now().UTC().Truncate(time.Microsecond),
		KeyID:     KeyID(key.Public().(ed25519.PublicKey)),
		Signature: ed25519.Sign(key, CheckpointMessage(tenantID, head.Seq, head.Hash)),
	}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&cp).Error; err != nil {
		return nil, fmt.Errorf("store checkpoint: %w", err)
	}
	return &cp, nil
}

// checkpoints returns the tenant's checkpoints in order.
func (s *Store) checkpoints(ctx context.Context, tenantID string) ([]AuditCheckpoint, error) {
	var cps []AuditCheckpoint
	if err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Order("seq").Find(&cps).Error; err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return cps, nil
}
