package webconnectivity

import (
	"bufio"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// knownNames returns the names of the embedded blockpages and interceptors.
func knownNames() map[string]bool {
	names := map[string]bool{}
	for _, b := range DefaultFingerprints().Blockpages {
		names[b.Name] = true
	}
	for _, i := range DefaultFingerprints().Interceptors {
		names[i.Name] = true
	}
	return names
}

// parseFuzzHeader reads "Name: value" lines leniently, as a hostile server might
// send them; lines that are not headers are dropped.
func parseFuzzHeader(raw string) http.Header {
	h, _ := textproto.NewReader(bufio.NewReader(strings.NewReader(raw + "\r\n\r\n"))).ReadMIMEHeader()
	return http.Header(h)
}

// FuzzMatchBlockpage runs the embedded blockpage fingerprints on arbitrary responses:
// no panic, a match always names an embedded entry, and the same response always
// gives the same answer (the verdict must not depend on luck).
func FuzzMatchBlockpage(f *testing.F) {
	for _, b := range DefaultFingerprints().Blockpages {
		m := b.Match
		f.Add(m.Status, m.Header+": "+m.HeaderContains, []byte("<html>"+m.BodyContains+"</html>"))
	}
	f.Add(200, "Server: nginx\r\nX-Bad: \xff\xfe", []byte("\xff\xfe<title>\xc3\x28</title>"))
	f.Add(403, "", []byte{})
	known := knownNames()
	fp := DefaultFingerprints()
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		h := parseFuzzHeader(header)
		first := fp.MatchBlockpage(status, h, body)
		again := fp.MatchBlockpage(status, h, body)
		if (first == nil) != (again == nil) || (first != nil && *first != *again) {
			t.Fatalf("two runs disagree: %+v then %+v", first, again)
		}
		if first != nil && !known[first.Name] {
			t.Fatalf("match %+v names no embedded fingerprint", first)
		}
	})
}

// FuzzMatchInterceptor feeds arbitrary bytes as certificates: unparseable ones are
// skipped, never fatal, and a match names an embedded interceptor and an issuer.
func FuzzMatchInterceptor(f *testing.F) {
	for _, name := range []string{"Qaznet Trust Network", "vantage fuzz CA"} {
		ca, err := netxtest.NewCA(name)
		if err != nil {
			f.Fatal(err)
		}
		cert, err := ca.Issue("example.org")
		if err != nil {
			f.Fatal(err)
		}
		for _, der := range cert.Certificate {
			f.Add(der)
		}
	}
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	known := knownNames()
	fp := DefaultFingerprints()
	f.Fuzz(func(t *testing.T, der []byte) {
		m, issuer := fp.MatchInterceptor([][]byte{der, der[:len(der)/2]})
		if m != nil && (!known[m.Name] || issuer == "") {
			t.Fatalf("match %+v (issuer %q) is not an embedded interceptor", m, issuer)
		}
	})
}

// FuzzLoadFingerprints: a fingerprint file that loads is usable: every blockpage has
// exactly one kind of matcher set and matching with it never panics.
func FuzzLoadFingerprints(f *testing.F) {
	f.Add(fingerprintsJSON)
	f.Add([]byte(`{"blockpages":[{"name":"x","country":"KZ","source":"s","match":{"body_regex":"(a+)+$"}}]}`))
	f.Add([]byte(`{"blockpages":[{"name":"x","country":"KZ","source":"s","match":{"header":"Server","header_regex":"["}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fp, err := LoadFingerprints(data)
		if err != nil {
			return
		}
		for _, b := range fp.Blockpages {
			if b.Name == "" || len(b.Country) != 2 || b.Source == "" {
				t.Fatalf("loaded an entry without name, country or source: %+v", b)
			}
		}
		_ = fp.MatchBlockpage(200, http.Header{"Server": {"x"}}, []byte("<html>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!</html>"))
	})
}
