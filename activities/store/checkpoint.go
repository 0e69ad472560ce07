package store

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// AuditCheckpoint is a signed statement of a tenant's log: with a Note, a
// C2SP checkpoint of its Merkle tree of Seq entries, whose root is Hash;
// without, an older kind that signed the chain's hash at Seq (Signature
// over CheckpointMessage).
type AuditCheckpoint struct {
	TenantID  string    `json:"tenant_id"`
	Seq       int64     `json:"seq"`
	Hash      []byte    `json:"hash"`
	SignedAt  time.Time `json:"signed_at"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature,omitempty"`
	Note      string    `json:"note,omitempty" gorm:"default:null"`
}

// CheckpointMessage is the byte string a chain-head checkpoint signs.
func CheckpointMessage(tenantID string, seq int64, hash []byte) []byte {
	return []byte("tandem-audit-checkpoint/v1\n" + tenantID + "\n" + strconv.FormatInt(seq, 10) + "\n" + hex.EncodeToString(hash))
}

// KeyID names a verification key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// checkpoints returns the tenant's checkpoints in order.
func (s *Store) checkpoints(ctx context.Context, tenantID string) ([]AuditCheckpoint, error) {
	var cps []AuditCheckpoint
	if err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Order("seq").Find(&cps).Error; err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return cps, nil
}
