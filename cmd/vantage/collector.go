package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/storage"
	"github.com/vantage-probe/vantage/report/service"
	"github.com/vantage-probe/vantage/report/translog"
)

func init() { register(newCollectorCmd) }

func newCollectorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collector",
		Short: "Run a collector: receives signed measurements, serves the API and web page",
	}
	cmd.AddCommand(newCollectorServeCmd(), newCollectorBackupCmd(), newCollectorDeleteProbeCmd())
	return cmd
}

func newCollectorServeCmd() *cobra.Command {
	var listen, db, testListsDir, targetsDir, logFormat string
	var tlsOpts service.TLSOptions
	var banList string
	var logKey logKeyFlags
	rl := collector.DefaultRateLimit()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the collector (see docs/collector.md and docs/api.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			signal.Ignore(syscall.SIGHUP) // a reload with nothing to reload must not stop the service
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if rl.IngestRate < 0 || rl.ReadRate < 0 || rl.IngestBurst < 0 || rl.ReadBurst < 0 {
				return withCode(exitUsage, fmt.Errorf("collector: rate limits and bursts must not be negative"))
			}
			log, err := service.NewLogger(cmd.ErrOrStderr(), logFormat)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("collector: %w", err))
			}
			tlsCfg, reloader, err := tlsOpts.TLS(log)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("collector: %w", err))
			}
			if reloader != nil {
				reloader.ReloadOnSIGHUP(ctx)
			}
			var bans *collector.BanList
			if banList != "" {
				if bans, err = collector.LoadBanList(banList); err != nil {
					return withCode(exitUsage, fmt.Errorf("collector: --ban-list: %w", err))
				}
				reloadBansOnSIGHUP(ctx, bans, log)
			}
			key, err := logKey.load(db)
			if err != nil {
				return err
			}
			return serveCollector(ctx, log, listen, db, testListsDir, targetsDir, rl, tlsCfg, bans, key)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8480", "address to listen on")
	cmd.Flags().StringVar(&db, "db", "vantage-collector.db", "database: a sqlite file path, or postgres://...")
	cmd.Flags().StringVar(&targetsDir, "targets-dir", "", "directory of nettest target lists (whatsapp.json, ...) served before the embedded ones")
	cmd.Flags().StringVar(&testListsDir, "testlists-dir", "", "directory of Citizen Lab CSV lists (cc.csv) served before the embedded ones")
	cmd.Flags().Float64Var(&rl.IngestRate, "rate-limit", rl.IngestRate, "uploads per second per probe key; 0 disables")
	cmd.Flags().IntVar(&rl.IngestBurst, "burst", rl.IngestBurst, "uploads a probe key may send at once")
	cmd.Flags().Float64Var(&rl.ReadRate, "read-rate-limit", rl.ReadRate, "other requests per second per client address; 0 disables")
	cmd.Flags().IntVar(&rl.ReadBurst, "read-burst", rl.ReadBurst, "other requests a client may send at once")
	tlsFlags(cmd, &tlsOpts)
	cmd.Flags().StringVar(&banList, "ban-list", "", "file of probe ids whose uploads are refused (one a line, # comments); reread on SIGHUP")
	cmd.Flags().StringVar(&logFormat, "log-format", service.LogText, "log lines as text or json (one access-log line per request)")
	logKey.register(cmd)
	cmd.Flags().BoolVar(&rl.TrustForwardedFor, "trust-forwarded-for", false, "take the client address from the last X-Forwarded-For entry (only behind a reverse proxy)")
	return cmd
}

// collectorMemoryLimit is the Go runtime's soft memory limit for `collector
// serve` unless GOMEMLIMIT says otherwise. The ingest byte budget bounds what is
// held; the limit makes the garbage collector return it before the heap doubles,
// which keeps the peak RSS under 300 MB with the budget full
// (TestConcurrentBigUploadsStayWithinTheMemoryBound).
const collectorMemoryLimit = 200 << 20

func serveCollector(ctx context.Context, log *slog.Logger, listen, dbURL, testListsDir, targetsDir string, rl collector.RateLimit, tlsCfg *tls.Config, bans *collector.BanList, logKey *translog.Key) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(collectorMemoryLimit)
	}
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	lists := collector.TestLists(collector.EmbeddedTestLists)
	if testListsDir != "" {
		lists = collector.DirTestLists(testListsDir, lists)
	}
	targets := collector.Targets(collectorTargets)
	if targetsDir != "" {
		targets = collector.DirTargets(targetsDir, targets)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("collector: listen: %w", err))
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	log.Info("collector serving", "url", scheme+"://"+ln.Addr().String()+"/", "db", db.Dialect(),
		"rate_limit", rl.IngestRate, "burst", rl.IngestBurst, "read_rate_limit", rl.ReadRate, "read_burst", rl.ReadBurst)
	log.Info("transparency log", "origin", logKey.Origin(), "verifier_key", logKey.VerifierKey())
	srv := collector.NewServer(collector.Config{Store: db, TestLists: lists, Targets: targets, Logger: log, RateLimit: &rl, TLS: tlsCfg, Banned: bans, LogKey: logKey})
	return srv.Serve(ctx, ln)
}

// tlsFlags adds the TLS flags the collector and the helper share.
func tlsFlags(cmd *cobra.Command, o *service.TLSOptions) {
	cmd.Flags().StringVar(&o.CertFile, "tls-cert", "", "PEM certificate (chain): serve HTTPS with --tls-key; reloaded when the file changes or on SIGHUP")
	cmd.Flags().StringVar(&o.KeyFile, "tls-key", "", "PEM private key of --tls-cert")
	cmd.Flags().StringArrayVar(&o.ACMEDomains, "acme-domain", nil, "public name to get a certificate for from Let's Encrypt (ACME tls-alpn-01: listen on :443); repeatable")
	cmd.Flags().StringVar(&o.ACMECache, "acme-cache", "acme-cache", "directory keeping the ACME account and certificates")
	cmd.Flags().StringVar(&o.ACMEEmail, "acme-email", "", "contact address given to the ACME CA")
}
