package main

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tandem/activities/store"
	"tandem/activities/store/storetest"
)

// `tandem search reindex` rebuilds the index from the sealed messages: a
// case whose terms were lost is found again.
func TestSearchReindexCommand(t *testing.T) {
	bin := buildBinary(t)
	db := storetest.New(t)
	ctx := context.Background()
	if err := db.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	id, at := uuid.NewString(), time.Now().UTC()
	c := store.Case{TenantID: "acme", ID: id, WorkflowID: "case:acme:" + id, CustomerRef: "cust-kettle", Subject: "Kettle",
		Channel: "web_chat", Priority: "normal", Status: "ai_handling", LastSeq: 1, OpenedAt: at, UpdatedAt: at, ProjGen: 1, ProjEvent: 1}
	msg := store.Message{TenantID: "acme", CaseID: id, Seq: 1, AuthorKind: "customer", Body: "My kettle sparks when switched on.", CreatedAt: at}
	if _, err := db.RecordCase(ctx, c, []store.Message{msg}, nil); err != nil {
		t.Fatal(err)
	}
	found := func() int {
		rows, _, err := db.SearchCases(ctx, "acme", "kettle sparks", store.ListFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	if found() != 1 {
		t.Fatal("the case is not found before the index is lost")
	}
	if err := db.Owner(t).Exec(`DELETE FROM search_terms WHERE tenant_id = 'acme'`).Error; err != nil {
		t.Fatal(err)
	}
	if found() != 0 {
		t.Fatal("found with no index")
	}
	master := storetest.TestMasterKey.ID + ":" + base64.StdEncoding.EncodeToString(storetest.TestMasterKey.Key)
	cmd := exec.Command(bin, "search", "reindex", "-tenant", "acme")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+db.AppURL, "TANDEM_MASTER_KEY="+master)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "acme: 1 cases reindexed") {
		t.Fatalf("reindex: %v\n%s", err, out)
	}
	if found() != 1 {
		t.Fatal("the case is not found after the reindex")
	}
}
