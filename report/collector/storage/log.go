package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The transparency log: every measurement the collector stores is appended, in
// the order its transaction commits, to an append-only Merkle tree hashed as RFC
// 6962 / 9162 says (leaf hash = SHA-256(0x00 || the exact signed line)). The tree
// arithmetic is github.com/transparency-dev/merkle's; this file only keeps its
// nodes in the database.
//
// Tables (migration 2): log_head holds the tree size (one row, also the lock that
// orders appends), log_leaves maps a leaf index to its measurement, and log_nodes
// holds the hash of every node of every perfect subtree (leaves are level 0), keyed
// by nodeKey. An inclusion or consistency proof then needs at most about 2·log2(N)
// point reads, whatever the size.

var logHasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: logHasher.HashChildren}

// rootOf returns the root hash of the compact range [0, N): RFC 6962's hash of
// the empty string for the empty tree.
func rootOf(r *compact.Range) ([]byte, error) {
	if r.End() == 0 {
		return logHasher.EmptyRoot(), nil
	}
	return r.GetRootHash(nil)
}

// LeafHash is the RFC 6962 leaf hash of a signed line.
func LeafHash(line []byte) []byte { return logHasher.HashLeaf(line) }

// nodeKey packs a node's level (< 64) and index into one integer key.
func nodeKey(id compact.NodeID) int64 { return int64(id.Index)<<6 | int64(id.Level) }

// ErrLogCorrupt is returned when the log's stored nodes do not form a tree: a node
// that should be there is missing (the database was changed behind the collector).
var ErrLogCorrupt = errors.New("storage: transparency log nodes missing")

// logLeaf is a measurement stored by the running transaction, waiting for its leaf.
type logLeaf struct {
	id   int64
	line []byte
}

const (
	bumpLogSizeSQL  = `UPDATE log_head SET size = size + ? WHERE id = 1 RETURNING size`
	logSizeSQL      = `SELECT size FROM log_head WHERE id = 1`
	leafOfUIDSQL    = `SELECT g.leaf_index FROM measurements m JOIN log_leaves g ON g.measurement_id = m.id WHERE m.uid = ?`
	maxRowsPerQuery = 400 // rows of one multi-row INSERT (2 or 3 parameters each)
)

// appendLeaves appends the leaves of one transaction. The UPDATE of log_head takes
// its row lock (PostgreSQL) or runs under the write lock sqlite takes at BEGIN, so
// concurrent transactions append one after the other, in commit order, and the
// nodes read below are those of every transaction committed before. It returns
// the index of the first leaf.
func appendLeaves(ctx context.Context, tx *sql.Tx, d *dialect, leaves []logLeaf) (uint64, error) {
	var end uint64
	if err := tx.QueryRowContext(ctx, d.q(bumpLogSizeSQL), len(leaves)).Scan(&end); err != nil {
		return 0, fmt.Errorf("storage: log: size: %w", err)
	}
	start := end - uint64(len(leaves))
	rng, err := loadRange(ctx, tx, d, start)
	if err != nil {
		return 0, err
	}
	var keys []any // node_id, hash pairs
	visit := func(id compact.NodeID, hash []byte) { keys = append(keys, nodeKey(id), hash) }
	leafRows := make([]any, 0, 2*len(leaves))
	for i, l := range leaves {
		idx := start + uint64(i)
		if err := rng.Append(LeafHash(l.line), visit); err != nil { // visits the leaf too
			return 0, fmt.Errorf("storage: log: %w", err)
		}
		leafRows = append(leafRows, int64(idx), l.id)
	}
	if err := insertRows(ctx, tx, d, "log_leaves (leaf_index, measurement_id)", 2, leafRows); err != nil {
		return 0, err
	}
	if err := insertRows(ctx, tx, d, "log_nodes (node_id, hash)", 2, keys); err != nil {
		return 0, err
	}
	return start, nil
}

// insertRows inserts rows of width values each with multi-row INSERTs.
func insertRows(ctx context.Context, tx *sql.Tx, d *dialect, table string, width int, vals []any) error {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", width), ",") + ")"
	for len(vals) > 0 {
		n := min(len(vals)/width, maxRowsPerQuery)
		q := "INSERT INTO " + table + " VALUES " + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
		if _, err := tx.ExecContext(ctx, d.q(q), vals[:n*width]...); err != nil {
			return fmt.Errorf("storage: log: insert %s: %w", table, err)
		}
		vals = vals[n*width:]
	}
	return nil
}

