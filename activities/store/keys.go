package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrLegalHold: a legal hold forbids the erasure.
var ErrLegalHold = errors.New("under legal hold")

// ErrNoKeyring: the store was opened without master keys and cannot touch personal data.
var ErrNoKeyring = errors.New("no master key configured")

// MasterKey is a 32-byte AES key with a short ID that is stored beside what
// it wraps, so a keyring can hold old keys during a rotation.
type MasterKey struct {
	ID  string
	Key []byte
}

// Keyring holds the current master key, which wraps new data keys, and the
// previous ones, which still unwrap old ones until `tandem keys rotate`.
type Keyring struct {
	current MasterKey
	byID    map[string][]byte
	// indexKeys holds tenants' blind-index keys once they are surely
	// committed: a tenant's never changes, and every projection write and
	// customer lookup needs it. So a keyring serves one database.
	indexKeys sync.Map // tenant ID → []byte
	// searchKeys holds customers' search keys (derived from their data
	// keys) by data key ID. A search uses only the keys the database lists
	// as live, so one kept here after an erasure is never used again.
	searchKeys sync.Map // data key ID → []byte
}

// NewKeyring checks the keys and returns a keyring wrapping with current.
func NewKeyring(current MasterKey, previous ...MasterKey) (*Keyring, error) {
	k := &Keyring{current: current, byID: map[string][]byte{}}
	for _, m := range append([]MasterKey{current}, previous...) {
		if m.ID == "" || len(m.Key) != 32 {
			return nil, fmt.Errorf("master key %q: need an ID and 32 bytes", m.ID)
		}
		if _, dup := k.byID[m.ID]; dup {
			return nil, fmt.Errorf("master key ID %q appears twice", m.ID)
		}
		k.byID[m.ID] = m.Key
	}
	return k, nil
}

// UseKeyring gives the store the master keys it needs to read and write
// personal data.
func (s *Store) UseKeyring(k *Keyring) { s.keys = k }

// seal encrypts with AES-256-GCM; aad binds the ciphertext to where it is
// stored, so it cannot be moved to another row. Output: nonce || ciphertext.
func seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

func open(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (k *Keyring) wrap(dek []byte, aad string) ([]byte, string, error) {
	ct, err := seal(k.current.Key, dek, []byte(aad))
	return ct, k.current.ID, err
}

func (k *Keyring) unwrap(masterID string, wrapped []byte, aad string) ([]byte, error) {
	key, ok := k.byID[masterID]
	if !ok {
		return nil, fmt.Errorf("%w: the database's keys are wrapped by master key %q, which is not in the keyring", ErrWrongMasterKey, masterID)
	}
	dek, err := open(key, wrapped, []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: the database's keys are wrapped by a master key with ID %q, but not by the one configured under that ID (%v)", ErrWrongMasterKey, masterID, err)
	}
	return dek, nil
}

// ErrWrongMasterKey: the database's data keys were wrapped by another master
// key than the one configured (another checkout's, or one since lost).
var ErrWrongMasterKey = errors.New("wrong master key")

// rewrap opens a key wrapped by any master key and wraps it with the current one.
func (k *Keyring) rewrap(masterID string, wrapped []byte, aad string) ([]byte, string, error) {
	raw, err := k.unwrap(masterID, wrapped, aad)
	if err != nil {
		return nil, "", err
	}
	return k.wrap(raw, aad)
}

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
	return blindIndex(idx, customerRef), nil
}

// tenantIndexKey is the tenant's blind-index key, made on first use.
func (s *Store) tenantIndexKey(ctx context.Context, tenantID string) ([]byte, error) {
	if s.keys == nil {
		return nil, ErrNoKeyring
	}
	if idx, ok := s.keys.indexKeys.Load(tenantID); ok {
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
		wrapped, mid, werr := s.keys.wrap(raw, aad)
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
	idx, err := s.keys.unwrap(tk.MasterKeyID, tk.WrappedKey, aad)
	if err != nil {
		return nil, err
	}
	// A key made a moment ago may belong to a transaction that is yet to
	// commit (or to roll back): only an older one is kept.
	if time.Since(tk.CreatedAt) > time.Minute {
		s.keys.indexKeys.Store(tenantID, idx)
	}
	return idx, nil
}

func blindIndex(idx []byte, customerRef string) []byte {
	mac := hmac.New(sha256.New, idx)
	mac.Write([]byte(customerRef))
	return mac.Sum(nil)
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
		wrapped, mid, werr := s.keys.wrap(raw, "data-key:"+id)
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
	raw, err := s.keys.unwrap(dk.MasterKeyID, dk.WrappedKey, "data-key:"+dk.ID)
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
	if err := s.db.WithContext(ctx).Where("master_key_id <> ?", s.keys.current.ID).Find(&tks).Error; err != nil {
		return n, err
	}
	for _, tk := range tks {
		wrapped, mid, err := s.keys.rewrap(tk.MasterKeyID, tk.WrappedKey, "tenant-index:"+tk.TenantID)
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
		if err := s.db.WithContext(ctx).Where("master_key_id <> ? AND destroyed_at IS NULL", s.keys.current.ID).
			Limit(500).Find(&dks).Error; err != nil {
			return n, err
		}
		if len(dks) == 0 {
			return n, nil
		}
		for _, dk := range dks {
			wrapped, mid, err := s.keys.rewrap(dk.MasterKeyID, dk.WrappedKey, "data-key:"+dk.ID)
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
