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
// else a plain list. name
// is used in error messages.
func Parse(r io.Reader, name string) ([]Entry, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	if looksLikeCSV(data) {
		return ParseCSV(bytes.NewReader(data), name)
	}
	return ParsePlain(bytes.NewReader(data), name)
}

func looksLikeCSV(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	for _, line := range bytes.Split(data, []byte("\n")) {
		t := strings.TrimSpace(string(line))
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		for _, field := range strings.Split(strings.ToLower(t), ",") {
			if strings.TrimSpace(field) == "url" {
				return true
			}
		}
		return false
	}
	return false
}

// ParseCSV reads a Citizen Lab test list (RFC 4180, header row naming at least url
// and category_code). Every URL must be http:// or https:// with a host, and every
// category code must be in the legend.
func ParseCSV(r io.Reader, name string) ([]Entry, error) {
	cr := csv.NewReader(newBOMSkipper(r))
	cr.FieldsPerRecord = -1 // checked below, with a message naming the column
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &ParseError{File: name, Msg: ErrEmpty.Error()}
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	index, err := headerIndex(header)
	if err != nil {
		return nil, &ParseError{File: name, Line: 1, Msg: err.Error()}
	}
	var out []Entry
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		e, err := entryFromRecord(rec, header, index)
		if err != nil {
			return nil, &ParseError{File: name, Line: line, Msg: err.Error()}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, &ParseError{File: name, Msg: ErrEmpty.Error()}
	}
	return out, nil
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
		return Entry{}, fmt.Errorf("missing category_code for %s", e.URL)
	}
	if _, ok := Category(e.CategoryCode); !ok {
		return Entry{}, fmt.Errorf("unknown category_code %q (not in Citizen Lab's legend)", e.CategoryCode)
	}
	return e, nil
}

// ParsePlain reads a plain list: one URL per line; blank lines and lines starting
// with # are ignored.
func ParsePlain(r io.Reader, name string) ([]Entry, error) {
	sc := bufio.NewScanner(newBOMSkipper(r))
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
	var out []Entry
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := CheckURL(t); err != nil {
			return nil, &ParseError{File: name, Line: line, Msg: err.Error()}
		}
		out = append(out, Entry{URL: t})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes: is this a test list?", maxLineBytes)
		}
		return nil, &ParseError{File: name, Msg: err.Error()}
	}
	if len(out) == 0 {
		return nil, &ParseError{File: name, Msg: ErrEmpty.Error()}
	}
	return out, nil
}

// CheckURL accepts an absolute http:// or https:// URL with a host, the only inputs
// web_connectivity measures.
func CheckURL(s string) error {
	if s == "" {
		return errors.New("missing url")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad url %q: %v", s, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("bad url %q: the scheme must be http or https", s)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("bad url %q: no host", s)
	}
	if strings.ContainsAny(s, " \t") {
		return fmt.Errorf("bad url %q: contains white space", s)
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
