// Package collector is vantage's collector: it receives the probes' signed
// measurements (POST /api/v1/measurements), keeps them in a storage.DB, and serves
// them to researchers through a JSON API, a JSON-lines export and a web page.
package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/collector/web"
)

// Store is what the collector needs from its storage; *storage.DB implements it.
type Store interface {
	Ingest(ctx context.Context, recs []storage.Record, received time.Time) ([]storage.Outcome, error)
	List(ctx context.Context, f storage.Filter, after *storage.Cursor, order storage.Order, limit int) ([]storage.Summary, error)
	Line(ctx context.Context, uid string) ([]byte, error)
	Export(ctx context.Context, f storage.Filter, fn func(line []byte) error) error
	Aggregate(ctx context.Context, f storage.Filter, by []storage.Axis, orderByCount bool, limit int) ([]storage.Bucket, error)
	ProbeKey(ctx context.Context, probeID string) (*storage.Probe, error)
}

var _ Store = (*storage.DB)(nil)

// Config configures a Server.
type Config struct {
	Store     Store
	TestLists TestLists        // nil: no test lists are served
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger     // nil: slog.Default()
	// MaxConcurrentIngests bounds the uploads processed at once (each holds its
	// body in memory); 0 means DefaultMaxConcurrentIngests.
	MaxConcurrentIngests int
	// IngestWait is how long an upload waits for a free slot before the answer is
	// 429; 0 means DefaultIngestWait.
	IngestWait time.Duration
	// RateLimit, when not nil, limits requests per client (ratelimit.go).
	RateLimit *RateLimit
}

// DefaultMaxConcurrentIngests bounds memory: each ingest may hold up to
// MaxRequestBytes of body plus its decoded records, and sqlite serialises the
// writes anyway, so more would only queue inside the database.
const DefaultMaxConcurrentIngests = 4

// DefaultIngestWait is how long an upload queues for a slot: a few batches' worth
// of commits, after which telling the probe to come back later is kinder than
// holding its connection.
const DefaultIngestWait = 5 * time.Second

// Server serves the collector's HTTP API and web page.
type Server struct {
	store       Store
	testLists   TestLists
	now         func() time.Time
	log         *slog.Logger
	ingestSlots chan struct{}
	ingestWait  time.Duration
	limiter     *rateLimiter // nil: no per-client limit
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) *Server {
	s := &Server{store: cfg.Store, testLists: cfg.TestLists, now: cfg.Now, log: cfg.Logger}
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
	if cfg.RateLimit != nil {
		s.limiter = newRateLimiter(*cfg.RateLimit, s.now)
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
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint", nil)
	})
	mux.Handle("/", web.Handler())
	if s.limiter != nil {
		return s.limiter.wrap(mux)
	}
	return mux
}

// Server timeouts. Uploads of MaxRequestBytes from a slow mobile link need minutes;
// the export streams for as long as the client reads, so it has no write timeout
// beyond the idle one of each write.
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
	go func() { errc <- hs.Serve(ln) }()
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
