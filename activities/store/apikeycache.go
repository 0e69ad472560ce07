package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"tandem/activities/notify"
)

// keyChannel is the channel PostgreSQL notifies (migration 0039's trigger)
// with a key's ID when the key is revoked, deleted or otherwise changed.
const keyChannel = "tandem_api_keys"

// How long a key read stays in memory, and how many are kept. A change is
// heard at once through keyChannel; the age bounds what a notification
// lost without the connection noticing could leave behind.
const (
	keyCacheAge   = time.Minute
	keyCacheLimit = 10_000
)

// KeyCache authenticates API keys from memory, so that a request with a
// known key reads nothing from PostgreSQL. It keeps a key only while Listen
// is connected: a revocation, from the API or by hand in SQL, reaches every
// process through LISTEN/NOTIFY and is in force here as soon as the
// notification arrives; while the connection is down, every request reads
// its key. One per process: Listen holds one connection of its own.
type KeyCache struct {
	st        *Store
	log       *slog.Logger
	listening atomic.Bool

	mu   sync.Mutex
	keys map[string]cachedAPIKey
	// gen counts the changes heard of: a read that began before one is
	// not kept, for it may predate the change.
	gen  uint64
	used map[string]time.Time // when this process last recorded each key's use
}

type cachedAPIKey struct {
	key   APIKey
	until time.Time
}

// KeyCache returns the store's API key cache; Listen runs it.
func (s *Store) KeyCache(log *slog.Logger) *KeyCache {
	return &KeyCache{st: s, log: log, keys: map[string]cachedAPIKey{}, used: map[string]time.Time{}}
}

// Authenticate returns the live key that token is, or ErrInvalidAPIKey.
// When the key was last used is recorded at most once a minute per process,
// after the answer, not before it.
func (k *KeyCache) Authenticate(ctx context.Context, token string) (APIKey, error) {
	id, secret, err := parseAPIKey(token)
	if err != nil {
		return APIKey{}, err
	}
	now := time.Now()
	k.mu.Lock()
	e, ok := k.keys[id]
	gen := k.gen
	k.mu.Unlock()
	if !ok || !k.listening.Load() || now.After(e.until) {
		key, err := k.st.readAPIKey(ctx, id)
		if err != nil {
			return APIKey{}, err
		}
		e = cachedAPIKey{key: key, until: now.Add(keyCacheAge)}
		k.keep(id, e, gen)
	}
	if err := checkSecret(e.key, secret); err != nil {
		return APIKey{}, err
	}
	k.recordUse(e.key.ID, now)
	return e.key, nil
}

// keep remembers a key read at generation gen, unless a change was heard
// of since or nobody listens.
func (k *KeyCache) keep(id string, e cachedAPIKey, gen uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gen != gen || !k.listening.Load() {
		return
	}
	if len(k.keys) >= keyCacheLimit {
		clear(k.keys)
	}
	k.keys[id] = e
}

// recordUse writes the key's last use when this process has not for a
// minute, in the background: bookkeeping never delays a request.
func (k *KeyCache) recordUse(id string, now time.Time) {
	k.mu.Lock()
	if last, ok := k.used[id]; ok && now.Sub(last) < time.Minute {
		k.mu.Unlock()
		return
	}
	if len(k.used) >= keyCacheLimit {
		clear(k.used)
	}
	k.used[id] = now
	k.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := k.st.db.WithContext(ctx).Model(&APIKey{}).Where("id = ?", id).Update("last_used_at", now.UTC()).Error
		if err != nil {
			k.log.Warn("record API key use", "key", id, "err", err)
		}
	}()
}

// Forget drops a key this process has just changed (a revocation through
// it), before its notification comes back.
func (k *KeyCache) Forget(id string) { k.forget(id) }

// forget drops one key, or every key for "", and marks a change.
func (k *KeyCache) forget(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
	if id == "" {
		clear(k.keys)
		return
	}
	delete(k.keys, id)
}

// Listening says changes to keys are being heard, so keys are kept.
func (k *KeyCache) Listening() bool { return k.listening.Load() }

// Listen hears of key changes until ctx ends, connecting again (after a
// pause that grows to 10 s) whenever the connection is lost; meanwhile
// nothing is kept.
func (k *KeyCache) Listen(ctx context.Context) {
	notify.Listen(ctx, k.st.dsn, keyChannel, &k.listening, k.log,
		"API key notifications: connection lost; keys are read for every request until it is back",
		func() { k.forget("") }, // whatever changed while no one listened
		k.forget)
}

// parseAPIKey splits tdm_<id>_<secret>.
func parseAPIKey(token string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(token, APIKeyPrefix)
	if !ok {
		return "", "", ErrInvalidAPIKey
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || secret == "" {
		return "", "", ErrInvalidAPIKey
	}
	return id, secret, nil
}

// readAPIKey reads a key by its ID; ErrInvalidAPIKey when there is none.
func (s *Store) readAPIKey(ctx context.Context, id string) (APIKey, error) {
	var key APIKey
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&key).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return APIKey{}, ErrInvalidAPIKey
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("look up API key: %w", err)
	}
	return key, nil
}

// checkSecret says the secret is the key's and the key is not revoked.
func checkSecret(key APIKey, secret string) error {
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], key.SecretHash) != 1 || key.RevokedAt != nil {
		return ErrInvalidAPIKey
	}
	return nil
}
