package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"tandem/activities/store"
	"tandem/activities/store/storetest"
)

// `tandem audit verify` names the first broken entry after each kind of
// tampering, and exits non-zero; on an intact chain it exits zero.
func TestAuditVerifyCommand(t *testing.T) {
	bin := buildBinary(t)
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
			cmd.Env = append(os.Environ(), "DATABASE_URL="+db.AppURL)
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
			if err == nil || v.OK || v.BrokenAt != tc.brokenAt || !strings.Contains(out.String(), "audit chains are broken") {
				t.Fatalf("want exit 1 naming entry %d; got %v: %s", tc.brokenAt, err, out.String())
			}
		})
	}
}
