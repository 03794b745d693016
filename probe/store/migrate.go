package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the schema history, one file per version, named
// NNNN_what.sql. A migration is never edited once released: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order, checking that the
// versions run 1, 2, 3, ... without gaps.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("store: list migrations: %w", err)
	}
	sort.Strings(names)
	var out []migration
	for i, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("store: migration %s: want version %d", base, i+1)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", base, err)
		}
		out = append(out, migration{version: v, name: base, sql: string(body)})
	}
	return out, nil
}

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate brings the database to SchemaVersion. The version lives in sqlite's
// user_version header field, which is written inside the same transaction as the
// migration's statements: a crash mid-migration leaves the old schema and the old
// version, never a half-applied one.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	// One connection for the whole check-and-migrate, so that the version read and
	// the migration happen under the same write lock.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.wrap("open", err)
	}
	defer conn.Close()
	// Check before writing anything: a refused file is left byte-for-byte alone.
	current, err := s.checkVersion(ctx, conn, len(ms))
	if err != nil {
		return err
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.wrap("read journal mode", err)
	}
	if current == len(ms) && mode == "wal" {
		// Up to date: no write lock, so that opening the store beside a running
		// measurement (export, results, upload) never waits on it.
		return nil
	}
	if mode != "wal" {
		if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
			return s.wrap("enable WAL", err)
		}
		if mode != "wal" {
			return fmt.Errorf("store: %s: journal mode is %q, want wal", s.path, mode)
		}
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return s.wrap("open", err)
	}
	committed := false
	defer func() {
		if !committed {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	// Again under the write lock: another process may have migrated meanwhile.
	current, err = s.checkVersion(ctx, conn, len(ms))
	if err != nil {
		return err
	}
	for _, m := range ms[current:] {
		if _, err := conn.ExecContext(ctx, m.sql); err != nil {
			return s.wrap("migrate to "+m.name, err)
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			return s.wrap("migrate to "+m.name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return s.wrap("migrate", err)
	}
	committed = true
	return nil
}

// checkVersion reads the schema version and refuses a newer one, or a version-0
// file that is not empty.
func (s *Store) checkVersion(ctx context.Context, conn *sql.Conn, known int) (int, error) {
	var current int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return 0, s.wrap("read schema version", err)
	}
	if current > known {
		return 0, fmt.Errorf("store: %s: %w: schema version %d, this vantage knows up to %d; upgrade vantage (the file was not modified)",
			s.path, ErrNewerSchema, current, known)
	}
	if current == 0 {
		if err := s.checkEmpty(ctx, conn); err != nil {
			return 0, err
		}
	}
	return current, nil
}

// checkEmpty refuses a version-0 database that already has tables: it is some
// other program's sqlite file, and migrating it would mix two schemas.
func (s *Store) checkEmpty(ctx context.Context, conn *sql.Conn) error {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return s.wrap("read schema", err)
	}
	if n > 0 {
		return fmt.Errorf("store: %s: %w: it has %d schema objects but no vantage schema version", s.path, ErrCorrupt, n)
	}
	return nil
}
