package migrations_test

import (
	"context"
	"testing"

	"tandem/activities/store/storetest"
	"tandem/migrations"
)

// storetest.New has applied every migration; walk them all down and up again.
func TestDownAndUpAgain(t *testing.T) {
	db, err := storetest.New(t).Owner(t).DB() // migrations are the owner's work
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	all, err := migrations.Status(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	tables := func() int {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = 'public' AND table_name <> 'goose_db_version'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if tables() == 0 {
		t.Fatal("no tables after migrating up")
	}
	if again, err := migrations.Up(ctx, db); err != nil || len(again) != 0 {
		t.Fatalf("second up applied %v, %v; want nothing", again, err)
	}

	reverted, err := migrations.Down(ctx, db, len(all))
	if err != nil || len(reverted) != len(all) {
		t.Fatalf("down reverted %v, %v; want all %d", reverted, err, len(all))
	}
	if n := tables(); n != 0 {
		t.Fatalf("%d tables left after reverting everything", n)
	}
	states, err := migrations.Status(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.AppliedAt != nil {
			t.Fatalf("%04d still marked applied", s.Version)
		}
	}

	applied, err := migrations.Up(ctx, db)
	if err != nil || len(applied) != len(all) {
		t.Fatalf("up again applied %v, %v", applied, err)
	}
	if _, err := migrations.Down(ctx, db, 0); err == nil {
		t.Fatal("down 0 must be refused")
	}
}

// A database migrated by the runner that came before goose records its
// versions in schema_migrations: goose adopts them and applies nothing again.
func TestAdoptsTheOlderRunnersVersions(t *testing.T) {
	db, err := storetest.New(t).Owner(t).DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO schema_migrations (version, name) SELECT version_id, 'older' FROM goose_db_version WHERE version_id > 0`,
		`DROP TABLE goose_db_version`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	applied, err := migrations.Up(ctx, db)
	if err != nil || len(applied) != 0 {
		t.Fatalf("up over the older runner's table applied %v, %v; want nothing", applied, err)
	}
	states, err := migrations.Status(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.AppliedAt == nil {
			t.Errorf("%04d_%s not adopted", s.Version, s.Name)
		}
	}
}
