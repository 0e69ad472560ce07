// Package envelope is the encryption of personal data at rest: master keys
// wrap data keys, data keys seal records with AES-256-GCM, and an HMAC
// blind index finds a customer without storing who they are. It does no
// I/O: the store keeps the wrapped keys, the configuration the master keys.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

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

// CurrentID is the ID of the master key that wraps new keys.
func (k *Keyring) CurrentID() string { return k.current.ID }

// Wrap seals a data key under the current master key and says which.
func (k *Keyring) Wrap(dek []byte, aad string) (wrapped []byte, masterID string, err error) {
	ct, err := Seal(k.current.Key, dek, []byte(aad))
	return ct, k.current.ID, err
}

// Unwrap opens a data key wrapped by the master key masterID.
func (k *Keyring) Unwrap(masterID string, wrapped []byte, aad string) ([]byte, error) {
	key, ok := k.byID[masterID]
	if !ok {
		return nil, fmt.Errorf("%w: the database's keys are wrapped by master key %q, which is not in the keyring", ErrWrongMasterKey, masterID)
	}
	dek, err := Open(key, wrapped, []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: the database's keys are wrapped by a master key with ID %q, but not by the one configured under that ID (%v)", ErrWrongMasterKey, masterID, err)
	}
	return dek, nil
}

// Rewrap opens a key wrapped by any master key and wraps it with the current one.
func (k *Keyring) Rewrap(masterID string, wrapped []byte, aad string) ([]byte, string, error) {
	raw, err := k.Unwrap(masterID, wrapped, aad)
	if err != nil {
		return nil, "", err
	}
	return k.Wrap(raw, aad)
}

// ErrWrongMasterKey: the database's data keys were wrapped by another master
// key than the one configured (another checkout's, or one since lost).
var ErrWrongMasterKey = errors.New("wrong master key")

// Seal encrypts with AES-256-GCM; aad binds the ciphertext to where it is
// stored, so it cannot be moved to another row. Output: nonce || ciphertext.
func Seal(key, plaintext, aad []byte) ([]byte, error) {
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

// Open decrypts what Seal sealed under the same key and aad.
func Open(key, sealed, aad []byte) ([]byte, error) {
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

// BlindIndex is the HMAC of a value under an index key: equal values match,
// and the value cannot be read back.
func BlindIndex(indexKey []byte, value string) []byte {
	mac := hmac.New(sha256.New, indexKey)
	mac.Write([]byte(value))
	return mac.Sum(nil)
}

// SealDeterministic seals like Seal with a nonce derived from the key and
// nonceFrom, so sealing the same value for the same place twice gives the
// same bytes (a retried write is the same record). nonceFrom must hold the
// plaintext and where it is stored, or nonces would repeat across values.
func SealDeterministic(key, plaintext, aad, nonceFrom []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(nonceFrom)
	nonce := mac.Sum(nil)[:gcm.NonceSize()]
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}
