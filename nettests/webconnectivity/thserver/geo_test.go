package thserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
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
