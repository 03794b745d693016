package storage

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Ingest stores a batch of verified records in one transaction: all of them or,
// when one conflicts, none. A uid already stored with the same bytes is a
// Duplicate, not an error, so that a probe may resend after a lost answer. The first
// record of a probe id pins its public key; a later record whose key differs is
// refused (the envelope's probe_id derives from its key, so this is a forgery or a
// hash collision). Ingest returns only after the transaction has committed.
func (s *DB) Ingest(ctx context.Context, recs []Record, received time.Time) ([]Outcome, error) {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("storage: ingest: begin: %w", err)
	}
	defer tx.Rollback()
	in := &ingester{tx: tx, d: s.dialect, pinned: make(map[string]string)}
	outcomes := make([]Outcome, len(recs))
	for i := range recs {
		outcomes[i], err = in.one(ctx, &recs[i], received.Unix())
		if err != nil {
			var ie *IngestError
			if errors.As(err, &ie) {
				ie.Index = i
			}
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("storage: ingest: commit: %w", err)
	}
	return outcomes, nil
}

// Ingest queries. They are not prepared per transaction: a single upload would pay
// five prepares for one row. Both drivers cache statements per connection instead
// (pgx by default, sqlite through _stmt_cache_size).
const (
	insertProbeSQL       = `INSERT INTO probes (probe_id, public_key, first_seen) VALUES (?, ?, ?) ON CONFLICT (probe_id) DO NOTHING`
	probeKeySQL          = `SELECT public_key FROM probes WHERE probe_id = ?`
	insertMeasurementSQL = `INSERT INTO measurements
		(uid, probe_id, probe_cc, probe_asn, test_name, input, domain, verdict, method, start_time, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (uid) DO NOTHING RETURNING id`
	insertLineSQL = `INSERT INTO lines (id, line) VALUES (?, ?)`
	storedLineSQL = `SELECT l.line FROM measurements m JOIN lines l ON l.id = m.id WHERE m.uid = ?`
)

// ingester is one ingest transaction and the keys it has pinned so far.
type ingester struct {
	tx     *sql.Tx
	d      *dialect
	pinned map[string]string
}

func (in *ingester) one(ctx context.Context, r *Record, received int64) (Outcome, error) {
	if err := in.pin(ctx, r, received); err != nil {
		return 0, err
	}
	var id int64
	err := in.tx.QueryRowContext(ctx, in.d.q(insertMeasurementSQL), r.UID, r.ProbeID, r.ProbeCC, r.ProbeASN, r.TestName,
		r.Input, r.Domain, r.Verdict, r.Method, r.StartTime.Unix(), received).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return in.duplicate(ctx, r)
	}
	if err != nil {
		return 0, fmt.Errorf("storage: ingest %s: %w", r.UID, err)
	}
	if _, err := in.tx.ExecContext(ctx, in.d.q(insertLineSQL), id, r.Line); err != nil {
		return 0, fmt.Errorf("storage: ingest %s: line: %w", r.UID, err)
	}
	return Stored, nil
}

// pin records the probe's key on first use and checks it on every later use.
func (in *ingester) pin(ctx context.Context, r *Record, received int64) error {
	key, ok := in.pinned[r.ProbeID]
	if !ok {
		if _, err := in.tx.ExecContext(ctx, in.d.q(insertProbeSQL), r.ProbeID, r.PublicKey, received); err != nil {
			return fmt.Errorf("storage: ingest %s: probe: %w", r.UID, err)
		}
		if err := in.tx.QueryRowContext(ctx, in.d.q(probeKeySQL), r.ProbeID).Scan(&key); err != nil {
			return fmt.Errorf("storage: ingest %s: probe key: %w", r.UID, err)
		}
		in.pinned[r.ProbeID] = key
	}
	if key != r.PublicKey {
		return &IngestError{UID: r.UID, Err: ErrKeyMismatch}
	}
	return nil
}

func (in *ingester) duplicate(ctx context.Context, r *Record) (Outcome, error) {
	var stored []byte
	if err := in.tx.QueryRowContext(ctx, in.d.q(storedLineSQL), r.UID).Scan(&stored); err != nil {
		return 0, fmt.Errorf("storage: ingest %s: stored line: %w", r.UID, err)
	}
	if !bytes.Equal(stored, r.Line) {
		return 0, &IngestError{UID: r.UID, Err: ErrConflict}
	}
	return Duplicate, nil
}
