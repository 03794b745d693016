package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/report/service"
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
	listen          string
	tls             service.TLSOptions
	logFormat       string
	labAllowPrivate bool
	mmdb            []string
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
			signal.Ignore(syscall.SIGHUP) // a reload with nothing to reload must not stop the service
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serveHelper(ctx, cfg, o, cmd.ErrOrStderr(), func(url string) {
				fmt.Fprintf(cmd.ErrOrStderr(), "vantage helper listening on %s\n", url)
			})
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8490", "address to listen on")
	tlsFlags(cmd, &o.tls)
	cmd.Flags().StringVar(&o.logFormat, "log-format", service.LogText, "log lines as text or json (one access-log line per request)")
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
func serveHelper(ctx context.Context, cfg *config.Config, o helperOptions, logw io.Writer, ready func(string)) error {
	log, err := service.NewLogger(logw, o.logFormat)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("helper: %w", err))
	}
	tlsCfg, reloader, err := o.tls.TLS(log)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("helper: %w", err))
	}
	if reloader != nil {
		reloader.ReloadOnSIGHUP(ctx)
	}
	roots, err := loadRoots(cfg.TLS.Roots)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var geo []thserver.GeoDB
	for _, path := range o.mmdb {
		db, err := thserver.OpenMMDB(path)
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
		Logger:       log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("helper: listen: %w", err))
	}
	srv := &http.Server{
		Handler: thserver.OpsHandler(h, log), ReadHeaderTimeout: helperReadTimeout, ReadTimeout: helperReadTimeout,
		WriteTimeout: helperWriteTimeout, IdleTimeout: helperIdleTimeout, MaxHeaderBytes: helperMaxHeader,
		TLSConfig: tlsCfg,
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificates come from srv.TLSConfig
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
