package auditlog_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"tandem/activities/auditlog"
)

// memLog is a log's tree kept in memory: the leaves are made-up chain hashes.
type memLog struct {
	hashes map[int64]tlog.Hash
	leaves [][]byte
}

func (l *memLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *memLog) add(t *testing.T, seed string, n int) {
	t.Helper()
	for range n {
		leaf := sha256.Sum256([]byte(fmt.Sprint(seed, len(l.leaves))))
		hs, err := tlog.StoredHashesForRecordHash(int64(len(l.leaves)), auditlog.LeafHash(leaf[:]), l)
		if err != nil {
			t.Fatal(err)
		}
		base := tlog.StoredHashCount(int64(len(l.leaves)))
		for i, h := range hs {
			l.hashes[base+int64(i)] = h
		}
		l.leaves = append(l.leaves, leaf[:])
	}
}

func (l *memLog) root(t *testing.T) tlog.Hash {
	h, err := tlog.TreeHash(int64(len(l.leaves)), l)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newLog(t *testing.T, seed string, n int) *memLog {
	l := &memLog{hashes: map[int64]tlog.Hash{}}
	l.add(t, seed, n)
	return l
}

func keys(t *testing.T) (note.Signer, note.Verifier) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := auditlog.Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auditlog.Verifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestCheckpointSignsTreeAndProofsCheck(t *testing.T) {
	signer, verifier := keys(t)
	l := newLog(t, "a", 13)
	signed, err := auditlog.Sign(signer, "acme", 13, l.root(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(signed, "tandem/audit/acme\n13\n") {
		t.Fatalf("checkpoint text:\n%s", signed)
	}
	cp, err := auditlog.Open(signed, "acme", verifier)
	if err != nil || cp.Size != 13 || cp.Root != l.root(t) {
		t.Fatalf("open: %+v %v", cp, err)
	}
	if _, err := auditlog.Open(signed, "globex", verifier); err == nil {
		t.Fatal("a checkpoint of acme's log opened as globex's")
	}
	_, other := keys(t)
	if _, err := auditlog.Open(signed, "acme", other); err == nil {
		t.Fatal("a checkpoint opened with another key")
	}
	proof, err := tlog.ProveRecord(13, 6, l)
	if err != nil {
		t.Fatal(err)
	}
	if err := auditlog.CheckInclusion(proof, 13, cp.Root, 7, l.leaves[6]); err != nil {
		t.Fatalf("entry 7: %v", err)
	}
	if err := auditlog.CheckInclusion(proof, 13, cp.Root, 7, l.leaves[5]); err == nil {
		t.Fatal("another entry proved with entry 7's proof")
	}
	old := l.root(t)
	l.add(t, "a", 8)
	cons, err := tlog.ProveTree(21, 13, l)
	if err != nil {
		t.Fatal(err)
	}
	if err := auditlog.CheckConsistency(cons, 21, l.root(t), 13, old); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	fork := newLog(t, "b", 21)
	if err := auditlog.CheckConsistency(cons, 21, fork.root(t), 13, old); err == nil {
		t.Fatal("a forked tree proved consistent")
	}
	decoded, err := auditlog.DecodeProof(auditlog.EncodeProof(cons))
	if err != nil || len(decoded) != len(cons) || decoded[0] != cons[0] {
		t.Fatalf("proof encoding: %v", err)
	}
}

func newWitness(t *testing.T, logKey note.Verifier) (*auditlog.Witness, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "witness-1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auditlog.WitnessVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &auditlog.Witness{Signer: signer, LogKey: logKey, Prefix: auditlog.Origin(""), State: filepath.Join(t.TempDir(), "state.json")}, v
}

// The witness cosigns a log that grows; a fork (another history of the
// same log, signed by the same key) and a rollback are refused, so a
// verifier that requires its cosignature is not shown either.
func TestWitnessCosignsOnlyWhatExtendsWhatItSaw(t *testing.T) {
	signer, verifier := keys(t)
	w, wv := newWitness(t, verifier)
	srv := httptest.NewServer(w)
	defer srv.Close()
	ctx := context.Background()
	client := srv.Client()

	l := newLog(t, "a", 5)
	cp5, _ := auditlog.Sign(signer, "acme", 5, l.root(t))
	line, err := auditlog.AddCheckpoint(ctx, client, srv.URL, 0, nil, cp5)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := auditlog.Open(auditlog.AddSignatures(cp5, []string{line}), "acme", verifier, wv)
	if err != nil || len(opened.Witnesses) != 1 {
		t.Fatalf("cosigned checkpoint: %+v %v", opened, err)
	}

	l.add(t, "a", 4)
	cp9, _ := auditlog.Sign(signer, "acme", 9, l.root(t))
	_, err = auditlog.AddCheckpoint(ctx, client, srv.URL, 0, nil, cp9)
	var conflict *auditlog.ConflictError
	if !errors.As(err, &conflict) || conflict.Size != 5 {
		t.Fatalf("a checkpoint sent from the wrong size: %v, want 409 naming 5", err)
	}
	proof, _ := tlog.ProveTree(9, 5, l)
	if _, err := auditlog.AddCheckpoint(ctx, client, srv.URL, 5, proof, cp9); err != nil {
		t.Fatalf("a checkpoint that extends the last: %v", err)
	}

	// The key holder signs another history of 12 entries: the witness's
	// 9 are not its beginning.
	fork := newLog(t, "b", 12)
	forked, _ := auditlog.Sign(signer, "acme", 12, fork.root(t))
	forkProof, _ := tlog.ProveTree(12, 9, fork)
	if _, err := auditlog.AddCheckpoint(ctx, client, srv.URL, 9, forkProof, forked); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("a fork: %v, want refused 422", err)
	}
	// Shown to two verifiers: the one given the honest checkpoint finds the
	// witness's cosignature; the one given the fork finds none.
	if o, _ := auditlog.Open(forked, "acme", verifier, wv); len(o.Witnesses) != 0 {
		t.Fatal("the fork carries the witness's cosignature")
	}
	// A rollback to fewer entries, and a checkpoint by another key.
	if _, err := auditlog.AddCheckpoint(ctx, client, srv.URL, 9, nil, cp5); err == nil {
		t.Fatal("a rollback to 5 entries was cosigned")
	}
	other, _ := keys(t)
	stranger, _ := auditlog.Sign(other, "acme", 9, l.root(t))
	if _, err := auditlog.AddCheckpoint(ctx, client, srv.URL, 9, nil, stranger); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("another key's checkpoint: %v, want 403", err)
	}
	// The witness remembers across restarts.
	seen, err := (&auditlog.Witness{State: w.State}).Seen()
	if err != nil || seen["tandem/audit/acme"].Size != 9 {
		t.Fatalf("state: %+v %v", seen, err)
	}
}
