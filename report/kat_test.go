package report_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
)

// The known-answer vector: a fixed seed, a fixed measurement, and the exact bytes
// that Marshal and Sign must produce from them. The same files are checked by
// testdata/kat/verify.sh, written from docs/storage.md with openssl alone, so the
// format cannot drift even when this code and its golden files drift together
// (`go test ./report -run KnownAnswer -update` rewrites the golden files; the script
// then fails unless the change is in docs/storage.md and the script too).

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const katDir = "testdata/kat"

// katMeasurement is the fixed measurement: every top-level field set, HTML
// characters, non-ASCII text, the probe's address in a string and in a base64
// value (both must be scrubbed), a number above 2^53.
func katMeasurement() *report.Measurement {
	input := "https://example.org/новости?a=1&b=<2>"
	return &report.Measurement{
		Annotations:          map[string]string{"platform": "linux", "engine_name": "vantage"},
		Input:                &input,
		MeasurementStartTime: report.FormatTime(time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC)),
		MeasurementUID:       "20220105100000.000000_KZ_webconnectivity_00112233aabbccdd",
		Options:              []string{},
		ProbeASN:             "AS9198",
		ProbeCC:              "KZ",
		ProbeIP:              "203.0.113.45",
		ProbeNetworkName:     "JSC Kazakhtelecom",
		ReportID:             "20220105T100000Z_webconnectivity_KZ_9198_n1_0011223344556677",
		ResolverASN:          "AS9198",
		ResolverIP:           "82.200.243.2",
		ResolverNetworkName:  "JSC Kazakhtelecom",
		SoftwareVersion:      "0.1.0-kat",
		TestHelpers:          map[string]any{"backend": "https://helper.example/"},
		TestKeys: map[string]any{
			"verdict":   "blocked",
			"method":    "http.blockpage",
			"body":      "<html>Доступ ограничен: your address is 203.0.113.45 & \u2028 ok</html>",
			"raw":       map[string]any{"data": "eW91ciBJUCAyMDMuMC4xMTMuNDU=", "format": "base64"}, // "your IP 203.0.113.45"
			"t0_nanos":  int64(1<<60 + 1),
			"attempts":  []int{1, 2},
			"canaries":  true,
			"throttled": nil,
		},
		TestName:      "web_connectivity",
		TestRuntime:   1.25,
		TestStartTime: report.FormatTime(time.Date(2022, 1, 5, 9, 59, 58, 0, time.UTC)),
		TestVersion:   "0.5.0",
	}
}

func readKAT(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(katDir, name))
	if err != nil {
		t.Fatalf("known-answer vector: %v", err)
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(katDir, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readKAT(t, name)
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the known answer\n got: %q\nwant: %q", path, got, want)
	}
}

func TestKnownAnswerEnvelope(t *testing.T) {
	seed, err := hex.DecodeString(strings.TrimSpace(string(readKAT(t, "seed.hex"))))
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("seed.hex: %v (%d bytes)", err, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	// RFC 8032 section 7.1, TEST 1: this seed's public key.
	if got := hex.EncodeToString(pub); got != "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" {
		t.Fatalf("public key %s is not RFC 8032's for this seed", got)
	}

	m, err := report.Marshal(katMeasurement(), "203.0.113.45")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "measurement.json", append(m, '\n'))

	line, err := report.Sign(priv, m)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "envelope.jsonl", append(line, '\n'))
	if *update {
		return
	}

	// The golden line verifies, and nothing else about it is left to chance.
	want := bytes.TrimSuffix(readKAT(t, "envelope.jsonl"), []byte("\n"))
	s, err := report.Verify(want)
	if err != nil {
		t.Fatalf("golden envelope does not verify: %v", err)
	}
	if s.ProbeID != "21fe31dfa154a261626bf854046fd227" {
		t.Errorf("probe_id %s, want 21fe31dfa154a261626bf854046fd227 (first 16 bytes of SHA-256 of the key)", s.ProbeID)
	}
	if !bytes.Equal(s.Measurement, m) {
		t.Error("the envelope's measurement member is not the signed bytes")
	}
	for _, leak := range []string{"203.0.113.45", "MjAzLjAuMTEzLjQ1"} {
		if bytes.Contains(want, []byte(leak)) {
			t.Errorf("the probe's address leaks as %q", leak)
		}
	}
	// A standard verifier over the documented bytes, by hand: the context prefix,
	// then the measurement.
	msg := append([]byte("vantage measurement v1\n"), m...)
	sig := signatureOf(t, want)
	if !ed25519.Verify(pub, msg, sig) {
		t.Error("the signature does not cover \"vantage measurement v1\\n\" || measurement")
	}
	if ed25519.Verify(pub, m, sig) {
		t.Error("the signature verifies over the bare measurement: the context is missing")
	}
}

// signatureOf extracts the signature member by position, as the format fixes it.
func signatureOf(t *testing.T, line []byte) []byte {
	t.Helper()
	const key = `,"signature":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		t.Fatal("no signature member")
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	sig, err := base64.StdEncoding.DecodeString(string(rest[:j]))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
