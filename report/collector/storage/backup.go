package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// ErrBackupPostgres is Backup's answer on PostgreSQL, whose own tool makes
// consistent copies of a live database (docs/operations.md).
var ErrBackupPostgres = errors.New("storage: backup of PostgreSQL: use pg_dump (docs/operations.md)")

// Backup writes a consistent copy of a sqlite store to dest, a new file, while
// the collector keeps serving: VACUUM INTO reads one snapshot (a WAL read
// transaction, which never blocks the writers) and writes it compacted. dest must
// not exist; the copy is a sqlite database that Open takes as it is.
func (s *DB) Backup(ctx context.Context, dest string) error {
	if s.dialect != sqliteDialect {
		return ErrBackupPostgres
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("storage: backup: %s exists: give a new file", dest)
	}
	if _, err := s.read.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("storage: backup to %s: %w", dest, err)
	}
	return nil
}
