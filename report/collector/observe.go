package collector

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vantage-probe/vantage/report/service"
)

// Operations routes (docs/operations.md): process health, readiness (the store
// reachable and its schema current) and Prometheus metrics.
const (
	PathHealth  = "/healthz"
	PathReady   = "/readyz"
	PathMetrics = "/metrics"
)

// readier is implemented by stores that can tell whether they serve
// (*storage.DB: both pools reach the database, the schema is current).
type readier interface {
	Ready(ctx context.Context) error
}

// poolStatter is implemented by stores with connection pools (*storage.DB).
type poolStatter interface {
	PoolStats() (write, read sql.DBStats)
}

// metrics are the collector's Prometheus series, on a registry of the Server's
// own (two Servers in one process, as in tests, never share counters).
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec   // route, code
	duration   *prometheus.HistogramVec // route
	stored     *prometheus.CounterVec   // outcome: stored, duplicate
	refused    *prometheus.CounterVec   // reason
	batch      prometheus.Histogram
	rateLimits *prometheus.CounterVec // bucket: read, ingest
}

// latencyBuckets span a cached list page (a millisecond) to a large upload on a
// busy database (tens of seconds).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(store Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vantage_collector_requests_total", Help: "HTTP requests answered, by route pattern and status code.",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "vantage_collector_request_duration_seconds", Help: "Time to answer a request (an export: to its last line), by route pattern.",
		Buckets: latencyBuckets,
	}, []string{"route"})
	m.stored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vantage_collector_ingest_measurements_total", Help: "Measurements of accepted uploads, by outcome (stored, duplicate).",
	}, []string{"outcome"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vantage_collector_ingest_refused_total", Help: "Uploads refused, by reason.",
	}, []string{"reason"})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "vantage_collector_ingest_batch_measurements", Help: "Measurements per accepted upload.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000},
	})
	m.rateLimits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vantage_collector_rate_limited_total", Help: "Requests refused by a rate limit, by bucket (read: per address; ingest: per probe key; failed_uploads: an address whose uploads kept failing).",
	}, []string{"bucket"})
	m.reg.MustRegister(m.requests, m.duration, m.stored, m.refused, m.batch, m.rateLimits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if ps, ok := store.(poolStatter); ok {
		m.reg.MustRegister(poolCollector{ps})
	}
	return m
}

// ingested counts an accepted upload.
func (m *metrics) ingested(stored, duplicates int) {
	m.stored.WithLabelValues("stored").Add(float64(stored))
	m.stored.WithLabelValues("duplicate").Add(float64(duplicates))
	m.batch.Observe(float64(stored + duplicates))
}

// refusedUpload counts a refused upload under the reason its answer gives.
func (m *metrics) refusedUpload(herr *httpError) {
	reason := herr.reason
	if reason == "" {
		switch herr.status {
		case http.StatusBadRequest:
			reason = "invalid"
		case http.StatusConflict:
			reason = "conflict"
		case http.StatusRequestEntityTooLarge:
			reason = "too_large"
		case http.StatusUnsupportedMediaType:
			reason = "media_type"
		case http.StatusTooManyRequests:
			reason = "busy"
		case http.StatusServiceUnavailable:
			reason = "unavailable"
		default:
			reason = strconv.Itoa(herr.status)
		}
	}
	m.refused.WithLabelValues(reason).Inc()
}

// Reasons of vantage_collector_ingest_refused_total set where the status alone
// does not tell.
const reasonRateLimited = "rate_limited"

// observe counts and times every request by the route pattern that served it
// (bounded: the mux's patterns, "other" for none), and writes the access log.
func (s *Server) observe(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := service.NewRecorder(w)
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "other"
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.Status())).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
	return service.NewAccessLog(s.log).Wrap(inner)
}

// opsRoutes registers the health, readiness and metrics routes on mux.
func (s *Server) opsRoutes(mux *http.ServeMux) {
	var ready func(context.Context) error
	if rd, ok := s.store.(readier); ok {
		ready = rd.Ready
	}
	service.Health(mux, ready)
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
}

// opsAround sends the operations routes straight to ops and everything else
// through limited: a monitor polling every few seconds neither spends a client's
// read budget nor is refused when the budget is spent.
func opsAround(ops, limited http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathHealth, PathReady, PathMetrics:
			ops.ServeHTTP(w, r)
		default:
			limited.ServeHTTP(w, r)
		}
	})
}

// poolCollector reports the store's connection pools as gauges and counters.
type poolCollector struct{ ps poolStatter }

var (
	poolOpenDesc  = prometheus.NewDesc("vantage_collector_db_open_connections", "Open connections, by pool.", []string{"pool"}, nil)
	poolInUseDesc = prometheus.NewDesc("vantage_collector_db_in_use_connections", "Connections in use, by pool.", []string{"pool"}, nil)
	poolIdleDesc  = prometheus.NewDesc("vantage_collector_db_idle_connections", "Idle connections, by pool.", []string{"pool"}, nil)
	poolWaitDesc  = prometheus.NewDesc("vantage_collector_db_wait_total", "Times a request waited for a connection, by pool.", []string{"pool"}, nil)
	poolWaitSDesc = prometheus.NewDesc("vantage_collector_db_wait_seconds_total", "Time spent waiting for a connection, by pool.", []string{"pool"}, nil)
	poolMaxDesc   = prometheus.NewDesc("vantage_collector_db_max_open_connections", "The pool's connection cap, by pool.", []string{"pool"}, nil)
)

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolOpenDesc, poolInUseDesc, poolIdleDesc, poolWaitDesc, poolWaitSDesc, poolMaxDesc} {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	write, read := p.ps.PoolStats()
	for _, x := range []struct {
		pool string
		st   sql.DBStats
	}{{"write", write}, {"read", read}} {
		ch <- prometheus.MustNewConstMetric(poolOpenDesc, prometheus.GaugeValue, float64(x.st.OpenConnections), x.pool)
		ch <- prometheus.MustNewConstMetric(poolInUseDesc, prometheus.GaugeValue, float64(x.st.InUse), x.pool)
		ch <- prometheus.MustNewConstMetric(poolIdleDesc, prometheus.GaugeValue, float64(x.st.Idle), x.pool)
		ch <- prometheus.MustNewConstMetric(poolWaitDesc, prometheus.CounterValue, float64(x.st.WaitCount), x.pool)
		ch <- prometheus.MustNewConstMetric(poolWaitSDesc, prometheus.CounterValue, x.st.WaitDuration.Seconds(), x.pool)
		ch <- prometheus.MustNewConstMetric(poolMaxDesc, prometheus.GaugeValue, float64(x.st.MaxOpenConnections), x.pool)
	}
}
