package uploadtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/report"
)

// NewKey returns a fresh probe key.
func NewKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("uploadtest: generate key: %v", err)
	}
	return priv
}

// Measurement returns a plausible measurement with the given uid, input and test
// keys, started at start.
func Measurement(uid, input string, start time.Time, testKeys any) *report.Measurement {
	in := input
	return &report.Measurement{
		Annotations:          map[string]string{"platform": "linux"},
		Input:                &in,
		MeasurementStartTime: report.FormatTime(start),
		MeasurementUID:       uid,
		Options:              []string{},
		ProbeASN:             "AS9198",
		ProbeCC:              "KZ",
		ReportID:             "20220105T000000Z_webconnectivity_KZ_9198_n1_0000000000000000",
		SoftwareVersion:      "test",
		TestHelpers:          map[string]any{},
		TestKeys:             testKeys,
		TestName:             "web_connectivity",
		TestStartTime:        report.FormatTime(start),
		TestVersion:          "0.1.0",
	}
}

// Sign encodes m canonically (report.Marshal) and signs it (report.Sign).
func Sign(tb testing.TB, priv ed25519.PrivateKey, m *report.Measurement) []byte {
	tb.Helper()
	b, err := report.Marshal(m)
	if err != nil {
		tb.Fatalf("uploadtest: marshal: %v", err)
	}
	line, err := report.Sign(priv, b)
	if err != nil {
		tb.Fatalf("uploadtest: sign: %v", err)
	}
	return line
}

// SignedLine is Sign(Measurement(uid, input, start, keys)).
func SignedLine(tb testing.TB, priv ed25519.PrivateKey, uid, input string, start time.Time, testKeys any) []byte {
	tb.Helper()
	return Sign(tb, priv, Measurement(uid, input, start, testKeys))
}

// HostileBodies returns response bodies a censor's or a broken server's answer may
// carry, keyed by a short name: HTML and JSON metacharacters, non-ASCII text,
// invalid UTF-8, control characters, JavaScript line separators and a large body.
// Signed measurements must carry them through storage, upload and export byte for
// byte.
func HostileBodies() map[string]string {
	const mix = "<>&'\"\\ab\u00e9\n\x00\xff" // a little of every kind below
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = mix[i%len(mix)]
	}
	return map[string]string{
		"html":         `<html><script>alert("x&y")</script><a href='/blocked?a=1&b=2'>Қазақстан</a></html>`,
		"non-ascii":    "Доступ к ресурсу ограничен — 访问受限 — 🚫 — Ω≈ç√",
		"invalid-utf8": "ok \xff\xfe\xfd bad \xc3\x28 truncated \xe2\x82",
		"controls":     "nul\x00 bell\x07 esc\x1b del\x7f tab\t cr\r lf\n",
		"js-separator": "line\u2028separator\u2029paragraph",
		"escapes":      `\"\\\/\u0000 {"measurement":"fake"} ` + "`",
		"large":        string(big),
	}
}
