package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMarshalScrubsAndForcesProbeIP(t *testing.T) {
	in := "http://example.org/?ip=203.0.113.7"
	m := &Measurement{
		ProbeIP:  "203.0.113.7",
		Input:    &in,
		TestKeys: map[string]any{"body": "your address is 203.0.113.7 <b>", "v6": "2001:db8::42 and 2001:0db8:0000:0000:0000:0000:0000:0042"},
	}
	b, err := Marshal(m, "203.0.113.7", "2001:db8::42", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"203.0.113.7", "2001:db8::42", "2001:0db8:0000"} {
		if bytes.Contains(b, []byte(leak)) {
			t.Errorf("%s leaked: %s", leak, b)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("scrubbed bytes are not JSON: %v", err)
	}
	if back["probe_ip"] != ScrubbedIP || back["software_name"] != SoftwareName || back["data_format_version"] != DataFormatVersion {
		t.Errorf("base keys: %v %v %v", back["probe_ip"], back["software_name"], back["data_format_version"])
	}
	if m.ProbeIP != "203.0.113.7" {
		t.Error("Marshal modified its argument")
	}
	// Canonical bytes are compact and HTML-escaped, so re-compacting is the identity.
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil || !bytes.Equal(buf.Bytes(), b) {
		t.Errorf("bytes are not canonical")
	}
	if bytes.Contains(b, []byte("<b>")) {
		t.Errorf("HTML not escaped: %s", b)
	}
}

func TestIDsAreUniqueAndShaped(t *testing.T) {
	now := time.Date(2022, 1, 5, 9, 20, 52, 532634000, time.UTC)
	a := NewMeasurementUID(now, "KZ", "web_connectivity")
	b := NewMeasurementUID(now, "KZ", "web_connectivity")
	if a == b {
		t.Fatal("two uids are equal")
	}
	if !regexp.MustCompile(`^20220105092052\.532634_KZ_webconnectivity_[0-9a-f]{16}$`).MatchString(a) {
		t.Errorf("uid %q", a)
	}
	r := NewReportID(now, "web_connectivity", "KZ", "AS9198")
	if !strings.HasPrefix(r, "20220105T092052Z_webconnectivity_KZ_9198_n1_") {
		t.Errorf("report id %q", r)
	}
	if got := NewMeasurementUID(now, "K/Z\"", "a b"); strings.ContainsAny(got, "/\" ") {
		t.Errorf("unsafe characters kept: %q", got)
	}
}
