package collector

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

// ExportTrailer is the HTTP trailer that ends every export: "complete; count=N" when
// every matching line was sent, "error: ..." when the export broke off. A client
// that sees anything but "complete" must not trust the file as whole.
const ExportTrailer = "Vantage-Export-Status"

// summaryJSON is one row of the list API.
type summaryJSON struct {
	MeasurementUID       string  `json:"measurement_uid"`
	ProbeID              string  `json:"probe_id"`
	ProbeCC              string  `json:"probe_cc"`
	ProbeASN             string  `json:"probe_asn"`
	TestName             string  `json:"test_name"`
	Input                *string `json:"input"`
	Domain               *string `json:"domain"`
	Verdict              *string `json:"verdict"`
	Method               *string `json:"method"`
	MeasurementStartTime string  `json:"measurement_start_time"`
	ReceivedAt           string  `json:"received_at"`
	MeasurementURL       string  `json:"measurement_url"`
}

type listJSON struct {
	Results    []summaryJSON `json:"results"`
	NextCursor *string       `json:"next_cursor"`
	NextURL    *string       `json:"next_url"` // this query's next page, or null
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// badQuery answers 400 for a paramError, 500 otherwise, and reports whether it did.
func (s *Server) badQuery(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	var pe *paramError
	if errors.As(err, &pe) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: pe.Error(), Param: pe.param})
		return true
	}
	s.log.Error("query failed", "err", err)
	writeError(w, http.StatusInternalServerError, "storage unavailable", nil)
	return true
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q, err := newQuery(r.URL.RawQuery, "cursor", "limit")
	if s.badQuery(w, err) {
		return
	}
	f, err := q.filter()
	if s.badQuery(w, err) {
		return
	}
	after, err := q.cursor()
	if s.badQuery(w, err) {
		return
	}
	limit, err := q.int("limit", DefaultLimit, MaxLimit)
	if s.badQuery(w, err) {
		return
	}
	// One row more than asked tells whether there is a next page.
	rows, err := s.store.List(r.Context(), f, after, storage.NewestFirst, limit+1)
	if s.badQuery(w, err) {
		return
	}
	out := listJSON{Results: make([]summaryJSON, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		next := encodeCursor(storage.Cursor{StartTime: last.StartTime.Unix(), ID: last.ID})
		out.NextCursor = &next
		out.NextURL = nextURL(r, next)
	}
	for _, m := range rows {
		out.Results = append(out.Results, summaryJSON{
			MeasurementUID: m.UID, ProbeID: m.ProbeID, ProbeCC: m.ProbeCC, ProbeASN: m.ProbeASN,
			TestName: m.TestName, Input: nullable(m.Input), Domain: nullable(m.Domain),
			Verdict: nullable(m.Verdict), Method: nullable(m.Method),
			MeasurementStartTime: report.FormatTime(m.StartTime), ReceivedAt: m.ReceivedAt.Format(time.RFC3339),
			MeasurementURL: "/api/v1/measurements/" + url.PathEscape(m.UID),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if uid == "" || len(uid) > maxUIDLen || !isToken(uid, "._-") {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "not a measurement_uid", Param: "uid"})
		return
	}
	line, err := s.store.Line(r.Context(), uid)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no measurement with this uid", nil)
		return
	}
	if s.badQuery(w, err) {
		return
	}
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(line)
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	q, err := newQuery(r.URL.RawQuery, "format")
	if s.badQuery(w, err) {
		return
	}
	f, err := q.filter()
	if s.badQuery(w, err) {
		return
	}
	ef, err := exportFormat(q.get("format"))
	if s.badQuery(w, err) {
		return
	}
	select {
	case s.exportSlots <- struct{}{}:
		defer func() { <-s.exportSlots }()
	default:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeError(w, http.StatusTooManyRequests, "too many exports in progress, retry later", nil)
		return
	}
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w), timeout: s.exportWrite}
	w.Header().Set("Trailer", ExportTrailer)
	w.Header().Set("Content-Type", ef.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var out io.Writer = dw
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw := gzip.NewWriter(dw)
		defer zw.Close()
		out = zw
	}
	if _, err := out.Write(ef.header); err != nil {
		return // the client is gone
	}
	count, err := exportLines(r.Context(), s.store, f, out, ef.conv)
	if err != nil {
		s.log.Warn("export broke off", "err", err, "sent", count)
		w.Header().Set(ExportTrailer, "error: export broke off after "+fmt.Sprint(count)+" lines")
		return
	}
	if zw, ok := out.(*gzip.Writer); ok {
		if err := zw.Close(); err != nil {
			return // the client is gone
		}
	}
	w.Header().Set(ExportTrailer, fmt.Sprintf("complete; count=%d", count))
}

