package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tandem/activities/auditlog"
)

// AuditTree is how much of a tenant's chain its Merkle tree holds, and its root.
type AuditTree struct {
	TenantID string `gorm:"primaryKey"`
	Size     int64
	Root     []byte
}

type auditTreeHash struct {
	TenantID string
	Idx      int64
	Hash     []byte
}

// integrateBatch is how many entries one integrating transaction adds.
const integrateBatch = 2000

// IntegrateAudit adds to the tenant's Merkle tree the chain's entries it
// does not hold yet, a batch per transaction, and returns the tree. Only
// its own row is locked, so appends to the chain go on meanwhile.
func (s *Store) IntegrateAudit(ctx context.Context, tenantID string) (AuditTree, error) {
	for {
		tree, added, err := s.integrateBatch(ctx, tenantID)
		if err != nil || added < integrateBatch {
			return tree, err
		}
	}
}

func (s *Store) integrateBatch(ctx context.Context, tenantID string) (AuditTree, int, error) {
	var tree AuditTree
	added := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		empty, _ := tlog.TreeHash(0, nil) // the empty tree reads nothing
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&AuditTree{TenantID: tenantID, Size: 0, Root: empty[:]}).Error; err != nil {
			return fmt.Errorf("create audit tree: %w", err)
		}
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("tenant_id = ?", tenantID).Take(&tree).Error; err != nil {
			return fmt.Errorf("lock audit tree: %w", err)
		}
		var entries []struct {
			Seq            int64
			Hash, PrevHash []byte
		}
		if err := tx.Raw(`SELECT seq, hash, prev_hash FROM audit_events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
			tenantID, tree.Size, integrateBatch).Scan(&entries).Error; err != nil {
			return fmt.Errorf("read audit entries: %w", err)
		}
		if len(entries) == 0 {
			return nil
		}
		r := &treeReader{ctx: ctx, db: tx, tenantID: tenantID, known: map[int64]tlog.Hash{}}
		var rows []auditTreeHash
		for _, e := range entries {
			if e.Seq != tree.Size+1 {
				return &ChainBrokenError{TenantID: tenantID, Seq: tree.Size + 1, Reason: fmt.Sprintf("entry %d follows %d", e.Seq, tree.Size)}
			}
			// Each entry must link to the one the tree holds before it: a
			// chain rewritten below the tree's size is not carried on.
			if tree.Size > 0 {
				leaf, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, tree.Size-1)})
				if err != nil {
					return err
				}
				if auditlog.LeafHash(e.PrevHash) != leaf[0] {
					return &ChainBrokenError{TenantID: tenantID, Seq: e.Seq, Reason: "its previous-hash is not the hash of the entry the tree holds before it"}
				}
			}
			hashes, err := tlog.StoredHashesForRecordHash(tree.Size, auditlog.LeafHash(e.Hash), r)
			if err != nil {
				return err
			}
			base := tlog.StoredHashCount(tree.Size)
			for i, h := range hashes {
				r.known[base+int64(i)] = h
				rows = append(rows, auditTreeHash{TenantID: tenantID, Idx: base + int64(i), Hash: h[:]})
			}
			tree.Size++
		}
		if err := tx.CreateInBatches(rows, 1000).Error; err != nil {
			return fmt.Errorf("store audit tree hashes: %w", err)
		}
		root, err := tlog.TreeHash(tree.Size, r)
		if err != nil {
			return err
		}
		tree.Root, added = root[:], len(entries)
		return tx.Model(&AuditTree{}).Where("tenant_id = ?", tenantID).
			Updates(map[string]any{"size": tree.Size, "root": tree.Root}).Error
	})
	return tree, added, err
}

// ChainBrokenError is a chain the tree cannot be extended with: a gap, or
// an entry that does not link to the one the tree already holds.
type ChainBrokenError struct {
	TenantID string
	Seq      int64
	Reason   string
}

func (e *ChainBrokenError) Error() string {
	return fmt.Sprintf("audit chain of %s is broken at %d (%s): not integrated", e.TenantID, e.Seq, e.Reason)
}

// treeReader reads a tenant's stored tree hashes, keeping what it has
// read or been given: integrating a batch reads each hash once.
type treeReader struct {
	ctx      context.Context
	db       *gorm.DB
	tenantID string
	known    map[int64]tlog.Hash
}

func (r *treeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	var missing []int64
	for _, i := range indexes {
		if _, ok := r.known[i]; !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		var rows []auditTreeHash
		if err := r.db.WithContext(r.ctx).Where("tenant_id = ? AND idx IN ?", r.tenantID, missing).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("read audit tree hashes: %w", err)
		}
		for _, row := range rows {
			var h tlog.Hash
			copy(h[:], row.Hash)
			r.known[row.Idx] = h
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		h, ok := r.known[idx]
		if !ok {
			return nil, fmt.Errorf("audit tree of %s: stored hash %d is missing", r.tenantID, idx)
		}
		out[i] = h
	}
	return out, nil
}

func (s *Store) treeReader(ctx context.Context, tenantID string) *treeReader {
	return &treeReader{ctx: ctx, db: s.db, tenantID: tenantID, known: map[int64]tlog.Hash{}}
}

// GetAuditTree returns the tenant's tree as integrated so far.
func (s *Store) GetAuditTree(ctx context.Context, tenantID string) (AuditTree, error) {
	tree := AuditTree{TenantID: tenantID}
	err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Take(&tree).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		empty, _ := tlog.TreeHash(0, nil)
		return AuditTree{TenantID: tenantID, Root: empty[:]}, nil
	}
	if err != nil {
		return tree, fmt.Errorf("read audit tree: %w", err)
	}
	return tree, nil
}

// ProveInclusion proves that entry seq is in the tenant's tree of size entries.
func (s *Store) ProveInclusion(ctx context.Context, tenantID string, seq, size int64) ([]tlog.Hash, error) {
	if seq < 1 || seq > size {
		return nil, fmt.Errorf("entry %d is not in a tree of %d entries", seq, size)
	}
	return tlog.ProveRecord(size, seq-1, s.treeReader(ctx, tenantID))
}

// ProveConsistency proves that the tenant's tree of size entries extends
// its tree of from entries.
func (s *Store) ProveConsistency(ctx context.Context, tenantID string, from, size int64) ([]tlog.Hash, error) {
	if from < 1 || from > size {
		return nil, fmt.Errorf("no consistency proof from %d to %d entries", from, size)
	}
	return tlog.ProveTree(size, from, s.treeReader(ctx, tenantID))
}

// CheckpointRefusedError is a checkpoint the signer would not sign: the
// tree does not extend the last one signed.
type CheckpointRefusedError struct {
	TenantID string
	Size     int64 // the tree's size now
	Signed   int64 // the size of the checkpoint it does not extend
	Reason   string
}

func (e *CheckpointRefusedError) Error() string {
	return fmt.Sprintf("audit checkpoint of %s refused: the tree of %d entries does not extend the checkpoint of %d: %s",
		e.TenantID, e.Size, e.Signed, e.Reason)
}

// AuditCheckpointRefused is the audit action of a refused checkpoint.
const AuditCheckpointRefused = "audit.checkpoint_refused"

// CheckpointAudit integrates the tenant's chain into its tree and signs a
// checkpoint of it, unless the newest checkpoint already covers it. Before
// signing it proves the tree consistent with the last checkpoint in the
// database and the last one kept outside it (external, may be nil); if either
// is not contained in the tree it signs nothing, records the refusal on the
// tenant's trail and returns a *CheckpointRefusedError. The checkpoint made
// is stored and appended to external; it is returned, or nil.
func (s *Store) CheckpointAudit(ctx context.Context, tenantID string, signer note.Signer, pub ed25519.PublicKey, external auditlog.CheckpointLog) (*auditlog.SignedCheckpoint, error) {
	verifier, err := auditlog.Verifier(pub)
	if err != nil {
		return nil, err
	}
	if _, err := s.SequenceAudit(ctx, tenantID); err != nil {
		return nil, err
	}
	tree, err := s.IntegrateAudit(ctx, tenantID)
	var broken *ChainBrokenError
	if errors.As(err, &broken) {
		signed, _ := s.LatestLogCheckpoint(ctx, tenantID)
		at := int64(0)
		if signed != nil {
			at = signed.Seq
		}
		return nil, s.refuseCheckpoint(ctx, &CheckpointRefusedError{TenantID: tenantID, Size: broken.Seq, Signed: at, Reason: broken.Error()})
	}
	if err != nil || tree.Size == 0 {
		return nil, err
	}
	var root tlog.Hash
	copy(root[:], tree.Root)
	priors := []*auditlog.SignedCheckpoint{}
	latest, err := s.LatestCheckpoint(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	priors = append(priors, latest)
	var outside *auditlog.SignedCheckpoint
	if external != nil {
		if outside, err = external.Last(ctx, tenantID); err != nil {
			return nil, err
		}
		priors = append(priors, outside)
	}
	covered := false
	for _, p := range priors {
		if p == nil {
			continue
		}
		same, reason := s.extends(ctx, tenantID, tree.Size, root, *p, pub, verifier)
		if reason != "" {
			return nil, s.refuseCheckpoint(ctx, &CheckpointRefusedError{TenantID: tenantID, Size: tree.Size, Signed: p.Seq, Reason: reason})
		}
		covered = covered || (same && p == latest)
	}
	if covered {
		// Signed already; it may not have reached the outside log.
		if external != nil && (outside == nil || outside.Seq < latest.Seq) {
			return nil, external.Append(ctx, *latest)
		}
		return nil, nil
	}
	signed, err := auditlog.Sign(signer, tenantID, tree.Size, root)
	if err != nil {
		return nil, err
	}
	cp := auditlog.SignedCheckpoint{TenantID: tenantID, Seq: tree.Size, Hash: root[:], SignedAt: time.Now().UTC().Truncate(time.Microsecond),
		KeyID: fmt.Sprintf("%08x", signer.KeyHash()), Signature: []byte{}, Note: signed}
	created := s.db.WithContext(ctx).Table("audit_checkpoints").Clauses(clause.OnConflict{DoNothing: true}).Create(&cp)
	if created.Error != nil {
		return nil, fmt.Errorf("store checkpoint: %w", created.Error)
	}
	if created.RowsAffected == 0 {
		return nil, nil // a chain-head checkpoint holds this size: the next entry makes a new one
	}
	if external != nil {
		if err := external.Append(ctx, cp); err != nil {
			return nil, err
		}
	}
	return &cp, nil
}

// extends says whether the tree (size, root) contains checkpoint p: same
// when p is of this very tree, reason when it does not contain it.
func (s *Store) extends(ctx context.Context, tenantID string, size int64, root tlog.Hash, p auditlog.SignedCheckpoint, pub ed25519.PublicKey, verifier note.Verifier) (same bool, reason string) {
	if p.Note == "" {
		// A chain-head checkpoint: the chain must still hold that hash there.
		if !ed25519.Verify(pub, auditlog.CheckpointMessage(p.TenantID, p.Seq, p.Hash), p.Signature) || p.TenantID != tenantID {
			return false, "the last checkpoint is not signed by the audit key"
		}
		if p.Seq > size {
			return false, fmt.Sprintf("the chain has %d entries, fewer than the checkpoint signed", size)
		}
		var h []byte
		if err := s.db.WithContext(ctx).Raw(`SELECT hash FROM audit_events WHERE tenant_id = ? AND seq = ?`, tenantID, p.Seq).Scan(&h).Error; err != nil {
			return false, "reading the chain: " + err.Error()
		}
		if !bytes.Equal(h, p.Hash) {
			return false, fmt.Sprintf("entry %d no longer has the hash the checkpoint signed", p.Seq)
		}
		return false, ""
	}
	cp, err := auditlog.Open(p.Note, tenantID, verifier)
	if err != nil {
		return false, "the last checkpoint is not signed by the audit key: " + err.Error()
	}
	if cp.Size > size {
		return false, fmt.Sprintf("the tree has %d entries, fewer than the checkpoint signed", size)
	}
	if cp.Size == size {
		if cp.Root != root {
			return false, "a tree of the same size with another root: the history was rewritten"
		}
		return true, ""
	}
	proof, err := tlog.ProveTree(size, cp.Size, s.treeReader(ctx, tenantID))
	if err != nil {
		return false, "proving consistency: " + err.Error()
	}
	if err := auditlog.CheckConsistency(proof, size, root, cp.Size, cp.Root); err != nil {
		return false, "no consistency proof: entries at or before it were removed, changed or rewritten"
	}
	return false, ""
}

// refuseCheckpoint records a refusal on the tenant's trail (once for each
// checkpoint the tree does not extend) and returns it.
func (s *Store) refuseCheckpoint(ctx context.Context, e *CheckpointRefusedError) error {
	_, err := s.AppendAudit(ctx, AuditEvent{TenantID: e.TenantID,
		ID:        fmt.Sprintf("%s:%s:%d", e.TenantID, AuditCheckpointRefused, e.Signed),
		ActorKind: "system", ActorID: "tandem", Action: AuditCheckpointRefused, ObjectType: "audit", ObjectID: e.TenantID,
		Decision: "deny", Outcome: "failed", Reason: e.Reason,
		Details: fmt.Sprintf(`{"size":%d,"checkpoint":%d}`, e.Size, e.Signed)})
	if err != nil {
		return errors.Join(e, err)
	}
	return e
}

// AddCosignature keeps a witness's cosignature line of the tenant's
// checkpoint of seq entries. The caller has checked it.
func (s *Store) AddCosignature(ctx context.Context, tenantID string, seq int64, witness, line string) error {
	err := s.db.WithContext(ctx).Exec(`INSERT INTO audit_cosignatures (tenant_id, seq, witness, signature) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, tenantID, seq, witness, line).Error
	if err != nil {
		return fmt.Errorf("store cosignature: %w", err)
	}
	return nil
}

