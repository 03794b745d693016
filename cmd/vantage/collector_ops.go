package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

func newCollectorBackupCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "backup DEST",
		Short: "Copy a sqlite collector database to the new file DEST while it serves (PostgreSQL: pg_dump)",
		Long: "Copy a sqlite collector database to the new file DEST with VACUUM INTO: one consistent\n" +
			"snapshot, taken without stopping ingest; DEST opens as a collector database as it is.\n" +
			"For PostgreSQL use pg_dump (docs/operations.md).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := storage.Open(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Backup(cmd.Context(), args[0]); err != nil {
				return withCode(exitUsage, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup written to %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "vantage-collector.db", "database: a sqlite file path")
	return cmd
}

func newCollectorDeleteProbeCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "delete-probe PROBE_ID",
		Short: "Delete every measurement of one probe and its pinned key (a volunteer's request)",
		Long: "Delete every measurement of one probe and its pinned key, in one transaction; the\n" +
			"collector may keep serving. Backups taken before still hold them. To keep the key\n" +
			"from uploading again, add it to the --ban-list file of collector serve.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := storage.Open(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.DeleteProbe(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %d measurements of probe %s\n", n, args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "vantage-collector.db", "database: a sqlite file path, or postgres://...")
	return cmd
}

// reloadBansOnSIGHUP rereads the ban list at every SIGHUP until ctx ends.
func reloadBansOnSIGHUP(ctx context.Context, bans *collector.BanList, log *slog.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				if err := bans.Reload(); err != nil {
					log.Warn("SIGHUP: ban list not reloaded; the previous one stays", "err", err)
				} else {
					log.Info("SIGHUP: ban list reloaded", "ids", bans.Len())
				}
			}
		}
	}()
}
