package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/vantage-probe/vantage/report/ooni"
	"github.com/vantage-probe/vantage/report/translog"
)

// PullOptions are Pull's optional checks.
type PullOptions struct {
	// LogState is the file remembering, per collector, the log key and the last
	// checkpoint verified; "" skips the log checks.
	LogState string
	// LogKey is the collector's note verifier key; "" takes the one remembered in
	// LogState or, the first time, the one the collector publishes (trust on first
	// use, reported in PullResult.LogFirstUse).
	LogKey string
	// ProofFile, when not "", receives the checkpoint and every line's inclusion
	// proof, for `vantage verify --log`.
	ProofFile string
	// Format "ooni" writes each verified line as the bare measurement in OONI's
	// shape (report/ooni); "" or "jsonl" writes the signed lines.
	Format string
}

func (o PullOptions) convert() func([]byte) ([]byte, error) {
	if o.Format == FormatOONI {
		return ooni.FromLine
	}
	return nil
}

// logCheck is one pull's check of the collector's log:
//
//  1. before the export: a signed checkpoint C0, consistent with the one
//     remembered from the last pull (a fork or a rewrite of history fails here);
//  2. during it: each line's uid and leaf hash;
//  3. after it: a checkpoint C1 consistent with C0, and every line's inclusion in
//     C1 (a line the collector changed, or never logged, fails here); for a pull
//     with no filter, every leaf below C0's size must be among the lines (a
//     measurement logged and then dropped fails here).
type logCheck struct {
	client   *translog.Client
	url      string
	opts     PullOptions
	state    translog.State
	vkey     string
	firstUse bool
	c0, c1   translog.Checkpoint
	signed1  []byte
	uids     []string
	leaves   [][]byte
	proofs   []translog.InclusionProof
}

// startLogCheck does step 1; it returns nil (whose methods do nothing) when the
// log is not checked.
func startLogCheck(ctx context.Context, hc *http.Client, collectorURL string, opts PullOptions) (*logCheck, error) {
	if opts.LogState == "" {
		return nil, nil
	}
	st, err := translog.LoadState(opts.LogState)
	if err != nil {
		return nil, err
	}
	key := strings.TrimRight(collectorURL, "/")
	lc := &logCheck{client: &translog.Client{HTTP: hc, Collector: key}, url: key, opts: opts, state: st}
	seen, known := st[key]
	switch {
	case opts.LogKey != "" && known && seen.VerifierKey != opts.LogKey:
		return nil, fmt.Errorf("log of %s: --log-key differs from the key remembered in %s (%s)", key, opts.LogState, seen.VerifierKey)
	case opts.LogKey != "":
		lc.vkey = opts.LogKey
	case known:
		lc.vkey = seen.VerifierKey
	default:
		if lc.vkey, err = lc.client.VerifierKey(ctx); err != nil {
			return nil, fmt.Errorf("log of %s: key: %w", key, err)
		}
		lc.firstUse = true
	}
	if lc.c0, _, err = lc.fetch(ctx); err != nil {
		return nil, err
	}
	if known {
		old, err := translog.OpenCheckpoint([]byte(seen.Checkpoint), lc.vkey)
		if err != nil {
			return nil, fmt.Errorf("log state %s for %s: %w", opts.LogState, key, err)
		}
		if err := lc.consistent(ctx, old, lc.c0); err != nil {
			return nil, err
		}
	}
	return lc, nil
}

func (lc *logCheck) fetch(ctx context.Context) (translog.Checkpoint, []byte, error) {
	signed, err := lc.client.Checkpoint(ctx)
	if err != nil {
		return translog.Checkpoint{}, nil, fmt.Errorf("log of %s: checkpoint: %w", lc.url, err)
	}
	c, err := translog.OpenCheckpoint(signed, lc.vkey)
	if err != nil {
		return translog.Checkpoint{}, nil, fmt.Errorf("log of %s: %w", lc.url, err)
	}
	return c, signed, nil
}

