package translog_test

import (
	"testing"

	"github.com/vantage-probe/vantage/report/translog"
)

// FuzzOpenCheckpoint: whatever a collector sends as its checkpoint, opening it
// never panics, and anything accepted is a well-formed checkpoint of the key.
func FuzzOpenCheckpoint(f *testing.F) {
	k, _, err := translog.NewKey("vantage-collector-fuzz")
	if err != nil {
		f.Fatal(err)
	}
	good, _ := k.Sign(translog.Checkpoint{Origin: k.Origin(), Size: 3, Root: make([]byte, 32)})
	f.Add(good)
	f.Add([]byte("vantage-collector-fuzz\n1\nAAAA\n\n— vantage-collector-fuzz AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := translog.OpenCheckpoint(b, k.VerifierKey())
		if err == nil && (c.Origin != k.Origin() || len(c.Root) != 32) {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// FuzzVerifyProofs: proofs of any shape from a collector never panic the verifiers.
func FuzzVerifyProofs(f *testing.F) {
	f.Add(uint64(0), uint64(1), uint64(1), []byte("line"), []byte{})
	f.Add(uint64(5), uint64(9), uint64(12), []byte("x"), make([]byte, 96))
	f.Fuzz(func(t *testing.T, idx, size, size2 uint64, line, flat []byte) {
		var hashes [][]byte
		for len(flat) >= 32 {
			hashes, flat = append(hashes, flat[:32]), flat[32:]
		}
		c := translog.Checkpoint{Size: size, Root: make([]byte, 32)}
		translog.VerifyInclusion(c, idx, line, hashes)
		translog.VerifyConsistency(c, translog.Checkpoint{Size: size2, Root: make([]byte, 32)}, hashes)
	})
}
