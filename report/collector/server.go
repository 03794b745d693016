// Package collector is vantage's collector: it receives the probes' signed
// measurements (POST /api/v1/measurements), keeps them in a storage.DB, and serves
// them to researchers through a JSON API, a JSON-lines export and a web page.
package collector

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/collector/web"
	"github.com/vantage-probe/vantage/report/translog"
)

// Store is what the collector needs from its storage; *storage.DB implements it.
type Store interface {
	IngestLogged(ctx context.Context, recs []storage.Record, received time.Time) ([]storage.Ingested, error)
	List(ctx context.Context, f storage.Filter, after *storage.Cursor, order storage.Order, limit int) ([]storage.Summary, error)
	Line(ctx context.Context, uid string) ([]byte, error)
	Export(ctx context.Context, f storage.Filter, fn func(line []byte) error) error
	Aggregate(ctx context.Context, f storage.Filter, by []storage.Axis, orderByCount bool, limit int) ([]storage.Bucket, error)
	ProbeKey(ctx context.Context, probeID string) (*storage.Probe, error)
	// The transparency log (log.go).
	LogHead(ctx context.Context) (storage.TreeHead, error)
	LeafIndex(ctx context.Context, uid string) (uint64, error)
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
}

var _ Store = (*storage.DB)(nil)

// Config configures a Server.
type Config struct {
	Store     Store
	TestLists TestLists        // nil: no test lists are served
	Targets   Targets          // nil: no target lists are served
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger     // nil: slog.Default()
	// MaxConcurrentIngests bounds the uploads processed at once (each holds its
	// body in memory); 0 means DefaultMaxConcurrentIngests.
	MaxConcurrentIngests int
	// IngestWait is how long an upload waits for a free slot before the answer is
	// 429; 0 means DefaultIngestWait.
	IngestWait time.Duration
	// IngestBudget bounds the bytes of upload bodies held at once (taken before a
	// body is read); 0 means DefaultIngestBudget.
	IngestBudget int64
	// MaxConcurrentExports bounds the exports served at once (each holds up to one
	// page of lines); 0 means DefaultMaxConcurrentExports.
	MaxConcurrentExports int
	// ExportWriteTimeout bounds each write of an export to the client; 0 means
	// DefaultExportWriteTimeout.
	ExportWriteTimeout time.Duration
	// Banned, when not nil, lists the probe ids whose uploads are refused (403).
	Banned *BanList
	// TLS, when not nil, makes Serve answer HTTPS (HTTP/2 offered by ALPN);
	// service.TLSOptions builds it with certificates reloaded from disk or ACME.
	TLS *tls.Config
	// RateLimit, when not nil, limits reads per client address and uploads per
	// probe key (ratelimit.go).
	RateLimit *RateLimit
	// LogKey signs the transparency log's checkpoints; nil: a fresh key for this
	// Server only (tests).
	LogKey *translog.Key
}

// DefaultMaxConcurrentIngests bounds the uploads writing to the database at once:
// sqlite serialises the writes anyway, so more would only queue inside the
// database. Memory is bounded by the byte budget below, not by this count.
const DefaultMaxConcurrentIngests = 4

// DefaultIngestBudget bounds the upload bodies held in memory at once, whatever
// the number of clients: one upload of the largest size (MaxRequestBytes), or
// eight of the upload client's 8 MiB batches. An upload reserves its
// Content-Length (MaxRequestBytes when it is unknown or gzip) before its body is
// read, and waits up to IngestWait for room. With the verifiers' transient copies
// and the garbage collector's headroom the collector's peak RSS stays under
// 300 MB (TestConcurrentBigUploadsStayWithinTheMemoryBound).
const DefaultIngestBudget = MaxRequestBytes

// DefaultMaxConcurrentExports bounds the exports in flight: each holds at most a
// page (storage's 4 MiB plus one line), and clients that stall are cut off by the
// write timeout below; a researcher needs one export at a time.
const DefaultMaxConcurrentExports = 8

// DefaultExportWriteTimeout bounds each write of an export: a client that stops
// reading for this long is disconnected, freeing its export slot. A slow but
// steady reader is never cut (the deadline moves with every write).
const DefaultExportWriteTimeout = 30 * time.Second

// DefaultIngestWait is how long an upload queues for a slot: a few batches' worth
// of commits, after which telling the probe to come back later is kinder than
// holding its connection.
const DefaultIngestWait = 5 * time.Second

// LogKey returns the key that signs the log's checkpoints.
func (s *Server) LogKey() *translog.Key { return s.logKey }

