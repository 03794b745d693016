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
	res, err := s.IngestLogged(ctx, recs, received)
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(res))
	for i, r := range res {
		out[i] = r.Outcome
	}
	return out, nil
}

// Ingested is what IngestLogged did with one record, and the record's leaf in the
// transparency log (log.go): a new leaf when Stored, the existing one when
// Duplicate.
type Ingested struct {
	Outcome   Outcome
	LeafIndex uint64
}

// IngestLogged is Ingest, also returning each record's leaf index. The stored
// records are appended to the transparency log in the same transaction, after
// the inserts, so that a measurement is never stored without its leaf nor a leaf
// without its measurement, and the log's order is the order of the commits.
func (s *DB) IngestLogged(ctx context.Context, recs []Record, received time.Time) ([]Ingested, error) {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("storage: ingest: begin: %w", err)
	}
	defer tx.Rollback()
	in := &ingester{tx: tx, d: s.dialect, pinned: make(map[string]string)}
	res := make([]Ingested, len(recs))
	var leaves []logLeaf
	var leafOf []int            // res index of each leaf
	var sameBatch []int         // res index of each duplicate of an earlier line of the batch
	byID := make(map[int64]int) // measurement id → its leaf's position in leaves
	for i := range recs {
		res[i], err = in.one(ctx, &recs[i], received.Unix())
		if errors.Is(err, errSameBatch) {
			sameBatch = append(sameBatch, i)
			continue
		}
		if err != nil {
			var ie *IngestError
			if errors.As(err, &ie) {
				ie.Index = i
			}
			return nil, err
		}
		if res[i].Outcome == Stored {
			byID[int64(res[i].LeafIndex)] = len(leaves)
			leaves = append(leaves, logLeaf{id: int64(res[i].LeafIndex), line: recs[i].Line})
			leafOf = append(leafOf, i)
		}
	}
	if len(leaves) > 0 {
		start, err := appendLeaves(ctx, tx, s.dialect, leaves)
		if err != nil {
			return nil, err
		}
		for k, i := range leafOf {
			res[i].LeafIndex = start + uint64(k)
		}
		for _, i := range sameBatch {
			res[i].LeafIndex = start + uint64(byID[int64(res[i].LeafIndex)])
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("storage: ingest: commit: %w", err)
	}
	return res, nil
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
	storedLineSQL = `SELECT m.id, l.line, g.leaf_index FROM measurements m JOIN lines l ON l.id = m.id
		LEFT JOIN log_leaves g ON g.measurement_id = m.id WHERE m.uid = ?`
)

// errSameBatch: the record duplicates one stored earlier in the same batch, whose
// leaf is not appended yet; Ingested.LeafIndex holds that measurement's id.
var errSameBatch = errors.New("duplicate of a line of this batch")

// ingester is one ingest transaction and the keys it has pinned so far.
type ingester struct {
	tx     *sql.Tx
	d      *dialect
	pinned map[string]string
}

// one stores r; for a stored record, LeafIndex holds its measurement id until
// the caller appends the leaves.
func (in *ingester) one(ctx context.Context, r *Record, received int64) (Ingested, error) {
	if err := in.pin(ctx, r, received); err != nil {
		return Ingested{}, err
	}
	var id int64
	err := in.tx.QueryRowContext(ctx, in.d.q(insertMeasurementSQL), r.UID, r.ProbeID, r.ProbeCC, r.ProbeASN, r.TestName,
		r.Input, r.Domain, r.Verdict, r.Method, r.StartTime.Unix(), received).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return in.duplicate(ctx, r)
	}
	if err != nil {
		return Ingested{}, fmt.Errorf("storage: ingest %s: %w", r.UID, err)
	}
	if _, err := in.tx.ExecContext(ctx, in.d.q(insertLineSQL), id, r.Line); err != nil {
		return Ingested{}, fmt.Errorf("storage: ingest %s: line: %w", r.UID, err)
	}
	return Ingested{Outcome: Stored, LeafIndex: uint64(id)}, nil
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

func (in *ingester) duplicate(ctx context.Context, r *Record) (Ingested, error) {
	var stored []byte
	var id int64
	var leaf sql.NullInt64
	if err := in.tx.QueryRowContext(ctx, in.d.q(storedLineSQL), r.UID).Scan(&id, &stored, &leaf); err != nil {
		return Ingested{}, fmt.Errorf("storage: ingest %s: stored line: %w", r.UID, err)
	}
	if !bytes.Equal(stored, r.Line) {
		return Ingested{}, &IngestError{UID: r.UID, Err: ErrConflict}
	}
	if !leaf.Valid { // stored earlier in this batch: its leaf comes at the end
		return Ingested{Outcome: Duplicate, LeafIndex: uint64(id)}, errSameBatch
	}
	return Ingested{Outcome: Duplicate, LeafIndex: uint64(leaf.Int64)}, nil
}
