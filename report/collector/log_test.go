package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/translog"
)

// TestLogServedAndProofsVerify uploads on each backend and checks the log's
// routes as a researcher would: the checkpoint verifies with the published key,
// each acknowledgement's leaf index is what the inclusion proof says, proofs
// verify against the checkpoint, and bad parameters are 400s naming them.
func TestLogServedAndProofsVerify(t *testing.T) {
	for _, backend := range collectortest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			c := collectortest.New(t, backend)
			cl := &translog.Client{Collector: c.URL}
			p := collectortest.NewProbe(t)
			vkey, err := cl.VerifierKey(ctx)
			if err != nil || vkey != c.Server.LogKey().VerifierKey() {
				t.Fatalf("key %q %v", vkey, err)
			}
			signed, err := cl.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			empty, err := translog.OpenCheckpoint(signed, vkey)
			if err != nil || empty.Size != 0 {
				t.Fatalf("empty checkpoint %+v %v", empty, err)
			}
			lines := map[string][]byte{}
			leaves := map[string]uint64{}
			var uids []string
			for b := range 3 {
				var batch [][]byte
				for i := range 4 {
					l := p.SignSpec(t, webSpec(fmt.Sprintf("https://s%d-%d.example/", b, i), t0.Add(time.Duration(b*10+i)*time.Minute)))
					batch = append(batch, l)
				}
				status, a := post(t, c, "application/x-ndjson", bytes.Join(batch, []byte("\n")))
				if status != 200 {
					t.Fatalf("upload: %d %s", status, a.Error)
				}
				for i, r := range a.Results {
					if r.LeafIndex != uint64(b*4+i) {
						t.Errorf("%s acknowledged at leaf %d, want %d", r.UID, r.LeafIndex, b*4+i)
					}
					lines[r.UID], leaves[r.UID] = batch[i], r.LeafIndex
					uids = append(uids, r.UID)
				}
			}
			signed, err = cl.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := translog.OpenCheckpoint(signed, vkey)
			if err != nil || cp.Size != 12 || cp.Origin != c.Server.LogKey().Origin() {
				t.Fatalf("checkpoint %+v %v", cp, err)
			}
			if _, err := translog.OpenCheckpoint(signed, mustOtherKey(t)); err == nil {
				t.Error("checkpoint verified with another key")
			}
			ans, err := cl.Inclusion(ctx, cp.Size, uids)
			if err != nil || len(ans.Proofs) != len(uids) {
				t.Fatalf("inclusion: %+v %v", ans, err)
			}
			for _, pr := range ans.Proofs {
				if pr.LeafIndex != leaves[pr.UID] {
					t.Errorf("%s: proof at leaf %d, acknowledged %d", pr.UID, pr.LeafIndex, leaves[pr.UID])
				}
				if err := translog.VerifyInclusion(cp, pr.LeafIndex, lines[pr.UID], pr.Hashes); err != nil {
					t.Errorf("%s: %v", pr.UID, err)
				}
			}
			hashes, err := cl.Consistency(ctx, 4, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			// The root at size 4 (the first batch) follows from a proof at size 4.
			a4, err := cl.Inclusion(ctx, 4, uids[:1])
			if err != nil {
				t.Fatal(err)
			}
			first := translog.Checkpoint{Size: 4, Root: rootFromInclusion(t, 0, 4, lines[uids[0]], a4.Proofs[0].Hashes)}
			if err := translog.VerifyConsistency(first, cp, hashes); err != nil {
				t.Errorf("consistency 4 → 12: %v", err)
			}
			var e struct{ Error, Param string }
			for _, q := range []struct{ path, param string }{
				{"/api/v1/log/proof/inclusion?size=x&uid=" + url.QueryEscape(uids[0]), "size"},
				{"/api/v1/log/proof/inclusion?size=12", "uid"},
				{"/api/v1/log/proof/inclusion?size=2&uid=" + url.QueryEscape(uids[5]), "size"},
				{"/api/v1/log/proof/inclusion?size=13&uid=" + url.QueryEscape(uids[0]), "size"},
				{"/api/v1/log/proof/consistency?from=5&to=3", "to"},
				{"/api/v1/log/proof/consistency?from=1&to=13", "to"},
				{"/api/v1/log/proof/consistency?from=-1&to=3", "from"},
			} {
				if st := getJSON(t, c.URL+q.path, &e); st != 400 || e.Param != q.param {
					t.Errorf("%s: %d %+v, want 400 naming %s", q.path, st, e, q.param)
				}
			}
			if st := getJSON(t, c.URL+"/api/v1/log/proof/inclusion?size=12&uid=nope", &e); st != 404 {
				t.Errorf("unknown uid: %d %+v", st, e)
			}
		})
	}
}
