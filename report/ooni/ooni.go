// Package ooni writes vantage measurements in the shape OONI's tools read: the
// bare measurement (no signed envelope), one per line, with the keys OONI gives a
// meaning to holding only values OONI defines, and vantage's finer findings kept
// in keys of their own (x_vantage_*).
//
// OONI's web_connectivity spec (github.com/ooni/spec, nettests/ts-017-web-connectivity.md)
// defines test_keys.blocking as "tcp_ip", "dns", "http-diff", "http-failure",
// false (no blocking) or null (the probe could not tell), and test_keys.accessible
// as true, false or null; OONI's pipeline reads a blocking string as an anomaly,
// blocking false with accessible false as the site being down, and any other
// string as a bug in the probe. The mapping here follows those semantics.
package ooni

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vantage-probe/vantage/report"
)

// Blocking values OONI defines for web_connectivity (strings; false and null too).
const (
	BlockingDNS         = "dns"
	BlockingTCPIP       = "tcp_ip"
	BlockingHTTPDiff    = "http-diff"
	BlockingHTTPFailure = "http-failure"
)

// TestVersionPrefix starts the test_version of a vantage web_connectivity
// measurement in OONI's view. OONI has given web_connectivity versions 0.x (each
// a spec of its own: Measurement Kit's, probe-cli's, the LTE rewrite), and
// vantage's own number would collide with one of them; 0.0.0 was never an OONI
// release, and a semver pre-release of it sorts below all of them, so no tool
// gating on a version reads OONI's newer keys into it. vantage's own version
// follows ("0.0.0-vantage.0.1.0").
const TestVersionPrefix = "0.0.0-vantage."

// vantageKeys are moved from test_keys to x_vantage_<key>.
var vantageKeys = []string{"verdict", "method", "reason", "evidence"}

// FromLine converts a signed line (verified by the caller) into OONI's shape.
func FromLine(line []byte) ([]byte, error) {
	var env report.Signed
	if err := json.Unmarshal(line, &env); err != nil {
		return nil, fmt.Errorf("ooni: not a signed line: %w", err)
	}
	return Convert(env.Measurement)
}

// Convert rewrites one bare vantage measurement into OONI's shape.
func Convert(measurement []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(measurement))
	dec.UseNumber() // numbers pass through unchanged
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("ooni: measurement: %w", err)
	}
	tk, _ := m["test_keys"].(map[string]any)
	if tk == nil {
		// Nothing to map (only the indexed fields' shapes are checked at ingest);
		// an odd measurement must not break an export of many.
		tk = map[string]any{}
	}
	name, _ := m["test_name"].(string)
	if name == "web_connectivity" {
		verdict, _ := tk["verdict"].(string)
		method, _ := tk["method"].(string)
		if b, ok := tk["blocking"]; ok {
			tk["x_vantage_blocking"] = b
		}
		tk["blocking"], tk["accessible"] = BlockingFor(verdict, method)
		if v, ok := m["test_version"].(string); ok {
			m["test_version"] = TestVersionPrefix + v
		}
	} else if b, ok := tk["blocking"].(string); ok && !isOONIBlocking(b) {
		tk["x_vantage_blocking"], tk["blocking"] = b, nil
	}
	for _, k := range vantageKeys {
		if v, ok := tk[k]; ok {
			tk["x_vantage_"+k] = v
			delete(tk, k)
		}
	}
	for _, list := range []string{"tls_handshakes", "quic_handshakes"} {
		events, _ := tk[list].([]any)
		for _, e := range events {
			ev, _ := e.(map[string]any)
			carryVerifyFailure(ev)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("ooni: encode: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// carryVerifyFailure puts the certificate verification's ssl_* failure of a
// handshake that completed (vantage completes it to record the chain) into
// failure, where OONI's probe reports it: for OONI an intercepted handshake
// failed. x_verified and x_verify_failure stay as vantage recorded them.
func carryVerifyFailure(ev map[string]any) {
	if ev == nil || ev["failure"] != nil {
		return
	}
	if vf, ok := ev["x_verify_failure"].(string); ok && vf != "" {
		ev["failure"] = vf
	}
}

func isOONIBlocking(s string) bool {
	switch s {
	case BlockingDNS, BlockingTCPIP, BlockingHTTPDiff, BlockingHTTPFailure:
		return true
	}
	return false
}

// BlockingFor maps vantage's web_connectivity verdict and method onto OONI's
// blocking and accessible:
//
//   - blocked → the string of the layer the method names (dns.* → "dns", tcp.* →
//     "tcp_ip", tls.* and http.failure → "http-failure", http.diff and
//     http.blockpage → "http-diff", quic.blocked → "http-failure": the HTTP/3
//     request failed), accessible false: an anomaly;
//   - ok and throttled (the page loads, slower) → false, true;
//   - down → false, false (OONI's "the site is down");
//   - intermittent, inconclusive and anything else → null, null: not an anomaly,
//     not a confirmed success (vantage's finding is in x_vantage_verdict).
func BlockingFor(verdict, method string) (blocking any, accessible any) {
	switch verdict {
	case "ok", "throttled":
		return false, true
	case "down":
		return false, false
	case "blocked":
		switch {
		case strings.HasPrefix(method, "dns."):
			return BlockingDNS, false
		case strings.HasPrefix(method, "tcp."):
			return BlockingTCPIP, false
		case method == "http.diff", method == "http.blockpage":
			return BlockingHTTPDiff, false
		}
		// tls.*, http.failure, quic.blocked, and any method a later version adds:
		// blocked is always an anomaly.
		return BlockingHTTPFailure, false
	}
	return nil, nil
}
