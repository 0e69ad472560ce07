package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"gorm.io/gorm"

	"tandem/activities/auditlog"
)

// AuditEvent is one entry of a tenant's audit chain.
type AuditEvent struct {
	TenantID   string    `json:"tenant_id"`
	Seq        int64     `json:"seq"`
	ID         string    `json:"id"` // idempotency: appending an ID twice stores it once
	OccurredAt time.Time `json:"occurred_at"`
	ActorKind  string    `json:"actor_kind"` // user, service, system, ai
	ActorID    string    `json:"actor_id"`
	Action     string    `json:"action"` // e.g. case.open, case.read, authz.deny
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	CaseID     string    `json:"case_id,omitempty"`
	Decision   string    `json:"decision"` // allow or deny
	Outcome    string    `json:"outcome"`  // success, denied, failed
	Reason     string    `json:"reason,omitempty"`
	Details    string    `json:"details"` // a JSON object, stored and hashed byte for byte
	PrevHash   []byte    `json:"prev_hash"`
	Hash       []byte    `json:"hash"`
}

type auditHead struct {
	TenantID string `gorm:"primaryKey"`
	Seq      int64
	Hash     []byte
}

// genesis is the previous hash of every chain's first entry.
var genesis = make([]byte, sha256.Size)

// canonical appends to buf the byte string an entry's hash covers besides
// the previous hash: every field in a fixed order, each as its length (an
// unsigned varint) followed by its UTF-8 bytes; the position in decimal and
// the time in RFC 3339 with nanoseconds, in UTC.
func (e *AuditEvent) canonical(buf []byte) []byte {
	var num [20]byte
	for _, f := range [...]string{
		e.TenantID, string(strconv.AppendInt(num[:0], e.Seq, 10)), e.ID, e.OccurredAt.UTC().Format(time.RFC3339Nano),
		e.ActorKind, e.ActorID, e.Action, e.ObjectType, e.ObjectID, e.CaseID,
		e.Decision, e.Outcome, e.Reason, e.Details,
	} {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	return buf
}

// ChainHash is an entry's hash: SHA-256 over the previous entry's hash (32
// zero bytes for the first) and the entry's canonical encoding. It is exported
// so that auditors can check an export independently.
func ChainHash(prev []byte, e AuditEvent) []byte {
	return (&chainHasher{h: sha256.New()}).sum(prev, &e)
}

// chainHasher reuses its buffers across entries: verification hashes millions.
type chainHasher struct {
	h   hash.Hash
	buf []byte
}

func (c *chainHasher) sum(prev []byte, e *AuditEvent) []byte {
	c.h.Reset()
	c.h.Write(prev)
	c.buf = e.canonical(c.buf[:0])
	c.h.Write(c.buf)
	return c.h.Sum(nil)
}

// InTx runs fn with a Store whose every call is part of one transaction.
// Audit entries it appends are queued with it and, once it has committed,
// sequenced into their chains.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.inTx(ctx, true, fn)
}

// inTx is InTx; without sequence, entries queued wait for the sequencer's
// round or the next reader (ListAudit sequences before it reads).
func (s *Store) inTx(ctx context.Context, sequence bool, fn func(tx *Store) error) error {
	tx := &Store{keys: s.keys, unwrapped: s.unwrapped, objects: s.objects, queued: map[string]bool{}}
	err := s.db.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		tx.db, tx.doomed = gtx, nil
		clear(tx.queued) // a retried function queues again
		return fn(tx)
	})
	if err != nil {
		return err
	}
	if sequence {
		s.sequenceQueued(ctx, tx.queued)
	}
	switch {
	case s.queued != nil: // nested: the objects go once the outer transaction commits
		s.doomed = append(s.doomed, tx.doomed...)
	case len(tx.doomed) > 0:
		s.deleteAfterCommit(ctx, tx.doomed)
	}
	return nil
}

// sequenceQueued sequences the tenants' queued entries after the
// transaction that queued them has committed, so that its caller reads
// its own entries. If that fails the entries wait, durably, for the
// sequencer's next round (SequenceAll).
func (s *Store) sequenceQueued(ctx context.Context, tenants map[string]bool) {
	for tenant := range tenants {
		_, _ = s.SequenceAudit(ctx, tenant)
	}
}

