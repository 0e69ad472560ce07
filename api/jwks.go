package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// KeySet holds the public keys that sign people's RS256 and ES256 tokens in
// production (an identity provider's JWKS), by key ID. It is safe for
// concurrent use and can be replaced while serving.
type KeySet struct {
	mu   sync.RWMutex
	keys map[string]any // *rsa.PublicKey or *ecdsa.PublicKey
}

// ParseJWKS reads a JSON Web Key Set (go-jose parses the keys and checks
// that an EC point is on its curve). Keys not for signing are skipped;
// RSA keys under 2048 bits, curves other than P-256 and P-384, and keys
// without a kid are refused; a set with no usable key is an error.
func ParseJWKS(data []byte) (*KeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	ks := &KeySet{keys: map[string]any{}}
	for _, k := range set.Keys {
		if k.KeyID == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			if key.N.BitLen() < 2048 {
				return nil, fmt.Errorf("JWKS key %q: RSA keys under 2048 bits are refused", k.KeyID)
			}
		case *ecdsa.PublicKey:
			if name := key.Curve.Params().Name; name != "P-256" && name != "P-384" {
				return nil, fmt.Errorf("JWKS key %q: curve %q is not supported", k.KeyID, name)
			}
		default:
			continue // another kind of key, or a private one: not ours to use
		}
		ks.keys[k.KeyID] = k.Key
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("JWKS: no RSA or EC signing key with a kid")
	}
	return ks, nil
}

// Replace swaps in the keys of other (after a refresh).
func (ks *KeySet) Replace(other *KeySet) {
	other.mu.RLock()
	keys := other.keys
	other.mu.RUnlock()
	ks.mu.Lock()
	ks.keys = keys
	ks.mu.Unlock()
}

func (ks *KeySet) key(kid string) (any, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	k, ok := ks.keys[kid]
	return k, ok
}

// FetchJWKS downloads and parses a JWKS.
func FetchJWKS(ctx context.Context, url string) (*KeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	return ParseJWKS(data)
}
