package main

import (
	"fmt"

	"github.com/spf13/cobra"

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
