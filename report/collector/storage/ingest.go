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
	in, err := s.prepareIngest(ctx, tx)
	if err != nil {
		return nil, err
	}
	defer in.close()
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

// ingester holds one transaction's prepared statements and the keys it pinned.
type ingester struct {
	insertProbe, probeKey, insertMeasurement, insertLine, storedLine *sql.Stmt
	pinned                                                           map[string]string
}

func (s *DB) prepareIngest(ctx context.Context, tx *sql.Tx) (*ingester, error) {
	in := &ingester{pinned: make(map[string]string)}
	stmts := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&in.insertProbe, `INSERT INTO probes (probe_id, public_key, first_seen) VALUES (?, ?, ?) ON CONFLICT (probe_id) DO NOTHING`},
		{&in.probeKey, `SELECT public_key FROM probes WHERE probe_id = ?`},
		{&in.insertMeasurement, `INSERT INTO measurements
			(uid, probe_id, probe_cc, probe_asn, test_name, input, domain, verdict, method, start_time, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (uid) DO NOTHING RETURNING id`},
		{&in.insertLine, `INSERT INTO lines (id, line) VALUES (?, ?)`},
		{&in.storedLine, `SELECT l.line FROM measurements m JOIN lines l ON l.id = m.id WHERE m.uid = ?`},
	}
	for _, st := range stmts {
		p, err := tx.PrepareContext(ctx, s.dialect.q(st.query))
		if err != nil {
			in.close()
			return nil, fmt.Errorf("storage: ingest: prepare: %w", err)
		}
		*st.dst = p
	}
	return in, nil
}

func (in *ingester) close() {
	for _, st := range []*sql.Stmt{in.insertProbe, in.probeKey, in.insertMeasurement, in.insertLine, in.storedLine} {
		if st != nil {
			st.Close()
		}
	}
}

func (in *ingester) one(ctx context.Context, r *Record, received int64) (Outcome, error) {
	if err := in.pin(ctx, r, received); err != nil {
		return 0, err
	}
	var id int64
	err := in.insertMeasurement.QueryRowContext(ctx, r.UID, r.ProbeID, r.ProbeCC, r.ProbeASN, r.TestName,
		r.Input, r.Domain, r.Verdict, r.Method, r.StartTime.Unix(), received).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return in.duplicate(ctx, r)
	}
	if err != nil {
		return 0, fmt.Errorf("storage: ingest %s: %w", r.UID, err)
	}
	if _, err := in.insertLine.ExecContext(ctx, id, r.Line); err != nil {
		return 0, fmt.Errorf("storage: ingest %s: line: %w", r.UID, err)
	}
	return Stored, nil
}

// pin records the probe's key on first use and checks it on every later use.
func (in *ingester) pin(ctx context.Context, r *Record, received int64) error {
	key, ok := in.pinned[r.ProbeID]
	if !ok {
		if _, err := in.insertProbe.ExecContext(ctx, r.ProbeID, r.PublicKey, received); err != nil {
			return fmt.Errorf("storage: ingest %s: probe: %w", r.UID, err)
		}
		if err := in.probeKey.QueryRowContext(ctx, r.ProbeID).Scan(&key); err != nil {
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
	if err := in.storedLine.QueryRowContext(ctx, r.UID).Scan(&stored); err != nil {
		return 0, fmt.Errorf("storage: ingest %s: stored line: %w", r.UID, err)
	}
	if !bytes.Equal(stored, r.Line) {
		return 0, &IngestError{UID: r.UID, Err: ErrConflict}
	}
	return Duplicate, nil
}
