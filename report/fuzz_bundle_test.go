package report_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// fuzzLines returns two lines signed by a fixed key (fuzzing workers rebuild the
// seeds in their own processes, so the key must not be random).
func fuzzLines(f *testing.F) [][]byte {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	var lines [][]byte
	for _, uid := range []string{"uid-a", "uid-b"} {
		m := uploadtest.Measurement(uid, "https://example.org/"+uid, start, map[string]any{"body": "\xff<b>é</b>"})
		b, err := report.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		line, err := report.Sign(priv, b)
		if err != nil {
			f.Fatal(err)
		}
		lines = append(lines, line)
	}
	return lines
}

// FuzzBundleLineAccounting feeds the bundle reader arbitrary bytes and checks its
// report against the input (FuzzVerifyBundle checks only that the sums agree):
// every line is counted once, verified or a problem and never both, OnLine is
// handed only lines that verify on their own, and problems come by line number.
func FuzzBundleLineAccounting(f *testing.F) {
	lines := fuzzLines(f)
	a, b := lines[0], lines[1]
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, []byte("\n")) }
	f.Add(join(a, b))
	f.Add(join(a, b, nil))
	f.Add(join(a, []byte(""), b, []byte("\r")))
	f.Add(join(a, a, bytes.Replace(b, []byte("uid-b"), []byte("uid-a"), -1)))
	f.Add(append(append([]byte{}, a...), "\r\n{}\n\n"...))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxLine = 4096
		var passed int
		rep, err := report.VerifyBundle(bytes.NewReader(data), report.VerifyOptions{
			MaxLineBytes: maxLine,
			OnLine: func(no int, s *report.Signed, line []byte) error {
				passed++
				if s == nil {
					t.Fatalf("line %d: OnLine got no envelope", no)
				}
				if _, err := report.Verify(line); err != nil {
					t.Fatalf("line %d handed to OnLine does not verify: %v", no, err)
				}
				return nil
			},
		})
		if err != nil {
			t.Fatalf("reading from memory failed: %v", err)
		}
		wantLines := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			wantLines++
		}
		if rep.Lines != wantLines {
			t.Fatalf("%d lines counted, the input has %d", rep.Lines, wantLines)
		}
		if rep.Valid+len(rep.Problems) != rep.Lines || passed != rep.Valid {
			t.Fatalf("lines %d = valid %d + problems %d? OnLine saw %d", rep.Lines, rep.Valid, len(rep.Problems), passed)
		}
		last := 0
		for _, p := range rep.Problems {
			if p.Line <= last || p.Line > rep.Lines || p.Err == nil {
				t.Fatalf("problem %v out of order or without an error", p)
			}
			last = p.Line
		}
	})
}

// FuzzParseSigned: the envelope decoder never panics, accepts everything Verify
// accepts, and what it accepts carries the format and an object measurement.
func FuzzParseSigned(f *testing.F) {
	lines := fuzzLines(f)
	f.Add(lines[0])
	f.Add([]byte(`{"format":"vantage-signed-v1","measurement":{"a":1}}`))
	f.Add([]byte(`{"FORMAT":"vantage-signed-v1","measurement":{},"measurement":[]}`))
	f.Add([]byte(`{"format":"vantage-signed-v1","measurement":"{"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := report.ParseSigned(data)
		_, verr := report.Verify(data)
		if verr == nil && err != nil {
			t.Fatalf("Verify accepts a line ParseSigned rejects: %v", err)
		}
		if err != nil {
			return
		}
		if s.Format != report.SignedFormat || len(s.Measurement) == 0 || s.Measurement[0] != '{' {
			t.Fatalf("accepted envelope %+v", s)
		}
	})
}
