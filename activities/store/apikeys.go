package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ErrInvalidAPIKey: the key is malformed, unknown or revoked. Callers must
// not tell these apart to the client.
var ErrInvalidAPIKey = errors.New("invalid API key")

// APIKeyPrefix starts every API key, so keys are recognisable in logs and by
// secret scanners.
const APIKeyPrefix = "tdm_"

// APIKey is a service client's credential; the secret itself is never stored.
type APIKey struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	SecretHash []byte     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Channels the key serves, comma-separated ("": every channel).
	Channels  string `json:"channels,omitempty"`
	CreatedBy string `json:"created_by,omitempty"` // the person who made it
	// AssertionKey: the Ed25519 public key whose signed customer assertion
	// every request with this key must carry; nil: none required.
	AssertionKey []byte `json:"-"`
	// RequiresAssertion says so in listings.
	RequiresAssertion bool `gorm:"-" json:"requires_customer_assertion"`
}

// ChannelList is Channels as a list (nil: every channel).
func (k APIKey) ChannelList() []string {
	if k.Channels == "" {
		return nil
	}
	return strings.Split(k.Channels, ",")
}

// APIKeySpec is what a new key is made with.
type APIKeySpec struct {
	TenantID, Name, Role string
	Channels             []string // nil: every channel
	CreatedBy            string
	AssertionKey         []byte // an Ed25519 public key; nil: no assertion required
}

// CreateAPIKey makes a key for the tenant and returns it in full, which is
// the only time the secret is seen: tdm_<id>_<secret>.
func (s *Store) CreateAPIKey(ctx context.Context, tenantID, name, role string) (string, APIKey, error) {
	return s.CreateAPIKeyFor(ctx, APIKeySpec{TenantID: tenantID, Name: name, Role: role})
}

// CreateAPIKeyFor is CreateAPIKey with the key's channels and maker.
func (s *Store) CreateAPIKeyFor(ctx context.Context, spec APIKeySpec) (string, APIKey, error) {
	tenantID, name, role := spec.TenantID, spec.Name, spec.Role
	idBytes := make([]byte, 8)
	secret := make([]byte, 32)
	if _, err := rand.Read(idBytes); err != nil {
		return "", APIKey{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", APIKey{}, err
	}
	secretText := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(secretText))
	key := APIKey{ID: hex.EncodeToString(idBytes), TenantID: tenantID, Name: name, Role: role, SecretHash: sum[:],
		Channels: strings.Join(spec.Channels, ","), CreatedBy: spec.CreatedBy, AssertionKey: spec.AssertionKey, RequiresAssertion: spec.AssertionKey != nil}
	if err := s.db.WithContext(ctx).Create(&key).Error; err != nil {
		return "", APIKey{}, fmt.Errorf("create API key: %w", err)
	}
	return APIKeyPrefix + key.ID + "_" + secretText, key, nil
}

// AuthenticateAPIKey returns the live key that token is, or ErrInvalidAPIKey.
// It records when the key was last used, at most once a minute.
func (s *Store) AuthenticateAPIKey(ctx context.Context, token string) (APIKey, error) {
	id, secret, err := parseAPIKey(token)
	if err != nil {
		return APIKey{}, err
	}
	key, err := s.readAPIKey(ctx, id)
	if err != nil {
		return APIKey{}, err
	}
	if err := checkSecret(key, secret); err != nil {
		return APIKey{}, err
	}
	now := time.Now().UTC()
	if key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) > time.Minute {
		err := s.db.WithContext(ctx).Model(&APIKey{}).Where("id = ?", id).Update("last_used_at", now).Error
		if err != nil {
			return APIKey{}, fmt.Errorf("record API key use: %w", err)
		}
		key.LastUsedAt = &now
	}
	return key, nil
}

// ListAPIKeys returns the tenant's keys, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	var keys []APIKey
	err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Order("created_at DESC").Find(&keys).Error
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes a key of the tenant; revoking twice is not an error.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, id string) (APIKey, error) {
	res := s.db.WithContext(ctx).Model(&APIKey{}).
		Where("tenant_id = ? AND id = ? AND revoked_at IS NULL", tenantID, id).
		Update("revoked_at", time.Now().UTC())
	if res.Error != nil {
		return APIKey{}, fmt.Errorf("revoke API key: %w", res.Error)
	}
	var key APIKey
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Take(&key).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return APIKey{}, NotFound("api_key")
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("read API key: %w", err)
	}
	return key, nil
}

// AfterFind fills in what listings show of a key's assertion.
func (k *APIKey) AfterFind(*gorm.DB) error {
	k.RequiresAssertion = k.AssertionKey != nil
	return nil
}
