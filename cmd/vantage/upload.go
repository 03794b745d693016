package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report/upload"
)

func init() { register(newUploadCmd) }

// exitUploadIncomplete: measurements are still waiting (collector unreachable,
// failing or rate limiting, or the command was interrupted). Nothing is lost; run
// again later.
const exitUploadIncomplete = 3

func newUploadCmd() *cobra.Command {
	var batchSize int
	cmd := &cobra.Command{
		Use:   "upload",
		Short: "send the offline queue to the collector",
		Long: `Send every queued measurement to [upload] collector, in batches, retrying
with backoff. Measurements the collector acknowledges are marked uploaded;
measurements it refuses for good (bad signature, conflicting bytes, too large)
are marked rejected and listed, and stay in the store and in exports. When the
collector cannot be reached (a shutdown) measurements simply wait.

Exit status: 0 the queue is drained (nothing due is left); 3 measurements are
still waiting, run again later; 1 other errors (store, collector protocol);
2 usage or configuration error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if cfg.Upload.Collector == "" {
				return withCode(exitUsage, errors.New("upload: no collector configured ([upload] collector)"))
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runUpload(ctx, cmd, dataDirOf(cfg), &upload.Client{Collector: cfg.Upload.Collector, BatchSize: batchSize})
		},
	}
	cmd.Flags().IntVar(&batchSize, "batch-size", upload.DefaultBatchSize, "measurements per request")
	return cmd
}

func runUpload(ctx context.Context, cmd *cobra.Command, dir string, c *upload.Client) error {
	errOut := cmd.ErrOrStderr()
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(errOut, "nothing to upload: no store in %s\n", dir)
		return nil
	}
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	c.Logf = func(format string, args ...any) { fmt.Fprintf(errOut, format+"\n", args...) }
	res, err := c.Drain(ctx, st)
	for _, r := range res.Rejections {
		fmt.Fprintf(errOut, "rejected %s: %s\n", r.UID, r.Reason)
	}
	qs, qerr := st.QueueStats(context.Background())
	if qerr != nil {
		return errors.Join(err, qerr)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "uploaded %d, already at the collector %d, rejected %d, waiting %d\n",
		res.Uploaded, res.Duplicates, res.Rejected, qs.Pending)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, upload.ErrUnavailable), errors.Is(err, context.Canceled):
		return withCode(exitUploadIncomplete, fmt.Errorf("%w; %d measurements wait for the next upload", err, qs.Pending))
	default:
		return err
	}
}
