package privacytest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	httpnettest "github.com/vantage-probe/vantage/nettests/http"
	"github.com/vantage-probe/vantage/nettests/webconnectivity"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/upload"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// publicAddress plays the probe's public address. It is a documentation address
// (RFC 5737), never routed, and not loopback: report.ScrubAddresses leaves loopback
// alone on purpose, so a loopback stand-in would prove nothing.
const publicAddress = "198.51.100.23"

// addressForms are the spellings of publicAddress that would give it away: dotted,
// IPv4-mapped IPv6 (what a dual-stack server echoes), the same in hex and expanded,
// and the reverse-DNS order.
var addressForms = []string{
	publicAddress,
	"::ffff:" + publicAddress,
	"::ffff:c633:6417",
	"0:0:0:0:0:ffff:c633:6417",
	"0000:0000:0000:0000:0000:ffff:c633:6417",
	"23.100.51.198",
}

const siteName = "site.test"

// echoHandler is a "what is my IP" page: the address in a header, in the title and
// in the text, dotted and IPv4-mapped. Under /cp1251 the page is in a legacy
// Cyrillic encoding (not UTF-8), as many Kazakh and Russian sites still are, so the
// probe keeps its body as base64.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Your-Address", publicAddress)
		w.Header().Set("Content-Type", "text/html")
		text := fmt.Sprintf("<html><head><title>Your address is %s</title></head><body>You came from %s (::ffff:%s).</body></html>",
			publicAddress, publicAddress, publicAddress)
		if strings.HasPrefix(r.URL.Path, "/cp1251") {
			// "Ваш адрес" in windows-1251: bytes that are not UTF-8.
			text = "<html><body>\xc2\xe0\xf8 \xe0\xe4\xf0\xe5\xf1: " + publicAddress + "</body></html>"
			w.Header().Set("Content-Type", "text/html; charset=windows-1251")
		}
		io.WriteString(w, text)
	})
}

