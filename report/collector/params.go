package collector

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vantage-probe/vantage/report/collector/storage"
)

// List limits: DefaultLimit rows per page unless asked, never more than MaxLimit,
// which keeps one page's query and JSON small whatever the filters.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Aggregate limits: a year of days x 50 ASNs x 6 verdicts fits under the default.
const (
	DefaultAggregateLimit = 20000
	MaxAggregateLimit     = 100000
)

// maxValueLen bounds any query parameter value: nothing legitimate is longer than a
// long URL.
const maxValueLen = 8 << 10

// paramError is a bad query parameter; the answer is 400 naming it.
type paramError struct {
	param string
	msg   string
}

func (e *paramError) Error() string { return fmt.Sprintf("parameter %s: %s", e.param, e.msg) }

// filterParams are the parameters of storage.Filter, accepted by every query.
var filterParams = []string{"probe_id", "probe_cc", "probe_asn", "test_name", "input", "domain", "verdict", "method", "since", "until"}

// query wraps a request's parameters: it refuses unknown and repeated ones and
// values that are too long, not UTF-8 or hold a NUL byte. Every value reaches the database as a
// bound parameter, so one that looks like SQL or a path is just a value.
type query struct {
	v url.Values
}

func newQuery(raw string, extra ...string) (*query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, &paramError{param: "query", msg: "malformed query string"}
	}
	allowed := map[string]bool{}
	for _, p := range append(filterParams, extra...) {
		allowed[p] = true
	}
	for k, vals := range v {
		switch {
		case !allowed[k]:
			return nil, &paramError{param: k, msg: "unknown parameter"}
		case len(vals) > 1:
			return nil, &paramError{param: k, msg: "given more than once"}
		case len(vals[0]) > maxValueLen || !utf8.ValidString(vals[0]) || strings.ContainsRune(vals[0], 0):
			// A NUL byte is valid UTF-8 but PostgreSQL refuses it in text (a 500).
			return nil, &paramError{param: k, msg: "too long, not UTF-8 or holding a NUL byte"}
		}
	}
	return &query{v: v}, nil
}

func (q *query) get(name string) string { return q.v.Get(name) }

// filter parses the filter parameters.
func (q *query) filter() (storage.Filter, error) {
	f := storage.Filter{
		ProbeID:  q.get("probe_id"),
		ProbeCC:  strings.ToUpper(q.get("probe_cc")),
		ProbeASN: strings.ToUpper(q.get("probe_asn")),
		TestName: q.get("test_name"),
		Input:    q.get("input"),
		Domain:   strings.ToLower(q.get("domain")),
		Verdict:  q.get("verdict"),
		Method:   q.get("method"),
	}
	if f.ProbeCC != "" && !validCC(f.ProbeCC) {
		return f, &paramError{param: "probe_cc", msg: "want a two-letter country code such as KZ"}
	}
	if f.ProbeASN != "" && !strings.HasPrefix(f.ProbeASN, "AS") {
		f.ProbeASN = "AS" + f.ProbeASN
	}
	if f.ProbeASN != "" && !validASN(f.ProbeASN) {
		return f, &paramError{param: "probe_asn", msg: "want an AS number such as AS9198"}
	}
	var err error
	if f.Since, err = q.time("since"); err != nil {
		return f, err
	}
	if f.Until, err = q.time("until"); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, &paramError{param: "until", msg: "must be after since"}
	}
	return f, nil
}

// time parses an RFC 3339 time, OONI's "YYYY-MM-DD hh:mm:ss" (UTC) or a date.
func (q *query) time(name string) (time.Time, error) {
	s := q.get(name)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &paramError{param: name, msg: "want RFC 3339 (2022-01-05T10:00:00Z) or a date (2022-01-05)"}
}

// int parses a positive integer parameter bounded by max; def when absent.
func (q *query) int(name string, def, max int) (int, error) {
	s := q.get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, &paramError{param: name, msg: fmt.Sprintf("want an integer from 1 to %d", max)}
	}
	return n, nil
}

// cursorPrefix versions the opaque cursor, so its encoding may change later.
const cursorPrefix = "v1."

func encodeCursor(c storage.Cursor) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s%d.%d", cursorPrefix, c.StartTime, c.ID))
}

func (q *query) cursor() (*storage.Cursor, error) {
	s := q.get("cursor")
	if s == "" {
		return nil, nil
	}
	bad := &paramError{param: "cursor", msg: "not a cursor returned by this API"}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	rest, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return nil, bad
	}
	start, id, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, bad
	}
	var c storage.Cursor
	if c.StartTime, err = strconv.ParseInt(start, 10, 64); err != nil {
		return nil, bad
	}
	if c.ID, err = strconv.ParseInt(id, 10, 64); err != nil {
		return nil, bad
	}
	return &c, nil
}

// axes parses the aggregate's "by" parameter.
func (q *query) axes(def []storage.Axis) ([]storage.Axis, error) {
	s := q.get("by")
	if s == "" {
		return def, nil
	}
	var out []storage.Axis
	seen := map[storage.Axis]bool{}
	for _, part := range strings.Split(s, ",") {
		a := storage.Axis(strings.TrimSpace(part))
		if !storage.ValidAxis(a) || seen[a] {
			return nil, &paramError{param: "by", msg: fmt.Sprintf("%q is not an axis (or is repeated); axes: day, hour, probe_cc, probe_asn, test_name, verdict, method, domain", a)}
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, nil
}