// AppendAudit adds e to the end of its tenant's chain and returns it as
// stored. Appending an ID that is already in the chain returns the stored
// entry and adds nothing, so a retried caller never duplicates an entry.
// It is one short transaction: it sequences what the tenant has queued,
// then e.
func (s *Store) AppendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error) {
	entries := []AuditEvent{e}
	if err := s.prepareAudits(ctx, entries); err != nil {
		return AuditEvent{}, err
	}
	out, err := s.sequenceWith(ctx, e.TenantID, entries)
	if err != nil {
		return AuditEvent{}, err
	}
	return out[0], nil
}

// AppendAuditEvent appends e within the caller's transaction (see InTx).
func (s *Store) AppendAuditEvent(ctx context.Context, e AuditEvent) error {
	_, err := s.appendAudit(ctx, e)
	return err
}

func (s *Store) appendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error) {
	out, err := s.appendAudits(ctx, []AuditEvent{e})
	if err != nil {
		return AuditEvent{}, err
	}
	return out[0], nil
}

// appendAudits queues one tenant's entries, in order, for its chain and
// returns each as stored: an ID already in the chain or the queue (a
// retry) adds nothing and returns the stored entry; a new one is returned
// as queued, without a position yet. Nothing tenant-wide is locked: the
// sequencer (SequenceAudit) gives positions, a batch at a time, once the
// caller's transaction has committed.
func (s *Store) appendAudits(ctx context.Context, entries []AuditEvent) ([]AuditEvent, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	if err := s.prepareAudits(ctx, entries); err != nil {
		return nil, err
	}
	tenantID := entries[0].TenantID
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	stored, err := s.storedAudits(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEvent, len(entries))
	var fresh []queuedAudit
	for i, e := range entries {
		if had, ok := stored[e.ID]; ok {
			out[i] = had
			continue
		}
		stored[e.ID], out[i] = e, e
		fresh = append(fresh, toQueued(e))
	}
	if len(fresh) == 0 {
		return out, nil
	}
	if err := s.db.WithContext(ctx).Create(&fresh).Error; err != nil {
		return nil, fmt.Errorf("queue audit events: %w", err)
	}
	if s.queued != nil {
		s.queued[tenantID] = true
	} else {
		s.sequenceQueued(ctx, map[string]bool{tenantID: true}) // not in a transaction: committed already
	}
	return out, nil
}

