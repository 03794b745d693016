package report_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
)

// TestIDTokensKeepExactlyTheSafeCharacters pins each bound of the token filter:
// a-z, A-Z, 0-9 and "_" are kept, their neighbours in ASCII are dropped.
func TestIDTokensKeepExactlyTheSafeCharacters(t *testing.T) {
	now := time.Date(2022, 1, 5, 9, 20, 52, 532634000, time.UTC)
	uid := report.NewMeasurementUID(now, "`azAZ09_{@[/:", "web_connectivity")
	if !strings.HasPrefix(uid, "20220105092052.532634_azAZ09__webconnectivity_") {
		t.Errorf("uid %q", uid)
	}
	rid := report.NewReportID(now, "web_connectivity", "KZ", "AS9198")
	parts := strings.Split(rid, "_")
	if len(parts) != 6 || parts[0] != "20220105T092052Z" || parts[1] != "webconnectivity" || parts[2] != "KZ" ||
		parts[3] != "9198" || parts[4] != "n1" || len(parts[5]) != 16 {
		t.Errorf("report id %q", rid)
	}
	if strings.Trim(parts[5], "0123456789abcdef") != "" {
		t.Errorf("report id suffix %q is not lower-case hex", parts[5])
	}
}

// TestMarshalDefaultsOnlyWhenEmpty: the data format version and software name are
// filled in only when the nettest left them empty; probe_ip is always forced.
func TestMarshalDefaultsOnlyWhenEmpty(t *testing.T) {
	m := &report.Measurement{MeasurementUID: "u", ProbeIP: "198.51.100.7", DataFormatVersion: "0.3.0", SoftwareName: "other"}
	b, err := report.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"data_format_version":"0.3.0"`, `"software_name":"other"`, `"probe_ip":"127.0.0.1"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s missing from %s", want, b)
		}
	}
	if m.ProbeIP != "198.51.100.7" {
		t.Error("Marshal changed the caller's measurement")
	}
	b, _ = report.Marshal(&report.Measurement{MeasurementUID: "u"})
	for _, want := range []string{`"data_format_version":"0.2.0"`, `"software_name":"vantage"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s missing from %s", want, b)
		}
	}
}

// TestScrubBase64Edges pins the base64 scanner's edges: a value at the very start
// of the bytes, values after a malformed one, an unterminated value, a value that
// is not the netx binary shape, and values without the address left byte for byte.
func TestScrubBase64Edges(t *testing.T) {
	const ip = "198.51.100.7"
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	val := func(s string) string { return `{"data":"` + enc(s) + `","format":"base64"}` }
	scrubbed := val("from [scrubbed] x")
	cases := []struct{ name, in, want string }{
		{"at offset 0", val("from " + ip + " x"), scrubbed},
		{"after a value without the address", `[` + val("clean") + `,` + val("from "+ip+" x") + `]`, `[` + val("clean") + `,` + scrubbed + `]`},
		{"after a value that is not base64", `[{"data":"!!!","format":"base64"},` + val("from "+ip+" x") + `]`, `[{"data":"!!!","format":"base64"},` + scrubbed + `]`},
		{"after a data member of another shape", `[{"data":"` + enc(ip) + `","format":"hex"},` + val("from "+ip+" x") + `]`, `[{"data":"` + enc(ip) + `","format":"hex"},` + scrubbed + `]`},
		{"after an empty value", `[{"data":"","format":"base64"},` + val("from "+ip+" x") + `]`, `[{"data":"","format":"base64"},` + scrubbed + `]`},
		// Base64 with non-zero padding bits decodes leniently; a value without the
		// address is kept as written, not re-encoded into the canonical form.
		{"a non-canonical value without the address", `[{"data":"eR==","format":"base64"}]`, `[{"data":"eR==","format":"base64"}]`},
		{"unterminated", `{"data":"` + enc("from "+ip), `{"data":"` + enc("from "+ip)},
		{"no value holds it", `[` + val("a") + `,` + val("b") + `]`, `[` + val("a") + `,` + val("b") + `]`},
	}
	for _, c := range cases {
		got := string(report.ScrubAddresses([]byte(c.in), ip))
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	// IPv6: the compressed and the expanded spelling both go.
	in := `"a 2001:db8::7 b 2001:0db8:0000:0000:0000:0000:0000:0007"`
	if got := string(report.ScrubAddresses([]byte(in), "2001:db8::7")); got != `"a [scrubbed] b [scrubbed]"` {
		t.Errorf("IPv6: %s", got)
	}
	// Addresses that identify nobody, and junk, are ignored.
	in = `"127.0.0.1 0.0.0.0 :: ::1 not-an-ip"`
	if got := string(report.ScrubAddresses([]byte(in), "127.0.0.1", "0.0.0.0", "::", "::1", "not-an-ip", "")); got != in {
		t.Errorf("loopback/unspecified/junk: %s", got)
	}
}

// TestSignSmallestMeasurement: the smallest measurement Sign accepts signs and
// verifies (the envelope's buffer is sized from the measurement's length).
func TestSignSmallestMeasurement(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	line, err := report.Sign(priv, []byte(`{"measurement_uid":"u"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := report.Verify(line); err != nil {
		t.Fatalf("smallest measurement: %v", err)
	}
}
