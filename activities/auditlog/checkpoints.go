package auditlog

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// SignedCheckpoint is a signed statement of a tenant's log: with a Note, a
// C2SP checkpoint of its Merkle tree of Seq entries, whose root is Hash;
// without, an older kind that signed the chain's hash at Seq (Signature
// over CheckpointMessage).
type SignedCheckpoint struct {
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

// CheckpointLog keeps signed checkpoints outside PostgreSQL, append-only,
// so that whoever can rewrite the database (its owner, a superuser) cannot
// also remove the evidence of what the chain held. DirLog is the built-in
// one; an object store with a retention lock (S3 Object Lock, GCS bucket
// lock) fits the same two methods.
type CheckpointLog interface {
	// Append adds a checkpoint after the log's last one of its tenant.
	Append(ctx context.Context, cp SignedCheckpoint) error
	// Last returns the tenant's newest checkpoint, or nil.
	Last(ctx context.Context, tenantID string) (*SignedCheckpoint, error)
	// All returns every checkpoint of the tenant's, oldest first.
	All(ctx context.Context, tenantID string) ([]SignedCheckpoint, error)
}

// DirLog keeps one JSON-lines file per tenant in a directory, only ever
// appended to and synced to disk. On Linux `chattr +a` on the files (or a
// directory on another machine, mounted append-only) keeps even root of the
// database host from rewriting them.
type DirLog struct {
	Dir string
	mu  sync.Mutex
}

var tenantFile = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

func (l *DirLog) path(tenantID string) (string, error) {
	if !tenantFile.MatchString(tenantID) {
		return "", fmt.Errorf("checkpoint log: tenant ID %q", tenantID)
	}
	return filepath.Join(l.Dir, tenantID+".checkpoints.jsonl"), nil
}

// Append writes cp as a line at the end of its tenant's file, unless the
// file already holds a checkpoint at cp's position or later. Appenders take
// the file's lock (flock), so that processes sharing the directory (a
// worker's checkpointer, an API's export) append in order.
func (l *DirLog) Append(ctx context.Context, cp SignedCheckpoint) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, err := l.path(cp.TenantID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.Dir, 0o750); err != nil {
		return fmt.Errorf("checkpoint log: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("checkpoint log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint log: lock: %w", err)
	}
	last, err := l.last(cp.TenantID)
	if err != nil || (last != nil && last.Seq >= cp.Seq) {
		f.Close() // and the lock with it
		return err
	}
	line, _ := json.Marshal(cp) // a struct of plain fields always marshals
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint log: %w", err)
	}
	return f.Close()
}

// Last reads the tenant's file to its last checkpoint.
func (l *DirLog) Last(ctx context.Context, tenantID string) (*SignedCheckpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last(tenantID)
}

// last is the checkpoint of the most entries in the tenant's file.
func (l *DirLog) last(tenantID string) (*SignedCheckpoint, error) {
	all, err := l.all(tenantID)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	newest := &all[0]
	for i := range all {
		if all[i].Seq > newest.Seq {
			newest = &all[i]
		}
	}
	return newest, nil
}

// All reads the tenant's file whole.
func (l *DirLog) All(ctx context.Context, tenantID string) ([]SignedCheckpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all(tenantID)
}

func (l *DirLog) all(tenantID string) ([]SignedCheckpoint, error) {
	p, err := l.path(tenantID)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint log: %w", err)
	}
	defer f.Close()
	var all []SignedCheckpoint
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var cp SignedCheckpoint
		if err := json.Unmarshal(sc.Bytes(), &cp); err != nil {
			return nil, fmt.Errorf("checkpoint log %s: a line is not a checkpoint: %w", p, err)
		}
		all = append(all, cp)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint log: %w", err)
	}
	return all, nil
}
