package storage

import (
	"context"
	"fmt"
)

// DeleteProbe removes every measurement of probeID and its pinned key in one
// transaction (a volunteer's request to delete their data) and returns how many
// measurements went. A probe it does not know is 0 and no error.
func (s *DB) DeleteProbe(ctx context.Context, probeID string) (int64, error) {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("storage: delete probe: %w", err)
	}
	defer tx.Rollback()
	// The transparency log is append-only: the leaves stay in the tree (their
	// hashes in log_nodes, so checkpoints and proofs are unchanged) and only their
	// link to the deleted measurement goes. The deletion is therefore visible: an
	// unfiltered `vantage pull` names the leaves it no longer gets.
	if _, err := tx.ExecContext(ctx, s.dialect.q(`DELETE FROM log_leaves WHERE measurement_id IN (SELECT id FROM measurements WHERE probe_id = ?)`), probeID); err != nil {
		return 0, fmt.Errorf("storage: delete probe: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.dialect.q(`DELETE FROM lines WHERE id IN (SELECT id FROM measurements WHERE probe_id = ?)`), probeID); err != nil {
		return 0, fmt.Errorf("storage: delete probe: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.dialect.q(`DELETE FROM measurements WHERE probe_id = ?`), probeID)
	if err != nil {
		return 0, fmt.Errorf("storage: delete probe: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("storage: delete probe: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.dialect.q(`DELETE FROM probes WHERE probe_id = ?`), probeID); err != nil {
		return 0, fmt.Errorf("storage: delete probe: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("storage: delete probe: %w", err)
	}
	return n, nil
}