func (lc *logCheck) consistent(ctx context.Context, old, c translog.Checkpoint) error {
	var hashes [][]byte
	if old.Size > 0 && old.Size < c.Size {
		var err error
		if hashes, err = lc.client.Consistency(ctx, old.Size, c.Size); err != nil {
			return fmt.Errorf("log of %s: consistency %d → %d: %w", lc.url, old.Size, c.Size, err)
		}
	}
	if err := translog.VerifyConsistency(old, c, hashes); err != nil {
		return fmt.Errorf("log of %s: %w", lc.url, err)
	}
	return nil
}

func (lc *logCheck) add(uid string, line []byte) {
	if lc == nil {
		return
	}
	lc.uids = append(lc.uids, uid)
	lc.leaves = append(lc.leaves, translog.LeafHash(line))
}

// finish does step 3; complete says the pull had no filter.
func (lc *logCheck) finish(ctx context.Context, complete bool) error {
	if lc == nil {
		return nil
	}
	var err error
	if lc.c1, lc.signed1, err = lc.fetch(ctx); err != nil {
		return err
	}
	if err := lc.consistent(ctx, lc.c0, lc.c1); err != nil {
		return err
	}
	var bad []string
	logged := make(map[uint64]bool, len(lc.uids))
	for i := 0; i < len(lc.uids); i += translog.MaxProofUIDs {
		batch := lc.uids[i:min(i+translog.MaxProofUIDs, len(lc.uids))]
		ans, err := lc.client.Inclusion(ctx, lc.c1.Size, batch)
		if err != nil {
			// Name the uid when the collector has no leaf for one of the batch.
			return fmt.Errorf("log of %s: inclusion of the exported measurements: %w", lc.url, err)
		}
		if len(ans.Proofs) != len(batch) {
			return fmt.Errorf("log of %s: %d proofs for %d measurements", lc.url, len(ans.Proofs), len(batch))
		}
		for k, p := range ans.Proofs {
			j := i + k
			if p.UID != lc.uids[j] {
				return fmt.Errorf("log of %s: proof for %s where %s was asked", lc.url, p.UID, lc.uids[j])
			}
			if err := translog.VerifyInclusionHash(lc.c1, p.LeafIndex, lc.leaves[j], p.Hashes); err != nil {
				bad = append(bad, fmt.Sprintf("measurement %s (line %d): the bytes served are not those logged at leaf %d", p.UID, j+1, p.LeafIndex))
				continue
			}
			logged[p.LeafIndex] = true
			lc.proofs = append(lc.proofs, p)
		}
	}
	if complete {
		var missing []uint64
		for i := uint64(0); i < lc.c0.Size; i++ {
			if !logged[i] {
				missing = append(missing, i)
			}
		}
		if len(missing) > 0 {
			bad = append(bad, fmt.Sprintf("%d logged measurements are missing from the export (leaves %s)", len(missing), leafList(missing)))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("log of %s disagrees with its export: %w", lc.url, errors.New(strings.Join(bad, "; ")))
	}
	return nil
}

func leafList(l []uint64) string {
	var b strings.Builder
	for i, n := range l {
		if i == 10 {
			fmt.Fprintf(&b, ", … %d more", len(l)-10)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, n)
	}
	return b.String()
}

// commit remembers C1 and writes the proof file, once the bundle is in place.
func (lc *logCheck) commit(path string, res *PullResult) error {
	if lc == nil {
		return nil
	}
	lc.state[lc.url] = translog.Seen{VerifierKey: lc.vkey, Checkpoint: string(lc.signed1)}
	if err := lc.state.Save(lc.opts.LogState); err != nil {
		return err
	}
	if lc.opts.ProofFile != "" {
		slices.SortFunc(lc.proofs, func(a, b translog.InclusionProof) int { return strings.Compare(a.UID, b.UID) })
		pf := &translog.ProofFile{Collector: lc.url, VerifierKey: lc.vkey, Checkpoint: string(lc.signed1), Proofs: lc.proofs}
		if err := pf.Write(lc.opts.ProofFile); err != nil {
			return err
		}
	}
	c := lc.c1
	res.Log, res.LogFirstUse = &c, lc.firstUse
	return nil
}
