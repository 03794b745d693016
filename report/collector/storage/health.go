package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// Ready tells whether the store can serve: both pools reach the database and its
// schema is the one this build knows (no migration pending, none newer). It is what
// the collector's /readyz answers with.
func (s *DB) Ready(ctx context.Context) error {
	err := s.ready(ctx)
	if errors.Is(err, driver.ErrBadConn) {
		// After a database restart a pool holds more dead connections than
		// database/sql retries on; the failed attempts have retired them.
		err = s.ready(ctx)
	}
	return err
}

func (s *DB) ready(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("storage: read pool: %w", err)
	}
	if err := s.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("storage: write pool: %w", err)
	}
	var v sql.NullInt64
	if err := s.sql.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("storage: write pool: %w", err)
	}
	if want := int64(SchemaVersion()); v.Int64 != want {
		return fmt.Errorf("storage: schema version %d, this build wants %d", v.Int64, want)
	}
	return nil
}

// PoolStats are the write and read pools' figures, for the collector's metrics.
func (s *DB) PoolStats() (write, read sql.DBStats) { return s.sql.Stats(), s.read.Stats() }
