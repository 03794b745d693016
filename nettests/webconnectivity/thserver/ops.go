package thserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vantage-probe/vantage/report/service"
)

// Operations routes of the helper (docs/operations.md).
const (
	PathHealth  = "/healthz"
	PathReady   = "/readyz"
	PathMetrics = "/metrics"
)

// errSaturated is the helper's answer to /readyz while it would refuse work.
var errSaturated = errors.New("every measuring slot is taken and requests are queued")

// OpsHandler serves h on / and, beside it, /healthz, /readyz (503 while every
// measuring slot is taken and requests queue, so that a balancer sends probes to
// another helper) and /metrics; every request is written to log's access log.
func OpsHandler(h *Server, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vantage_helper_requests_total", Help: "Requests answered on /, by method and status code (503: no slot free in time).",
	}, []string{"method", "code"})
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "vantage_helper_request_duration_seconds", Help: "Time to answer a request on /, queueing included.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 20, 30, 60},
	})
	gauge := func(name, help string, f func(Stats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(h.Stats())) })
	}
	reg.MustRegister(requests, duration,
		gauge("vantage_helper_in_flight", "Requests being measured.", func(s Stats) int { return s.InFlight }),
		gauge("vantage_helper_waiting", "Requests queued for a measuring slot.", func(s Stats) int { return s.Waiting }),
		gauge("vantage_helper_max_in_flight", "Measuring slots.", func(s Stats) int { return s.MaxInFlight }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	service.Health(mux, func(context.Context) error {
		if st := h.Stats(); st.InFlight >= st.MaxInFlight && st.Waiting > 0 {
			return errSaturated
		}
		return nil
	})
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := service.NewRecorder(w)
		h.ServeHTTP(rec, r)
		method := r.Method
		if method != http.MethodGet && method != http.MethodPost {
			method = "other"
		}
		requests.WithLabelValues(method, strconv.Itoa(rec.Status())).Inc()
		duration.Observe(time.Since(start).Seconds())
	}))
	return service.NewAccessLog(log).Wrap(mux)
}
