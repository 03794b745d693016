// Package translog is both sides of the collector's transparency log: the
// collector's signing key and checkpoints, and what a researcher or a probe needs
// to check them (fetching and verifying checkpoints and proofs, and remembering
// the last checkpoint verified for each collector).
//
// A checkpoint is the C2SP signed-note checkpoint (c2sp.org/tlog-checkpoint):
// a note whose text is the log's origin, its size in decimal and its root hash in
// standard base64, one per line, signed with an ed25519 note key
// (golang.org/x/mod/sumdb/note). Hashes are RFC 6962's (github.com/transparency-dev/merkle).
package translog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/vantage-probe/vantage/report/atomicfile"
)

// LeafHash is the RFC 6962 leaf hash of a signed line (the exact bytes, without
// the newline).
func LeafHash(line []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(line) }

// Checkpoint is the body of a signed checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Marshal returns the checkpoint's note text.
func (c Checkpoint) Marshal() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root))
}

// ParseCheckpoint parses a checkpoint's note text (extension lines after the
// third are allowed and ignored, as the format says).
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || (len(lines[1]) > 1 && lines[1][0] == '0') {
		return Checkpoint{}, fmt.Errorf("checkpoint: size %q is not a decimal number", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, fmt.Errorf("checkpoint: root %q is not 32 bytes of base64", lines[2])
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// Key is a collector's log signing key.
type Key struct {
	signer note.Signer
	vkey   string
}

// Origin is the log's origin line: the key's name.
func (k *Key) Origin() string { return k.signer.Name() }

// VerifierKey is the public note key researchers pin ("name+hash+base64").
func (k *Key) VerifierKey() string { return k.vkey }

// Sign returns the signed note of c (whose Origin must be the key's).
func (k *Key) Sign(c Checkpoint) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(c.Marshal())}, k.signer)
}

// NewKey returns a fresh key named origin (no spaces or '+').
func NewKey(origin string) (*Key, string, error) {
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, "", fmt.Errorf("log key: %w", err)
	}
	k, err := parseKey(skey)
	return k, skey, err
}

func parseKey(skey string) (*Key, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	// vkey: PRIVATE+KEY+name+hash+alg||key → name+hash+alg||pub. NewSigner has
	// checked the shape; derive the public half through the library.
	parts := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 33 {
		return nil, errors.New("log key: not an ed25519 note key")
	}
	priv := ed25519FromSeed(raw[1:])
	vkey, err := note.NewEd25519VerifierKey(s.Name(), priv)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return &Key{signer: s, vkey: vkey}, nil
}

// LoadOrCreateKey reads the key file at path, or creates it (mode 0600, written
// atomically) with a fresh key named origin when it does not exist. An origin
// of "" names a new key "vantage-collector-" and 8 random hex digits.
func LoadOrCreateKey(path, origin string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := parseKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if origin != "" && k.Origin() != origin {
			return nil, fmt.Errorf("%s: the key is named %q, not %q", path, k.Origin(), origin)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("log key: %w", err)
	}
	if origin == "" {
		var r [4]byte
		rand.Read(r[:])
		origin = fmt.Sprintf("vantage-collector-%x", r)
	}
	k, skey, err := NewKey(origin)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, skey+"\n")
		return err
	}); err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return k, nil
}

// OpenCheckpoint verifies a signed checkpoint with the verifier key vkey and
// returns its body.
func OpenCheckpoint(signed []byte, vkey string) (Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("log verifier key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q is not the key's name %q", c.Origin, v.Name())
	}
	return c, nil
}

// VerifyInclusion checks that line is leaf index of the tree of checkpoint c.
func VerifyInclusion(c Checkpoint, index uint64, line []byte, hashes [][]byte) error {
	return proof.VerifyInclusion(rfc6962.DefaultHasher, index, c.Size, LeafHash(line), hashes, c.Root)
}

// VerifyConsistency checks that old is a prefix of c. Two checkpoints of the same
// size must have the same root: otherwise the log has forked.
func VerifyConsistency(old, c Checkpoint, hashes [][]byte) error {
	if old.Size == c.Size && !bytes.Equal(old.Root, c.Root) {
		return fmt.Errorf("forked log: two checkpoints of size %d with different roots (%x, %x)", c.Size, old.Root, c.Root)
	}
	if c.Size < old.Size {
		return fmt.Errorf("log shrank: checkpoint of size %d after one of size %d", c.Size, old.Size)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, c.Size, hashes, old.Root, c.Root); err != nil {
		return fmt.Errorf("log of size %d is not an extension of the one of size %d verified before: %w", c.Size, old.Size, err)
	}
	return nil
}

// Client fetches a collector's log data.
type Client struct {
	HTTP      *http.Client // nil: http.DefaultClient
	Collector string       // base URL
}

// MaxProofUIDs is how many uids one inclusion request may name (keeps the URL
// under the 8 KiB most proxies allow).
const MaxProofUIDs = 64

// InclusionAnswer is the collector's answer to an inclusion request.
type InclusionAnswer struct {
	TreeSize uint64           `json:"tree_size"`
	Proofs   []InclusionProof `json:"proofs"`
}

// InclusionProof is one measurement's leaf and audit path.
type InclusionProof struct {
	UID       string   `json:"measurement_uid"`
	LeafIndex uint64   `json:"leaf_index"`
	Hashes    [][]byte `json:"hashes"` // base64 in JSON
}

// ConsistencyAnswer is the collector's answer to a consistency request.
type ConsistencyAnswer struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

func (c *Client) get(ctx context.Context, path string, q url.Values, limit int64) ([]byte, error) {
	u := strings.TrimRight(c.Collector, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		he := &HTTPError{Status: resp.StatusCode, Msg: fmt.Sprintf("%s: %s", path, resp.Status)}
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			he.Msg += ": " + e.Error
		}
		return nil, he
	}
	return b, nil
}

// HTTPError is a log request the collector answered with another status than 200.
type HTTPError struct {
	Status int
	Msg    string
}

func (e *HTTPError) Error() string { return e.Msg }

// Checkpoint fetches the collector's signed checkpoint.
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	return c.get(ctx, "/api/v1/log/checkpoint", nil, 64<<10)
}

// VerifierKey fetches the collector's published note verifier key.
func (c *Client) VerifierKey(ctx context.Context) (string, error) {
	b, err := c.get(ctx, "/api/v1/log/key", nil, 4<<10)
	return strings.TrimSpace(string(b)), err
}

// Inclusion fetches the proofs of uids (at most MaxProofUIDs) at size.
func (c *Client) Inclusion(ctx context.Context, size uint64, uids []string) (*InclusionAnswer, error) {
	q := url.Values{"size": {strconv.FormatUint(size, 10)}, "uid": uids}
	b, err := c.get(ctx, "/api/v1/log/proof/inclusion", q, 4<<20)
	if err != nil {
		return nil, err
	}
	var a InclusionAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	return &a, nil
}

// Consistency fetches the proof that size from is a prefix of size to.
func (c *Client) Consistency(ctx context.Context, from, to uint64) ([][]byte, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "to": {strconv.FormatUint(to, 10)}}
	b, err := c.get(ctx, "/api/v1/log/proof/consistency", q, 1<<20)
	if err != nil {
		return nil, err
	}
	var a ConsistencyAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	return a.Hashes, nil
}
