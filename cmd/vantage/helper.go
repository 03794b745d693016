package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver/mmdb"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/netx"
)

func init() { register(newHelperCmd) }

func newHelperCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "helper",
		Short: "Run the web-connectivity control helper",
	}
	cmd.AddCommand(newHelperServeCmd())
	return cmd
}

// helperOptions are the flags of helper serve.
type helperOptions struct {
	listen, tlsCert, tlsKey string
	labAllowPrivate         bool
	mmdb                    []string
}

func newHelperServeCmd() *cobra.Command {
	var o helperOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the control helper (OONI's TH protocol; see docs/methodology.md)",
		Long: "Serve the control helper: probes POST a URL and the addresses they resolved, the helper\n" +
			"measures the same URL from here and answers in OONI's TH protocol. It resolves with\n" +
			"[network] resolver and trusts [tls] roots. It refuses loopback and private targets\n" +
			"unless started with --lab-allow-private.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serveHelper(ctx, cfg, o, func(url string) {
				fmt.Fprintf(cmd.ErrOrStderr(), "vantage helper listening on %s\n", url)
			})
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8490", "address to listen on")
	cmd.Flags().StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate: serve HTTPS (with --tls-key)")
	cmd.Flags().StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	cmd.Flags().BoolVar(&o.labAllowPrivate, "lab-allow-private", false, "allow loopback and private targets (labs and tests only)")
	cmd.Flags().StringArrayVar(&o.mmdb, "mmdb", nil, "IP database (.mmdb: country and/or ASN) to tell probes where they are (repeatable)")
	return cmd
}

// Server timeouts of the helper: a request is small and its answer takes at most
// thserver.DefaultRequestTimeout, so reads are short and writes cover a measurement.
const (
	helperReadTimeout  = 10 * time.Second
	helperWriteTimeout = thserver.DefaultRequestTimeout + 10*time.Second
	helperIdleTimeout  = 60 * time.Second
	helperMaxHeader    = 16 << 10
)

// serveHelper runs the helper until ctx ends; ready gets the URL it listens on.
func serveHelper(ctx context.Context, cfg *config.Config, o helperOptions, ready func(string)) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return withCode(exitUsage, errors.New("helper: --tls-cert and --tls-key go together"))
	}
	if o.tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey); err != nil {
			return withCode(exitUsage, fmt.Errorf("helper: --tls-cert/--tls-key: %w", err))
		}
	}
	roots, err := loadRoots(cfg.TLS.Roots)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var geo []thserver.GeoDB
	for _, path := range o.mmdb {
		db, err := mmdb.Open(path)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("helper: --mmdb: %w", err))
		}
		geo = append(geo, db)
	}
	nc := &netx.Client{Resolver: cfg.Network.Resolver, Roots: roots}
	h, err := thserver.New(thserver.Config{
		Lookup: func(ctx context.Context, host string) ([]string, error) {
			// No wait for late duplicate replies: injection is the probe's to
			// detect; the helper, outside the censored network, wants the answer
			// (the 0.5 s window, twice per request, made the helper the bottleneck
			// of a 1,000-URL run).
			res, err := nc.LookupWithOptions(ctx, nil, nc.Resolver, host, netx.DNSOptions{DuplicateWindow: -1})
			if err != nil {
				return nil, err
			}
			return res.Addrs, nil
		},
		Roots:        roots,
		Geo:          geo,
		AllowPrivate: o.labAllowPrivate,
		QUIC:         true,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("helper: listen: %w", err))
	}
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: helperReadTimeout, ReadTimeout: helperReadTimeout,
		WriteTimeout: helperWriteTimeout, IdleTimeout: helperIdleTimeout, MaxHeaderBytes: helperMaxHeader,
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	errc := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			errc <- srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	ready(scheme + "://" + ln.Addr().String() + "/")
	select {
	case err := <-errc:
		return fmt.Errorf("helper: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx) // in-flight requests end by their own budget
	<-errc
	return nil
}
