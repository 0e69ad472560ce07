package api_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"

	"tandem/api"
)

// checkManifest verifies an export as a regulator would: the body's hash and
// the manifest's signature by the audit key.
func checkManifest(t *testing.T, body []byte, m api.ExportManifest, sig string) {
	t.Helper()
	sum := sha256.Sum256(body)
	if m.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("body hash %x, manifest says %s", sum, m.SHA256)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(auditPub, m.Message(), raw) {
		t.Fatalf("manifest signature does not verify: %v", err)
	}
}

func TestExportTrail(t *testing.T) {
	s := newStack(t)
	req := sampleCase()
	req.Message = "=HYPERLINK(\"http://evil\")" // a customer trying CSV injection
	c := s.openCase(tenantA, req).Case
	s.do("POST", "/v1/cases/"+c.ID+"/close", tenantA, api.CloseCaseRequest{Reason: "resolved"})
	officer := tenantA + "/compliance+totp"

	r := s.do("GET", "/v1/cases/"+c.ID+"/trail/export?format=jsonl", officer, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("jsonl export: %d %s", r.Status, r.Body)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(r.Body, []byte("\n")), []byte("\n"))
	var signed api.SignedManifest
	if err := json.Unmarshal(lines[len(lines)-1], &signed); err != nil {
		t.Fatal(err)
	}
	body := bytes.Join(lines[:len(lines)-1], nil)
	checkManifest(t, body, signed.Manifest, signed.Signature)
	m := signed.Manifest
	if m.Entries != len(lines)-1 || m.CaseID != c.ID || m.TenantID != tenantA || m.ExportedBy != "compliance-1" || m.Format != "jsonl" {
		t.Fatalf("manifest = %+v with %d lines", m, len(lines)-1)
	}
	var last api.TrailEntry
	json.Unmarshal(lines[len(lines)-2], &last)
	if last.Event.Action != "case.trail.export" || last.Event.Seq != m.AuditSeq {
		t.Fatalf("the export's own audit entry is not last: %+v (manifest seq %d)", last.Event, m.AuditSeq)
	}
	var first api.TrailEntry
	json.Unmarshal(lines[0], &first)
	if first.Event.Action != "case.open" || first.Message == nil || first.Message.Body != req.Message {
		t.Fatalf("first line = %+v", first)
	}
	// One altered character and the hash no longer matches.
	tampered := bytes.Replace(body, []byte(`"resolved"`), []byte(`"dismissed"`), 1)
	if sum := sha256.Sum256(tampered); hex.EncodeToString(sum[:]) == m.SHA256 || bytes.Equal(tampered, body) {
		t.Fatal("tampering went unnoticed (or did not happen)")
	}

	r = s.do("GET", "/v1/cases/"+c.ID+"/trail/export?format=csv", officer, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("csv export: %d %s", r.Status, r.Body)
	}
	manifestJSON, err := base64.StdEncoding.DecodeString(r.Header.Get("Tandem-Export-Manifest"))
	if err != nil {
		t.Fatal(err)
	}
	var cm api.ExportManifest
	if err := json.Unmarshal(manifestJSON, &cm); err != nil {
		t.Fatal(err)
	}
	checkManifest(t, r.Body, cm, r.Header.Get("Tandem-Export-Signature"))
	rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if cm.Format != "csv" || cm.Entries != len(rows)-1 || rows[0][0] != "seq" || rows[1][4] != "case.open" || rows[1][10] != "'"+req.Message {
		t.Fatalf("csv rows: %v / %v", rows[0], rows[1])
	}

	if r := s.do("GET", "/v1/cases/"+c.ID+"/trail/export?format=pdf", officer, nil); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad format: %d", r.Status)
	}
	if r := s.do("GET", "/v1/cases/"+c.ID+"/trail/export", tenantB+"/compliance+totp", nil); r.Status != http.StatusNotFound {
		t.Fatalf("other tenant's export: %d", r.Status)
	}
	exports := auditActions(t, s, storeFilter("case.trail.export"))
	if len(exports) != 2 {
		t.Fatalf("exports audited: %v, want the jsonl and the csv", exports)
	}
}
