// Package testlists reads URL test lists (Citizen Lab's CSV format and plain lists
// of one URL per line), validates them against Citizen Lab's category legend, and
// embeds the default lists vantage measures when it is given no input.
package testlists

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/vantage-probe/vantage/report/limits"
)

// Entry is one URL to measure and what the list says about it.
type Entry struct {
	URL                 string
	CategoryCode        string // "" in a plain list
	CategoryDescription string
	DateAdded           string
	Source              string
	Notes               string
}

// Columns of a Citizen Lab test list, in the order of the upstream header.
var csvColumns = []string{"url", "category_code", "category_description", "date_added", "source", "notes"}

// requiredColumns must be present in a CSV header; the others may be missing.
var requiredColumns = []string{"url", "category_code"}

// maxLineBytes bounds one line of a plain list: no real URL is near it, and a file
// that is not a list at all (a binary picked by mistake) fails fast instead of
// filling memory.
const maxLineBytes = 64 << 10

// ErrEmpty is returned for a list that holds no URL at all.
var ErrEmpty = errors.New("list holds no URL")

// ParseError names the file, the line and the problem.
type ParseError struct {
	File string
	Line int // 1-based; 0 when the problem is the file as a whole
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("test list %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("test list %s: %s", e.File, e.Msg)
}

// Parse reads a list, deciding its format from its first meaningful line: a
// comma-separated header with a "url" column makes it a Citizen Lab CSV, anything
// else a plain list. name is used in error messages. It holds the entries, not
// the file: Scan is the streaming form.
func Parse(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	err := Scan(r, name, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// Scan reads a list as Parse does, calling fn with each entry as soon as its line
// is read, and stops at the first bad line (or the first error of fn). Memory stays
// flat whatever the size of the input: a line is bounded by maxLineBytes, and the
// format is decided from the first meaningful line alone, not from a copy of the
// file.
func Scan(r io.Reader, name string, fn func(Entry) error) error {
	br := bufio.NewReaderSize(newBOMSkipper(r), 64<<10)
	prefix, isCSV, err := sniffFormat(br)
	if err != nil {
		return &ParseError{File: name, Line: prefix.lines + 1, Msg: err.Error()}
	}
	rest := io.MultiReader(bytes.NewReader(prefix.data), br)
	if isCSV {
		// The blank and comment lines before the header become empty lines, which
		// csv.Reader skips while still counting them for line numbers.
		header := prefix.data[bytes.LastIndexByte(prefix.data[:len(prefix.data)-1], '\n')+1:]
		blank := bytes.Repeat([]byte{'\n'}, prefix.lines)
		return scanCSV(io.MultiReader(bytes.NewReader(blank), bytes.NewReader(header), br), name, fn)
	}
	return scanPlain(rest, name, fn)
}

// sniffed is what sniffFormat read: the blank and comment lines before the first
// meaningful one, and that line, to be parsed again.
type sniffed struct {
	data  []byte
	lines int // complete lines before the meaningful one
}

// maxSniffBytes bounds the blank and comment lines read before the first
// meaningful one; past it the list is taken as plain (a CSV starts with its header).
const maxSniffBytes = 1 << 20

// sniffFormat reads up to the first meaningful line and reports whether it is a
// CSV header (a comma-separated line with a "url" field).
func sniffFormat(br *bufio.Reader) (sniffed, bool, error) {
	var s sniffed
	for len(s.data) < maxSniffBytes {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLineBytes {
			return s, false, errLineTooLong
		}
		s.data = append(s.data, line...)
		if err != nil && !errors.Is(err, io.EOF) {
			return s, false, fmt.Errorf("cannot read: %v", err)
		}
		t := strings.TrimSpace(string(line))
		if t != "" && !strings.HasPrefix(t, "#") {
			return s, isCSVHeader(t), nil
		}
		if err != nil { // EOF with only blanks and comments
			return s, false, nil
		}
		s.lines++
	}
	return s, false, nil
}

var errLineTooLong = fmt.Errorf("a line is longer than %d bytes: is this a test list?", maxLineBytes)

func isCSVHeader(line string) bool {
	for _, field := range strings.Split(strings.ToLower(line), ",") {
		if strings.TrimSpace(field) == "url" {
			return true
		}
	}
	return false
}

// ParseCSV reads a Citizen Lab test list (RFC 4180, header row naming at least url
// and category_code). Every URL must be http:// or https:// with a host, and every
// category code must be in the legend.
func ParseCSV(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	err := scanCSV(newBOMSkipper(r), name, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// maxRecordBytes bounds one CSV record: a quoted field may span lines, so the
// line bound alone would not stop an unterminated quote from filling memory.
const maxRecordBytes = 2 * maxLineBytes

func scanCSV(r io.Reader, name string, fn func(Entry) error) error {
	lim := &recordLimiter{r: r, max: maxRecordBytes}
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1 // checked below, with a message naming the column
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return &ParseError{File: name, Msg: ErrEmpty.Error()}
	}
	if err != nil {
		return csvError(name, err)
	}
	header = append([]string(nil), header...) // ReuseRecord would overwrite it
	index, err := headerIndex(header)
	if err != nil {
		return &ParseError{File: name, Line: 1, Msg: err.Error()}
	}
	n := 0
	for {
		lim.reset()
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		e, err := entryFromRecord(rec, header, index)
		if err != nil {
			return &ParseError{File: name, Line: line, Msg: err.Error()}
		}
		if err := fn(e); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return &ParseError{File: name, Msg: ErrEmpty.Error()}
	}
	return nil
}

// recordLimiter fails a read once more than max bytes were read since the last
// reset (the parse loop resets it at every record). csv.Reader reads ahead, so the
// bound is approximate by its buffer, and still bounded.
type recordLimiter struct {
	r   io.Reader
	n   int
	max int
}

func (l *recordLimiter) reset() { l.n = 0 }

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.n >= l.max {
		return 0, fmt.Errorf("a record is longer than %d bytes (an unterminated quote?): is this a test list?", l.max)
	}
	if len(p) > l.max-l.n {
		p = p[:l.max-l.n]
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ParseError{File: name, Line: pe.Line, Msg: pe.Err.Error()}
	}
	return &ParseError{File: name, Msg: err.Error()}
}

// headerIndex maps each known column to its position, -1 when absent.
func headerIndex(header []string) (map[string]int, error) {
	index := make(map[string]int, len(csvColumns))
	for _, c := range csvColumns {
		index[c] = -1
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, known := index[h]; known && index[h] == -1 {
			index[h] = i
		}
	}
	for _, c := range requiredColumns {
		if index[c] == -1 {
			return nil, fmt.Errorf("header has no %q column (want %s)", c, strings.Join(csvColumns, ","))
		}
	}
	return index, nil
}

func entryFromRecord(rec, header []string, index map[string]int) (Entry, error) {
	if len(rec) < len(header) {
		return Entry{}, fmt.Errorf("missing column %q: the row has %d columns, the header %d",
			header[len(rec)], len(rec), len(header))
	}
	if len(rec) > len(header) {
		return Entry{}, fmt.Errorf("the row has %d columns, the header %d (an unquoted comma?)", len(rec), len(header))
	}
	field := func(col string) string {
		if i := index[col]; i >= 0 {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	e := Entry{
		URL:                 field("url"),
		CategoryCode:        field("category_code"),
		CategoryDescription: field("category_description"),
		DateAdded:           field("date_added"),
		Source:              field("source"),
		Notes:               field("notes"),
	}
	if err := CheckURL(e.URL); err != nil {
		return Entry{}, err
	}
	if e.CategoryCode == "" {
		return Entry{}, fmt.Errorf("missing category_code for %s", limits.Quote(e.URL))
	}
	if _, ok := Category(e.CategoryCode); !ok {
		return Entry{}, fmt.Errorf("unknown category_code %s (not in Citizen Lab's legend)", limits.Quote(e.CategoryCode))
	}
	return e, nil
}

// ParsePlain reads a plain list: one URL per line; blank lines and lines starting
// with # are ignored.
func ParsePlain(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	err := scanPlain(newBOMSkipper(r), name, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

func scanPlain(r io.Reader, name string, fn func(Entry) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
	n, line := 0, 1
	for ; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := CheckURL(t); err != nil {
			return &ParseError{File: name, Line: line, Msg: err.Error()}
		}
		if err := fn(Entry{URL: t}); err != nil {
			return err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &ParseError{File: name, Line: line, Msg: errLineTooLong.Error()}
		}
		return &ParseError{File: name, Msg: err.Error()}
	}
	if n == 0 {
		return &ParseError{File: name, Msg: ErrEmpty.Error()}
	}
	return nil
}

// CheckURL accepts an absolute http:// or https:// URL with a host, the only inputs
// web_connectivity measures.
func CheckURL(s string) error {
	if s == "" {
		return errors.New("missing url")
	}
	if err := limits.Check("url", s, limits.MaxInputBytes); err != nil {
		return err
	}
	q := limits.Quote(s)
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad url %s: %v", q, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("bad url %s: the scheme must be http or https", q)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("bad url %s: no host", q)
	}
	if strings.ContainsAny(s, " \t") {
		return fmt.Errorf("bad url %s: contains white space", q)
	}
	return nil
}

// bomSkipper drops a UTF-8 byte order mark at the start of a file, which spreadsheet
// programs add when they save CSV.
type bomSkipper struct {
	r       *bufio.Reader
	checked bool
}

func newBOMSkipper(r io.Reader) io.Reader { return &bomSkipper{r: bufio.NewReader(r)} }

func (b *bomSkipper) Read(p []byte) (int, error) {
	if !b.checked {
		b.checked = true
		if head, err := b.r.Peek(3); err == nil && string(head) == "\uFEFF" {
			_, _ = b.r.Discard(3)
		}
	}
	return b.r.Read(p)
}
