package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/limits"
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

// ingestResult is the body of a successful upload.
type ingestResult struct {
	Stored     int          `json:"stored"`
	Duplicates int          `json:"duplicates"`
	Results    []lineResult `json:"results"`
}

type lineResult struct {
	MeasurementUID string `json:"measurement_uid"`
	Status         string `json:"status"`
	LeafIndex      uint64 `json:"leaf_index"` // its leaf in the transparency log
}

// numberedLine is one non-blank line of an upload and its 1-based line number.
type numberedLine struct {
	no   int
	data []byte
}

// httpError is an error answer with its status and, for ingest, the line at fault.
type httpError struct {
	status     int
	msg        string
	line       int    // 0: no line
	retryAfter int    // seconds, for a 429
	reason     string // for the refusal metric; "": told by the status
}

func (e *httpError) Error() string { return e.msg }

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	herr := s.ingest(w, r)
	if herr != nil && herr.status < 500 && herr.status != http.StatusTooManyRequests {
		s.limiter.chargeFailedUpload(r) // the client's fault, and no key proven
	}
	if herr != nil {
		s.metrics.refusedUpload(herr)
		var line *int
		if herr.line > 0 {
			line = &herr.line
		}
		if herr.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(max(herr.retryAfter, 1)))
		}
		writeError(w, herr.status, herr.msg, line)
	}
}

// ingest reserves the upload's bytes in the budget before reading anything, reads
// and verifies it line by line, applies the per-key rate limit, and stores it.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) *httpError {
	mt, herr := checkUploadHeaders(r)
	if herr != nil {
		return herr
	}
	reserve := int64(MaxRequestBytes) // chunked or gzip: the most it may hold
	if r.ContentLength >= 0 && isIdentity(r.Header.Get("Content-Encoding")) {
		reserve = r.ContentLength
	}
	release, herr := s.reserveBytes(r, reserve)
	if herr != nil {
		return herr
	}
	defer release()
	lines, recs, herr := readAndVerify(r, s.now())
	setAnswerDeadline(w) // the body is read: what remains is bounded
	if herr != nil {
		return herr
	}
	if mt == ContentTypeJSON && len(lines) != 1 {
		return &httpError{status: http.StatusBadRequest,
			msg: ContentTypeJSON + " carries exactly one measurement; use " + ContentTypeNDJSON + " for several"}
	}
	if id := s.banned.bannedIn(probeIDs(recs)); id != "" {
		return &httpError{status: http.StatusForbidden, reason: reasonBanned, msg: "probe key " + id + " is banned by this collector"}
	}
	if ok, wait := s.limiter.allowProbes(probeIDs(recs)); !ok {
		return &httpError{status: http.StatusTooManyRequests, retryAfter: wait, reason: reasonRateLimited,
			msg: "rate limited (this probe key), retry later"}
	}
	return s.storeBatch(w, r, lines, recs)
}

// reserveBytes takes n bytes of the ingest budget, waiting up to ingestWait.
func (s *Server) reserveBytes(r *http.Request, n int64) (release func(), herr *httpError) {
	n = max(n, 1)
	ctx, cancel := context.WithTimeout(r.Context(), s.ingestWait)
	defer cancel()
	if err := s.ingestBudget.Acquire(ctx, n); err != nil {
		if r.Context().Err() != nil {
			return nil, &httpError{status: http.StatusServiceUnavailable, msg: "request cancelled"}
		}
		return nil, &httpError{status: http.StatusTooManyRequests, retryAfter: retryAfterSeconds, msg: "collector busy, retry later"}
	}
	return func() { s.ingestBudget.Release(n) }, nil
}

func probeIDs(recs []storage.Record) []string {
	var ids []string
	seen := make(map[string]bool)
	for _, r := range recs {
		if !seen[r.ProbeID] {
			seen[r.ProbeID] = true
			ids = append(ids, r.ProbeID)
		}
	}
	return ids
}

// storeBatch writes the verified batch and answers 200, or returns the error answer.
func (s *Server) storeBatch(w http.ResponseWriter, r *http.Request, lines []numberedLine, recs []storage.Record) *httpError {
	select {
	case s.ingestSlots <- struct{}{}:
		defer func() { <-s.ingestSlots }()
	case <-time.After(s.ingestWait):
		return &httpError{status: http.StatusTooManyRequests, retryAfter: retryAfterSeconds, msg: "collector busy, retry later"}
	case <-r.Context().Done():
		return &httpError{status: http.StatusServiceUnavailable, msg: "request cancelled"}
	}
	outcomes, err := s.store.IngestLogged(r.Context(), recs, s.now())
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
		if o.Outcome == storage.Duplicate {
			res.Duplicates++
		} else {
			res.Stored++
		}
		res.Results[i] = lineResult{MeasurementUID: recs[i].UID, Status: o.Outcome.String(), LeafIndex: o.LeafIndex}
	}
	s.metrics.ingested(res.Stored, res.Duplicates)
	writeJSON(w, http.StatusOK, res)
	return nil
}

