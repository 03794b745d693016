// Package store keeps a probe's runs, signed measurements, connectivity history,
// known networks and upload queue in one sqlite database, so that measurements
// survive crashes, reboots and shutdowns until they can leave the country.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vantage-probe/vantage/report/sqlitedb"
)

// FileName is the database file inside the data directory.
const FileName = "vantage.db"

// busyTimeout is how long a statement waits for another connection's (or another
// vantage process's) write lock before failing: long enough to ride out a
// concurrent upload committing a batch, short enough that a stuck lock is
// reported instead of hanging a run.
const busyTimeout = 10 * time.Second

// maxOpenConns bounds the connection pool. WAL lets readers proceed while one
// writer commits; a handful is plenty for a probe.
const maxOpenConns = 4

// Errors returned by Open and the write methods. Callers compare with errors.Is.
var (
	ErrCorrupt      = errors.New("database file is corrupt or not a vantage database")
	ErrNewerSchema  = errors.New("database was written by a newer vantage")
	ErrConflict     = errors.New("measurement_uid already stored with different bytes")
	ErrBadLine      = errors.New("not a verifiable signed measurement")
	ErrUnknownRun   = errors.New("unknown run")
	ErrUnknownQueue = errors.New("measurement is not in the upload queue")
)

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	// Now is the clock used for queue scheduling and bookkeeping times; tests
	// replace it. Set it before using the store.
	Now func() time.Time
}

// Open opens (creating when needed) dir/vantage.db and brings its schema up to
// date. A database written by a newer vantage is refused with ErrNewerSchema and
// left untouched; a file that is not a readable sqlite database is refused with
// ErrCorrupt. Both errors name the file.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// Create the file owner-only before sqlite does (it would use the umask, often
	// 0644): what a volunteer measured is nobody else's business on a shared
	// machine. sqlite gives its -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	f.Close()
	// Journal mode is not set here: switching to WAL rewrites the file header, and a
	// file must pass the checks in migrate before anything writes to it. migrate
	// switches to WAL, which is then a persistent property of the file.
	// QUIRK: synchronous=FULL rather than the NORMAL usually paired with WAL. NORMAL
	// is safe against a process crash but may lose the last commits on a power cut;
	// on a probe in a shutdown, a measurement may be the only record there is, and
	// the cost (one fsync per measurement, see docs/storage.md) is invisible next
	// to the seconds a measurement takes.
	// Write transactions take the write lock at BEGIN (TxImmediate), so two writers
	// never deadlock upgrading read locks; they queue on the busy timeout instead.
	db, err := sqlitedb.Open(path, sqlitedb.Options{
		Synchronous: "FULL", ForeignKeys: true, BusyTimeout: busyTimeout, TxImmediate: true,
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	s := &Store{db: db, path: path, Now: time.Now}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. A WAL checkpoint runs on the last connection's close.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// wrap names the file and the operation, and turns sqlite's corruption codes into
// ErrCorrupt so that callers can tell a damaged file from a transient failure.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if sqlitedb.Is(err, sqlitedb.CodeCorrupt) || sqlitedb.Is(err, sqlitedb.CodeNotADB) {
		return fmt.Errorf("store: %s: %s: %w (%v); move the file aside to start a new store, keep it for recovery", op, s.path, ErrCorrupt, err)
	}
	return fmt.Errorf("store: %s: %s: %w", op, s.path, err)
}

// withTx runs fn in one write transaction: all of fn's writes commit together or
// not at all.
//
// QUIRK: the transaction ignores ctx's cancellation (keeping its values). Writes
// record what already happened — a finished measurement, a collector's
// acknowledgement — and a Ctrl-C that stops a run must not throw those away; each
// write is bounded by the busy timeout instead.
func (s *Store) withTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	ctx = context.WithoutCancel(ctx)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(op, err)
	}
	if err := fn(ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	return s.wrap(op, tx.Commit())
}

// timeLayout is fixed-width UTC so that stored times sort as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
