package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/crypto/acme/autocert"
)

// TLSOptions are the TLS flags of a service: a certificate pair on disk
// (--tls-cert, --tls-key), or certificates from an ACME CA for public names
// (--acme-domain, kept in --acme-cache). None: plain HTTP.
type TLSOptions struct {
	CertFile, KeyFile string
	ACMEDomains       []string
	ACMECache         string // directory; "" means "acme-cache" in the working directory
	ACMEEmail         string // contact for the CA; may be empty
}

// Enabled tells whether the options ask for TLS.
func (o TLSOptions) Enabled() bool { return o.CertFile != "" || len(o.ACMEDomains) > 0 }

// TLS sets up what o asks for: the server's TLS configuration (nil for plain
// HTTP) and, for a certificate pair, its reloader (nil otherwise). HTTP/2 is
// negotiated by ALPN (the server adds "h2" when it serves TLS).
func (o TLSOptions) TLS(log *slog.Logger) (*tls.Config, *CertReloader, error) {
	switch {
	case (o.CertFile == "") != (o.KeyFile == ""):
		return nil, nil, errors.New("--tls-cert and --tls-key go together")
	case o.CertFile != "" && len(o.ACMEDomains) > 0:
		return nil, nil, errors.New("--tls-cert and --acme-domain exclude each other")
	case o.CertFile != "":
		r, err := NewCertReloader(o.CertFile, o.KeyFile, log)
		if err != nil {
			return nil, nil, err
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate,
			NextProtos: []string{"h2", "http/1.1"}}, r, nil
	case len(o.ACMEDomains) > 0:
		cache := o.ACMECache
		if cache == "" {
			cache = "acme-cache"
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(o.ACMEDomains...),
			Cache:      autocert.DirCache(cache),
			Email:      o.ACMEEmail,
		}
		// TLSConfig answers the CA's tls-alpn-01 challenge on this listener (so it
		// must be reachable on port 443) and offers h2 and http/1.1.
		cfg := m.TLSConfig()
		cfg.MinVersion = tls.VersionTLS12
		return cfg, nil, nil
	}
	return nil, nil, nil
}

// CertReloader serves a certificate pair from disk and picks up a new one
// without a restart: at the first handshake after either file changed (a
// different file, size or modification time), or when Reload is called (on
// SIGHUP). Connections already open keep the certificate they were made with. A
// pair that does not load (half written, key not matching) is logged and the
// previous certificate stays in use.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	mu                sync.Mutex
	cert              *tls.Certificate
	certStat, keyStat os.FileInfo
}

// NewCertReloader loads the pair, failing when it does not load.
func NewCertReloader(certFile, keyFile string, log *slog.Logger) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload loads the pair from disk now; on failure the previous one stays.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load()
}

func (r *CertReloader) load() error {
	cs, err1 := os.Stat(r.certFile)
	ks, err2 := os.Stat(r.keyFile)
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err = errors.Join(err1, err2, err); err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	r.cert, r.certStat, r.keyStat = &cert, cs, ks
	return nil
}

// changed tells whether either file differs from the pair loaded.
func (r *CertReloader) changed() bool {
	differs := func(path string, was os.FileInfo) bool {
		st, err := os.Stat(path)
		if was == nil {
			return true
		}
		return err == nil && (!os.SameFile(st, was) || st.Size() != was.Size() || !st.ModTime().Equal(was.ModTime()))
	}
	return differs(r.certFile, r.certStat) || differs(r.keyFile, r.keyStat)
}

// GetCertificate is for tls.Config: the current certificate, reloaded first
// when the files changed.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changed() {
		if err := r.load(); err != nil {
			// Not again until the files change again: no warning per handshake.
			r.certStat, _ = os.Stat(r.certFile)
			r.keyStat, _ = os.Stat(r.keyFile)
			r.log.Warn("certificate changed on disk but does not load; serving the previous one", "err", err)
		} else {
			r.log.Info("certificate reloaded", "cert", r.certFile)
		}
	}
	return r.cert, nil
}

// ReloadOnSIGHUP reloads the pair at every SIGHUP until ctx ends.
func (r *CertReloader) ReloadOnSIGHUP(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				if err := r.Reload(); err != nil {
					r.log.Warn("SIGHUP: certificate not reloaded; serving the previous one", "err", err)
				} else {
					r.log.Info("SIGHUP: certificate reloaded", "cert", r.certFile)
				}
			}
		}
	}()
}