// checkUploadHeaders checks the media type, encoding and declared size of an
// upload and returns the media type.
func checkUploadHeaders(r *http.Request) (string, *httpError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != ContentTypeJSON && mt != ContentTypeNDJSON) {
		return "", &httpError{status: http.StatusUnsupportedMediaType,
			msg: fmt.Sprintf("Content-Type must be %s (one measurement) or %s (one per line)", ContentTypeJSON, ContentTypeNDJSON)}
	}
	if r.ContentLength > MaxRequestBytes {
		return "", tooLarge(0)
	}
	if enc := r.Header.Get("Content-Encoding"); !isIdentity(enc) && enc != "gzip" {
		return "", &httpError{status: http.StatusUnsupportedMediaType, msg: "unsupported Content-Encoding " + limits.Quote(enc)}
	}
	return mt, nil
}

func isIdentity(enc string) bool { return enc == "" || enc == "identity" }

func tooLarge(line int) *httpError {
	if line > 0 {
		return &httpError{status: http.StatusRequestEntityTooLarge, line: line,
			msg: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
	}
	return &httpError{status: http.StatusRequestEntityTooLarge,
		msg: fmt.Sprintf("body larger than %d bytes or %d lines", MaxRequestBytes, MaxBatchLines)}
}

// verifyJob is one line on its way through the verifiers; a worker fills rec or
// err, and the reader looks at them only once every worker is done.
type verifyJob struct {
	line numberedLine
	rec  storage.Record
	err  error
}

// readAndVerify reads the body line by line and hands each line to the
// verifiers as soon as it is complete (on every core for a large batch), so that
// only the lines themselves are held, and reading stops at the first bad line or
// at a limit. It returns the lines and their records, or the error of the first
// bad line (the lowest number).
func readAndVerify(r *http.Request, now time.Time) ([]numberedLine, []storage.Record, *httpError) {
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, nil, &httpError{status: http.StatusBadRequest, msg: "body is not gzip: " + err.Error()}
		}
		defer zr.Close()
		body = zr
	}
	counted := &countingReader{r: io.LimitReader(body, MaxRequestBytes+1)}
	br := bufio.NewReaderSize(counted, 64<<10)
	jobs := make(chan *verifyJob, 64)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				if j.err = checkLine(j.line.data, now, &j.rec); j.err != nil {
					failed.Store(true)
				}
			}
		})
	}
	all, herr := readLines(br, jobs, &failed)
	close(jobs)
	if herr == nil && counted.n > MaxRequestBytes {
		herr = tooLarge(0)
	}
	wg.Wait()
	for _, j := range all {
		if j.err != nil {
			return nil, nil, &httpError{status: http.StatusBadRequest, line: j.line.no,
				msg: fmt.Sprintf("line %d: %v", j.line.no, j.err)}
		}
	}
	if herr != nil {
		return nil, nil, herr
	}
	lines := make([]numberedLine, len(all))
	recs := make([]storage.Record, len(all))
	for i, j := range all {
		lines[i], recs[i] = j.line, j.rec
	}
	return lines, recs, nil
}

// readLines cuts the body at newlines, dropping blank lines (a bundle ends with
// one) but keeping the physical line numbers for error messages, and sends each
// line to the verifiers. It stops early once a verifier has failed.
func readLines(br *bufio.Reader, jobs chan<- *verifyJob, failed *atomic.Bool) ([]*verifyJob, *httpError) {
	var all []*verifyJob
	for no := 1; !failed.Load(); no++ {
		line, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			return all, tooLarge(no)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return all, &httpError{status: http.StatusBadRequest, msg: "reading body: " + err.Error()}
		}
		if t := bytes.TrimRight(line, "\r"); len(bytes.TrimSpace(t)) > 0 {
			if len(all) == MaxBatchLines {
				return all, tooLarge(0)
			}
			j := &verifyJob{line: numberedLine{no: no, data: bytes.Clone(t)}}
			all = append(all, j)
			jobs <- j
		}
		if err != nil { // io.EOF
			break
		}
	}
	if len(all) == 0 && !failed.Load() {
		return nil, &httpError{status: http.StatusBadRequest, msg: "empty body: no measurement"}
	}
	return all, nil
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its newline; at most MaxLineBytes are
// gathered before errLineTooLong. The line may alias br's buffer (valid until the
// next read): the caller copies the lines it keeps.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes+1 {
			return nil, errLineTooLong
		}
		if err == nil {
			chunk = chunk[:len(chunk)-1]
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if line == nil {
				return chunk, err
			}
			return append(line, chunk...), err
		}
		line = append(line, chunk...)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
