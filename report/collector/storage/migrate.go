package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one schema version. Statements use {{id}} and {{blob}} for the two
// column types the dialects spell differently, and are otherwise shared.
type migration struct {
	version    int
	statements []string
	// then, when set, runs after the statements in the same transaction (work
	// SQL cannot do, such as hashing).
	then func(ctx context.Context, tx *sql.Tx, d *dialect) error
}

// migrations are applied in order, each in its own transaction, and never edited
// once released: a schema change is a new version.
//
// measurements holds the narrow, indexed metadata; lines holds the signed bytes, so
// that list and aggregate queries scan small rows. Times are Unix seconds (the
// measurement_start_time resolution) so that both dialects compare and bucket them
// with plain integer arithmetic. Every list index ends in (start_time, id), the
// keyset the cursor pages on, so a filtered page is one index range scan.
var migrations = []migration{
	{version: 1, statements: []string{
		`CREATE TABLE probes (
			probe_id   TEXT PRIMARY KEY,
			public_key TEXT NOT NULL,
			first_seen BIGINT NOT NULL
		)`,
		`CREATE TABLE measurements (
			id          {{id}},
			uid         TEXT NOT NULL UNIQUE,
			probe_id    TEXT NOT NULL REFERENCES probes (probe_id),
			probe_cc    TEXT NOT NULL,
			probe_asn   TEXT NOT NULL,
			test_name   TEXT NOT NULL,
			input       TEXT NOT NULL,
			domain      TEXT NOT NULL,
			verdict     TEXT NOT NULL,
			method      TEXT NOT NULL,
			start_time  BIGINT NOT NULL,
			received_at BIGINT NOT NULL
		)`,
		`CREATE TABLE lines (
			id   BIGINT PRIMARY KEY REFERENCES measurements (id),
			line {{blob}} NOT NULL
		)`,
		`CREATE INDEX measurements_time ON measurements (start_time, id)`,
		`CREATE INDEX measurements_cc ON measurements (probe_cc, start_time, id)`,
		`CREATE INDEX measurements_asn ON measurements (probe_asn, start_time, id)`,
		`CREATE INDEX measurements_test ON measurements (test_name, start_time, id)`,
		`CREATE INDEX measurements_domain ON measurements (domain, start_time, id)`,
		`CREATE INDEX measurements_input ON measurements (input, start_time, id)`,
		`CREATE INDEX measurements_probe ON measurements (probe_id, start_time, id)`,
		`CREATE INDEX measurements_verdict ON measurements (verdict, start_time, id)`,
		// Covers the web page's timeline aggregate (one test, one country, a time
		// range, grouped by day, ASN and verdict) without touching the table.
		`CREATE INDEX measurements_timeline ON measurements (test_name, probe_cc, start_time, probe_asn, verdict)`,
	}},
	// The transparency log (log.go). Measurements stored before it are appended
	// in the order they were stored (their id).
	{version: 2, statements: []string{
		`CREATE TABLE log_head (
			id   INTEGER PRIMARY KEY,
			size BIGINT NOT NULL
		)`,
		`INSERT INTO log_head (id, size) VALUES (1, 0)`,
		`CREATE TABLE log_leaves (
			leaf_index     BIGINT PRIMARY KEY,
			measurement_id BIGINT NOT NULL UNIQUE REFERENCES measurements (id)
		)`,
		`CREATE TABLE log_nodes (
			node_id BIGINT PRIMARY KEY,
			hash    {{blob}} NOT NULL
		)`,
	}, then: backfillLog},
}

// SchemaVersion is the newest schema version this build knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at BIGINT NOT NULL
)`

func (s *DB) migrate(ctx context.Context) error {
	for _, m := range migrations {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("storage: migrate to version %d: %w", m.version, err)
		}
	}
	return nil
}

// apply runs one migration unless it is recorded already; the check, the statements
// and the record share one transaction, under the dialect's migration lock.
func (s *DB) apply(ctx context.Context, m migration) error {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.dialect.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.dialect.lockMigrations); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.dialect.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range m.statements {
		if _, err := tx.ExecContext(ctx, s.dialect.ddl(stmt)); err != nil {
			return err
		}
	}
	if m.then != nil {
		if err := m.then(ctx, tx, s.dialect); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.dialect.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
		m.version, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}
