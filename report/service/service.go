// Package service is what the collector and the helper share as long-running
// HTTP services: the logger of --log-format, an access log that never keeps a
// client's full address, health routes, and TLS with certificates reloaded from
// disk (tls.go).
package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Log formats of --log-format.
const (
	LogText = "text"
	LogJSON = "json"
)

// NewLogger returns a logger writing format ("text" or "json") to w.
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case LogText, "":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case LogJSON:
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want %s or %s", format, LogText, LogJSON)
}

// Client prefixes the access log keeps: an IPv4 /24 and an IPv6 /48 say which
// network a client is in (enough to see a flood) but not which subscriber.
const (
	logPrefix4 = 24
	logPrefix6 = 48
)

// AccessLog logs one line per request ("request": method, path, status, bytes,
// duration_ms, client, client_id) once the handler has returned. client is the
// peer's truncated address; client_id a keyed hash of the full one (a key drawn
// at start and never stored), so that one client's requests can be told apart
// within a process's life without any log holding its address.
type AccessLog struct {
	log *slog.Logger
	key [32]byte
}

// NewAccessLog returns an access log writing to log.
func NewAccessLog(log *slog.Logger) *AccessLog {
	a := &AccessLog{log: log}
	_, _ = rand.Read(a.key[:]) // never fails (crypto/rand)
	return a
}

// Wrap logs every request next serves.
func (a *AccessLog) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := NewRecorder(w)
		next.ServeHTTP(rec, r)
		client, id := a.Client(r.RemoteAddr)
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.Status()), slog.Int64("bytes", rec.Bytes()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("client", client), slog.String("client_id", id))
	})
}

// Client returns what the log keeps of a peer address: its truncated prefix and
// a keyed hash of the whole address ("-" for both when it is not an IP address).
func (a *AccessLog) Client(remoteAddr string) (prefix, id string) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "-", "-"
	}
	addr = addr.Unmap().WithZone("")
	bits := logPrefix6
	if addr.Is4() {
		bits = logPrefix4
	}
	p, _ := addr.Prefix(bits) // bits is within the address length
	m := hmac.New(sha256.New, a.key[:])
	m.Write(addr.AsSlice())
	return p.String(), hex.EncodeToString(m.Sum(nil)[:8])
}

// Recorder is a ResponseWriter that remembers the status and counts the body
// bytes. It unwraps for http.ResponseController (deadlines, flushes) and flushes
// itself, so streaming handlers keep working behind it.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// NewRecorder wraps w.
func NewRecorder(w http.ResponseWriter) *Recorder { return &Recorder{ResponseWriter: w} }

func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Flush flushes the underlying writer when it can.
func (r *Recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap is for http.ResponseController.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Status is the status sent, 200 when the handler wrote nothing.
func (r *Recorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Bytes is the count of body bytes written.
func (r *Recorder) Bytes() int64 { return r.bytes }

// readyTimeout bounds a readiness check: a database that takes longer is not ready.
const readyTimeout = 3 * time.Second

// Health registers GET /healthz (200 while the process serves) and GET /readyz
// (200 when ready returns nil, else 503 with its error) on mux.
func Health(mux *http.ServeMux, ready func(context.Context) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if ready != nil {
			if err := ready(ctx); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
				return
			}
		}
		writeText(w, http.StatusOK, "ready\n")
	})
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
