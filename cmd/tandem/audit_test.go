package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"tandem/activities/payments"
	"tandem/activities/store"
	"tandem/activities/store/storetest"
	"tandem/workflows"
)

// `tandem audit verify` names the first broken entry after each kind of
// tampering, and exits non-zero; on an intact chain it exits zero; without
// the verify key it verifies nothing and says why.
func TestAuditVerifyCommand(t *testing.T) {
	bin := buildBinary(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	t.Run("no key", func(t *testing.T) {
		db := storetest.New(t)
		cmd := exec.Command(bin, "audit", "verify")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+db.AppURL)
		out, err := cmd.CombinedOutput()
		if err == nil || strings.Contains(string(out), `"ok"`) || !strings.Contains(string(out), "TANDEM_AUDIT_VERIFY_KEY") {
			t.Fatalf("verify without a key: %v %s", err, out)
		}
	})
	tamperings := map[string]struct {
		sql      []string
		brokenAt int64
	}{
		"altered":   {[]string{"UPDATE audit_events SET actor_id = 'mallory' WHERE seq = 3"}, 3},
		"deleted":   {[]string{"DELETE FROM audit_events WHERE seq = 2"}, 2},
		"reordered": {[]string{"UPDATE audit_events SET seq = 100 WHERE seq = 4", "UPDATE audit_events SET seq = 4 WHERE seq = 5", "UPDATE audit_events SET seq = 5 WHERE seq = 100"}, 4},
		"intact":    {nil, 0},
	}
	for name, tc := range tamperings {
		t.Run(name, func(t *testing.T) {
			db := storetest.New(t)
			ctx := context.Background()
			if err := db.EnsureTenant(ctx, "acme", "Acme"); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 5; i++ {
				if _, err := db.AppendAudit(ctx, store.AuditEvent{TenantID: "acme", ID: fmt.Sprint("e", i), Action: "case.read",
					Decision: "allow", CaseID: "c1"}); err != nil {
					t.Fatal(err)
				}
			}
			owner := db.Owner(t)
			for _, stmt := range append([]string{"ALTER TABLE audit_events DISABLE TRIGGER USER"}, tc.sql...) {
				if err := owner.Exec(stmt).Error; err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bin, "audit", "verify", "-tenant", "acme", "-case", "c1")
			cmd.Env = append(os.Environ(), "DATABASE_URL="+db.AppURL, "TANDEM_AUDIT_VERIFY_KEY="+base64.StdEncoding.EncodeToString(pub))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var v struct {
				OK          bool  `json:"ok"`
				BrokenAt    int64 `json:"broken_at"`
				CaseEntries int64 `json:"case_entries"`
			}
			if jerr := json.Unmarshal(bytes.SplitN(out.Bytes(), []byte("\n"), 2)[0], &v); jerr != nil {
				t.Fatalf("output %q: %v", out.String(), jerr)
			}
			if tc.brokenAt == 0 {
				if err != nil || !v.OK || v.CaseEntries != 5 {
					t.Fatalf("intact chain: %v, %s", err, out.String())
				}
				return
			}
			if err == nil || v.OK || v.BrokenAt != tc.brokenAt || !strings.Contains(out.String(), "audit logs are broken") {
				t.Fatalf("want exit 1 naming entry %d; got %v: %s", tc.brokenAt, err, out.String())
			}
		})
	}
}

