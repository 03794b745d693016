package collector

import (
	"bufio"
	"bytes"
	"sync/atomic"
	"testing"
)

// referenceLines is the upload's line splitting written the plain way (the
// collector's former splitLines, without its limits): cut at '\n', drop a '\r'
// before it, skip blank lines, number physical lines from 1.
func referenceLines(body []byte) []numberedLine {
	var out []numberedLine
	for no, line := range bytes.Split(body, []byte{'\n'}) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, numberedLine{no: no + 1, data: line})
		}
	}
	return out
}

// FuzzReadLines: the streaming reader cuts any body into the same numbered lines
// as the reference, through a reader buffer small enough that long lines span
// many reads; an empty result is the "empty body" error.
func FuzzReadLines(f *testing.F) {
	for _, seed := range []string{"", "\n", "a", "a\nb", "a\r\nb\r\n", "\n\n a \n\t\n", "x\ry\n", string(bytes.Repeat([]byte("z"), 100)) + "\nq"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		jobs := make(chan *verifyJob, len(body)+1)
		var failed atomic.Bool
		got, herr := readLines(bufio.NewReaderSize(bytes.NewReader(body), 16), jobs, &failed)
		close(jobs)
		want := referenceLines(body)
		if len(want) == 0 {
			if herr == nil || herr.status != 400 {
				t.Fatalf("no line: err %v, want the empty-body 400", herr)
			}
			return
		}
		if herr != nil {
			t.Fatalf("err %v for %q", herr, body)
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d", len(got), len(want))
		}
		for i, j := range got {
			if j.line.no != want[i].no || !bytes.Equal(j.line.data, want[i].data) {
				t.Fatalf("line %d = %d %q, want %d %q", i, j.line.no, j.line.data, want[i].no, want[i].data)
			}
		}
		for range got {
			if <-jobs == nil {
				t.Fatal("a line was not handed to the verifiers")
			}
		}
	})
}
