package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tandem/activities/envelope"
)

// ErrLegalHold: a legal hold forbids the erasure.
var ErrLegalHold = errors.New("under legal hold")

// ErrNoKeyring: the store was opened without master keys and cannot touch personal data.
var ErrNoKeyring = errors.New("no master key configured")

// unwrappedKeys holds what every projection write and search needs again:
// tenants' blind-index keys once they are surely committed (a tenant's
// never changes), and customers' search keys by data key ID (a search uses
// only the keys the database lists as live, so one kept here after an
// erasure is never used again). So a store serves one database.
type unwrappedKeys struct {
	index  sync.Map // tenant ID → []byte
	search sync.Map // data key ID → []byte
}

// UseKeyring gives the store the master keys it needs to read and write
// personal data.
func (s *Store) UseKeyring(k *envelope.Keyring) { s.keys, s.unwrapped = k, &unwrappedKeys{} }

type tenantKey struct {
	TenantID    string `gorm:"primaryKey"`
	WrappedKey  []byte
	MasterKeyID string
	CreatedAt   time.Time
}

type dataKey struct {
	ID           string `gorm:"primaryKey"`
	TenantID     string
	CustomerHash []byte
	WrappedKey   []byte
	MasterKeyID  string
	CreatedAt    time.Time
	DestroyedAt  *time.Time
}

// customerHash is the blind index of a customer reference within a tenant.
func (s *Store) customerHash(ctx context.Context, tenantID, customerRef string) ([]byte, error) {
	idx, err := s.tenantIndexKey(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return envelope.BlindIndex(idx, customerRef), nil
}

// tenantIndexKey is the tenant's blind-index key, made on first use.
func (s *Store) tenantIndexKey(ctx context.Context, tenantID string) ([]byte, error) {
	if s.keys == nil {
		return nil, ErrNoKeyring
	}
	if idx, ok := s.unwrapped.index.Load(tenantID); ok {
		return idx.([]byte), nil
	}
	db := s.db.WithContext(ctx)
	aad := "tenant-index:" + tenantID
	var tk tenantKey
	err := db.Where("tenant_id = ?", tenantID).Take(&tk).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		wrapped, mid, werr := s.keys.Wrap(raw, aad)
		if werr != nil {
			return nil, werr
		}
		tk = tenantKey{TenantID: tenantID, WrappedKey: wrapped, MasterKeyID: mid}
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&tk).Error; err != nil {
			return nil, fmt.Errorf("create tenant index key: %w", err)
		}
		err = db.Where("tenant_id = ?", tenantID).Take(&tk).Error // whoever won the race
	}
	if err != nil {
		return nil, fmt.Errorf("read tenant index key: %w", err)
	}
	idx, err := s.keys.Unwrap(tk.MasterKeyID, tk.WrappedKey, aad)
	if err != nil {
		return nil, err
	}
	// A key made a moment ago may belong to a transaction that is yet to
	// commit (or to roll back): only an older one is kept.
	if time.Since(tk.CreatedAt) > time.Minute {
		s.unwrapped.index.Store(tenantID, idx)
	}
	return idx, nil
}

// ErrCustomerErased refuses a write for a customer whose data was erased:
// a fresh key would make what is written after the erasure readable again.
var ErrCustomerErased error = keyGone("the customer's personal data was erased")

// keyGone is an error no retry of a key lookup will change (the payload
// codec stops retrying on it).
type keyGone string

func (e keyGone) Error() string { return string(e) }

// KeyGone says the key will never be there.
func (keyGone) KeyGone() bool { return true }

// customerKey returns the live data key of a customer, creating it if
// needed; ErrCustomerErased if the customer's key was destroyed.
func (s *Store) customerKey(ctx context.Context, tenantID string, custHash []byte) (string, []byte, error) {
	db := s.db.WithContext(ctx)
	var dk dataKey
	err := db.Where("tenant_id = ? AND customer_hash = ? AND destroyed_at IS NULL", tenantID, custHash).Take(&dk).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		erased, eerr := s.erased(ctx, tenantID, custHash)
		if eerr != nil {
			return "", nil, eerr
		}
		if erased {
			return "", nil, ErrCustomerErased
		}
		raw := make([]byte, 32)
		idBytes := make([]byte, 8)
		if _, err := rand.Read(raw); err != nil {
			return "", nil, err
		}
		if _, err := rand.Read(idBytes); err != nil {
			return "", nil, err
		}
		id := "dk_" + hex.EncodeToString(idBytes)
		wrapped, mid, werr := s.keys.Wrap(raw, "data-key:"+id)
		if werr != nil {
			return "", nil, werr
		}
		dk = dataKey{ID: id, TenantID: tenantID, CustomerHash: custHash, WrappedKey: wrapped, MasterKeyID: mid}
		res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&dk)
		if res.Error != nil {
			return "", nil, fmt.Errorf("create data key: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			return id, raw, nil
		}
		// Another request created it first. A fresh struct: gorm would add
		// the losing key's ID to the condition.
		dk = dataKey{}
		err = db.Where("tenant_id = ? AND customer_hash = ? AND destroyed_at IS NULL", tenantID, custHash).Take(&dk).Error
	}
	if err != nil {
		return "", nil, fmt.Errorf("read data key: %w", err)
	}
	raw, err := s.keys.Unwrap(dk.MasterKeyID, dk.WrappedKey, "data-key:"+dk.ID)
	return dk.ID, raw, err
}

// RotateMasterKey re-wraps every key wrapped by an older master key with the
// current one, in batches, and returns how many it re-wrapped. Running
// processes keep working throughout: they hold the old keys until restarted
// with only the new one.
func (s *Store) RotateMasterKey(ctx context.Context) (int, error) {
	if s.keys == nil {
		return 0, ErrNoKeyring
	}
	n := 0
	var tks []tenantKey
	if err := s.db.WithContext(ctx).Where("master_key_id <> ?", s.keys.CurrentID()).Find(&tks).Error; err != nil {
		return n, err
	}
	for _, tk := range tks {
		wrapped, mid, err := s.keys.Rewrap(tk.MasterKeyID, tk.WrappedKey, "tenant-index:"+tk.TenantID)
		if err != nil {
			return n, err
		}
		if err := s.db.WithContext(ctx).Model(&tenantKey{}).Where("tenant_id = ? AND master_key_id = ?", tk.TenantID, tk.MasterKeyID).
			Updates(map[string]any{"wrapped_key": wrapped, "master_key_id": mid}).Error; err != nil {
			return n, err
		}
		n++
	}
	for {
		var dks []dataKey
		if err := s.db.WithContext(ctx).Where("master_key_id <> ? AND destroyed_at IS NULL", s.keys.CurrentID()).
			Limit(500).Find(&dks).Error; err != nil {
			return n, err
		}
		if len(dks) == 0 {
			return n, nil
		}
		for _, dk := range dks {
			wrapped, mid, err := s.keys.Rewrap(dk.MasterKeyID, dk.WrappedKey, "data-key:"+dk.ID)
			if err != nil {
				return n, err
			}
			// Only if still live and unchanged: an erasure meanwhile must win.
			res := s.db.WithContext(ctx).Model(&dataKey{}).
				Where("id = ? AND master_key_id = ? AND destroyed_at IS NULL", dk.ID, dk.MasterKeyID).
				Updates(map[string]any{"wrapped_key": wrapped, "master_key_id": mid})
			if res.Error != nil {
				return n, res.Error
			}
			n += int(res.RowsAffected)
		}
	}
}
