// Package migrations holds Tandem's versioned SQL schema, embedded in the
// binary, and applies it: `tandem migrate up|down|status` and the tests use the
// same files.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"
)

//go:embed *.sql
var files embed.FS

// lockID serialises concurrent migrators (two `tandem dev` starting at once).
const lockID = 7_236_021_001

// Migration is one versioned step with its up and down SQL.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

// State is a migration and whether the database has it.
type State struct {
	Migration
	AppliedAt *time.Time
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$`)

// All returns the embedded migrations in version order.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: name must be NNNN_name.up.sql or NNNN_name.down.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migration %04d_%s: both up and down files are required", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions must be 1..n without gaps; found %04d at position %d", m.Version, i+1)
		}
	}
	return out, nil
}

// Up applies every migration the database does not have yet, each in its own
// transaction, and returns the versions it applied.
func Up(ctx context.Context, db *sql.DB) ([]int, error) {
	var applied []int
	err := withLock(ctx, db, func(conn *sql.Conn, all []Migration, have map[int]time.Time) error {
		for _, m := range all {
			if _, ok := have[m.Version]; ok {
				continue
			}
			if err := apply(ctx, conn, m.Up, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("migration %04d_%s up: %w", m.Version, m.Name, err)
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	return applied, err
}

// Down reverts the newest `steps` applied migrations and returns their versions.
func Down(ctx context.Context, db *sql.DB, steps int) ([]int, error) {
	if steps < 1 {
		return nil, fmt.Errorf("steps must be at least 1, got %d", steps)
	}
	var reverted []int
	err := withLock(ctx, db, func(conn *sql.Conn, all []Migration, have map[int]time.Time) error {
		for i := len(all) - 1; i >= 0 && len(reverted) < steps; i-- {
			m := all[i]
			if _, ok := have[m.Version]; !ok {
				continue
			}
			if err := apply(ctx, conn, m.Down, `DELETE FROM schema_migrations WHERE version = $1`, m.Version); err != nil {
				return fmt.Errorf("migration %04d_%s down: %w", m.Version, m.Name, err)
			}
			reverted = append(reverted, m.Version)
		}
		return nil
	})
	return reverted, err
}

// Status lists every embedded migration and when it was applied, if it was.
func Status(ctx context.Context, db *sql.DB) ([]State, error) {
	var out []State
	err := withLock(ctx, db, func(conn *sql.Conn, all []Migration, have map[int]time.Time) error {
		for _, m := range all {
			s := State{Migration: m}
			if at, ok := have[m.Version]; ok {
				s.AppliedAt = &at
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// withLock runs fn on one connection holding the migration lock, with the
// embedded migrations and those the database has.
func withLock(ctx context.Context, db *sql.DB, fn func(conn *sql.Conn, all []Migration, have map[int]time.Time) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	// Unlock with a fresh context: the caller's may be cancelled by now.
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockID) //nolint:errcheck // the session ends with conn anyway
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	all, err := All()
	if err != nil {
		return err
	}
	have, err := appliedVersions(ctx, conn)
	if err != nil {
		return err
	}
	return fn(conn, all, have)
}

func appliedVersions(ctx context.Context, conn *sql.Conn) (map[int]time.Time, error) {
	rows, err := conn.QueryContext(ctx, `SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	have := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, fmt.Errorf("scan schema_migrations: %w", err)
		}
		have[v] = at
	}
	return have, rows.Err()
}

func apply(ctx context.Context, conn *sql.Conn, script, record string, args ...any) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, record, args...); err != nil {
		return err
	}
	return tx.Commit()
}

var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// GrantApp gives the application's database role what it needs and no more:
// rows of every table, but only reading and appending on the audit tables
// and the ledger,
// and nothing on the migrations' own table. The role owns nothing, so it can
// neither alter tables nor drop or disable the triggers that keep the audit
// trail append-only. Run it after Up, as the owner.
func GrantApp(ctx context.Context, db *sql.DB, role string) error {
	if !roleName.MatchString(role) {
		return fmt.Errorf("application role %q: want a plain lower-case name", role)
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	if !exists {
		return fmt.Errorf("database role %q does not exist: create it (make run does) or set TANDEM_APP_DB_ROLE", role)
	}
	for _, stmt := range []string{
		`GRANT USAGE ON SCHEMA public TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + role,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + role,
		`REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints, audit_tree_hashes, audit_cosignatures, ledger_entries FROM ` + role,
		`REVOKE ALL ON schema_migrations FROM ` + role,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("grant to %s: %w", role, err)
		}
	}
	return nil
}
