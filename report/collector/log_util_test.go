package collector_test

import (
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/vantage-probe/vantage/report/translog"
)

func mustOtherKey(t *testing.T) string {
	k, _, err := translog.NewKey("vantage-collector-test")
	if err != nil {
		t.Fatal(err)
	}
	return k.VerifierKey()
}

func rootFromInclusion(t *testing.T, index, size uint64, line []byte, hashes [][]byte) []byte {
	r, err := proof.RootFromInclusionProof(rfc6962.DefaultHasher, index, size, translog.LeafHash(line), hashes)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
