package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

func init() { register(newCollectorCmd) }

func newCollectorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collector",
		Short: "Run a collector: receives signed measurements, serves the API and web page",
	}
	cmd.AddCommand(newCollectorServeCmd())
	return cmd
}

func newCollectorServeCmd() *cobra.Command {
	var listen, db, testListsDir string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the collector (see docs/collector.md and docs/api.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serveCollector(ctx, listen, db, testListsDir)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8480", "address to listen on")
	cmd.Flags().StringVar(&db, "db", "vantage-collector.db", "database: a sqlite file path, or postgres://...")
	cmd.Flags().StringVar(&testListsDir, "testlists-dir", "", "directory of Citizen Lab CSV lists (cc.csv) served before the embedded ones")
	return cmd
}

func serveCollector(ctx context.Context, listen, dbURL, testListsDir string) error {
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	lists := collector.TestLists(collector.EmbeddedTestLists)
	if testListsDir != "" {
		lists = collector.DirTestLists(testListsDir, lists)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("collector: listen: %w", err))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	log.Info("collector serving", "url", "http://"+ln.Addr().String()+"/", "db", db.Dialect())
	srv := collector.NewServer(collector.Config{Store: db, TestLists: lists, Logger: log})
	return srv.Serve(ctx, ln)
}
