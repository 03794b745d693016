// Package report defines vantage's measurement data format (OONI's base data format
// 0.2.0 plus measurement_uid), its signing and verification, the upload client and
// queue, and the collector.
package report

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// DataFormatVersion is OONI's base data format version that measurements follow.
const DataFormatVersion = "0.2.0"

// SoftwareName is the software_name of every measurement.
const SoftwareName = "vantage"

// ScrubbedIP is the probe_ip of every measurement: the real address never leaves.
const ScrubbedIP = "127.0.0.1"

// UnknownCC and UnknownASN are probe_cc and probe_asn when the probe's location is
// not known, as OONI writes them.
const (
	UnknownCC  = "ZZ"
	UnknownASN = "AS0"
)

// TimeFormat is OONI's measurement_start_time layout, always UTC.
const TimeFormat = "2006-01-02 15:04:05"

// Measurement is one measurement, the unit that is signed, stored, uploaded and
// served. TestKeys holds a nettest's own keys; after decoding it is a generic value
// (map[string]any), which is all the collector needs.
type Measurement struct {
	Annotations          map[string]string `json:"annotations"`
	DataFormatVersion    string            `json:"data_format_version"`
	Input                *string           `json:"input"`
	MeasurementStartTime string            `json:"measurement_start_time"`
	MeasurementUID       string            `json:"measurement_uid"`
	Options              []string          `json:"options"`
	ProbeASN             string            `json:"probe_asn"`
	ProbeCC              string            `json:"probe_cc"`
	ProbeIP              string            `json:"probe_ip"`
	ProbeNetworkName     string            `json:"probe_network_name"`
	ReportID             string            `json:"report_id"`
	ResolverASN          string            `json:"resolver_asn"`
	ResolverIP           string            `json:"resolver_ip"`
	ResolverNetworkName  string            `json:"resolver_network_name"`
	SoftwareName         string            `json:"software_name"`
	SoftwareVersion      string            `json:"software_version"`
	TestHelpers          map[string]any    `json:"test_helpers"`
	TestKeys             any               `json:"test_keys"`
	TestName             string            `json:"test_name"`
	TestRuntime          float64           `json:"test_runtime"`
	TestStartTime        string            `json:"test_start_time"`
	TestVersion          string            `json:"test_version"`
}

// FormatTime renders t as OONI's UTC timestamp.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// NewMeasurementUID returns a unique id shaped like OONI's
// (20250401092052.532634_KZ_webconnectivity_e6c6d670ae066991).
func NewMeasurementUID(now time.Time, cc, testName string) string {
	return fmt.Sprintf("%s_%s_%s_%s", now.UTC().Format("20060102150405.000000"),
		safeToken(cc), strings.ReplaceAll(safeToken(testName), "_", ""), randomHex(8))
}

// NewReportID returns a report id shaped like OONI's
// (20240214T090617Z_webconnectivity_KZ_9198_n1_<random>).
func NewReportID(now time.Time, testName, cc, asn string) string {
	return fmt.Sprintf("%s_%s_%s_%s_n1_%s", now.UTC().Format("20060102T150405Z"),
		strings.ReplaceAll(safeToken(testName), "_", ""), safeToken(cc),
		strings.TrimPrefix(safeToken(asn), "AS"), randomHex(8))
}

func safeToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return -1
	}, s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Marshal encodes m into the canonical bytes that are signed and stored: encoding/json
// output (compact, HTML characters escaped, invalid UTF-8 replaced), with every
// occurrence of the given addresses replaced by "[scrubbed]" and probe_ip forced to
// ScrubbedIP. Because the bytes are compact and escaped already, a later json.Compact
// or a RawMessage re-encoding leaves them unchanged.
func Marshal(m *Measurement, scrub ...string) ([]byte, error) {
	cp := *m
	cp.ProbeIP = ScrubbedIP
	if cp.DataFormatVersion == "" {
		cp.DataFormatVersion = DataFormatVersion
	}
	if cp.SoftwareName == "" {
		cp.SoftwareName = SoftwareName
	}
	b, err := json.Marshal(&cp)
	if err != nil {
		return nil, fmt.Errorf("report: marshal measurement: %w", err)
	}
	return ScrubAddresses(b, scrub...), nil
}

// ScrubAddresses replaces every occurrence of each address in b, including inside
// base64 values (bytes that are not UTF-8, such as a page in a legacy encoding that
// echoes the visitor's address, travel as base64, where a plain replace cannot see
// the address). Loopback and unspecified addresses are left alone: they identify
// nobody and appear legitimately.
func ScrubAddresses(b []byte, addrs ...string) []byte {
	var targets [][]byte
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.IsLoopback() || ip.IsUnspecified() {
			continue
		}
		targets = append(targets, []byte(ip.String()))
		if ip.Is6() {
			targets = append(targets, []byte(ip.StringExpanded()))
		}
	}
	if len(targets) == 0 {
		return b
	}
	return scrubBase64Values(replaceAll(b, targets), targets)
}

// A binary value as netx.MaybeBinary encodes it (encoding/json sorts the keys, so
// data comes first): {"data":"<base64>","format":"base64"}.
const (
	base64Open  = `{"data":"`
	base64Close = `","format":"base64"}`
)

// scrubBase64Values decodes every binary value of b, scrubs targets from the bytes
// and encodes them again; values without a target are left byte for byte. It scans
// rather than uses a regular expression: a 1 MiB body must not cost a second.
func scrubBase64Values(b []byte, targets [][]byte) []byte {
	var out []byte
	written := 0
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte(base64Open))
		if i < 0 {
			break
		}
		start := off + i + len(base64Open)
		j := bytes.IndexByte(b[start:], '"')
		if j < 0 {
			break
		}
		end := start + j
		off = start
		if !bytes.HasPrefix(b[end:], []byte(base64Close)) {
			continue
		}
		off = end + len(base64Close)
		raw, err := base64.StdEncoding.DecodeString(string(b[start:end]))
		if err != nil {
			continue
		}
		clean := replaceAll(raw, targets)
		if len(clean) == len(raw) && bytes.Equal(clean, raw) {
			continue
		}
		out = append(out, b[written:start]...)
		out = base64.StdEncoding.AppendEncode(out, clean)
		written = end
	}
	if out == nil {
		return b
	}
	return append(out, b[written:]...)
}

// replaceAll replaces every target in b with "[scrubbed]"; b itself is returned when
// it holds none.
func replaceAll(b []byte, targets [][]byte) []byte {
	for _, t := range targets {
		if bytes.Contains(b, t) {
			b = bytes.ReplaceAll(b, t, []byte("[scrubbed]"))
		}
	}
	return b
}
