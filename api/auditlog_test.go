package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"tandem/activities/auditlog"
	"tandem/activities/store"
	"tandem/api"
)

// A compliance officer's export carries a checkpoint and each entry's
// inclusion proof, and verifies with nothing but the file and the public
// keys; the checkpoint and proof endpoints give a third party the same.
func TestAuditLogProofsAndOfflineExport(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "resolved"})
	officer := tenantA + "/compliance+totp"

	r := s.do("GET", "/v1/cases/"+c.ID+"/trail/export?format=jsonl", officer, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	keys := api.ExportKeys{Export: auditPub, Audit: auditPub}
	v := api.VerifyExport(r.Body, keys)
	if !v.OK || v.Entries < 4 || v.Proven != v.Entries || v.CaseID != c.ID {
		t.Fatalf("offline verification: %+v", v)
	}
	_, otherPub := mustKey(t)
	if v := api.VerifyExport(r.Body, api.ExportKeys{Export: auditPub, Audit: otherPub}); v.OK {
		t.Fatal("verified with another audit key")
	}
	// Whoever holds the export key but not the log cannot pass off an entry
	// the log does not hold: an edited entry, re-hashed and re-signed.
	lines := bytes.SplitAfter(bytes.TrimSuffix(r.Body, []byte("\n")), []byte("\n"))
	var e api.TrailEntry
	json.Unmarshal(lines[1], &e)
	e.Event.ActorID = "mallory"
	e.Event.Hash = store.ChainHash(e.Event.PrevHash, e.Event)
	forged := resign(t, lines, 1, e)
	if v := api.VerifyExport(forged, keys); v.OK || !strings.Contains(v.Problem, "not proved") {
		t.Fatalf("an edited entry: %+v", v)
	}

	// The newest checkpoint, and the proof that it extends an earlier size.
	var cp api.AuditCheckpointJSON
	s.do("GET", "/v1/audit/checkpoint?from=2", officer, nil).decode(t, &cp)
	opened, err := auditlog.Open(cp.Checkpoint, tenantA, auditVerifier)
	if err != nil || opened.Size != cp.Size || cp.From != 2 {
		t.Fatalf("checkpoint: %+v %v", cp, err)
	}
	var first api.AuditProofJSON
	s.do("GET", "/v1/audit/events/2/proof", officer, nil).decode(t, &first)
	early, _ := auditlog.Open(first.Checkpoint, tenantA, auditVerifier)
	if first.Event.Seq != 2 || early.Size != cp.Size {
		t.Fatalf("proof of entry 2: %+v", first)
	}
	inclusion, _ := auditlog.DecodeProof(first.Inclusion)
	if err := auditlog.CheckInclusion(inclusion, early.Size, early.Root, 2, first.Event.Hash); err != nil {
		t.Fatalf("inclusion of entry 2: %v", err)
	}
	// Prove an entry against the checkpoint it was first covered by: from
	// entry 2's tree of 2 entries to the newest.
	consistency, _ := auditlog.DecodeProof(cp.Consistency)
	two, err := s.store.ProveInclusion(context.Background(), tenantA, 2, 2)
	if err != nil || len(two) != 1 {
		t.Fatalf("proof in a tree of 2: %v %v", two, err)
	}
	if err := auditlog.CheckConsistency(consistency, opened.Size, opened.Root, 2, nodeOf(two[0], first.Event.Hash)); err != nil {
		t.Fatalf("consistency from 2 entries: %v", err)
	}

	for _, tc := range []struct {
		path, who string
		status    int
		code      string
	}{
		{"/v1/audit/events/" + strconv.FormatInt(cp.Size+50, 10) + "/proof", officer, 404, "audit_event_not_found"},
		{"/v1/audit/events/x1/proof", officer, 404, "audit_event_not_found"},
		{"/v1/audit/events/2/proof", tenantA + "/agent", 403, "forbidden"},
		{"/v1/audit/events/" + strconv.FormatInt(cp.Size, 10) + "/proof", tenantB + "/compliance", 404, "audit_event_not_found"}, // another tenant's log is shorter
		{"/v1/audit/checkpoint?from=0", officer, 422, "validation_failed"},
		{"/v1/audit/checkpoint?from=" + strconv.FormatInt(cp.Size+1000, 10), officer, 422, "validation_failed"},
		{"/v1/audit/checkpoint", tenantB + "/compliance", 404, "no_checkpoint"},
	} {
		r := s.do("GET", tc.path, tc.who, nil)
		if r.Status != tc.status || r.errorCode(t) != tc.code {
			t.Errorf("%s as %s: %d %s, want %d %s", tc.path, tc.who, r.Status, r.Body, tc.status, tc.code)
		}
	}
	// The officer's own reads are newer than the checkpoint: not yet provable.
	entries, _ := s.store.ListAudit(context.Background(), tenantA, store.AuditFilter{AfterSeq: cp.Size, Limit: 1})
	if r := s.do("GET", "/v1/audit/events/"+strconv.FormatInt(entries[0].Seq, 10)+"/proof", officer, nil); r.Status != 409 || r.errorCode(t) != "not_yet_checkpointed" {
		t.Fatalf("an entry past the checkpoint: %d %s", r.Status, r.Body)
	}
}

// A deployment without the verify key refuses to verify rather than
// report a trail it cannot check as intact.
func TestVerifyWithoutAKeyIsRefused(t *testing.T) {
	s := newStack(t)
	h := newAPIWith(t, s.store, s.temporal, s.queue, slog.New(slog.NewTextHandler(io.Discard, nil)), 5*time.Second, 0,
		api.Config{Audit: api.AuditLog{External: &auditlog.DirLog{Dir: t.TempDir()}}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	r := s.do("GET", "/v1/audit/verify", tenantA+"/compliance", nil)
	if r.Status != http.StatusConflict || r.errorCode(t) != "audit_verify_key_missing" || strings.Contains(string(r.Body), `"ok"`) {
		t.Fatalf("verify without a key: %d %s", r.Status, r.Body)
	}
}

func mustKey(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// resign replaces line i of an export with e and signs the manifest again
// with the export key, as the holder of that key could.
func resign(t *testing.T, lines [][]byte, i int, e api.TrailEntry) []byte {
	t.Helper()
	var signed api.SignedManifest
	json.Unmarshal(lines[len(lines)-1], &signed)
	line, _ := json.Marshal(e)
	out := append([][]byte{}, lines[:len(lines)-1]...)
	out[i] = append(line, '\n')
	body := bytes.Join(out, nil)
	signed.Manifest.SHA256 = sha256Hex(body)
	signed.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(auditKey, signed.Manifest.Message()))
	last, _ := json.Marshal(signed)
	return append(body, append(last, '\n')...)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// nodeOf is the root of a tree of two entries: the first's leaf hash and
// the second entry's chain hash.
func nodeOf(first tlog.Hash, second []byte) tlog.Hash {
	return tlog.NodeHash(first, auditlog.LeafHash(second))
}
