package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/report/translog"
)

// logKeyFlags are `collector serve`'s transparency-log flags.
type logKeyFlags struct {
	path, origin string
}

func (f *logKeyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.path, "log-key", "", "file of the log's ed25519 note signing key, created if missing (default: the sqlite file + .logkey, or vantage-collector.logkey for PostgreSQL)")
	cmd.Flags().StringVar(&f.origin, "log-origin", "", "name of a new log key and origin of its checkpoints (default vantage-collector-RANDOM)")
}

// load reads or creates the key, by default beside a sqlite database.
func (f *logKeyFlags) load(dbURL string) (*translog.Key, error) {
	path := f.path
	if path == "" {
		path = "vantage-collector.logkey"
		if !strings.HasPrefix(dbURL, "postgres://") && !strings.HasPrefix(dbURL, "postgresql://") {
			path = strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "file:") + ".logkey"
		}
	}
	return translog.LoadOrCreateKey(path, f.origin)
}