// querier is what reading nodes needs: a transaction or a pool.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadRange returns the compact range [0, size) from the stored nodes.
func loadRange(ctx context.Context, q querier, d *dialect, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := readNodes(ctx, q, d, ids)
	if err != nil {
		return nil, err
	}
	return rangeFactory.NewRange(0, size, hashes)
}

// readNodes returns the hashes of ids, in their order.
func readNodes(ctx context.Context, q querier, d *dialect, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = nodeKey(id)
	}
	rows, err := q.QueryContext(ctx, d.q(`SELECT node_id, hash FROM log_nodes WHERE node_id IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("storage: log: nodes: %w", err)
	}
	defer rows.Close()
	byKey := make(map[int64][]byte, len(ids))
	for rows.Next() {
		var k int64
		var h []byte
		if err := rows.Scan(&k, &h); err != nil {
			return nil, fmt.Errorf("storage: log: nodes: %w", err)
		}
		byKey[k] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: log: nodes: %w", err)
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := byKey[nodeKey(id)]
		if !ok {
			return nil, fmt.Errorf("%w: level %d index %d", ErrLogCorrupt, id.Level, id.Index)
		}
		out[i] = h
	}
	return out, nil
}

// TreeHead is the log's size and root hash.
type TreeHead struct {
	Size uint64
	Root []byte
}

// LogHead returns the current size and root of the log.
func (s *DB) LogHead(ctx context.Context) (TreeHead, error) {
	var size uint64
	if err := s.read.QueryRowContext(ctx, logSizeSQL).Scan(&size); err != nil {
		return TreeHead{}, fmt.Errorf("storage: log: size: %w", err)
	}
	rng, err := loadRange(ctx, s.read, s.dialect, size)
	if err != nil {
		return TreeHead{}, err
	}
	root, err := rootOf(rng)
	if err != nil {
		return TreeHead{}, fmt.Errorf("storage: log: root: %w", err)
	}
	return TreeHead{Size: size, Root: root}, nil
}

// logSize is the size of the log as committed.
func (s *DB) logSize(ctx context.Context) (uint64, error) {
	var size uint64
	if err := s.read.QueryRowContext(ctx, logSizeSQL).Scan(&size); err != nil {
		return 0, fmt.Errorf("storage: log: size: %w", err)
	}
	return size, nil
}

// ErrBeyondLog is returned for a proof about a size larger than the log, or a
// leaf at or beyond the size asked.
var ErrBeyondLog = errors.New("storage: beyond the log's size")

// LeafIndex returns the leaf index of a stored measurement (ErrNotFound if none).
func (s *DB) LeafIndex(ctx context.Context, uid string) (uint64, error) {
	var idx uint64
	err := s.read.QueryRowContext(ctx, s.dialect.q(leafOfUIDSQL), uid).Scan(&idx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("storage: log: leaf of %s: %w", uid, err)
	}
	return idx, nil
}

// InclusionProof returns the audit path of leaf index in the tree of size size.
func (s *DB) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	cur, err := s.logSize(ctx)
	if err != nil {
		return nil, err
	}
	if size > cur || index >= size {
		return nil, fmt.Errorf("%w: leaf %d, size %d, log size %d", ErrBeyondLog, index, size, cur)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("storage: log: %w", err)
	}
	return s.proofHashes(ctx, nodes)
}

// ConsistencyProof returns the proof that the tree of size from is a prefix of
// the tree of size to.
func (s *DB) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	cur, err := s.logSize(ctx)
	if err != nil {
		return nil, err
	}
	if to > cur || from > to {
		return nil, fmt.Errorf("%w: from %d, to %d, log size %d", ErrBeyondLog, from, to, cur)
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: log: %w", err)
	}
	return s.proofHashes(ctx, nodes)
}

func (s *DB) proofHashes(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := readNodes(ctx, s.read, s.dialect, nodes.IDs)
	if err != nil {
		return nil, err
	}
	p, err := nodes.Rehash(hashes, logHasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("storage: log: %w", err)
	}
	return p, nil
}

// LogAudit compares the log with the store: the leaves, the measurements and the
// log's size must be the same set, and every leaf's stored hash must be the hash of
// its measurement's line.
type LogAudit struct {
	Size            uint64
	Measurements    int64
	Leaves          int64
	WithoutLeaf     []string // uids stored without a leaf
	LeavesWithout   []uint64 // leaves whose measurement is gone
	HashMismatch    []uint64 // leaves whose stored hash is not their line's
	RootsRecomputed bool     // the root from the leaf hashes equals the stored nodes' root
}

// OK says whether the log and the store agree.
func (a LogAudit) OK() bool {
	return a.Size == uint64(a.Leaves) && a.Leaves == a.Measurements && len(a.WithoutLeaf) == 0 &&
		len(a.LeavesWithout) == 0 && len(a.HashMismatch) == 0 && a.RootsRecomputed
}

// AuditLog reads the whole store and log and compares them (for tests and
// operators: it reads every line).
func (s *DB) AuditLog(ctx context.Context) (LogAudit, error) {
	var a LogAudit
	var err error
	if a.Size, err = s.logSize(ctx); err != nil {
		return a, err
	}
	q := func(query string, dst any) error { return s.read.QueryRowContext(ctx, query).Scan(dst) }
	if err := q(`SELECT COUNT(*) FROM measurements`, &a.Measurements); err != nil {
		return a, err
	}
	if err := q(`SELECT COUNT(*) FROM log_leaves`, &a.Leaves); err != nil {
		return a, err
	}
	rows, err := s.read.QueryContext(ctx, `SELECT m.uid FROM measurements m LEFT JOIN log_leaves g ON g.measurement_id = m.id WHERE g.leaf_index IS NULL`)
	if err != nil {
		return a, err
	}
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			rows.Close()
			return a, err
		}
		a.WithoutLeaf = append(a.WithoutLeaf, uid)
	}
	rows.Close()
	rows, err = s.read.QueryContext(ctx, `SELECT g.leaf_index, l.line FROM log_leaves g
		LEFT JOIN lines l ON l.id = g.measurement_id ORDER BY g.leaf_index`)
	if err != nil {
		return a, err
	}
	defer rows.Close()
	rng := rangeFactory.NewEmptyRange(0)
	var leafHashes [][]byte
	var idxs []uint64
	for rows.Next() {
		var idx uint64
		var line []byte
		if err := rows.Scan(&idx, &line); err != nil {
			return a, err
		}
		if line == nil {
			a.LeavesWithout = append(a.LeavesWithout, idx)
			continue
		}
		idxs = append(idxs, idx)
		leafHashes = append(leafHashes, LeafHash(line))
	}
	if err := rows.Err(); err != nil {
		return a, err
	}
	ids := make([]compact.NodeID, len(idxs))
	for i, idx := range idxs {
		ids[i] = compact.NewNodeID(0, idx)
	}
	for len(ids) > 0 { // compare with the stored level-0 hashes, a chunk at a time
		n := min(len(ids), 500)
		stored, err := readNodes(ctx, s.read, s.dialect, ids[:n])
		if err != nil {
			return a, err
		}
		for i := range stored {
			if string(stored[i]) != string(leafHashes[i]) {
				a.HashMismatch = append(a.HashMismatch, idxs[i])
			}
		}
		ids, idxs, leafHashes = ids[n:], idxs[n:], leafHashes[n:]
	}
	if len(a.LeavesWithout) == 0 && len(a.HashMismatch) == 0 && uint64(a.Leaves) == a.Size {
		rows2, err := s.read.QueryContext(ctx, `SELECT l.line FROM log_leaves g JOIN lines l ON l.id = g.measurement_id ORDER BY g.leaf_index`)
		if err != nil {
			return a, err
		}
		defer rows2.Close()
		for rows2.Next() {
			var line []byte
			if err := rows2.Scan(&line); err != nil {
				return a, err
			}
			if err := rng.Append(LeafHash(line), nil); err != nil {
				return a, err
			}
		}
		want, err := rootOf(rng)
		if err != nil {
			return a, err
		}
		head, err := s.LogHead(ctx)
		if err != nil {
			return a, err
		}
		a.RootsRecomputed = string(want) == string(head.Root)
	}
	return a, nil
}

// backfillLog appends the measurements stored before migration 2, in id order, a
// thousand at a time, inside the migration's transaction.
func backfillLog(ctx context.Context, tx *sql.Tx, d *dialect) error {
	var after int64 = -1
	for {
		rows, err := tx.QueryContext(ctx, d.q(`SELECT m.id, l.line FROM measurements m JOIN lines l ON l.id = m.id
			WHERE m.id > ? ORDER BY m.id LIMIT 1000`), after)
		if err != nil {
			return err
		}
		var leaves []logLeaf
		for rows.Next() {
			var l logLeaf
			if err := rows.Scan(&l.id, &l.line); err != nil {
				rows.Close()
				return err
			}
			leaves = append(leaves, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(leaves) == 0 {
			return nil
		}
		if _, err := appendLeaves(ctx, tx, d, leaves); err != nil {
			return err
		}
		after = leaves[len(leaves)-1].id
	}
}
