package report_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// hostileBundle returns a bundle of one signed line per hostile body, in a fixed
// order, and the lines; withLarge includes the multi-megabyte body.
func hostileBundle(t *testing.T, withLarge bool) ([]byte, [][]byte) {
	t.Helper()
	priv := uploadtest.NewKey(t)
	bodies := uploadtest.HostileBodies()
	if !withLarge {
		delete(bodies, "large")
	}
	names := make([]string, 0, len(bodies))
	for n := range bodies {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	bw := report.NewBundleWriter(&buf)
	var lines [][]byte
	for _, n := range names {
		_, line := signedHostile(t, priv, n, bodies[n])
		if err := bw.Write(line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := bw.Flush(); err != nil || bw.Lines() != len(names) {
		t.Fatalf("Flush = %v, %d lines", err, bw.Lines())
	}
	return buf.Bytes(), lines
}

func verifyBundle(t *testing.T, b []byte, opts report.VerifyOptions) *report.BundleReport {
	t.Helper()
	rep, err := report.VerifyBundle(bytes.NewReader(b), opts)
	if err != nil {
		t.Fatalf("VerifyBundle: %v", err)
	}
	return rep
}

func TestBundleRoundTripIsByteExact(t *testing.T) {
	b, lines := hostileBundle(t, true)
	var got [][]byte
	rep := verifyBundle(t, b, report.VerifyOptions{OnLine: func(no int, s *report.Signed, line []byte) error {
		if s == nil || no != len(got)+1 {
			return fmt.Errorf("OnLine(%d, %v)", no, s)
		}
		got = append(got, bytes.Clone(line))
		return nil
	}})
	if rep.Lines != len(lines) || rep.Valid != len(lines) || len(rep.Problems) != 0 {
		t.Fatalf("report = %+v", rep)
	}
	for i := range lines {
		if !bytes.Equal(got[i], lines[i]) {
			t.Errorf("line %d differs after the bundle round trip", i+1)
		}
	}
	if !bytes.Equal(b, append(bytes.Join(lines, []byte("\n")), '\n')) {
		t.Error("a bundle is not exactly the lines, each followed by \\n")
	}
}

// TestOneChangedByteIsNamed changes one byte inside each line of a bundle in turn
// and checks that exactly that line, and no other, is reported, with its uid.
func TestOneChangedByteIsNamed(t *testing.T) {
	b, lines := hostileBundle(t, false) // the large body's round trip is tested above
	offset := 0
	for i, line := range lines {
		// A byte inside the measurement's probe_cc value: "KZ" becomes "KY".
		at := offset + bytes.Index(line, []byte(`"probe_cc":"KZ"`)) + len(`"probe_cc":"K`)
		changed := bytes.Clone(b)
		changed[at] = 'Y'
		rep := verifyBundle(t, changed, report.VerifyOptions{})
		if len(rep.Problems) != 1 || rep.Valid != len(lines)-1 {
			t.Fatalf("line %d changed: report = %+v", i+1, rep)
		}
		p := rep.Problems[0]
		s, _ := report.ParseSigned(line)
		if p.Line != i+1 || p.UID != s.MeasurementUID || !errors.Is(p.Err, report.ErrBadSignature) {
			t.Errorf("line %d changed: problem = %v", i+1, p)
		}
		if !strings.Contains(p.String(), fmt.Sprintf("line %d:", i+1)) {
			t.Errorf("problem text %q does not name the line", p)
		}
		offset += len(line) + 1
	}
}

func TestBundleProblems(t *testing.T) {
	priv, stranger := uploadtest.NewKey(t), uploadtest.NewKey(t)
	a := uploadtest.SignedLine(t, priv, "uid-a", "https://a.example/", start, nil)
	b := uploadtest.SignedLine(t, priv, "uid-b", "https://b.example/", start, nil)
	bOther := uploadtest.SignedLine(t, priv, "uid-b", "https://other.example/", start, nil)
	c := uploadtest.SignedLine(t, stranger, "uid-c", "https://c.example/", start, nil)
	tampered := bytes.Replace(a, []byte("a.example"), []byte("x.example"), 1)
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, []byte("\n")) }
	cases := []struct {
		name   string
		bundle []byte
		opts   report.VerifyOptions
		lines  int
		want   []report.LineProblem // Err compared with errors.Is
	}{
		{"clean, no final newline", join(a, b), report.VerifyOptions{}, 2, nil},
		{"CRLF line ends", append(join(a, b), '\n'), report.VerifyOptions{}, 2, nil},
		{"exact duplicate is harmless", join(a, a, b), report.VerifyOptions{}, 3, nil},
		{"garbage line", join(a, []byte("<html>oops</html>"), b), report.VerifyOptions{}, 3,
			[]report.LineProblem{{Line: 2, Err: report.ErrBadEnvelope}}},
		{"empty line in the middle", join(a, nil, b), report.VerifyOptions{}, 3,
			[]report.LineProblem{{Line: 2, Err: report.ErrEmptyLine}}},
		{"tampered and conflicting", join(tampered, b, bOther), report.VerifyOptions{}, 3,
			[]report.LineProblem{{Line: 1, UID: "uid-a", Err: report.ErrBadSignature}, {Line: 3, UID: "uid-b", Err: report.ErrUIDConflict}}},
		{"untrusted probe", join(a, c), report.VerifyOptions{ProbeIDs: []string{report.ProbeID(priv.Public().(ed25519.PublicKey))}}, 2,
			[]report.LineProblem{{Line: 2, UID: "uid-c", Err: report.ErrUnknownProbe}}},
		{"over-long line keeps numbering", join(a, bytes.Repeat([]byte("x"), 5000), tampered), report.VerifyOptions{MaxLineBytes: 4096}, 3,
			[]report.LineProblem{{Line: 2, Err: report.ErrLineTooLong}, {Line: 3, UID: "uid-a", Err: report.ErrBadSignature}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bundle := c.bundle
			if c.name == "CRLF line ends" {
				bundle = bytes.ReplaceAll(bundle, []byte("\n"), []byte("\r\n"))
			}
			rep := verifyBundle(t, bundle, c.opts)
			if rep.Lines != c.lines || len(rep.Problems) != len(c.want) || rep.Valid != c.lines-len(c.want) {
				t.Fatalf("report = %+v; want %d lines, problems %v", rep, c.lines, c.want)
			}
			for i, w := range c.want {
				p := rep.Problems[i]
				if p.Line != w.Line || p.UID != w.UID || !errors.Is(p.Err, w.Err) {
					t.Errorf("problem %d = %v; want %v", i, p, w)
				}
			}
		})
	}
}

func TestBundleWriterRefusesLineBreaks(t *testing.T) {
	bw := report.NewBundleWriter(&bytes.Buffer{})
	for _, bad := range []string{"", "a\nb", "a\r"} {
		if err := bw.Write([]byte(bad)); err == nil {
			t.Errorf("Write(%q) accepted", bad)
		}
	}
}

// BenchmarkVerifyBundle measures `vantage verify` on a bundle of 1,000 typical
// measurements (about 2 KiB each).
func BenchmarkVerifyBundle(b *testing.B) {
	priv := uploadtest.NewKey(b)
	var buf bytes.Buffer
	bw := report.NewBundleWriter(&buf)
	for i := range 1000 {
		bw.Write(uploadtest.SignedLine(b, priv, fmt.Sprintf("uid-%d", i), "https://example.org/", start,
			map[string]any{"body": strings.Repeat("<p>Доступ</p>", 100)}))
	}
	bw.Flush()
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for range b.N {
		rep, err := report.VerifyBundle(bytes.NewReader(buf.Bytes()), report.VerifyOptions{})
		if err != nil || rep.Valid != 1000 {
			b.Fatalf("%+v, %v", rep, err)
		}
	}
}

// FuzzVerifyBundle: any file gives a report whose counts add up, without panic,
// and a problem line number is always within the file.
func FuzzVerifyBundle(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	line := uploadtest.Sign(f, priv, uploadtest.Measurement("uid-f", "x", start, nil))
	f.Add(append(append(bytes.Clone(line), '\n'), line...))
	f.Add([]byte("\n\n\r\n{}"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := report.VerifyBundle(bytes.NewReader(data), report.VerifyOptions{MaxLineBytes: 1024})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Valid+len(rep.Problems) != rep.Lines {
			t.Fatalf("%d valid + %d problems != %d lines", rep.Valid, len(rep.Problems), rep.Lines)
		}
		for _, p := range rep.Problems {
			if p.Line < 1 || p.Line > rep.Lines || p.Err == nil {
				t.Fatalf("problem %v outside 1..%d", p, rep.Lines)
			}
		}
	})
}
