package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"tandem/activities/auditlog"
	"tandem/activities/store"
)

// ExportKeys are the public keys a JSON-lines trail export is checked
// with: all a third party needs besides the file.
type ExportKeys struct {
	Export    ed25519.PublicKey // signs the manifest
	Audit     ed25519.PublicKey // signs the audit log's checkpoints
	Witnesses []note.Verifier   // witnesses whose cosignatures count
	Quorum    int               // cosignatures the checkpoint needs
}

// ExportVerification is what `tandem audit verify-export` reports.
type ExportVerification struct {
	OK             bool     `json:"ok"`
	TenantID       string   `json:"tenant_id,omitempty"`
	CaseID         string   `json:"case_id,omitempty"`
	Entries        int      `json:"entries"`
	Proven         int      `json:"proven"` // entries whose inclusion proof leads to the checkpoint
	CheckpointSize int64    `json:"checkpoint_size,omitempty"`
	Witnesses      []string `json:"witnesses,omitempty"`
	Problem        string   `json:"problem,omitempty"`
}

// VerifyExport checks a JSON-lines trail export with nothing but its
// bytes and the public keys: the manifest's signature and the body's hash;
// each entry's hash against its content; the checkpoint's signature (and
// its witnesses' cosignatures, to the quorum); and each entry's inclusion
// proof in the tree the checkpoint signs. Every entry must be proved.
func VerifyExport(data []byte, keys ExportKeys) ExportVerification {
	var v ExportVerification
	fail := func(format string, args ...any) ExportVerification {
		v.OK, v.Problem = false, fmt.Sprintf(format, args...)
		return v
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) < 2 {
		return fail("not a trail export: no entries before the manifest")
	}
	var signed SignedManifest
	if err := json.Unmarshal(lines[len(lines)-1], &signed); err != nil {
		return fail("the last line is not a signed manifest: %v", err)
	}
	m := signed.Manifest
	v.TenantID, v.CaseID = m.TenantID, m.CaseID
	body := bytes.Join(lines[:len(lines)-1], nil)
	if sum := sha256.Sum256(body); m.SHA256 != hex.EncodeToString(sum[:]) {
		return fail("the entries do not hash to the manifest's SHA-256: the file was altered")
	}
	sig, err := base64.StdEncoding.DecodeString(signed.Signature)
	if err != nil || keys.Export == nil || !ed25519.Verify(keys.Export, m.Message(), sig) {
		return fail("the manifest is not signed by the export key")
	}
	if m.Checkpoint == "" {
		return fail("the export carries no checkpoint: the log had none when it was made")
	}
	logKey, err := auditlog.Verifier(keys.Audit)
	if err != nil {
		return fail("audit key: %v", err)
	}
	cp, err := auditlog.Open(m.Checkpoint, m.TenantID, logKey, keys.Witnesses...)
	if err != nil {
		return fail("the checkpoint is not the tenant's, signed by the audit key: %v", err)
	}
	v.CheckpointSize, v.Witnesses = cp.Size, cp.Witnesses
	if len(cp.Witnesses) < keys.Quorum {
		return fail("the checkpoint carries %d of the %d witness cosignatures required", len(cp.Witnesses), keys.Quorum)
	}
	for i, line := range lines[:len(lines)-1] {
		var e TrailEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return fail("line %d is not a trail entry: %v", i+1, err)
		}
		v.Entries++
		ev := e.Event
		if ev.TenantID != m.TenantID || ev.CaseID != m.CaseID {
			return fail("entry %d is not of the manifest's tenant and case", ev.Seq)
		}
		if !bytes.Equal(store.ChainHash(ev.PrevHash, ev), ev.Hash) {
			return fail("entry %d does not match its hash: the entry was altered", ev.Seq)
		}
		if ev.Seq > cp.Size {
			return fail("entry %d is newer than the checkpoint (%d entries): it is not proved", ev.Seq, cp.Size)
		}
		proof, err := auditlog.DecodeProof(e.Proof)
		if err == nil {
			err = auditlog.CheckInclusion(proof, cp.Size, cp.Root, ev.Seq, ev.Hash)
		}
		if err != nil {
			return fail("entry %d is not proved to be in the log the checkpoint signs: %v", ev.Seq, err)
		}
		v.Proven++
	}
	if v.Entries != m.Entries {
		return fail("the manifest counts %d entries, the file has %d", m.Entries, v.Entries)
	}
	v.OK = true
	return v
}
