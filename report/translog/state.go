package translog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/vantage-probe/vantage/report/atomicfile"
)

// VerifyInclusionHash is VerifyInclusion for a leaf hash already computed.
func VerifyInclusionHash(c Checkpoint, index uint64, leafHash []byte, hashes [][]byte) error {
	return proof.VerifyInclusion(rfc6962.DefaultHasher, index, c.Size, leafHash, hashes, c.Root)
}

// Seen is what a researcher's side remembers of one collector's log: its key
// (pinned on first use) and the last checkpoint verified.
type Seen struct {
	VerifierKey string `json:"verifier_key"`
	Checkpoint  string `json:"checkpoint"` // the signed note text
}

// State maps a collector's base URL to what was seen of its log. It is a small
// JSON file (`vantage pull --log-state`).
type State map[string]Seen

// LoadState reads a state file; a missing file is an empty state.
func LoadState(path string) (State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log state: %w", err)
	}
	st := State{}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("log state %s: %w", path, err)
	}
	return st, nil
}

// Save writes the state file atomically.
func (st State) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("log state: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// ProofFile is what `vantage pull` writes beside a bundle (FILE.log.json) so that
// `vantage verify --log` can check, offline, that every line is in the collector's
// log: the signed checkpoint, the key it verified with, and each line's proof.
type ProofFile struct {
	Collector   string           `json:"collector"`
	VerifierKey string           `json:"verifier_key"`
	Checkpoint  string           `json:"checkpoint"`
	Proofs      []InclusionProof `json:"proofs"`
}

// ReadProofFile reads a proof file.
func ReadProofFile(path string) (*ProofFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pf ProofFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &pf, nil
}

// Write writes the proof file atomically.
func (pf *ProofFile) Write(path string) error {
	b, err := json.Marshal(pf)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