// Server serves the collector's HTTP API and web page.
type Server struct {
	store        Store
	testLists    TestLists
	targets      Targets
	now          func() time.Time
	log          *slog.Logger
	ingestSlots  chan struct{}
	ingestWait   time.Duration
	ingestBudget *semaphore.Weighted
	exportSlots  chan struct{}
	exportWrite  time.Duration
	limiter      *rateLimiter // nil: no rate limit
	logKey       *translog.Key
	metrics      *metrics
	tls          *tls.Config // nil: plain HTTP
	banned       *BanList    // nil: none
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) *Server {
	s := &Server{store: cfg.Store, testLists: cfg.TestLists, targets: cfg.Targets, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	n := cfg.MaxConcurrentIngests
	if n <= 0 {
		n = DefaultMaxConcurrentIngests
	}
	s.ingestSlots = make(chan struct{}, n)
	s.ingestWait = cfg.IngestWait
	if s.ingestWait <= 0 {
		s.ingestWait = DefaultIngestWait
	}
	s.ingestBudget = semaphore.NewWeighted(cmp.Or(cfg.IngestBudget, DefaultIngestBudget))
	s.exportSlots = make(chan struct{}, cmp.Or(max(cfg.MaxConcurrentExports, 0), DefaultMaxConcurrentExports))
	s.exportWrite = cmp.Or(cfg.ExportWriteTimeout, DefaultExportWriteTimeout)
	s.metrics = newMetrics(cfg.Store)
	s.tls = cfg.TLS
	s.banned = cfg.Banned
	if cfg.RateLimit != nil {
		s.limiter = newRateLimiter(*cfg.RateLimit, s.now)
		s.limiter.refused = func(bucket string) { s.metrics.rateLimits.WithLabelValues(bucket).Inc() }
	}
	s.logKey = cfg.LogKey
	if s.logKey == nil {
		s.logKey, _, _ = translog.NewKey("vantage-collector-test")
	}
	return s
}

// Handler returns the HTTP handler of every route (see docs/api.md).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/measurements", s.handleIngest)
	mux.HandleFunc("GET /api/v1/measurements", s.handleList)
	mux.HandleFunc("GET /api/v1/measurements/{uid}", s.handleGet)
	mux.HandleFunc("GET /api/v1/export", s.handleExport)
	mux.HandleFunc("GET /api/v1/aggregate", s.handleAggregate)
	mux.HandleFunc("GET /api/v1/probes/{id}", s.handleProbe)
	mux.HandleFunc("GET /api/v1/testlists/{cc}", s.handleTestList)
	mux.HandleFunc("GET /api/v1/targets/{nettest}", s.handleTargets)
	mux.HandleFunc("GET /api/v1/log/checkpoint", s.handleLogCheckpoint)
	mux.HandleFunc("GET /api/v1/log/key", s.handleLogKey)
	mux.HandleFunc("GET /api/v1/log/proof/inclusion", s.handleInclusionProof)
	mux.HandleFunc("GET /api/v1/log/proof/consistency", s.handleConsistencyProof)
	mux.HandleFunc("GET /api/v1/openapi.json", s.handleOpenAPI)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint", nil)
	})
	mux.Handle("/", web.Handler())
	s.opsRoutes(mux)
	h := withWriteDeadline(mux)
	if s.limiter != nil {
		return s.observe(opsAround(h, s.limiter.wrap(h)))
	}
	return s.observe(h)
}

// answerWriteTimeout bounds the writing of every answer but the export's (which
// sets a deadline per write): a client that stops reading a large list or
// aggregate is disconnected rather than holding the handler and its rows.
const answerWriteTimeout = 2 * time.Minute

// withWriteDeadline sets the answer's write deadline at the start of every request
// but an upload, whose body may take minutes to arrive: ingest sets it once the
// body is read.
func withWriteDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isUpload(r) {
			setAnswerDeadline(w)
		}
		next.ServeHTTP(w, r)
	})
}

func setAnswerDeadline(w http.ResponseWriter) {
	// An error means the writer has no deadlines (a test recorder).
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerWriteTimeout))
}

// Server timeouts. Uploads of MaxRequestBytes from a slow mobile link need minutes;
// the export streams for as long as the client reads, so it has no overall write
// timeout, only the one of each write (ExportWriteTimeout).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 5 * time.Minute
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

// optimizer is implemented by stores whose query planner needs its statistics
// refreshed now and then (*storage.DB on sqlite).
type optimizer interface {
	Optimize(ctx context.Context) error
}

// optimizeEvery is how often Serve refreshes planner statistics: hourly is what
// sqlite suggests for long-lived connections, and the refresh costs well under a
// second at a million rows.
const optimizeEvery = time.Hour

// Serve serves the collector on ln until ctx is done, then shuts down gracefully.
// While serving it refreshes the store's planner statistics every optimizeEvery.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if o, ok := s.store.(optimizer); ok {
		var wg sync.WaitGroup
		octx, cancel := context.WithCancel(ctx)
		wg.Go(func() { s.optimizeLoop(octx, o) })
		defer wg.Wait()
		defer cancel()
	}
	return s.serve(ctx, ln)
}

func (s *Server) optimizeLoop(ctx context.Context, o optimizer) {
	t := time.NewTicker(optimizeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := o.Optimize(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("optimize failed", "err", err)
			}
		}
	}
}

func (s *Server) serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			hs.TLSConfig = s.tls
			errc <- hs.ServeTLS(ln, "", "") // the certificates come from hs.TLSConfig
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("collector: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc // Serve has returned http.ErrServerClosed
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("collector: shutdown: %w", err)
	}
	return nil
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
	Line  *int   `json:"line,omitempty"`  // ingest: the 1-based line at fault
	Param string `json:"param,omitempty"` // queries: the parameter at fault
}

func writeError(w http.ResponseWriter, status int, msg string, line *int) {
	writeJSON(w, status, apiError{Error: msg, Line: line})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client may be gone; nothing more to do
}