// prepareAudits checks one tenant's entries and puts them in the form
// they are hashed and stored in.
func (s *Store) prepareAudits(ctx context.Context, entries []AuditEvent) error {
	tenantID := entries[0].TenantID
	for i := range entries {
		e := &entries[i]
		if e.ID == "" || e.TenantID == "" || e.Action == "" {
			return errors.New("audit event needs an ID, a tenant and an action")
		}
		if e.TenantID != tenantID {
			return errors.New("audit events appended together must be of one tenant")
		}
		if e.Details == "" {
			e.Details = "{}"
		}
		if !json.Valid([]byte(e.Details)) {
			return errors.New("audit event details must be JSON")
		}
		if e.OccurredAt.IsZero() {
			e.OccurredAt = time.Now()
		}
		e.OccurredAt = e.OccurredAt.UTC().Truncate(time.Microsecond) // what PostgreSQL keeps
		if err := s.sealCaseDetails(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// storedAudits returns the entries with these IDs, sequenced or queued.
func (s *Store) storedAudits(ctx context.Context, ids []string) (map[string]AuditEvent, error) {
	db := s.db.WithContext(ctx)
	var found []AuditEvent
	if err := db.Where("id IN ?", ids).Find(&found).Error; err != nil {
		return nil, fmt.Errorf("look up audit events: %w", err)
	}
	var queued []queuedAudit
	if err := db.Where("id IN ?", ids).Order("qseq").Find(&queued).Error; err != nil {
		return nil, fmt.Errorf("look up queued audit events: %w", err)
	}
	stored := make(map[string]AuditEvent, len(found)+len(queued)+len(ids))
	for _, q := range queued {
		if _, ok := stored[q.ID]; !ok {
			stored[q.ID] = q.event()
		}
	}
	for _, e := range found {
		stored[e.ID] = e
	}
	return stored, nil
}

// AuditFilter narrows a listing of audit events.
type AuditFilter struct {
	CaseID, ActorID, Action string
	Actions                 []string  // any of these actions
	From, To                time.Time // zero: unbounded; To is exclusive
	AfterSeq                int64     // cursor: events after this position
	Limit                   int
	// Open opens sealed personal details for a person to read (a timeline,
	// a handoff); unset, events are as stored and hashed.
	Open bool
}

// ListAudit returns the tenant's audit events in chain order, after
// sequencing what is queued: a reader sees every entry acknowledged before.
func (s *Store) ListAudit(ctx context.Context, tenantID string, f AuditFilter) ([]AuditEvent, error) {
	if _, err := s.SequenceAudit(ctx, tenantID); err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("tenant_id = ? AND seq > ?", tenantID, f.AfterSeq)
	if f.CaseID != "" {
		q = q.Where("case_id = ?", f.CaseID)
	}
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if len(f.Actions) > 0 {
		q = q.Where("action IN ?", f.Actions)
	}
	if !f.From.IsZero() {
		q = q.Where("occurred_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("occurred_at < ?", f.To)
	}
	var out []AuditEvent
	if err := q.Order("seq").Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	if f.Open {
		if err := s.openPersonal(ctx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Verification is the result of checking a tenant's chain and log.
type Verification struct {
	TenantID    string `json:"tenant_id"`
	OK          bool   `json:"ok"`
	Checked     int64  `json:"checked"`
	Checkpoints int    `json:"checkpoints"` // signed checkpoints the chain still contains
	TreeSize    int64  `json:"tree_size"`   // entries integrated into the Merkle tree
	// Witnessed is the size of the newest checkpoint with the required
	// witness cosignatures (at least one; absent without witnesses).
	Witnessed int64 `json:"witnessed,omitempty"`
	// BrokenAt is the position of the first entry that does not follow from
	// the one before it, or the size of the first checkpoint the log no
	// longer contains (0 when OK); Problem says how.
	BrokenAt int64  `json:"broken_at,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// ErrNoVerifyKey is a verification asked of a deployment that has no audit
// verify key: without it the checkpoints cannot be checked, and a chain
// rewritten and re-hashed would pass.
var ErrNoVerifyKey = errors.New("audit verification needs the audit verify key (TANDEM_AUDIT_VERIFY_KEY)")

// VerifyOptions are what a verification checks the chain against.
type VerifyOptions struct {
	Key ed25519.PublicKey // the audit key's public half; required
	// External are the checkpoints kept outside the database (every one
	// ever published, from an auditlog.CheckpointLog).
	External []auditlog.SignedCheckpoint
	// Witnesses whose cosignatures count, and how many some checkpoint
	// needs (0: none required).
	Witnesses []note.Verifier
	Quorum    int
}

// VerifyAudit walks the tenant's chain from the start and reports the first
// broken link: a gap or repeat in positions (a removed, inserted or reordered
// entry), a previous-hash that is not the previous entry's hash, a hash that
// does not match the entry's content, a chain that ends before its head. It
// recomputes the Merkle tree's root as it goes and checks it against every
// checkpoint, in the database and outside it (opts.External): each must be
// signed by the audit key and contained in the log (its size reached with
// its root), so a chain cut back and carried on, or rewritten and re-hashed,
// fails at the first checkpoint it no longer contains. The stored tree must
// agree with the chain and prove itself consistent with each checkpoint; with
// a quorum, some checkpoint must carry that many witness cosignatures.
func (s *Store) VerifyAudit(ctx context.Context, tenantID string, opts VerifyOptions) (Verification, error) {
	v := Verification{TenantID: tenantID}
	if opts.Key == nil {
		return v, ErrNoVerifyKey
	}
	if _, err := s.SequenceAudit(ctx, tenantID); err != nil {
		return v, err
	}
	// One snapshot: the chain, its head, the tree and the checkpoints as
	// they stood together, however long the walk takes while appends go on.
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		v, err = (&Store{db: tx, keys: s.keys, unwrapped: s.unwrapped}).verifyAudit(ctx, tenantID, opts)
		return err
	}, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	return v, err
}

func (s *Store) verifyAudit(ctx context.Context, tenantID string, opts VerifyOptions) (Verification, error) {
	v := Verification{TenantID: tenantID}
	logKey, err := auditlog.Verifier(opts.Key)
	if err != nil {
		return v, err
	}
	inDB, err := s.checkpoints(ctx, tenantID)
	if err != nil {
		return v, err
	}
	cps := sortCheckpoints(append(inDB, opts.External...))
	cosigs, err := s.cosignatures(ctx, tenantID)
	if err != nil {
		return v, err
	}
	roots := make(map[int64]tlog.Hash, len(cps))
	witnessed := map[int64]int{}
	for _, cp := range cps {
		if cp.TenantID != tenantID {
			return v.broken(cp.Seq, fmt.Sprintf("a checkpoint of %d entries is of another tenant", cp.Seq)), nil
		}
		if cp.Note == "" {
			if !ed25519.Verify(opts.Key, auditlog.CheckpointMessage(cp.TenantID, cp.Seq, cp.Hash), cp.Signature) {
				return v.broken(cp.Seq, fmt.Sprintf("the checkpoint at position %d is not signed by the audit key", cp.Seq)), nil
			}
			continue
		}
		opened, err := auditlog.Open(auditlog.AddSignatures(cp.Note, cosigs[cp.Seq]), tenantID, logKey, opts.Witnesses...)
		if err != nil || opened.Size != cp.Seq {
			return v.broken(cp.Seq, fmt.Sprintf("the checkpoint of %d entries signed %s is not a checkpoint of this log signed by the audit key",
				cp.Seq, cp.SignedAt.Format(time.RFC3339))), nil
		}
		if root, ok := roots[cp.Seq]; ok && root != opened.Root {
			return v.broken(cp.Seq, fmt.Sprintf("two checkpoints of %d entries, both signed by the audit key, name different roots: the log was forked", cp.Seq)), nil
		}
		roots[cp.Seq] = opened.Root
		witnessed[cp.Seq] = max(witnessed[cp.Seq], len(opened.Witnesses))
	}
	tree, err := s.GetAuditTree(ctx, tenantID)
	if err != nil {
		return v, err
	}
	v.TreeSize = tree.Size
	var treeRoot []byte // the recomputed root at the stored tree's size

	// Raw rows scanned into reused variables: this loop reads every entry.
	rows, err := s.db.WithContext(ctx).Raw(`SELECT seq, id, occurred_at, actor_kind, actor_id, action,
		object_type, object_id, case_id, decision, outcome, reason, details, prev_hash, hash
		FROM audit_events WHERE tenant_id = ? ORDER BY seq`, tenantID).Rows()
	if err != nil {
		return v, fmt.Errorf("read audit chain: %w", err)
	}
	defer rows.Close()
	hasher := &chainHasher{h: sha256.New(), buf: make([]byte, 0, 512)}
	merkle := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	prev := genesis
	var want int64 = 1
	e := AuditEvent{TenantID: tenantID}
	pending := cps
	for rows.Next() {
		if err := rows.Scan(&e.Seq, &e.ID, &e.OccurredAt, &e.ActorKind, &e.ActorID, &e.Action,
			&e.ObjectType, &e.ObjectID, &e.CaseID, &e.Decision, &e.Outcome, &e.Reason, &e.Details,
			&e.PrevHash, &e.Hash); err != nil {
			return v, fmt.Errorf("scan audit event: %w", err)
		}
		v.Checked++
		switch {
		case e.Seq != want:
			return v.broken(want, fmt.Sprintf("expected position %d, found %d: entries removed, inserted or reordered", want, e.Seq)), nil
		case !bytes.Equal(e.PrevHash, prev):
			return v.broken(e.Seq, "its previous-hash is not the hash of the entry before it"), nil
		case !bytes.Equal(e.Hash, hasher.sum(prev, &e)):
			return v.broken(e.Seq, "its content does not match its hash: the entry was altered"), nil
		}
		leaf := auditlog.LeafHash(e.Hash)
		if err := merkle.Append(leaf[:], nil); err != nil {
			return v, err
		}
		for len(pending) > 0 && pending[0].Seq == e.Seq {
			cp := pending[0]
			if cp.Note == "" && !bytes.Equal(cp.Hash, e.Hash) {
				return v.broken(e.Seq, "its hash differs from the signed checkpoint: the chain was rewritten up to here"), nil
			}
			if cp.Note != "" {
				root, _ := merkle.GetRootHash(nil) // a range from 0 always has a root
				if want := roots[cp.Seq]; !bytes.Equal(root, want[:]) {
					return v.broken(cp.Seq, fmt.Sprintf("the log no longer contains the checkpoint of %d entries signed %s: "+
						"its first %d entries hash to another root (entries removed, changed or rewritten at or before %d)",
						cp.Seq, cp.SignedAt.Format(time.RFC3339), cp.Seq, cp.Seq)), nil
				}
			}
			v.Checkpoints++
			pending = pending[1:]
		}
		if e.Seq == tree.Size {
			treeRoot, _ = merkle.GetRootHash(nil)
		}
		prev = e.Hash
		e.Hash = nil // Scan must not reuse the array prev now points to
		want++
	}
	if err := rows.Err(); err != nil {
		return v, fmt.Errorf("read audit chain: %w", err)
	}
	if len(pending) > 0 {
		cp := pending[0]
		return v.broken(cp.Seq, fmt.Sprintf("the log no longer contains the checkpoint of %d entries signed %s: the chain ends at %d (entries removed)",
			cp.Seq, cp.SignedAt.Format(time.RFC3339), want-1)), nil
	}
	var head auditHead
	err = s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Take(&head).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		if v.Checked > 0 {
			return v.broken(want, "the chain has entries but no head"), nil
		}
	case err != nil:
		return v, fmt.Errorf("read audit head: %w", err)
	case head.Seq != want-1 || !bytes.Equal(head.Hash, prev):
		return v.broken(want, fmt.Sprintf("the chain ends at position %d but its head is at %d: entries removed from the end", want-1, head.Seq)), nil
	}
	if tree.Size > 0 {
		// The stored tree is what proofs are made from: it must be this chain's.
		if tree.Size > v.Checked || !bytes.Equal(treeRoot, tree.Root) {
			return v.broken(tree.Size, fmt.Sprintf("the stored Merkle tree of %d entries is not the tree of the chain's first %d entries", tree.Size, tree.Size)), nil
		}
		// Every checkpoint's root was recomputed from the chain above, which
		// is what consistency means; the proofs the stored tree gives (to
		// witnesses, to exports) are checked from the newest one it covers.
		var root tlog.Hash
		copy(root[:], tree.Root)
		for i := len(cps) - 1; i >= 0; i-- {
			cp := cps[i]
			if cp.Note == "" || cp.Seq > tree.Size {
				continue
			}
			proof, err := s.ProveConsistency(ctx, tenantID, cp.Seq, tree.Size)
			if err == nil {
				err = auditlog.CheckConsistency(proof, tree.Size, root, cp.Seq, roots[cp.Seq])
			}
			if err != nil {
				return v.broken(cp.Seq, fmt.Sprintf("the stored tree does not prove itself consistent with the checkpoint of %d entries: %v", cp.Seq, err)), nil
			}
			break
		}
	}
	if len(opts.Witnesses) > 0 {
		for _, cp := range cps {
			if witnessed[cp.Seq] >= max(opts.Quorum, 1) {
				v.Witnessed = cp.Seq
			}
		}
		if opts.Quorum > 0 && v.Witnessed == 0 {
			return v.broken(0, fmt.Sprintf("no checkpoint carries %d witness cosignature(s)", opts.Quorum)), nil
		}
	}
	v.OK = true
	return v, nil
}

func (v Verification) broken(at int64, problem string) Verification {
	v.OK, v.BrokenAt, v.Problem = false, at, problem
	return v
}

// CountAudit counts a case's entries among the first upTo of the tenant's chain.
func (s *Store) CountAudit(ctx context.Context, tenantID, caseID string, upTo int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&AuditEvent{}).Where("tenant_id = ? AND case_id = ? AND seq <= ?", tenantID, caseID, upTo).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count audit events: %w", err)
	}
	return n, nil
}

// AuditTenants lists the tenants whose audit logs are checked: every
// tenant, not only those with a head, so that a chain removed whole with
// its head still fails verification against the checkpoints published.
func (s *Store) AuditTenants(ctx context.Context) ([]string, error) {
	var ids []string
	if err := s.db.WithContext(ctx).Raw(`SELECT id FROM tenants ORDER BY id`).Scan(&ids).Error; err != nil {
		return nil, fmt.Errorf("list audit chains: %w", err)
	}
	return ids, nil
}
