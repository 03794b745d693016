// QUIRK: mmdbwriter (the fixture writer) does not compile on 32-bit targets
// (math.MaxUint32 overflows int), so its fixtures and their tests are 64-bit only.

//go:build !(arm || 386 || mips || mipsle)

package thserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver/mmdbtest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// geoFunc is a GeoDB from a func.
type geoFunc func(ip netip.Addr) (any, error)

func (f geoFunc) Lookup(ip netip.Addr) (any, error) { return f(ip) }

var _ GeoDB = geoFunc(nil)

func TestClientLocation(t *testing.T) {
	countryDB := geoFunc(func(ip netip.Addr) (any, error) {
		if ip == netip.MustParseAddr("127.0.0.1") {
			return map[string]any{"country": map[string]any{"iso_code": "kz"}}, nil
		}
		return nil, nil
	})
	broken := geoFunc(func(netip.Addr) (any, error) { return nil, errors.New("corrupt") })
	asnDB := geoFunc(func(ip netip.Addr) (any, error) {
		return map[string]any{"asn": "AS9198", "as_name": "JSC Kazakhtelecom"}, nil
	})
	site := netxtest.NewHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hi") }))
	srv := newHelper(t, Config{AllowPrivate: true, Geo: []GeoDB{broken, countryDB, asnDB}})
	resp := ask(t, srv.URL, thproto.Request{HTTPRequest: site.URLFor(siteName), TCPConnect: []string{site.Addr}})
	if resp.XClientCC != "KZ" || resp.XClientASN != "AS9198" || resp.XClientNetworkName != "JSC Kazakhtelecom" {
		t.Errorf("client location %q %q %q", resp.XClientCC, resp.XClientASN, resp.XClientNetworkName)
	}
	if resp.IPInfo["127.0.0.1"].ASN != 9198 {
		t.Errorf("ip_info %+v, want asn 9198", resp.IPInfo)
	}

	plain := newHelper(t, Config{AllowPrivate: true})
	resp = ask(t, plain.URL, thproto.Request{HTTPRequest: site.URLFor(siteName)})
	if resp.XClientCC != "" || resp.XClientASN != "" || resp.IPInfo["127.0.0.1"].ASN != 0 {
		t.Errorf("without databases: %q %q %+v", resp.XClientCC, resp.XClientASN, resp.IPInfo)
	}
}

func TestLocateGeoLite2Shapes(t *testing.T) {
	s := &Server{cfg: Config{Geo: []GeoDB{geoFunc(func(netip.Addr) (any, error) {
		return map[string]any{"autonomous_system_number": uint64(21299), "autonomous_system_organization": "Kar-Tel LLC", "country_code": "kz"}, nil
	})}}}
	if g := s.locate("95.56.1.1"); g != (geoInfo{CC: "KZ", ASN: 21299, Name: "Kar-Tel LLC"}) {
		t.Fatalf("locate = %+v", g)
	}
	if g := s.locate("not an ip"); g != (geoInfo{}) {
		t.Fatalf("locate(garbage) = %+v", g)
	}
}

func TestMMDBReadsDatabasesWrittenByMaxMindsWriter(t *testing.T) {
	dir := t.TempDir()
	asnPath, ccPath := filepath.Join(dir, "asn.mmdb"), filepath.Join(dir, "country.mmdb")
	mmdbtest.WriteASN(t, asnPath, map[string]mmdbtest.AS{
		"127.0.0.0/8":   {Number: 9198, Org: "JSC Kazakhtelecom"},
		"10.0.0.0/16":   {Number: 21299, Org: "Kar-Tel LLC"},
		"2001:db8::/32": {Number: 64500, Org: "Documentation"},
	})
	mmdbtest.WriteCountry(t, ccPath, map[string]string{"127.0.0.0/8": "KZ", "10.0.0.0/16": "KZ"})
	var dbs []GeoDB
	for _, p := range []string{ccPath, asnPath} {
		db, err := OpenMMDB(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	s := &Server{cfg: Config{Geo: dbs}}
	for addr, want := range map[string]geoInfo{
		"127.0.0.1":   {CC: "KZ", ASN: 9198, Name: "JSC Kazakhtelecom"},
		"10.0.3.4":    {CC: "KZ", ASN: 21299, Name: "Kar-Tel LLC"},
		"2001:db8::1": {ASN: 64500, Name: "Documentation"},
		"10.1.0.1":    {},
		"192.0.2.1":   {},
	} {
		if got := s.locate(addr); got != want {
			t.Errorf("locate(%s) = %+v, want %+v", addr, got, want)
		}
	}

	// The helper answers the probe's location from them.
	site := netxtest.NewHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hi") }))
	srv := newHelper(t, Config{AllowPrivate: true, Geo: dbs})
	resp := ask(t, srv.URL, thproto.Request{HTTPRequest: site.URLFor(siteName), TCPConnect: []string{site.Addr}})
	if resp.XClientCC != "KZ" || resp.XClientASN != "AS9198" || resp.IPInfo["127.0.0.1"].ASN != 9198 {
		t.Errorf("client %q %q, ip_info %+v", resp.XClientCC, resp.XClientASN, resp.IPInfo)
	}
}

func TestOpenMMDBRefusesWhatIsNotADatabase(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "asn.mmdb")
	mmdbtest.WriteASN(t, good, map[string]mmdbtest.AS{"127.0.0.0/8": {Number: 1, Org: "x"}})
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("not a database"),
		"truncated": raw[:len(raw)/2],
	} {
		p := filepath.Join(dir, name+".mmdb")
		os.WriteFile(p, b, 0o600)
		if db, err := OpenMMDB(p); err == nil {
			db.Close()
			t.Errorf("%s: opened", name)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
}
