// Package uploadtest runs a fake collector on loopback that speaks the upload
// wire protocol (POST /api/v1/measurements), verifies every line with
// report.Verify, stores by measurement_uid, and can be told to fail, rate-limit,
// stall or drop connections, so that upload clients can be tested against it.
package uploadtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/report"
)

// Path is the upload endpoint.
const Path = "/api/v1/measurements"

// DefaultMaxBodyBytes is the fake's request size limit (413 beyond it).
const DefaultMaxBodyBytes = 32 << 20

// Fault is what the fake does to one request instead of (or after) serving it.
type Fault struct {
	// Status, when non-zero, is answered without storing anything.
	Status int
	// RetryAfter is sent as the Retry-After header with Status.
	RetryAfter string
	// Die drops the connection without an answer. With StoreFirst the lines are
	// stored before the connection drops: the client never sees the acknowledgement.
	Die        bool
	StoreFirst bool
}

// Server is the fake collector. Its methods are safe for concurrent use.
type Server struct {
	// URL is the collector base URL (http://127.0.0.1:PORT).
	URL string
	srv *httptest.Server

	mu           sync.Mutex
	stored       map[string][]byte
	order        []string
	faults       []Fault
	requests     int
	linesSeen    int
	delay        time.Duration
	maxBodyBytes int64
}

// NewServer starts a fake collector on 127.0.0.1. Close it when done.
func NewServer() *Server {
	s := &Server{stored: map[string][]byte{}, maxBodyBytes: DefaultMaxBodyBytes}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Handler is the fake's HTTP handler, for tests that serve it themselves (over
// TLS, behind a front).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// FailNext makes the next n requests suffer f (after any faults already queued).
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// SetDelay makes every successful answer wait d after storing, as a slow
// collector on a bad link would; the wait ends early when the client goes away.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetMaxBodyBytes changes the request size limit.
func (s *Server) SetMaxBodyBytes(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxBodyBytes = n
}

// Stored returns a copy of the stored lines by uid.
func (s *Server) Stored() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.stored))
	for k, v := range s.stored {
		out[k] = bytes.Clone(v)
	}
	return out
}

// StoredCount returns how many distinct measurements are stored.
func (s *Server) StoredCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stored)
}

// Requests returns how many upload requests arrived; LinesSeen how many lines
// they carried in total (resent lines counted each time).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// LinesSeen returns how many lines all requests carried, resent ones included.
func (s *Server) LinesSeen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.linesSeen
}

// Response is the body of a 200 answer.
type Response struct {
	Stored     int            `json:"stored"`
	Duplicates int            `json:"duplicates"`
	Results    []ResultStatus `json:"results"`
}

// ResultStatus is one line's fate in a 200 answer.
type ResultStatus struct {
	MeasurementUID string `json:"measurement_uid"`
	Status         string `json:"status"` // "stored" or "duplicate"
}

// ErrorResponse is the body of a 4xx answer; Line is 1-based, 0 when no line is at fault.
type ErrorResponse struct {
	Error string `json:"error"`
	Line  int    `json:"line,omitempty"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, ErrorResponse{Error: "POST only"})
		return
	}
	s.mu.Lock()
	s.requests++
	var fault *Fault
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		fault = &f
	}
	limit := s.maxBodyBytes
	s.mu.Unlock()

	if fault != nil && fault.Status != 0 {
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		writeJSON(w, fault.Status, ErrorResponse{Error: "injected failure"})
		return
	}
	lines, status, errResp := readLines(w, r, limit)
	if status != 0 {
		writeJSON(w, status, errResp)
		return
	}
	if fault != nil && fault.Die && !fault.StoreFirst {
		dropConnection(w)
		return
	}
	resp, status, errResp := s.store(lines)
	if status != 0 {
		writeJSON(w, status, errResp)
		return
	}
	if fault != nil && fault.Die {
		dropConnection(w)
		return
	}
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// readLines checks the content type and size and splits the body into lines.
func readLines(w http.ResponseWriter, r *http.Request, limit int64) ([][]byte, int, ErrorResponse) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != "application/x-ndjson" && ct != "application/json") {
		return nil, http.StatusUnsupportedMediaType, ErrorResponse{Error: "want application/x-ndjson or application/json"}
	}
	in := io.Reader(r.Body)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, http.StatusBadRequest, ErrorResponse{Error: "body is not gzip: " + err.Error()}
		}
		defer zr.Close()
		in = zr
	default:
		return nil, http.StatusUnsupportedMediaType, ErrorResponse{Error: "unsupported Content-Encoding " + enc}
	}
	// The limit applies to the decompressed body, as at the real collector.
	body, err := io.ReadAll(http.MaxBytesReader(w, io.NopCloser(in), limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, http.StatusRequestEntityTooLarge, ErrorResponse{Error: fmt.Sprintf("body over %d bytes", limit)}
	}
	if err != nil {
		return nil, http.StatusBadRequest, ErrorResponse{Error: "read body: " + err.Error()}
	}
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	if len(body) == 0 {
		return nil, http.StatusBadRequest, ErrorResponse{Error: "empty body", Line: 1}
	}
	if ct == "application/json" && len(lines) != 1 {
		return nil, http.StatusBadRequest, ErrorResponse{Error: "application/json carries one measurement", Line: 2}
	}
	return lines, 0, ErrorResponse{}
}

// store verifies every line first and then stores them all, or nothing.
func (s *Server) store(lines [][]byte) (Response, int, ErrorResponse) {
	uids := make([]string, len(lines))
	for i, line := range lines {
		env, err := report.Verify(line)
		if err != nil {
			return Response{}, http.StatusBadRequest, ErrorResponse{Error: err.Error(), Line: i + 1}
		}
		uids[i] = env.MeasurementUID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linesSeen += len(lines)
	batch := map[string][]byte{}
	for i, line := range lines {
		known, ok := s.stored[uids[i]]
		if !ok {
			known, ok = batch[uids[i]]
		}
		if ok && !bytes.Equal(known, line) {
			return Response{}, http.StatusConflict, ErrorResponse{Error: "measurement_uid known with different bytes", Line: i + 1}
		}
		batch[uids[i]] = line
	}
	var resp Response
	for i, line := range lines {
		if _, ok := s.stored[uids[i]]; ok {
			resp.Duplicates++
			resp.Results = append(resp.Results, ResultStatus{uids[i], "duplicate"})
			continue
		}
		s.stored[uids[i]] = bytes.Clone(line)
		s.order = append(s.order, uids[i])
		resp.Stored++
		resp.Results = append(resp.Results, ResultStatus{uids[i], "stored"})
	}
	return resp, 0, ErrorResponse{}
}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok { // httptest servers always can; answer something rather than nothing
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
