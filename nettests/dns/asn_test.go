// QUIRK: mmdbwriter (the fixture writer) does not compile on 32-bit targets
// (math.MaxUint32 overflows int), so its fixtures and their tests are 64-bit only.

//go:build !(arm || 386 || mips || mipsle)

package dns_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver/mmdbtest"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/runner"
)

// A measurement taken with an ASN database ([probe] asn_db) carries the AS of
// every answer, read from a database written by MaxMind's writer.
func TestAnswersCarryTheirASNFromTheDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	mmdbtest.WriteASN(t, path, map[string]mmdbtest.AS{"93.184.216.0/24": {Number: 15133, Org: "Edgecast Inc."}})
	db, err := thserver.OpenMMDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"site.test": dnstest.Answer(siteIPv4, forgedIPv4)})
	m := newMeasurer(t, srv.UDPURL(), netx.DNSOptions{DuplicateWindow: -1})
	o := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ASNs: db.ASN}
	_, b, err := runner.Measure(context.Background(), m, "site.test", o, "report-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	var meas struct {
		TestKeys struct {
			Queries []struct {
				Answers []struct {
					IPv4  string `json:"ipv4"`
					ASN   int64  `json:"asn"`
					ASOrg string `json:"as_org_name"`
				} `json:"answers"`
			} `json:"queries"`
		} `json:"test_keys"`
	}
	if err := json.Unmarshal(b, &meas); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, q := range meas.TestKeys.Queries {
		for _, a := range q.Answers {
			switch a.IPv4 {
			case siteIPv4:
				seen++
				if a.ASN != 15133 || a.ASOrg != "Edgecast Inc." {
					t.Errorf("%s: asn %d %q, want 15133 Edgecast Inc.", a.IPv4, a.ASN, a.ASOrg)
				}
			case forgedIPv4:
				if a.ASN != 0 || a.ASOrg != "" {
					t.Errorf("%s (not in the database): asn %d %q, want 0", a.IPv4, a.ASN, a.ASOrg)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatalf("no answer %s in %s", siteIPv4, b)
	}
}
