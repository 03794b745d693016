package report_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

var start = time.Date(2022, 1, 5, 10, 0, 0, 0, time.UTC)

// nettestKeys mimics a nettest's TestKeys: struct fields in declaration order (not
// alphabetical), a nanosecond count above 2^53, a response body.
type nettestKeys struct {
	Verdict  string  `json:"verdict"`
	Body     string  `json:"body"`
	T0Nanos  int64   `json:"t0_nanos"`
	Accuracy float64 `json:"accuracy"`
}

func signedHostile(t *testing.T, priv ed25519.PrivateKey, name, body string) (measurement, line []byte) {
	t.Helper()
	m := uploadtest.Measurement("uid-"+name, "https://example.org/"+name, start,
		&nettestKeys{Verdict: "blocked", Body: body, T0Nanos: 1<<60 + 1, Accuracy: 0.1})
	b, err := report.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	line, err = report.Sign(priv, b)
	if err != nil {
		t.Fatalf("%s: Sign: %v", name, err)
	}
	return b, line
}

// TestHostileContentSignsAndVerifiesByteExactly: whatever a server sends ends up
// in one line, valid UTF-8, that verifies and holds the signed bytes unchanged, and
// that later compaction (what a json.RawMessage re-encoding does) leaves alone.
func TestHostileContentSignsAndVerifiesByteExactly(t *testing.T) {
	priv := uploadtest.NewKey(t)
	for name, body := range uploadtest.HostileBodies() {
		b, line := signedHostile(t, priv, name, body)
		if bytes.ContainsAny(line, "\n\r") || !utf8.Valid(line) {
			t.Errorf("%s: signed line holds a line break or invalid UTF-8", name)
		}
		if bytes.ContainsAny(b, "<>&") {
			t.Errorf("%s: HTML characters are not escaped in the canonical bytes", name)
		}
		s, err := report.Verify(line)
		if err != nil {
			t.Fatalf("%s: Verify: %v", name, err)
		}
		if !bytes.Equal(s.Measurement, b) {
			t.Errorf("%s: envelope does not hold the signed bytes exactly", name)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, line); err != nil || !bytes.Equal(compact.Bytes(), line) {
			t.Errorf("%s: json.Compact changes the signed line", name)
		}
		// json.Marshal of the decoded envelope (RawMessage inside) gives the line back.
		again, err := json.Marshal(s)
		if err != nil || !bytes.Equal(again, line) {
			t.Errorf("%s: re-marshalling the Signed struct changed the bytes", name)
		}
		var keys struct {
			TestKeys nettestKeys `json:"test_keys"`
		}
		json.Unmarshal(s.Measurement, &keys)
		if utf8.ValidString(body) && keys.TestKeys.Body != body {
			t.Errorf("%s: body did not survive decoding", name)
		}
	}
}

// TestEveryByteFlipIsCaught changes each byte of a signed line in turn (two ways:
// the low bit, and the ASCII case bit that encoding/json's case-insensitive key
// matching would forgive) and checks that no changed line verifies.
func TestEveryByteFlipIsCaught(t *testing.T) {
	_, line := signedHostile(t, uploadtest.NewKey(t), "flip", "<b>é\xff</b>")
	for i := range line {
		for _, mask := range []byte{0x01, 0x20} {
			changed := bytes.Clone(line)
			changed[i] ^= mask
			if _, err := report.Verify(changed); err == nil {
				t.Fatalf("byte %d (%q) ^ %#x: changed line still verifies", i, line[i], mask)
			}
		}
	}
}

// TestNaiveJSONRoundTripIsCaught decodes a signed line to generic maps and encodes
// it again, as a careless tool or database layer would.
func TestNaiveJSONRoundTripIsCaught(t *testing.T) {
	b, line := signedHostile(t, uploadtest.NewKey(t), "roundtrip", "<p>Доступ ограничен</p>")

	// The whole envelope through map[string]any.
	var env map[string]any
	if err := json.Unmarshal(line, &env); err != nil {
		t.Fatal(err)
	}
	whole, _ := json.Marshal(env)
	if _, err := report.Verify(whole); err == nil {
		t.Error("a round-tripped envelope verifies")
	}

	// Only the measurement through map[string]any, put back into an envelope that
	// is otherwise untouched: the signature must catch it.
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	reencoded, _ := json.Marshal(m)
	if bytes.Equal(reencoded, b) {
		t.Fatal("test premise: the naive round trip should change the bytes (key order, big integer)")
	}
	spliced := bytes.Replace(line, b, reencoded, 1)
	_, err := report.Verify(spliced)
	if !errors.Is(err, report.ErrBadSignature) {
		t.Errorf("re-encoded measurement: err = %v, want ErrBadSignature", err)
	}
}