// cosignatures returns the cosignature lines kept for each of the tenant's checkpoints.
func (s *Store) cosignatures(ctx context.Context, tenantID string) (map[int64][]string, error) {
	var rows []struct {
		Seq       int64
		Signature string
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT seq, signature FROM audit_cosignatures WHERE tenant_id = ? ORDER BY seq, witness`,
		tenantID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read cosignatures: %w", err)
	}
	out := map[int64][]string{}
	for _, r := range rows {
		out[r.Seq] = append(out[r.Seq], r.Signature)
	}
	return out, nil
}

// LastCosigned is the size of the tenant's newest checkpoint the witness
// has cosigned, or 0.
func (s *Store) LastCosigned(ctx context.Context, tenantID, witness string) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Raw(`SELECT coalesce(max(seq), 0) FROM audit_cosignatures WHERE tenant_id = ? AND witness = ?`,
		tenantID, witness).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("read cosignatures: %w", err)
	}
	return n, nil
}

// Cosigned returns a checkpoint's note with the cosignatures kept for it added.
func (s *Store) Cosigned(ctx context.Context, cp auditlog.SignedCheckpoint) (string, error) {
	var lines []string
	if err := s.db.WithContext(ctx).Raw(`SELECT signature FROM audit_cosignatures WHERE tenant_id = ? AND seq = ? ORDER BY witness`,
		cp.TenantID, cp.Seq).Scan(&lines).Error; err != nil {
		return "", fmt.Errorf("read cosignatures: %w", err)
	}
	return auditlog.AddSignatures(cp.Note, lines), nil
}

// sortCheckpoints orders checkpoints by position and drops repeats of one
// checkpoint (the database's and the outside log's copy).
func sortCheckpoints(cps []auditlog.SignedCheckpoint) []auditlog.SignedCheckpoint {
	slices.SortStableFunc(cps, func(a, b auditlog.SignedCheckpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	return slices.CompactFunc(cps, func(a, b auditlog.SignedCheckpoint) bool {
		return a.Seq == b.Seq && bytes.Equal(a.Hash, b.Hash) && (a.Note == "") == (b.Note == "")
	})
}
