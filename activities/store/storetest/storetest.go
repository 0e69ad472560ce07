// Package storetest gives each test its own throwaway PostgreSQL database,
// migrated from the same embedded SQL the binary uses.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the admin connection

	"tandem/activities/store"
	"tandem/migrations"
)

// DefaultURL is where `make test` puts PostgreSQL (dev-only credentials).
const DefaultURL = "postgres://tandem:tandem-dev-only@127.0.0.1:5432/tandem?sslmode=disable"

// URL is the server the tests use: DATABASE_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// TestMasterKey is the master key of test databases. Test-only: it protects nothing.
var TestMasterKey = store.MasterKey{ID: "test", Key: []byte("test-only-master-key-32-bytes!!!")}

// Keyring returns a keyring holding TestMasterKey.
func Keyring(t testing.TB) *store.Keyring {
	k, err := store.NewKeyring(TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// New creates an empty database named after a random suffix, applies every
// migration, and drops it when the test ends. It fails the test (never skips)
// when PostgreSQL cannot be reached: `make test` starts it.
func New(t testing.TB) (*store.Store, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	base, err := url.Parse(URL())
	if err != nil {
		t.Fatalf("parse DATABASE_URL: %v", err)
	}
	admin, err := sql.Open("pgx", base.String())
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (run the tests with `make test`, which starts it): %v", base.Redacted(), err)
	}

	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatalf("random name: %v", err)
	}
	name := "tandem_test_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	dsn := *base
	dsn.Path = "/" + name

	s, err := store.Open(ctx, dsn.String())
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	s.UseKeyring(Keyring(t))
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := sql.Open("pgx", base.String())
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})

	sqlDB, err := s.DB().DB()
	if err != nil {
		t.Fatalf("test database pool: %v", err)
	}
	if _, err := migrations.Up(ctx, sqlDB); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return s, dsn.String()
}