// lyingHelper runs the real control helper (lab mode, so it may reach loopback)
// and rewrites its answer's x_client_ip to publicAddress: on loopback the helper
// sees 127.0.0.1, which is not what a real helper tells a real probe.
func lyingHelper(t *testing.T, ca *netxtest.CA) string {
	t.Helper()
	h, err := thserver.New(thserver.Config{
		Lookup: func(ctx context.Context, host string) ([]string, error) {
			if host == siteName {
				return []string{"127.0.0.1"}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
		Roots: ca.Pool(), AllowPrivate: true,
		EndpointTimeout: 4 * time.Second, FetchTimeout: 4 * time.Second, RequestTimeout: 8 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var answer map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &answer) != nil {
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		answer["x_client_ip"] = publicAddress
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// teeTransport records every request body sent through it.
type teeTransport struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (tt *teeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body.Close()
		plain := b
		if r.Header.Get("Content-Encoding") == "gzip" {
			// Upload bodies are compressed: look for addresses in what they carry.
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			if plain, err = io.ReadAll(zr); err != nil {
				return nil, err
			}
		}
		tt.mu.Lock()
		tt.bodies = append(tt.bodies, plain)
		tt.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// savedLines is a runner.Observer keeping every canonical line the run saved.
type savedLines struct{ lines [][]byte } // called from the run's goroutine only

func (s *savedLines) Phase(string)     {}
func (s *savedLines) Planned(int)      {}
func (s *savedLines) Completed(string) {}
func (s *savedLines) Saved(_ *report.Measurement, line []byte) {
	s.lines = append(s.lines, bytes.Clone(line))
}

var _ runner.Observer = (*savedLines)(nil)

// TestNoStoredOrUploadedByteCarriesThePublicAddress runs web_connectivity through the
// runner on two echo pages, stores, signs and uploads the measurements, and then
// looks for the address in every byte: the store's files on disk, every upload
// request body, every saved line, and inside every base64 value of them.
func TestNoStoredOrUploadedByteCarriesThePublicAddress(t *testing.T) {
	ca := netxtest.MustCA(t, "privacy CA")
	site := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, siteName), echoHandler())
	dns := dnstest.NewServer(t, map[string]dnstest.Rule{siteName: dnstest.Answer("127.0.0.1")})
	helper := lyingHelper(t, ca)
	// No Identity.Scrub: geolocation did not learn the address; the helper's answer
	// during the run is the only source, as on a first run.
	checkRun(t, newMeasurer(t, ca, dns.UDPURL(), helper), runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198"}, echoInputs(site))
}

// TestGeolocatedAddressIsScrubbedFromOtherNettests: a nettest that never talks to the
// helper (http) relies on the runner's scrub list, filled by geolocation.
func TestGeolocatedAddressIsScrubbedFromOtherNettests(t *testing.T) {
	ca := netxtest.MustCA(t, "privacy CA")
	site := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, siteName), echoHandler())
	dns := dnstest.NewServer(t, map[string]dnstest.Rule{siteName: dnstest.Answer("127.0.0.1")})
	m, err := httpnettest.New(&nettests.Env{Netx: &netx.Client{Resolver: dns.UDPURL(), Roots: ca.Pool(), Timeout: 3 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", Scrub: []string{publicAddress}}
	checkRun(t, m, id, echoInputs(site))
}

// echoInputs are the two echo pages of site: UTF-8 and windows-1251.
func echoInputs(site *netxtest.Server) []string {
	base := site.URLFor(siteName)
	return []string{base, strings.TrimSuffix(base, "/") + "/cp1251"}
}

// checkRun runs m on inputs through the runner with a store, a signing key and an
// upload to a fake collector, then fails t if any byte saved, stored or sent
// carries the public address, or if the echo never reached the measurements.
func checkRun(t *testing.T, m nettests.Measurer, id runner.Origin, inputs []string) {
	t.Helper()
	collector := uploadtest.NewServer()
	t.Cleanup(collector.Close)
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tee := &teeTransport{}
	up := &upload.Client{Collector: collector.URL, HTTP: &http.Client{Transport: tee, Timeout: 10 * time.Second}}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	saved := &savedLines{}
	r := &runner.Runner{
		Measurer: m, Origin: id, Key: key, Store: st, Enqueue: true, Parallelism: 2, Observer: saved,
		Drain: func(ctx context.Context) error {
			_, err := up.Drain(ctx, st)
			return err
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := r.Run(ctx, inputs)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !sum.Uploaded || collector.StoredCount() != len(inputs) || len(saved.lines) != len(inputs) {
		t.Fatalf("uploaded %v, collector holds %d, %d saved: want all %d measurements through", sum.Uploaded, collector.StoredCount(), len(saved.lines), len(inputs))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The test is only worth something if the echo reached the measurements: the
	// page's header (and title) must be there, with the address replaced.
	for _, line := range saved.lines {
		if !bytes.Contains(line, []byte(`"X-Your-Address","[scrubbed]"`)) {
			t.Errorf("a saved measurement lacks the scrubbed echo header, so the echo never reached it: %.300s", line)
		}
	}
	if !bytes.Contains(bytes.Join(saved.lines, nil), []byte("Your address is [scrubbed]")) {
		t.Error("the echoed title is not in the measurements")
	}

	var blobs []named
	for i, l := range saved.lines {
		blobs = append(blobs, named{fmt.Sprintf("saved line %d", i+1), l})
	}
	for i, b := range tee.bodies {
		blobs = append(blobs, named{fmt.Sprintf("upload request %d", i+1), b})
	}
	for uid, l := range collector.Stored() {
		blobs = append(blobs, named{"collector copy of " + uid, l})
	}
	blobs = append(blobs, storeFiles(t, dir)...)
	for _, b := range blobs {
		for _, leak := range findAddress(b.data) {
			t.Errorf("%s carries the public address: %s", b.name, leak)
		}
	}
}

// named is some bytes and where they come from.
type named struct {
	name string
	data []byte
}

// storeFiles reads every file of the store's directory: the database and its WAL.
func storeFiles(t *testing.T, dir string) []named {
	t.Helper()
	var out []named
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out = append(out, named{"store file " + filepath.Base(path), b})
		return err
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("reading the store directory: %v (%d files)", err, len(out))
	}
	return out
}

// findAddress returns where b carries publicAddress: as text in any form, or inside
// a base64 value (OONI's {"format":"base64","data":...} for bytes that are not
// UTF-8, and the signature envelope's fields) once decoded.
func findAddress(b []byte) []string {
	var leaks []string
	for _, form := range addressForms {
		if i := bytes.Index(bytes.ToLower(b), []byte(form)); i >= 0 {
			leaks = append(leaks, fmt.Sprintf("%q as text near %q", form, context20(b, i)))
		}
	}
	for _, m := range base64Value.FindAllSubmatch(b, -1) {
		decoded, err := base64.StdEncoding.DecodeString(string(m[1]) + string(m[2]))
		if err != nil {
			continue
		}
		for _, form := range addressForms {
			if bytes.Contains(decoded, []byte(form)) {
				leaks = append(leaks, fmt.Sprintf("%q inside base64 data %q", form, decoded))
			}
		}
	}
	return leaks
}

// base64Value matches the data of a base64-encoded JSON value, whichever key comes
// first.
var base64Value = regexp.MustCompile(`"data":"([A-Za-z0-9+/=]+)","format":"base64"|"format":"base64","data":"([A-Za-z0-9+/=]+)"`)

func context20(b []byte, i int) []byte {
	return b[max(0, i-20):min(len(b), i+40)]
}

// newMeasurer builds web_connectivity for the loopback world: the probe resolves
// with dns, trusts ca, asks helper, and takes loopback answers as real ones.
func newMeasurer(t *testing.T, ca *netxtest.CA, resolver, helper string) *webconnectivity.Measurer {
	t.Helper()
	// Generous budgets: on loopback everything answers at once, and a loaded CI
	// machine must not turn a slow answer into a failure (without the helper's
	// answer there is no address to scrub, and the test would prove nothing).
	step := 3 * time.Second
	env := &nettests.Env{Netx: &netx.Client{Resolver: resolver, Roots: ca.Pool(), Timeout: step}}
	m, err := webconnectivity.NewWithConfig(env, webconnectivity.Config{
		Helpers:         []string{helper},
		Retries:         1,
		RetrySpacing:    10 * time.Millisecond,
		Timeouts:        webconnectivity.TimeoutPolicy{Initial: step, Floor: step, Ceiling: step},
		ControlBudget:   10 * time.Second,
		URLBudget:       30 * time.Second,
		ValidationPort:  "1", // nothing listens on tcpmux: the check fails fast
		LabAllowPrivate: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