// `tandem reconcile` exits zero when the ledger agrees with the gateway and
// non-zero naming the payment when it does not.
func TestReconcileCommand(t *testing.T) {
	bin := buildBinary(t)
	db := storetest.New(t)
	ctx := context.Background()
	if err := db.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	reconcile := func() (string, error) {
		cmd := exec.Command(bin, "reconcile", "-tenant", "acme")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+db.AppURL)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	key := "9b1f3a52-1d3e-4c1b-8a57-5b0f3f2b7a10"
	if _, err := (&payments.Simulated{Store: db.Store}).Pay(ctx, "acme", key, "12.50", "EUR"); err != nil {
		t.Fatal(err)
	}
	out, err := reconcile()
	if err == nil || !strings.Contains(out, `"reconciled":false`) || !strings.Contains(out, key) || !strings.Contains(out, "do not reconcile") {
		t.Fatalf("a payment missing from the ledger: %v %s", err, out)
	}
	if err := db.PostLedger(ctx, []store.LedgerEntry{{TenantID: "acme", ID: key + ":paid", RefundID: &key, DebitAccount: "refunds_payable",
		CreditAccount: workflows.AccountClearing, Amount: "12.50", Currency: "EUR", PostedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if out, err := reconcile(); err != nil || !strings.Contains(out, `"balanced":true,"reconciled":true`) {
		t.Fatalf("after posting: %v %s", err, out)
	}
}

// `tandem seed` makes the walkthrough's tenant, articles and orders, and
// can run again without adding anything twice.
func TestSeedCommand(t *testing.T) {
	bin := buildBinary(t)
	db := storetest.New(t)
	master := storetest.TestMasterKey.ID + ":" + base64.StdEncoding.EncodeToString(storetest.TestMasterKey.Key)
	for range 2 {
		cmd := exec.Command(bin, "seed")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+db.AppURL, "TANDEM_MASTER_KEY="+master, "TANDEM_JWT_SECRET=test-only-secret-0123456789abcdef")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("seed: %v\n%s", err, out)
		}
	}
	var orders int64
	if err := db.DB().Table("orders").Where("tenant_id = ?", demoTenant).Count(&orders).Error; err != nil || orders != 2 {
		t.Fatalf("%d demo orders (%v), want 2", orders, err)
	}
	o, err := db.GetOrder(context.Background(), demoTenant, "0917")
	if err != nil || time.Since(o.PlacedAt) < 90*24*time.Hour {
		t.Fatalf("the old order: %+v %v", o, err)
	}
}

// `tandem doctor` exits non-zero naming what differs when a case's record
// disagrees with its workflow, and `tandem doctor -repair` makes them agree.
func TestDoctorCommand(t *testing.T) {
	f := newFixture(t)
	p := startDev(t, f.bin, f.env, freeAddr(t))
	defer func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	}()
	opened := openWithKey(p.addr, f.apiKey, "doctor-"+f.id)
	if opened.status != http.StatusCreated {
		t.Fatalf("open: %d", opened.status)
	}
	master := storetest.TestMasterKey.ID + ":" + base64.StdEncoding.EncodeToString(storetest.TestMasterKey.Key)
	doctor := func(args ...string) (string, error) {
		cmd := exec.Command(f.bin, append([]string{"doctor", "-tenant", demoTenant}, args...)...)
		payload := "test:" + base64.StdEncoding.EncodeToString([]byte("test-only-payload-key-32-bytes!!"))
		cmd.Env = append(os.Environ(), append(f.env, "TANDEM_MASTER_KEY="+master, "TANDEM_PAYLOAD_KEY="+payload)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	if out, err := doctor(); err != nil || !strings.Contains(out, `"clean":true`) {
		t.Fatalf("a fresh case: %v %s", err, out)
	}
	if err := f.db.DB().Exec(`UPDATE cases SET status = 'resolved' WHERE id = ?`, opened.caseID).Error; err != nil {
		t.Fatal(err)
	}
	out, err := doctor()
	if err == nil || !strings.Contains(out, `"field":"status","record":"resolved"`) {
		t.Fatalf("drift: want exit 1 naming the status; got %v %s", err, out)
	}
	if out, err := doctor("-repair"); err != nil || !strings.Contains(out, `"repaired":1`) {
		t.Fatalf("repair: %v %s", err, out)
	}
	if out, err := doctor(); err != nil || !strings.Contains(out, `"clean":true`) {
		t.Fatalf("after repair: %v %s", err, out)
	}
}
