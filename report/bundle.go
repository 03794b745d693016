package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A bundle is a file of signed envelopes, one per line, each line ending in "\n":
// what `vantage export` writes for a person to carry out of a shut-down country,
// and what the collector imports. Nothing else is in the file, so each line can be
// checked on its own with Verify.

// MaxBundleLineBytes bounds one line when reading a bundle, so that a hostile or
// damaged file cannot make the reader hold an unbounded line in memory. A
// measurement's response bodies are capped far below this by the nettests.
const MaxBundleLineBytes = 64 << 20

// Errors about a bundle line that Verify cannot report itself.
var (
	ErrLineTooLong  = errors.New("line too long")
	ErrEmptyLine    = errors.New("empty line")
	ErrUIDConflict  = errors.New("measurement_uid appears earlier with different bytes")
	ErrUnknownProbe = errors.New("signed by a probe not in the trusted set")
)

// BundleWriter writes signed lines to a bundle.
type BundleWriter struct {
	w *bufio.Writer
	n int
}

// NewBundleWriter returns a writer; call Flush when done.
func NewBundleWriter(w io.Writer) *BundleWriter {
	return &BundleWriter{w: bufio.NewWriterSize(w, 256<<10)}
}

// Write appends one signed line exactly as given, plus "\n". A line with a line
// break inside would split into two unverifiable lines, so it is refused.
func (bw *BundleWriter) Write(line []byte) error {
	if len(line) == 0 || bytes.ContainsAny(line, "\n\r") {
		return fmt.Errorf("bundle: line %d: a signed line must be non-empty and hold no line break", bw.n+1)
	}
	if _, err := bw.w.Write(line); err != nil {
		return fmt.Errorf("bundle: write: %w", err)
	}
	if err := bw.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("bundle: write: %w", err)
	}
	bw.n++
	return nil
}

// Lines returns how many lines were written.
func (bw *BundleWriter) Lines() int { return bw.n }

// Flush writes buffered lines to the underlying writer.
func (bw *BundleWriter) Flush() error {
	if err := bw.w.Flush(); err != nil {
		return fmt.Errorf("bundle: write: %w", err)
	}
	return nil
}

// LineProblem is one bad line of a bundle.
type LineProblem struct {
	Line int    // 1-based
	UID  string // measurement_uid when it could be read, else ""
	Err  error
}

func (p LineProblem) String() string {
	uid := p.UID
	if uid == "" {
		uid = "-"
	}
	return fmt.Sprintf("line %d: uid %s: %v", p.Line, uid, p.Err)
}

// BundleReport summarises a verified bundle.
type BundleReport struct {
	Lines    int // lines read
	Valid    int // lines that verified
	Problems []LineProblem
}

// VerifyOptions narrows what VerifyBundle accepts.
type VerifyOptions struct {
	// ProbeIDs, when not empty, lists the probes whose signatures are trusted: a
	// valid signature by any other key is a problem. Without it a bundle only
	// proves that each line is unchanged since its (embedded) key signed it.
	ProbeIDs []string
	// MaxLineBytes bounds one line; 0 means MaxBundleLineBytes.
	MaxLineBytes int
	// OnLine, when set, is called for every line that verifies, in order.
	OnLine func(lineNo int, s *Signed, line []byte) error
}

// VerifyBundle checks every line of r with Verify and collects a problem for each
// bad one: bad JSON or envelope, a signature that does not verify, an empty or
// over-long line, a uid seen earlier with different bytes, a probe not trusted.
// The error is only for failing to read r (or an OnLine error): bad lines are
// results, so that every one of them is named.
func VerifyBundle(r io.Reader, opts VerifyOptions) (*BundleReport, error) {
	trusted := map[string]bool{}
	for _, id := range opts.ProbeIDs {
		trusted[id] = true
	}
	seen := map[string]seenLine{}
	rep := &BundleReport{}
	maxLine := opts.MaxLineBytes
	if maxLine <= 0 {
		maxLine = MaxBundleLineBytes
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, tooLong, err := readLine(br, maxLine)
		if err == io.EOF && line == nil {
			return rep, nil
		}
		if err != nil && err != io.EOF {
			return rep, fmt.Errorf("bundle: read line %d: %w", rep.Lines+1, err)
		}
		rep.Lines++
		no := rep.Lines
		line = bytes.TrimSuffix(line, []byte("\r")) // a file that went through a CRLF conversion
		problem := checkLine(no, line, tooLong, trusted, seen)
		if problem != nil {
			rep.Problems = append(rep.Problems, *problem)
		} else {
			rep.Valid++
			if opts.OnLine != nil {
				s, _ := ParseSigned(line)
				if err := opts.OnLine(no, s, line); err != nil {
					return rep, err
				}
			}
		}
		if err == io.EOF {
			return rep, nil
		}
	}
}

type seenLine struct {
	line int
	sum  [32]byte
}

func checkLine(no int, line []byte, tooLong bool, trusted map[string]bool, seen map[string]seenLine) *LineProblem {
	switch {
	case tooLong:
		return &LineProblem{Line: no, Err: ErrLineTooLong}
	case len(bytes.TrimSpace(line)) == 0:
		return &LineProblem{Line: no, Err: ErrEmptyLine}
	}
	s, err := Verify(line)
	if err != nil {
		return &LineProblem{Line: no, UID: readableUID(line), Err: err}
	}
	if len(trusted) > 0 && !trusted[s.ProbeID] {
		return &LineProblem{Line: no, UID: s.MeasurementUID, Err: fmt.Errorf("%w: probe_id %s", ErrUnknownProbe, s.ProbeID)}
	}
	sum := sha256.Sum256(s.Measurement)
	if prev, ok := seen[s.MeasurementUID]; ok && prev.sum != sum {
		return &LineProblem{Line: no, UID: s.MeasurementUID, Err: fmt.Errorf("%w (line %d)", ErrUIDConflict, prev.line)}
	}
	if _, ok := seen[s.MeasurementUID]; !ok {
		seen[s.MeasurementUID] = seenLine{line: no, sum: sum}
	}
	return nil
}

// readableUID digs a measurement_uid out of a line that did not verify, to help a
// person find it: from the envelope, else from inside the measurement.
func readableUID(line []byte) string {
	var env struct {
		UID         string          `json:"measurement_uid"`
		Measurement json.RawMessage `json:"measurement"`
	}
	if json.Unmarshal(line, &env) != nil {
		return ""
	}
	if env.UID != "" {
		return env.UID
	}
	var m struct {
		UID string `json:"measurement_uid"`
	}
	json.Unmarshal(env.Measurement, &m)
	return m.UID
}

// readLine returns the next line without its "\n". A line over maxLine
// is skipped to its end and reported with tooLong, so that the lines after it
// keep their numbers.
func readLine(br *bufio.Reader, maxLine int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > maxLine+1 { // +1: the "\n"
				tooLong, line = true, []byte{}
			} else {
				line = append(line, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(line) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return line, tooLong, io.EOF
		case err != nil:
			return nil, false, err
		}
		return bytes.TrimSuffix(line, []byte("\n")), tooLong, nil
	}
}
