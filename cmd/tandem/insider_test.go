package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"tandem/activities/auditlog"
	"tandem/activities/store"
)

// insider runs the tandem binary's commands against one test database.
type insider struct {
	t   *testing.T
	f   fixture
	env []string
}

// run runs `tandem args...` and returns its output and error.
func (in insider) run(args ...string) (string, error) {
	cmd := exec.Command(in.f.bin, args...)
	cmd.Env = append(os.Environ(), in.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (in insider) must(args ...string) string {
	in.t.Helper()
	out, err := in.run(args...)
	if err != nil {
		in.t.Fatalf("tandem %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// verification is the first line `tandem audit verify` prints.
func verification(t *testing.T, out string) store.Verification {
	t.Helper()
	var v store.Verification
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &v); err != nil {
		t.Fatalf("verify output %q: %v", out, err)
	}
	return v
}

// The database's owner and the holder of the audit key try to rewrite the
// trail on the real stack (PostgreSQL, Temporal, `tandem dev`, a
// `tandem witness` process): each attempt is refused or found, and a trail
// exported before verifies offline with nothing but the public keys.
func TestInsiderCannotRewriteTheTrailUnseen(t *testing.T) {
	f := newFixture(t)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, exportKey, _ := ed25519.GenerateKey(rand.Reader)
	pubB64 := base64.StdEncoding.EncodeToString(pub)
	exportPubB64 := base64.StdEncoding.EncodeToString(exportKey.Public().(ed25519.PublicKey))
	outside := t.TempDir()

	// The witness: its own process, key and state.
	witness := exec.Command(f.bin, "witness", "-state", t.TempDir(), "-log-key", pubB64, "-addr", freeAddr(t))
	witnessOut, _ := witness.StdoutPipe()
	var witnessLog bytes.Buffer
	witness.Stderr = &witnessLog
	if err := witness.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = witness.Process.Signal(syscall.SIGTERM)
		_ = witness.Wait()
		if t.Failed() {
			t.Logf("--- witness log:\n%s", witnessLog.String())
		}
	})
	line, err := bufio.NewReader(witnessOut).ReadString('\n')
	if err != nil {
		t.Fatalf("witness: %v\n%s", err, witnessLog.String())
	}
	witnessItem := strings.TrimSpace(line) // VKEY@URL
	witnessVKey, witnessURL, _ := strings.Cut(witnessItem, "@")

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	in := insider{t: t, f: f, env: append(f.env,
		"TANDEM_AUDIT_SIGNING_KEY="+base64.StdEncoding.EncodeToString(priv.Seed()),
		"TANDEM_EXPORT_SIGNING_KEY="+base64.StdEncoding.EncodeToString(exportKey.Seed()),
		"TANDEM_AUDIT_CHECKPOINT_DIR="+outside, "TANDEM_AUDIT_CHECKPOINT_EVERY=1h",
		"TANDEM_AUDIT_WITNESSES="+witnessItem, "TANDEM_AUDIT_WITNESS_QUORUM=1",
		"TANDEM_JWT_SECRET="+base64.StdEncoding.EncodeToString(secret), "TANDEM_LOG_LEVEL=warn")}
	p := startDev(t, f.bin, in.env, freeAddr(t))
	defer func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("--- tandem dev log:\n%s", tail(p.log.String(), 4000))
		}
	}()
	traffic := func(n int) string {
		var last string
		for range n {
			r := openWithKey(p.addr, f.apiKey, "insider-"+randomID())
			if r.status != http.StatusCreated {
				t.Fatalf("open: %d", r.status)
			}
			last = r.caseID
		}
		return last
	}
	checkpoint := func() int64 {
		t.Helper()
		out := in.must("audit", "checkpoint", "-tenant", demoTenant)
		var n int64
		if _, err := fmt.Sscanf(out, demoTenant+": signed %d entries", &n); err != nil {
			t.Fatalf("checkpoint output %q", out)
		}
		return n
	}

	caseID := traffic(3)
	first := checkpoint()
	traffic(2)
	second := checkpoint()
	v := verification(t, in.must("audit", "verify", "-tenant", demoTenant))
	if !v.OK || v.Witnessed != second || v.Checkpoints != 2 {
		t.Fatalf("intact, witnessed: %+v (checkpoints %d, %d)", v, first, second)
	}

	// A compliance officer exports a trail; a third party verifies it with
	// only the file and the public keys.
	export := exportTrail(t, in, p.addr, caseID)
	file := filepath.Join(t.TempDir(), "trail.jsonl")
	os.WriteFile(file, export, 0o600)
	offline := func() ([]byte, error) {
		cmd := exec.Command(f.bin, "audit", "verify-export", "-export-key", exportPubB64, "-audit-key", pubB64,
			"-witness", witnessVKey, "-quorum", "1", file)
		cmd.Env = []string{"PATH=/usr/bin:/bin"} // no database, no configuration
		return cmd.CombinedOutput()
	}
	if out, err := offline(); err != nil || !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("verify-export: %v\n%s", err, out)
	}
	os.WriteFile(file, bytes.Replace(export, []byte(`"case.open"`), []byte(`"case.opem"`), 1), 0o600)
	if out, err := offline(); err == nil || !strings.Contains(string(out), `"ok":false`) {
		t.Fatalf("verify-export of an altered file: %v\n%s", err, out)
	}

	// In another tenant the owner edits an entry in the middle and re-hashes
	// the chain after it, as someone with the code would: the chain links,
	// but its entries no longer hash to the root the checkpoint signed.
	const other = "insider-edit"
	if err := f.db.EnsureTenant(context.Background(), other, "Edit"); err != nil {
		t.Fatal(err)
	}
	otherKey, _, err := f.db.CreateAPIKey(context.Background(), other, "test", "service")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := openWithKey(p.addr, otherKey, "edit-"+randomID()); r.status != http.StatusCreated {
			t.Fatalf("open in %s: %d", other, r.status)
		}
	}
	in.must("audit", "checkpoint", "-tenant", other)
	events, err := f.db.ListAudit(context.Background(), other, store.AuditFilter{Limit: 1000})
	if err != nil || len(events) < 4 {
		t.Fatalf("%s's entries: %d %v", other, len(events), err)
	}
	events[1].ActorID = "mallory"
	var rehash []string
	prev := events[0].Hash
	for _, e := range events[1:] {
		e.PrevHash = prev
		e.Hash = store.ChainHash(prev, e)
		rehash = append(rehash, fmt.Sprintf("UPDATE audit_events SET actor_id = '%s', prev_hash = '\\x%x', hash = '\\x%x' WHERE tenant_id = '%s' AND seq = %d",
			e.ActorID, e.PrevHash, e.Hash, other, e.Seq))
		prev = e.Hash
	}
	in.ownerDoes(append(rehash, fmt.Sprintf("UPDATE audit_heads SET hash = '\\x%x' WHERE tenant_id = '%s'", prev, other))...)
	out, err := in.run("audit", "verify", "-tenant", other)
	if v := verification(t, out); err == nil || v.OK || !strings.Contains(v.Problem, "no longer contains the checkpoint") {
		t.Fatalf("verify after an edit in the middle: %v %+v", err, v)
	}

	// The owner cuts the newest entries before the first checkpoint, resets
	// the head, drops the tree, the checkpoints and their cosignatures past
	// the cut, and lets ordinary traffic carry the chain past the last one.
	cut := first - 2
	in.ownerDoes(
		fmt.Sprintf("DELETE FROM audit_events WHERE tenant_id = '%s' AND seq > %d", demoTenant, cut),
		fmt.Sprintf("DELETE FROM audit_checkpoints WHERE tenant_id = '%s' AND seq > %d", demoTenant, cut),
		fmt.Sprintf("DELETE FROM audit_cosignatures WHERE tenant_id = '%s' AND seq > %d", demoTenant, cut),
		fmt.Sprintf("DELETE FROM audit_tree_hashes WHERE tenant_id = '%s'", demoTenant),
		fmt.Sprintf("DELETE FROM audit_trees WHERE tenant_id = '%s'", demoTenant),
		fmt.Sprintf("UPDATE audit_heads SET seq = %d, hash = (SELECT hash FROM audit_events WHERE tenant_id = '%[2]s' AND seq = %[1]d) WHERE tenant_id = '%[2]s'", cut, demoTenant),
	)
	for head := cut; head <= second+3; {
		traffic(1)
		f.db.DB().Raw("SELECT seq FROM audit_heads WHERE tenant_id = ?", demoTenant).Scan(&head)
	}
	out, err = in.run("audit", "checkpoint", "-tenant", demoTenant)
	if err == nil || !strings.Contains(out, "refused") {
		t.Fatalf("checkpoint of the forged chain: %v %s", err, out)
	}
	refusals, _ := f.db.ListAudit(context.Background(), demoTenant, store.AuditFilter{Action: store.AuditCheckpointRefused, Limit: 5})
	if len(refusals) != 1 {
		t.Fatalf("refusals on the trail: %+v", refusals)
	}
	out, err = in.run("audit", "verify", "-tenant", demoTenant)
	v = verification(t, out)
	want := fmt.Sprintf("no longer contains the checkpoint of %d entries", first)
	if err == nil || v.OK || v.BrokenAt != first || !strings.Contains(v.Problem, want) {
		t.Fatalf("verify after the cut: %v %+v, want it to name the checkpoint of %d", err, v, first)
	}

	// The operator, who holds the audit key and the outside log too, signs
	// the forged tree and wipes the outside log: the witness will not
	// cosign a history that does not extend what it saw, so verification
	// that requires its cosignature still fails.
	tree, err := f.db.IntegrateAudit(context.Background(), demoTenant)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := auditlog.Signer(priv)
	var root [32]byte
	copy(root[:], tree.Root)
	forged, _ := auditlog.Sign(signer, demoTenant, tree.Size, root)
	_, err = auditlog.AddCheckpoint(context.Background(), http.DefaultClient, witnessURL, 0, nil, forged)
	var at *auditlog.ConflictError
	if !errors.As(err, &at) || at.Size < second {
		t.Fatalf("the witness's size: %v", err)
	}
	proof, err := f.db.ProveConsistency(context.Background(), demoTenant, at.Size, tree.Size) // over the forged tree
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auditlog.AddCheckpoint(context.Background(), http.DefaultClient, witnessURL, at.Size, proof, forged); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("the witness and the forged checkpoint: %v, want refused 422", err)
	}
	os.RemoveAll(outside)
	if err := f.db.DB().Exec(`INSERT INTO audit_checkpoints (tenant_id, seq, hash, signed_at, key_id, signature, note) VALUES (?, ?, ?, now(), 'forged', '', ?)`,
		demoTenant, tree.Size, tree.Root, forged).Error; err != nil {
		t.Fatal(err)
	}
	out, err = in.run("audit", "verify", "-tenant", demoTenant)
	v = verification(t, out)
	if err == nil || v.OK || !strings.Contains(v.Problem, "witness cosignature") {
		t.Fatalf("verify of the operator's fork: %v %+v", err, v)
	}
}

