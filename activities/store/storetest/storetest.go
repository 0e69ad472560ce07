// Package storetest gives each test its own throwaway PostgreSQL database,
// migrated from the same embedded SQL the binary uses, and connected as the
// application's role, as the binary is.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the owner's connection
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"tandem/activities/envelope"
	"tandem/activities/store"
	"tandem/migrations"
)

// Where `make test` puts PostgreSQL and its two roles (dev-only credentials):
// the owner, who creates and migrates databases, and the application.
const (
	DefaultOwnerURL    = "postgres://tandem:tandem-dev-only@127.0.0.1:5432/tandem?sslmode=disable"
	DefaultAppRole     = "tandem_app"
	DefaultAppPassword = "tandem-app-dev-only"
)

// TestMasterKey is the master key of test databases. Test-only: it protects nothing.
var TestMasterKey = envelope.MasterKey{ID: "test", Key: []byte("test-only-master-key-32-bytes!!!")}

// Keyring returns a keyring holding TestMasterKey.
func Keyring(t testing.TB) *envelope.Keyring {
	k, err := envelope.NewKeyring(TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// DB is a test database: a Store connected as the application's role, and
// the URLs of both roles.
type DB struct {
	*store.Store
	AppURL, OwnerURL string
}

// Owner connects as the database's owner, who can do what the application
// cannot (switch triggers off, say): for tests that play a tamperer.
func (d *DB) Owner(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(d.OwnerURL), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect as owner: %v", err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// SkipShort skips a test that needs PostgreSQL or Temporal under -short:
// `make test-unit` runs the fast tier of pure code; `make test` runs both.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL and Temporal: make test runs it")
	}
}

// New creates an empty database named after a random suffix, applies every
// migration and the application's grants as the owner, connects as the
// application, and drops the database when the test ends. It fails the test
// (never skips) when PostgreSQL cannot be reached: `make test` starts it.
func New(t testing.TB) *DB {
	t.Helper()
	SkipShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	base, err := url.Parse(env("TANDEM_MIGRATE_DATABASE_URL", DefaultOwnerURL))
	if err != nil {
		t.Fatalf("parse TANDEM_MIGRATE_DATABASE_URL: %v", err)
	}
	admin, err := sql.Open("pgx", base.String())
	if err != nil {
		t.Fatalf("open owner connection: %v", err)
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
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := sql.Open("pgx", base.String())
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer admin.Close()
		// The application's connections are closed, but their server processes
		// end a moment later, and the owner may not terminate them: wait. A
		// background reconnection may open one after the wait: wait again.
		for {
			for {
				var n int
				err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename <> current_user`, name).Scan(&n)
				if err != nil || n == 0 || ctx.Err() != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			_, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			var pg *pgconn.PgError
			if errors.As(err, &pg) && pg.Code == "42501" && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Errorf("drop test database %s: %v", name, err)
			}
			return
		}
	})

	owner := *base
	owner.Path = "/" + name
	ownerDB, err := sql.Open("pgx", owner.String())
	if err != nil {
		t.Fatalf("open test database as owner: %v", err)
	}
	defer ownerDB.Close()
	role := env("TANDEM_TEST_APP_ROLE", DefaultAppRole)
	if _, err := migrations.Up(ctx, ownerDB); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	if err := migrations.GrantApp(ctx, ownerDB, role); err != nil {
		t.Fatalf("grant to the application role: %v", err)
	}

	app := owner
	app.User = url.UserPassword(role, env("TANDEM_TEST_APP_PASSWORD", DefaultAppPassword))
	s, err := store.Open(ctx, app.String())
	if err != nil {
		t.Fatalf("open test database as %s: %v", role, err)
	}
	s.UseKeyring(Keyring(t))
	t.Cleanup(func() { s.Close() })
	return &DB{Store: s, AppURL: app.String(), OwnerURL: owner.String()}
}