// deadlineWriter gives every write to the client its own deadline, so that a
// client that stops reading is cut off instead of holding its export for ever.
type deadlineWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	// An error means the writer has no deadlines (a test recorder): write anyway.
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.w.Write(p)
}

// exportLines writes the lines matching f, each through conv when not nil.
func exportLines(ctx context.Context, st Store, f storage.Filter, w io.Writer, conv func([]byte) ([]byte, error)) (int, error) {
	count := 0
	nl := []byte{'\n'}
	err := st.Export(ctx, f, func(line []byte) error {
		if conv != nil {
			var err error
			if line, err = conv(line); err != nil {
				return err
			}
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if _, err := w.Write(nl); err != nil {
			return err
		}
		count++
		return nil
	})
	return count, err
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip (q > 0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

type aggregateJSON struct {
	By        []storage.Axis   `json:"by"`
	Results   []map[string]any `json:"results"`
	Truncated bool             `json:"truncated"`
}

// defaultAxes are the aggregate's axes unless "by" says otherwise.
var defaultAxes = []storage.Axis{storage.AxisDay, storage.AxisProbeASN, storage.AxisVerdict}

func (s *Server) handleAggregate(w http.ResponseWriter, r *http.Request) {
	q, err := newQuery(r.URL.RawQuery, "by", "order", "limit", "format")
	if s.badQuery(w, err) {
		return
	}
	f, err := q.filter()
	if s.badQuery(w, err) {
		return
	}
	by, err := q.axes(defaultAxes)
	if s.badQuery(w, err) {
		return
	}
	limit, err := q.int("limit", DefaultAggregateLimit, MaxAggregateLimit)
	if s.badQuery(w, err) {
		return
	}
	if fm := q.get("format"); fm != "" && fm != "json" && fm != FormatCSV {
		s.badQuery(w, &paramError{param: "format", msg: `want "json" or "csv"`})
		return
	}
	order := q.get("order")
	if order != "" && order != "keys" && order != "count" {
		s.badQuery(w, &paramError{param: "order", msg: `want "keys" or "count"`})
		return
	}
	buckets, err := s.store.Aggregate(r.Context(), f, by, order == "count", limit+1)
	if s.badQuery(w, err) {
		return
	}
	out := aggregateJSON{By: by, Results: make([]map[string]any, 0, len(buckets))}
	if len(buckets) > limit {
		buckets, out.Truncated = buckets[:limit], true
	}
	for _, b := range buckets {
		row := make(map[string]any, len(by)+1)
		for i, a := range by {
			row[string(a)] = aggregateKey(a, b.Keys[i])
		}
		row["count"] = b.Count
		out.Results = append(out.Results, row)
	}
	if q.get("format") == FormatCSV {
		writeAggregateCSV(w, out.By, out.Results, out.Truncated)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// aggregateKey renders day and hour buckets as times and empty strings as null.
func aggregateKey(a storage.Axis, k any) any {
	switch v := k.(type) {
	case int64:
		t := time.Unix(v, 0).UTC()
		if a == storage.AxisDay {
			return t.Format("2006-01-02")
		}
		return t.Format(time.RFC3339)
	case string:
		if v == "" {
			return nil
		}
	}
	return k
}

type probeJSON struct {
	ProbeID   string `json:"probe_id"`
	PublicKey string `json:"public_key"`
	FirstSeen string `json:"first_seen"`
}

func (s *Server) handleProbe(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 || strings.ToLower(id) != id {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "a probe id is 32 lowercase hex digits", Param: "id"})
		return
	}
	p, err := s.store.ProbeKey(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no probe with this id", nil)
		return
	}
	if s.badQuery(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, probeJSON{ProbeID: p.ProbeID, PublicKey: p.PublicKey, FirstSeen: p.FirstSeen.Format(time.RFC3339)})
}
