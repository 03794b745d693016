package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/identity"
	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report/upload"
)

func init() { register(newUploadCmd) }

// exitUploadIncomplete: measurements are still waiting (collector unreachable,
// failing or rate limiting, or the command was interrupted). Nothing is lost; run
// again later.
const exitUploadIncomplete = 3

// maxBundleLine bounds one line of a bundle read by upload --bundle, as verify does.
const maxBundleLine = 64 << 20

type uploadFlags struct {
	batchSize  int
	batchBytes int
	bundles    []string
}

func newUploadCmd() *cobra.Command {
	var f uploadFlags
	cmd := &cobra.Command{
		Use:   "upload [--bundle FILE]...",
		Short: "send the offline queue (or bundles carried by hand) to the collector",
		Long: `Send every queued measurement to the collector, in gzip-compressed batches,
over the routes of [upload] collector and collectors, in order, starting with the
route that answered last time. A route that cannot be reached hands the batch to
the next; when every route fails the whole list is tried again with backoff.
Each route that failed the way a blocked path fails (connect, TLS handshake,
request, or an answer that is not the collector's) is recorded as a
collector_reachability measurement, which leaves with the others.

Measurements the collector acknowledges are marked uploaded; measurements it
refuses for good (bad signature, conflicting bytes, too large) are marked
rejected and listed, stay in the store and in exports, and are never sent over
another route. When no route reaches the collector (a shutdown) measurements
simply wait.

--bundle FILE (repeatable) sends the lines of bundle files instead of the queue:
the parts of a split export, in any order; a line already at the collector is
acknowledged as a duplicate.

Exit status: 0 everything was sent (nothing due is left); 3 measurements are
still waiting, run again later; 1 other errors (store, collector protocol);
2 usage or configuration error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if len(cfg.Upload.Routes()) == 0 {
				return withCode(exitUsage, errors.New("upload: no collector configured ([upload] collector or collectors)"))
			}
			c, err := newUploadClient(cfg)
			if err != nil {
				return withCode(exitUsage, err)
			}
			c.BatchSize, c.MaxBatchBytes = f.batchSize, f.batchBytes
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if len(f.bundles) > 0 {
				return runBundleUpload(ctx, cmd, f.bundles, c)
			}
			id := runner.Origin{ProbeCC: cfg.Probe.Country, ProbeASN: cfg.Probe.ASN, ProbeNetworkName: cfg.Probe.NetworkName}
			return runUpload(ctx, cmd, dataDirOf(cfg), c, id)
		},
	}
	cmd.Flags().IntVar(&f.batchSize, "batch-size", upload.DefaultBatchSize, "measurements per request")
	cmd.Flags().IntVar(&f.batchBytes, "batch-bytes", upload.DefaultMaxBatchBytes, "bytes per request before compression (a larger single measurement goes alone)")
	cmd.Flags().StringArrayVar(&f.bundles, "bundle", nil, "send the lines of this bundle file instead of the queue (repeatable; parts in any order)")
	return cmd
}

// newUploadClient maps the configuration onto the upload client: the routes in
// order and the TLS roots.
func newUploadClient(cfg *config.Config) (*upload.Client, error) {
	c := &upload.Client{}
	for _, r := range cfg.Upload.Routes() {
		c.Routes = append(c.Routes, r.Upload())
	}
	roots, err := loadRoots(cfg.TLS.Roots)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	if roots != nil {
		c.TLS = &tls.Config{RootCAs: roots}
	}
	return c, nil
}

func runUpload(ctx context.Context, cmd *cobra.Command, dir string, c *upload.Client, id runner.Origin) error {
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
	logf := func(format string, args ...any) { fmt.Fprintf(errOut, format+"\n", args...) }
	c.Logf = logf
	if key, kerr := identity.LoadOrCreate(dir); kerr != nil {
		logf("upload: failed routes are not recorded: %v", kerr)
	} else {
		rec := &runner.Reachability{Store: st, Key: key.Private, Origin: id, Logf: logf}
		c.OnRouteFailure = rec.Record
		defer rec.Finish(ctx)
	}
	res, err := c.Drain(ctx, st)
	for _, r := range res.Rejections {
		fmt.Fprintf(errOut, "rejected %s: %s\n", r.UID, r.Reason)
	}
	err = errors.Join(err, checkUploadLog(ctx, errOut, c, res, dir))
	qs, qerr := st.QueueStats(context.Background())
	if qerr != nil {
		return errors.Join(err, qerr)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "uploaded %d, already at the collector %d, rejected %d, waiting %d\n",
		res.Uploaded, res.Duplicates, res.Rejected, qs.Pending)
	printRoutes(out, res)
	return uploadOutcome(err, qs.Pending)
}

// printRoutes says, per route, whether it worked and how it failed.
func printRoutes(w io.Writer, res upload.Result) {
	for _, r := range res.Routes {
		switch {
		case r.Answered > 0 && r.Failed == 0:
			fmt.Fprintf(w, "route %s: worked (%d requests)\n", r.Route, r.Answered)
		case r.Answered > 0:
			fmt.Fprintf(w, "route %s: worked (%d requests) after %d failures, last: %s\n", r.Route, r.Answered, r.Failed, r.Last)
		case r.Failed > 0:
			fmt.Fprintf(w, "route %s: failed %d times, last: %s\n", r.Route, r.Failed, r.Last)
		default:
			fmt.Fprintf(w, "route %s: not needed\n", r.Route)
		}
	}
	if res.BytesRaw > 0 {
		fmt.Fprintf(w, "sent %d bytes compressed (%d before compression)\n", res.BytesSent, res.BytesRaw)
	}
}

// uploadOutcome turns a drain's error into the exit status.
func uploadOutcome(err error, waiting int) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, upload.ErrUnavailable), errors.Is(err, context.Canceled):
		return withCode(exitUploadIncomplete, fmt.Errorf("%w; %d measurements wait for the next upload", err, waiting))
	default:
		return err
	}
}

// runBundleUpload sends the lines of bundle files (the parts of a split export,
// in any order) over the routes.
func runBundleUpload(ctx context.Context, cmd *cobra.Command, files []string, c *upload.Client) error {
	errOut := cmd.ErrOrStderr()
	c.Logf = func(format string, args ...any) { fmt.Fprintf(errOut, format+"\n", args...) }
	q := upload.NewLineQueue()
	for _, name := range files {
		if err := readBundleInto(q, name); err != nil {
			return err
		}
	}
	res, err := c.Drain(ctx, q)
	for _, r := range res.Rejections {
		fmt.Fprintf(errOut, "rejected %s: %s\n", r.UID, r.Reason)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "bundles: %d files, %d distinct measurements; uploaded %d, already at the collector %d, rejected %d, waiting %d\n",
		len(files), q.Len(), res.Uploaded, res.Duplicates, res.Rejected, q.Waiting())
	printRoutes(out, res)
	if err == nil && q.Waiting() > 0 {
		err = fmt.Errorf("upload: %w: the collector failed on some lines", upload.ErrUnavailable)
	}
	return uploadOutcome(err, q.Waiting())
}

// readBundleInto queues every line of a bundle file; a line that is not a signed
// envelope stops with its file and line number.
func readBundleInto(q *upload.LineQueue, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("upload: bundle: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 256<<10), maxBundleLine)
	for no := 1; sc.Scan(); no++ {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := q.Add(line); err != nil {
			return withCode(exitUsage, fmt.Errorf("upload: %s:%d: %w (check it with vantage verify)", name, no, err))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("upload: %s: %w", name, err)
	}
	return nil
}
