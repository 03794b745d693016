// Package storage keeps the collector's signed measurements and their indexed
// metadata in sqlite (the default, one file) or PostgreSQL (several collectors sharing
// one database), through one SQL implementation and the same migrations for both.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/vantage-probe/vantage/report/sqlitedb"
)

// Errors returned by DB methods. Callers compare with errors.Is.
var (
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a measurement_uid is already stored with different bytes.
	ErrConflict = errors.New("storage: measurement_uid already stored with different bytes")
	// ErrKeyMismatch: a probe id is already pinned to another public key.
	ErrKeyMismatch = errors.New("storage: probe id is pinned to another public key")
)

// Record is one verified measurement ready to be stored: the exact signed line and
// the metadata the API filters on.
type Record struct {
	UID       string
	ProbeID   string
	PublicKey string // base64, as in the envelope
	ProbeCC   string
	ProbeASN  string
	TestName  string
	Input     string
	Domain    string
	Verdict   string
	Method    string
	StartTime time.Time
	Line      []byte
}

// Outcome says what Ingest did with one record.
type Outcome int

// Outcomes of Ingest.
const (
	Stored    Outcome = iota // newly stored
	Duplicate                // already stored with the same bytes
)

// String returns the wire name of the outcome ("stored", "duplicate").
func (o Outcome) String() string {
	if o == Duplicate {
		return "duplicate"
	}
	return "stored"
}

// IngestError is returned by Ingest when one record cannot be stored; nothing of the
// batch is stored then. Index is the record's 0-based position in the batch.
type IngestError struct {
	Index int
	UID   string
	Err   error // ErrConflict or ErrKeyMismatch
}

func (e *IngestError) Error() string {
	return fmt.Sprintf("record %d (%s): %v", e.Index, e.UID, e.Err)
}

func (e *IngestError) Unwrap() error { return e.Err }

// Summary is the stored metadata of one measurement, as the list API shows it.
type Summary struct {
	ID         int64
	UID        string
	ProbeID    string
	ProbeCC    string
	ProbeASN   string
	TestName   string
	Input      string
	Domain     string
	Verdict    string
	Method     string
	StartTime  time.Time
	ReceivedAt time.Time
}

// Probe is a probe's pinned public key.
type Probe struct {
	ProbeID   string
	PublicKey string
	FirstSeen time.Time
}

// DB is the collector's store. It is safe for concurrent use.
//
// Writes (ingest, migrations) and reads (every query of the API) use two separate
// connection pools, so that no number of readers, however slow, can take the
// connections ingest needs.
type DB struct {
	sql     *sql.DB // writes
	read    *sql.DB // reads
	dialect *dialect
}

// Pool sizes, per pool (writes and reads each). sqlite serialises writers anyway,
// so two write connections let one transaction begin while another commits; four
// read connections keep the API responsive (WAL readers never wait for the
// writer). PostgreSQL gets more so that concurrent uploads proceed in parallel,
// 16 connections in all, without exhausting its default max_connections (100)
// when several collectors share it.
const (
	sqliteWriteConns   = 2
	sqliteReadConns    = 4
	postgresWriteConns = 8
	postgresReadConns  = 8
)

// sqliteBusyTimeout is how long a sqlite writer waits for another writer's lock
// before failing: long enough for a large batch from another upload to commit.
const sqliteBusyTimeout = 30 * time.Second

// sqliteCacheKiB is each sqlite connection's page cache. The default (2 MB) holds
// too little of nine indexes once a table has a million rows, and every insert then
// waits on reads; 64 MiB keeps the upper index levels in memory.
const sqliteCacheKiB = 64 << 10

// Open opens the store named by dbURL and applies pending migrations:
// "postgres://..." or "postgresql://..." is PostgreSQL (any libpq-style URL pgx
// accepts); "sqlite:PATH", "file:PATH" or a bare PATH is a sqlite file, created if
// missing, in WAL mode with full fsync so that a committed batch survives a crash.
func Open(ctx context.Context, dbURL string) (*DB, error) {
	s := &DB{}
	var err error
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		s.dialect = postgresDialect
		s.sql, err = openPool("pgx", dbURL, postgresWriteConns)
		if err == nil {
			s.read, err = openPool("pgx", dbURL, postgresReadConns)
		}
	default:
		s.dialect = sqliteDialect
		var dsn string
		if dsn, err = sqliteDSN(dbURL); err == nil {
			s.sql, err = openPool(sqlitedb.DriverName, dsn, sqliteWriteConns)
		}
		if err == nil {
			s.read, err = openPool(sqlitedb.DriverName, dsn, sqliteReadConns)
		}
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	if err := s.sql.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("storage: connect: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// 0x10002: consider every table, not only those this connection has used.
	if err := s.optimize(ctx, "PRAGMA optimize=0x10002"); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openPool(driver, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	return db, nil
}

func sqliteDSN(dbURL string) (string, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "file:")
	if path == "" || strings.ContainsAny(path, "?#") {
		return "", fmt.Errorf("sqlite path %q: want a plain file path", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so two writers queue on
	// busy_timeout instead of failing when both try to upgrade a read lock.
	return sqlitedb.DSN(path, sqlitedb.Options{
		JournalWAL: true, Synchronous: "FULL", BusyTimeout: sqliteBusyTimeout,
		TxImmediate: true, ForeignKeys: true, CacheKiB: sqliteCacheKiB,
	}), nil
}

// Close closes the database.
func (s *DB) Close() error {
	var err error
	for _, db := range []*sql.DB{s.read, s.sql} {
		if db != nil {
			err = errors.Join(err, db.Close())
		}
	}
	return err
}

// Dialect names the backend: "sqlite" or "postgres".
func (s *DB) Dialect() string { return s.dialect.name }

// Optimize refreshes the query planner's statistics where the database does not do
// it itself: sqlite's "PRAGMA optimize" runs ANALYZE (with a bounded sample) on
// tables whose statistics are missing or stale. Without statistics sqlite may walk
// a poor index: a four-filter list at 200,000 rows took 15 ms before and 0.3 ms
// after. sqlite recommends running it at open and then periodically
// (sqlite.org/pragma.html#pragma_optimize); the collector's Server does so hourly.
// PostgreSQL's autovacuum keeps its statistics current, so this is a no-op there.
func (s *DB) Optimize(ctx context.Context) error {
	return s.optimize(ctx, "PRAGMA optimize")
}

func (s *DB) optimize(ctx context.Context, pragma string) error {
	if s.dialect != sqliteDialect {
		return nil
	}
	if _, err := s.sql.ExecContext(ctx, pragma); err != nil {
		return fmt.Errorf("storage: optimize: %w", err)
	}
	return nil
}
