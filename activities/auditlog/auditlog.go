// Package auditlog is the audit trail seen as a transparency log, with no
// database: each tenant's chain is a Merkle tree (RFC 6962 hashing, as
// golang.org/x/mod/sumdb/tlog lays it out) whose leaf i is the hash of
// chain entry i+1; a checkpoint is a C2SP signed note (c2sp.org/tlog-checkpoint)
// naming the tree's size and root, signed by the audit key and cosigned by
// witnesses (c2sp.org/tlog-cosignature). Everything here can run where only
// an export and the public keys are: verification needs nothing else.
package auditlog

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// KeyName is the name the audit key signs checkpoints under.
const KeyName = "tandem-audit"

// Origin is the first line of a tenant's checkpoints: which log they are of.
func Origin(tenantID string) string { return "tandem/audit/" + tenantID }

// Signer signs checkpoints with the audit key.
func Signer(priv ed25519.PrivateKey) (note.Signer, error) {
	vkey, err := note.NewEd25519VerifierKey(KeyName, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	parts := strings.Split(vkey, "+") // name+hash+key
	skey := "PRIVATE+KEY+" + KeyName + "+" + parts[1] + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...))
	return note.NewSigner(skey)
}

// VerifierKey is the audit key's public half as a note verifier key
// ("tandem-audit+hash+key"), the form third parties are given.
func VerifierKey(pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(KeyName, pub)
}

// Verifier checks the audit key's signatures.
func Verifier(pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := VerifierKey(pub)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// WitnessVerifier checks a witness's cosignatures, from its verifier key.
func WitnessVerifier(vkey string) (note.Verifier, error) {
	return fnote.NewVerifierForCosignatureV1(vkey)
}

// LeafHash is the Merkle leaf of a chain entry: its chain hash, hashed as a record.
func LeafHash(entryHash []byte) tlog.Hash { return tlog.RecordHash(entryHash) }

// Sign makes the checkpoint of a tenant's tree of size entries.
func Sign(signer note.Signer, tenantID string, size int64, root tlog.Hash) (string, error) {
	text := log.Checkpoint{Origin: Origin(tenantID), Size: uint64(size), Hash: root[:]}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return "", fmt.Errorf("sign checkpoint: %w", err)
	}
	return string(signed), nil
}

// Checkpoint is a checkpoint whose log signature has been checked.
type Checkpoint struct {
	Size int64
	Root tlog.Hash
	// Witnesses names the witnesses (of those given to Open) whose
	// cosignatures on it are valid.
	Witnesses []string
}

// Open checks a checkpoint of the tenant's log: signed by the audit key
// and of the tenant's origin. Cosignatures by the witnesses given are
// checked too and named; others are ignored.
func Open(signed string, tenantID string, logKey note.Verifier, witnesses ...note.Verifier) (Checkpoint, error) {
	cp, _, n, err := log.ParseCheckpoint([]byte(signed), Origin(tenantID), logKey, witnesses...)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if len(cp.Hash) != tlog.HashSize {
		return Checkpoint{}, errors.New("checkpoint: root is not a SHA-256 hash")
	}
	out := Checkpoint{Size: int64(cp.Size)}
	copy(out.Root[:], cp.Hash)
	for _, s := range n.Sigs {
		for _, w := range witnesses {
			if s.Name == w.Name() && s.Hash == w.KeyHash() {
				out.Witnesses = append(out.Witnesses, w.Name())
			}
		}
	}
	return out, nil
}

// AddSignatures returns the signed note with the signature lines added
// that it does not already carry (a witness's cosignature).
func AddSignatures(signed string, lines []string) string {
	out := signed
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(out, "\n"+l+"\n") {
			continue
		}
		out += l + "\n"
	}
	return out
}

// CheckInclusion checks that the entry whose chain hash is entryHash is
// leaf seq-1 of the tree of size entries with the given root.
func CheckInclusion(proof []tlog.Hash, size int64, root tlog.Hash, seq int64, entryHash []byte) error {
	if seq < 1 || seq > size {
		return fmt.Errorf("entry %d is not in a tree of %d entries", seq, size)
	}
	return tlog.CheckRecord(proof, size, root, seq-1, LeafHash(entryHash))
}

// CheckConsistency checks that the tree of size entries with root contains
// the tree of oldSize entries with oldRoot as its beginning.
func CheckConsistency(proof []tlog.Hash, size int64, root tlog.Hash, oldSize int64, oldRoot tlog.Hash) error {
	if oldSize > size {
		return fmt.Errorf("a tree of %d entries cannot contain one of %d", size, oldSize)
	}
	return tlog.CheckTree(proof, size, root, oldSize, oldRoot)
}

// EncodeProof and DecodeProof carry proofs in JSON as base64 hashes.
func EncodeProof(p []tlog.Hash) []string {
	out := make([]string, len(p))
	for i, h := range p {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

func DecodeProof(p []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(p))
	for i, s := range p {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d is not a base64 SHA-256 hash", i)
		}
		copy(out[i][:], b)
	}
	return out, nil
}