func TestVerifyNamesTheFault(t *testing.T) {
	priv, other := uploadtest.NewKey(t), uploadtest.NewKey(t)
	_, line := signedHostile(t, priv, "a", "x")
	s, _ := report.Verify(line)
	otherPub := other.Public().(ed25519.PublicKey)
	otherKey := base64.StdEncoding.EncodeToString(otherPub)
	cases := []struct {
		name string
		line []byte
		want error
	}{
		{"other probe's key and id", bytes.Replace(bytes.Replace(line, []byte(s.PublicKey), []byte(otherKey), 1),
			[]byte(s.ProbeID), []byte(report.ProbeID(otherPub)), 1), report.ErrBadSignature},
		{"other probe's key only", bytes.Replace(line, []byte(s.PublicKey), []byte(otherKey), 1), report.ErrProbeIDKey},
		{"envelope uid changed", bytes.Replace(line, []byte(`"measurement_uid":"uid-a"`), []byte(`"measurement_uid":"uid-b"`), 1), report.ErrUIDMismatch},
		{"wrong format", bytes.Replace(line, []byte(report.SignedFormat), []byte("vantage-signed-v9"), 1), report.ErrBadEnvelope},
		{"not JSON", []byte("<html>"), report.ErrBadEnvelope},
		{"measurement not an object", []byte(`{"format":"vantage-signed-v1","measurement":[1]}`), report.ErrBadEnvelope},
		{"space added", bytes.Replace(line, []byte(`,"signature"`), []byte(`, "signature"`), 1), report.ErrNotCanonical},
		{"trailing newline", append(bytes.Clone(line), '\n'), report.ErrNotCanonical},
		{"key case changed", bytes.Replace(line, []byte(`"probe_id"`), []byte(`"Probe_id"`), 1), report.ErrNotCanonical},
	}
	for _, c := range cases {
		if _, err := report.Verify(c.line); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

// TestBase64PaddingBitsAreNotMalleable: the last base64 character of a key or a
// signature carries unused bits that lenient decoders ignore; a changed unused bit
// must not verify.
func TestBase64PaddingBitsAreNotMalleable(t *testing.T) {
	_, line := signedHostile(t, uploadtest.NewKey(t), "pad", "x")
	s, _ := report.Verify(line)
	for _, field := range []string{s.PublicKey, s.Signature} {
		trimmed := strings.TrimRight(field, "=")
		last := trimmed[len(trimmed)-1]
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		idx := strings.IndexByte(alphabet, last)
		sibling := alphabet[idx^1] // differs in the lowest, unused bit
		malleated := trimmed[:len(trimmed)-1] + string(sibling) + field[len(trimmed):]
		if lenient, err := base64.StdEncoding.DecodeString(malleated); err != nil {
			t.Fatalf("premise: lenient base64 should accept %q: %v", malleated, err)
		} else if orig, _ := base64.StdEncoding.DecodeString(field); !bytes.Equal(lenient, orig) {
			t.Fatalf("premise: %q and %q should decode alike", malleated, field)
		}
		changed := bytes.Replace(line, []byte(field), []byte(malleated), 1)
		if _, err := report.Verify(changed); err == nil {
			t.Errorf("a %d-char base64 field with a changed padding bit verifies", len(field))
		}
	}
}

func TestSignRefusesBytesThatCouldNotVerify(t *testing.T) {
	priv := uploadtest.NewKey(t)
	for name, b := range map[string]string{
		"no uid":            `{"a":1}`,
		"leading space":     ` {"measurement_uid":"u"}`,
		"trailing space":    `{"measurement_uid":"u"} `,
		"newline inside":    "{\"measurement_uid\":\"u\",\n\"a\":1}",
		"invalid UTF-8":     "{\"measurement_uid\":\"u\",\"a\":\"\xff\"}",
		"not JSON":          `{"measurement_uid":"u"`,
		"array, not object": `[{"measurement_uid":"u"}]`,
	} {
		if _, err := report.Sign(priv, []byte(b)); err == nil {
			t.Errorf("%s: Sign accepted %q", name, b)
		}
	}
}

func FuzzVerify(f *testing.F) {
	// A fixed key: fuzzing workers rebuild the seed in their own processes.
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	m := uploadtest.Measurement("uid-fuzz", "https://example.org/", start, map[string]any{"body": "<b>é</b>"})
	b, _ := report.Marshal(m)
	line, _ := report.Sign(priv, b)
	f.Add(line)
	f.Add([]byte(`{"format":"vantage-signed-v1","measurement":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := report.Verify(data); err == nil && !bytes.Equal(data, line) {
			// Only the seed carries a valid signature: any other line that verifies
			// is a way to alter a signed line without the key.
			t.Fatalf("a line other than the signed one verifies: %q", data)
		}
	})
}
