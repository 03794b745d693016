package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vantage-probe/vantage/report/sqlitedb"

	"github.com/vantage-probe/vantage/report"
)

// MeasurementMeta is what the store indexes about a measurement, beside its bytes.
type MeasurementMeta struct {
	UID       string // measurement_uid; "" takes it from the signed line
	TestName  string
	Input     string
	Verdict   string
	Method    string
	StartTime time.Time
}

// StoredMeasurement is one measurement as stored: Line is the signed envelope
// exactly as it was signed, without a trailing newline.
type StoredMeasurement struct {
	RunID int64
	MeasurementMeta
	Line []byte
}

// SaveMeasurement stores one signed line, exactly as given, and with enqueue also
// queues it for upload, in one transaction: after a crash the measurement is either
// fully stored (and queued) or absent. The line must verify (report.Verify) and its
// measurement_uid must match meta.UID. Saving the same uid again with the same
// bytes is a no-op (a retried save is harmless); with different bytes it fails with
// ErrConflict and stores nothing.
func (s *Store) SaveMeasurement(ctx context.Context, runID int64, signedLine []byte, meta MeasurementMeta, enqueue bool) error {
	env, err := report.Verify(signedLine)
	if err != nil {
		return fmt.Errorf("store: save measurement: %w: %w", ErrBadLine, err)
	}
	if meta.UID == "" {
		meta.UID = env.MeasurementUID
	}
	if meta.UID != env.MeasurementUID {
		return fmt.Errorf("store: save measurement: %w: meta uid %q, line uid %q", ErrBadLine, meta.UID, env.MeasurementUID)
	}
	now := formatTime(s.Now())
	return s.withTx(ctx, "save measurement "+meta.UID, func(ctx context.Context, tx *sql.Tx) error {
		var existing []byte
		err := tx.QueryRowContext(ctx, `SELECT signed_line FROM measurements WHERE uid = ?`, meta.UID).Scan(&existing)
		switch {
		case err == nil && !bytes.Equal(existing, signedLine):
			return fmt.Errorf("store: save measurement %s: %w", meta.UID, ErrConflict)
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO measurements (uid, run_id, test_name, input, verdict, method, start_time, signed_line)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				meta.UID, runID, meta.TestName, meta.Input, meta.Verdict, meta.Method,
				formatTime(meta.StartTime), signedLine); err != nil {
				if isForeignKey(err) {
					return fmt.Errorf("store: save measurement %s: run %d: %w", meta.UID, runID, ErrUnknownRun)
				}
				return s.wrap("save measurement "+meta.UID, err)
			}
		case err != nil:
			return s.wrap("save measurement "+meta.UID, err)
		}
		if !enqueue {
			return nil
		}
		_, err = tx.ExecContext(ctx,
			`INSERT OR IGNORE INTO upload_queue (uid, state, attempts, next_attempt, queued_at) VALUES (?, 'pending', 0, ?, ?)`,
			meta.UID, now, now)
		return s.wrap("queue measurement "+meta.UID, err)
	})
}

const measurementColumns = `m.run_id, m.uid, m.test_name, m.input, m.verdict, m.method, m.start_time, m.signed_line`

func (s *Store) queryMeasurements(ctx context.Context, where string, args []any, fn func(StoredMeasurement) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+measurementColumns+` FROM measurements m `+where, args...)
	if err != nil {
		return s.wrap("read measurements", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m StoredMeasurement
		var start string
		if err := rows.Scan(&m.RunID, &m.UID, &m.TestName, &m.Input, &m.Verdict, &m.Method, &start, &m.Line); err != nil {
			return s.wrap("read measurements", err)
		}
		m.StartTime = parseTime(start)
		if err := fn(m); err != nil {
			return err
		}
	}
	return s.wrap("read measurements", rows.Err())
}

// MeasurementsSince calls fn for every measurement whose start time is at or after
// since, oldest first, streaming so that a large store is never held in memory. An
// error from fn stops the iteration and is returned as is.
func (s *Store) MeasurementsSince(ctx context.Context, since time.Time, fn func(StoredMeasurement) error) error {
	return s.queryMeasurements(ctx, `WHERE m.start_time >= ? ORDER BY m.start_time, m.id`, []any{formatTime(since)}, fn)
}

func isForeignKey(err error) bool {
	return sqlitedb.Is(err, sqlitedb.CodeConstraintForeignKey)
}