func (in insider) ownerDoes(stmts ...string) {
	in.t.Helper()
	owner := in.f.db.Owner(in.t)
	for _, stmt := range append([]string{
		"ALTER TABLE audit_events DISABLE TRIGGER USER",
		"ALTER TABLE audit_checkpoints DISABLE TRIGGER USER",
		"ALTER TABLE audit_cosignatures DISABLE TRIGGER USER",
		"ALTER TABLE audit_tree_hashes DISABLE TRIGGER USER",
	}, stmts...) {
		if err := owner.Exec(stmt).Error; err != nil {
			in.t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// exportTrail signs in as a compliance officer (a token, a second factor,
// a step-up) and exports the case's trail as JSON lines.
func exportTrail(t *testing.T, in insider, addr, caseID string) []byte {
	t.Helper()
	token := strings.TrimSpace(in.must("token", "-tenant", demoTenant, "-sub", "officer-1", "-roles", "compliance", "-ttl", "1h"))
	call := func(method, path, bearer, body string) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return raw
	}
	var enrol struct {
		URL string `json:"otpauth_url"`
	}
	json.Unmarshal(call("POST", "/v1/auth/totp/enrol", token, ""), &enrol)
	code := strings.TrimSpace(in.must("totp-code", enrol.URL))
	call("POST", "/v1/auth/totp/confirm", token, `{"code":"`+code+`"}`)
	next := strings.TrimSpace(in.must("totp-code", "-in", "30s", enrol.URL))
	var up struct {
		Token string `json:"token"`
	}
	json.Unmarshal(call("POST", "/v1/auth/step-up", token, `{"code":"`+next+`","for":["records"]}`), &up)
	return call("GET", "/v1/cases/"+caseID+"/trail/export?format=jsonl", up.Token, "")
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
