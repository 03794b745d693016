package collector

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/report/collector/storage"
)

// Ingest limits. The probe caps each HTTP body it records at 1 MiB
// (netx.DefaultMaxBodyBytes), but the canonical JSON escapes <, > and & as six
// bytes each and a measurement may hold a redirect chain and an HTTP/3 fetch too,
// so MaxLineBytes leaves room for several escaped bodies: a refused line is refused
// for good by the probe, so this errs on the generous side. MaxRequestBytes bounds
// what one upload holds in memory (the batch is verified in full before anything is
// stored; at most DefaultMaxConcurrentIngests uploads are held at once) and still
// takes the upload client's 8 MiB batches and a bundle of thousands of ordinary
// measurements in one request.
const (
	MaxLineBytes    = 16 << 20
	MaxRequestBytes = 64 << 20
	MaxBatchLines   = 10000
)

// Media types of an upload.
const (
	ContentTypeJSON   = "application/json"     // exactly one signed line
	ContentTypeNDJSON = "application/x-ndjson" // one or more signed lines
)

// retryAfterSeconds is what a busy collector's 429 tells the probe.
const retryAfterSeconds = 10

// parallelVerifyMin is the batch size from which signatures are checked on every
// core: below it the goroutines cost more than they save.
const parallelVerifyMin = 32

// ingestResult is the body of a successful upload.
type ingestResult struct {
	Stored     int          `json:"stored"`
	Duplicates int          `json:"duplicates"`
	Results    []lineResult `json:"results"`
}

type lineResult struct {
	MeasurementUID string `json:"measurement_uid"`
	Status         string `json:"status"`
}

// numberedLine is one non-blank line of an upload and its 1-based line number.
type numberedLine struct {
	no   int
	data []byte
}

// httpError is an error answer with its status and, for ingest, the line at fault.
type httpError struct {
	status int
	msg    string
	line   int // 0: no line
}

func (e *httpError) Error() string { return e.msg }

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	lines, herr := readUpload(r)
	if herr == nil {
		var recs []storage.Record
		recs, herr = verifyLines(lines, s.now())
		if herr == nil {
			herr = s.storeBatch(w, r, lines, recs)
		}
	}
	if herr != nil {
		var line *int
		if herr.line > 0 {
			line = &herr.line
		}
		if herr.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		}
		writeError(w, herr.status, herr.msg, line)
	}
}

// storeBatch writes the verified batch and answers 200, or returns the error answer.
func (s *Server) storeBatch(w http.ResponseWriter, r *http.Request, lines []numberedLine, recs []storage.Record) *httpError {
	select {
	case s.ingestSlots <- struct{}{}:
		defer func() { <-s.ingestSlots }()
	case <-time.After(s.ingestWait):
		return &httpError{status: http.StatusTooManyRequests, msg: "collector busy, retry later"}
	case <-r.Context().Done():
		return &httpError{status: http.StatusServiceUnavailable, msg: "request cancelled"}
	}
	outcomes, err := s.store.Ingest(r.Context(), recs, s.now())
	if err != nil {
		var ie *storage.IngestError
		switch {
		case errors.As(err, &ie) && errors.Is(err, storage.ErrConflict):
			return &httpError{status: http.StatusConflict, line: lines[ie.Index].no,
				msg: fmt.Sprintf("measurement_uid %s is already stored with different bytes", ie.UID)}
		case errors.As(err, &ie) && errors.Is(err, storage.ErrKeyMismatch):
			return &httpError{status: http.StatusBadRequest, line: lines[ie.Index].no,
				msg: "probe_id is pinned to another public key"}
		default:
			s.log.Error("ingest failed", "err", err, "lines", len(recs))
			return &httpError{status: http.StatusServiceUnavailable, msg: "storage unavailable, retry later"}
		}
	}
	res := ingestResult{Results: make([]lineResult, len(recs))}
	for i, o := range outcomes {
		if o == storage.Duplicate {
			res.Duplicates++
		} else {
			res.Stored++
		}
		res.Results[i] = lineResult{MeasurementUID: recs[i].UID, Status: o.String()}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// readUpload checks the media type and size of an upload and splits it into lines.
func readUpload(r *http.Request) ([]numberedLine, *httpError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != ContentTypeJSON && mt != ContentTypeNDJSON) {
		return nil, &httpError{status: http.StatusUnsupportedMediaType,
			msg: fmt.Sprintf("Content-Type must be %s (one measurement) or %s (one per line)", ContentTypeJSON, ContentTypeNDJSON)}
	}
	if r.ContentLength > MaxRequestBytes {
		return nil, tooLarge(0)
	}
	body := io.Reader(r.Body)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, &httpError{status: http.StatusBadRequest, msg: "body is not gzip: " + err.Error()}
		}
		defer zr.Close()
		body = zr
	default:
		return nil, &httpError{status: http.StatusUnsupportedMediaType, msg: "unsupported Content-Encoding " + strconv.Quote(enc)}
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxRequestBytes+1))
	if err != nil {
		return nil, &httpError{status: http.StatusBadRequest, msg: "reading body: " + err.Error()}
	}
	if len(data) > MaxRequestBytes {
		return nil, tooLarge(0)
	}
	lines, herr := splitLines(data)
	if herr != nil {
		return nil, herr
	}
	if mt == ContentTypeJSON && len(lines) != 1 {
		return nil, &httpError{status: http.StatusBadRequest,
			msg: ContentTypeJSON + " carries exactly one measurement; use " + ContentTypeNDJSON + " for several"}
	}
	return lines, nil
}

func tooLarge(line int) *httpError {
	if line > 0 {
		return &httpError{status: http.StatusRequestEntityTooLarge, line: line,
			msg: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
	}
	return &httpError{status: http.StatusRequestEntityTooLarge,
		msg: fmt.Sprintf("body larger than %d bytes or %d lines", MaxRequestBytes, MaxBatchLines)}
}

// splitLines cuts data at newlines, dropping blank lines (a bundle ends with one)
// but keeping the physical line numbers for error messages.
func splitLines(data []byte) ([]numberedLine, *httpError) {
	var out []numberedLine
	for no := 1; len(data) > 0; no++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(line) > MaxLineBytes {
			return nil, tooLarge(no)
		}
		if len(out) == MaxBatchLines {
			return nil, tooLarge(0)
		}
		out = append(out, numberedLine{no: no, data: line})
	}
	if len(out) == 0 {
		return nil, &httpError{status: http.StatusBadRequest, msg: "empty body: no measurement"}
	}
	return out, nil
}

// verifyLines checks every line (on every core for a large batch) and returns the
// records, or the error of the first bad line.
func verifyLines(lines []numberedLine, now time.Time) ([]storage.Record, *httpError) {
	recs := make([]storage.Record, len(lines))
	errs := make([]error, len(lines))
	workers := 1
	if len(lines) >= parallelVerifyMin {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(lines); i += workers {
				errs[i] = checkLine(lines[i].data, now, &recs[i])
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, &httpError{status: http.StatusBadRequest, line: lines[i].no,
				msg: fmt.Sprintf("line %d: %v", lines[i].no, err)}
		}
	}
	return recs, nil
}
