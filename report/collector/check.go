package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/limits"
)

// MaxJSONDepth bounds the nesting of an uploaded line. OONI's deepest test keys
// (a request inside a redirect chain inside requests) are under ten levels; the
// bound rejects a hostile "[[[[..." before any decoder recurses into it.
const MaxJSONDepth = 64

// Shape limits of the indexed fields: the bounds the probe checks too
// (report/limits), so that it never measures what would be refused here.
const (
	maxUIDLen      = limits.MaxUIDBytes
	maxTestNameLen = limits.MaxTestNameBytes
	maxInputLen    = limits.MaxInputBytes
	maxKeyLen      = limits.MaxVerdictBytes
)

// earliestStart is the oldest measurement_start_time accepted (OONI began in 2012,
// so nothing real is older); maxClockSkew is how far in the future a probe's clock
// may be before its measurements are refused as nonsense.
var earliestStart = time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)

const maxClockSkew = 24 * time.Hour

// Errors of checkLine, wrapped with the detail.
var (
	ErrTooDeep  = errors.New("JSON nested too deeply")
	ErrBadShape = errors.New("measurement shape")
)

// checkLine verifies one signed line and its measurement's shape, and fills rec.
func checkLine(line []byte, now time.Time, rec *storage.Record) error {
	if err := checkDepth(line); err != nil {
		return err
	}
	signed, err := report.Verify(line)
	if err != nil {
		return err
	}
	var m struct {
		MeasurementUID       string          `json:"measurement_uid"`
		TestName             string          `json:"test_name"`
		ProbeCC              string          `json:"probe_cc"`
		ProbeASN             string          `json:"probe_asn"`
		MeasurementStartTime string          `json:"measurement_start_time"`
		Input                json.RawMessage `json:"input"`
		ProbeNetworkName     json.RawMessage `json:"probe_network_name"`
		TestKeys             json.RawMessage `json:"test_keys"`
	}
	if err := json.Unmarshal(signed.Measurement, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrBadShape, err)
	}
	start, err := checkShape(m.MeasurementUID, m.TestName, m.ProbeCC, m.ProbeASN, m.MeasurementStartTime, now)
	if err != nil {
		return err
	}
	input, err := stringOrNull("input", m.Input, maxInputLen)
	if err != nil {
		return err
	}
	if _, err := stringOrNull("probe_network_name", m.ProbeNetworkName, limits.MaxNetworkNameBytes); err != nil {
		return err
	}
	verdict, method, err := verdictOf(m.TestKeys)
	if err != nil {
		return err
	}
	*rec = storage.Record{
		UID: m.MeasurementUID, ProbeID: signed.ProbeID, PublicKey: signed.PublicKey,
		ProbeCC: m.ProbeCC, ProbeASN: m.ProbeASN, TestName: m.TestName,
		Input: input, Domain: domainOf(input), Verdict: verdict, Method: method,
		StartTime: start, Line: line,
	}
	return nil
}

func checkShape(uid, testName, cc, asn, startTime string, now time.Time) (time.Time, error) {
	bad := func(field, why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%w: %s %s", ErrBadShape, field, why)
	}
	switch {
	case uid == "" || len(uid) > maxUIDLen || !isToken(uid, "._-"):
		return bad("measurement_uid", "must be 1-128 letters, digits, '.', '_' or '-'")
	case testName == "" || len(testName) > maxTestNameLen || !isToken(testName, "_") || strings.ToLower(testName) != testName:
		return bad("test_name", "must be 1-64 lowercase letters, digits or '_'")
	case !validCC(cc):
		return bad("probe_cc", "must be two uppercase letters")
	case !validASN(asn):
		return bad("probe_asn", `must be "AS" and a number`)
	}
	start, err := time.Parse(report.TimeFormat, startTime)
	if err != nil {
		return bad("measurement_start_time", "must be \"YYYY-MM-DD hh:mm:ss\" UTC")
	}
	if start.Before(earliestStart) || start.After(now.Add(maxClockSkew)) {
		return bad("measurement_start_time", "is out of range ("+limits.Quote(startTime)+")")
	}
	return start, nil
}

// verdictOf reads test_keys.verdict and test_keys.method when they are strings.
func verdictOf(testKeys json.RawMessage) (verdict, method string, err error) {
	if len(testKeys) == 0 || testKeys[0] != '{' {
		return "", "", nil // OONI allows test_keys of any shape; only objects carry verdicts
	}
	var tk struct {
		Verdict json.RawMessage `json:"verdict"`
		Method  json.RawMessage `json:"method"`
	}
	if err := json.Unmarshal(testKeys, &tk); err != nil {
		return "", "", fmt.Errorf("%w: test_keys: %v", ErrBadShape, err)
	}
	if verdict, err = stringOrNull("test_keys.verdict", tk.Verdict, maxKeyLen); err != nil {
		return "", "", err
	}
	method, err = stringOrNull("test_keys.method", tk.Method, maxKeyLen)
	return verdict, method, err
}

func stringOrNull(field string, raw json.RawMessage, maxLen int) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s must be a string or null", ErrBadShape, field)
	}
	if err := limits.Check(field, s, maxLen); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadShape, err)
	}
	return s, nil
}

// domainOf is the host of a measurement's input: a URL's host, or the host of a
// "host", "host:port" or "IP:port" input; "" when there is none.
func domainOf(input string) string {
	if input == "" {
		return ""
	}
	if u, err := url.Parse(input); err == nil && u.Host != "" {
		return strings.ToLower(u.Hostname())
	}
	if host, _, err := net.SplitHostPort(input); err == nil {
		return strings.ToLower(host)
	}
	if !strings.ContainsAny(input, "/ :?#") {
		return strings.ToLower(input)
	}
	return ""
}

// checkDepth rejects JSON nested deeper than MaxJSONDepth, skipping strings.
func checkDepth(b []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxJSONDepth {
				return fmt.Errorf("%w (more than %d levels)", ErrTooDeep, MaxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

func isToken(s, extra string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func validCC(cc string) bool {
	return len(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z'
}

func validASN(asn string) bool {
	digits, ok := strings.CutPrefix(asn, "AS")
	if !ok || digits == "" || len(digits) > 10 {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
