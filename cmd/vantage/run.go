package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/nettests/registry"
	"github.com/vantage-probe/vantage/nettests/webconnectivity"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/geo"
	"github.com/vantage-probe/vantage/probe/identity"
	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/probe/runner/console"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report/limits"
	"github.com/vantage-probe/vantage/testlists"
)

func init() { register(newRunCmd) }

// Exit codes of `vantage run` beyond exitOK, exitError and exitUsage (main.go);
// README.md and docs/cli.md document them for cron and systemd.
const (
	exitLocked    = 3 // another run holds the data directory's lock
	exitNoConsent = 4 // informed consent is not recorded in the configuration
)

type runFlags struct {
	inputs      []string
	inputFile   string
	categories  []string
	batch       bool
	json        bool
	noUpload    bool
	parallelism int
	groups      []string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [NETTEST]",
		Short: "measure the test list (web_connectivity) or run one nettest",
		Long: `Measure websites with web_connectivity (the default), bracketed by a check of
the network as a whole (the connectivity test) before and after. With no input,
the test list for the probe's country is used (Citizen Lab's lists, embedded;
refreshed from the collector when upload is configured). Every measurement is
signed with the probe key, kept in the local store and, when upload is enabled,
queued and uploaded at the end.

With no input given, the messaging apps (group im: whatsapp, telegram, signal,
facebook_messenger) and the escape routes (group circumvention: tor, dnscheck)
follow the websites inside the same checks; --group chooses the groups
(websites, im, circumvention). With --input or --input-file the default is the
websites alone.

NETTEST runs one nettest instead: ` + strings.Join(registry.Names(), ", ") + `.

Exit status: 0 the run completed; 1 an error (store, key, interrupted);
2 usage or configuration error; 3 another run is in progress (lock held);
4 informed consent is not recorded (see 'vantage config init --accept-consent').`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			descs, err := planNettests(cmd, args, &f)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("run: %w", err))
			}
			return runCommand(cmd, descs, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inputs, "input", nil, "a URL (or nettest input) to measure; repeatable")
	fl.StringVar(&f.inputFile, "input-file", "", "a file of inputs: one URL per line (# comments) or a Citizen Lab CSV")
	fl.StringSliceVar(&f.categories, "category", nil, "only URLs of these Citizen Lab category codes (e.g. NEWS,HUMR); repeatable")
	fl.BoolVar(&f.batch, "batch", false, "unattended run (cron, systemd): no prompts, JSON log on stderr")
	fl.BoolVar(&f.json, "json", false, "print every measurement as one JSON line, then a summary line")
	fl.BoolVar(&f.noUpload, "no-upload", false, "keep measurements local: do not queue or upload them")
	fl.StringSliceVar(&f.groups, "group", nil, "groups of nettests, comma-separated: websites, im, circumvention (default all three; websites alone with --input)")
	fl.IntVar(&f.parallelism, "parallelism", 0, fmt.Sprintf("URLs measured at once (default [run] parallelism, else %d)", runner.DefaultParallelism))
	return cmd
}

// runSession is everything one `vantage run` opens, closed in reverse.
type runSession struct {
	cfg     *config.Config
	dataDir string
	logger  *slog.Logger
	store   *store.Store
	key     *identity.Identity
	release func()
}

func (s *runSession) close() {
	if s.store != nil {
		s.store.Close()
	}
	if s.release != nil {
		s.release()
	}
}

// planNettests is what a run measures: NETTEST alone, or the --group groups (by
// default websites, im and circumvention; websites alone when inputs are given).
// The first is the run's main nettest, which takes the inputs.
func planNettests(cmd *cobra.Command, args []string, f *runFlags) ([]registry.Descriptor, error) {
	explicit := len(f.inputs) > 0 || f.inputFile != ""
	if len(args) == 1 {
		if cmd.Flags().Changed("group") {
			return nil, fmt.Errorf("give a NETTEST or --group, not both")
		}
		d, err := registry.Lookup(args[0])
		if err != nil {
			return nil, err
		}
		return []registry.Descriptor{d}, nil
	}
	groups := f.groups
	if !cmd.Flags().Changed("group") {
		groups = registry.RunGroups()
		if explicit {
			groups = []string{registry.GroupWebsites}
		}
	}
	descs, err := registry.Groups(groups)
	if err != nil {
		return nil, fmt.Errorf("--group: %w", err)
	}
	if explicit && descs[0].Name != webconnectivity.Name {
		return nil, fmt.Errorf("--input and --input-file are URLs for the websites group, which --group %s leaves out", strings.Join(groups, ","))
	}
	return descs, nil
}

func runCommand(cmd *cobra.Command, descs []registry.Descriptor, f *runFlags) error {
	desc := descs[0]
	if f.parallelism < 0 || f.parallelism > runner.MaxParallelism {
		return withCode(exitUsage, fmt.Errorf("run: --parallelism %d is outside 1..%d", f.parallelism, runner.MaxParallelism))
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if err := ensureConsent(cmd, cfg, f.batch); err != nil {
		return err
	}
	// Signals are caught before the input list is read: a signal at any moment
	// ends the run with exit 1 (docs/cli.md), never with the default kill.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	inputs, err := explicitInputs(ctx, desc, f)
	if ctx.Err() != nil {
		return fmt.Errorf("run: interrupted: %w", ctx.Err())
	}
	if err != nil {
		return withCode(exitUsage, err)
	}
	sess, err := openSession(cmd, cfg, f.batch)
	if err != nil {
		return err
	}
	defer sess.close()
	return measure(ctx, cmd, sess, descs, inputs, f)
}

// explicitInputs gathers --input and --input-file and lets the runner apply the
// nettest's input kind; nil means "the default list".
func explicitInputs(ctx context.Context, desc registry.Descriptor, f *runFlags) ([]string, error) {
	inputs := append([]string{}, f.inputs...)
	for _, in := range inputs {
		if err := limits.Check("--input", in, limits.MaxInputBytes); err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
	}
	if f.inputFile != "" {
		file, err := os.Open(f.inputFile)
		if err != nil {
			return nil, fmt.Errorf("run: --input-file: %w", err)
		}
		defer file.Close()
		// Streamed: the file is never held, only its distinct URLs.
		urls, err := testlists.ReadURLs(ctx, file, f.inputFile, f.categories)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, urls...)
		if len(inputs) == 0 {
			return nil, fmt.Errorf("run: %s has no URL in categories %v", f.inputFile, f.categories)
		}
	}
	if _, err := testlists.Filter(nil, f.categories); err != nil {
		return nil, err
	}
	return runner.PlanInputs(desc, inputs)
}

// openSession takes the lock, then opens the store and the probe key.
func openSession(cmd *cobra.Command, cfg *config.Config, batch bool) (*runSession, error) {
	s := &runSession{cfg: cfg, dataDir: dataDirOf(cfg), logger: newRunLogger(cmd.ErrOrStderr(), batch)}
	if err := config.CheckDataDir(s.dataDir); err != nil {
		return nil, withCode(exitUsage, err)
	}
	release, err := runner.Lock(s.dataDir)
	if errors.Is(err, runner.ErrLocked) {
		return nil, withCode(exitLocked, fmt.Errorf("run: %w; this run stops (exit %d)", err, exitLocked))
	}
	if err != nil {
		return nil, err
	}
	s.release = release
	if s.store, err = store.Open(s.dataDir); err != nil {
		s.close()
		return nil, err
	}
	s.housekeep(cmd.Context())
	if s.key, err = identity.LoadOrCreate(s.dataDir); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// newRunLogger logs JSON records for unattended runs and only warnings, as text,
// for people (the progress bar and the summary say the rest).
func newRunLogger(w io.Writer, batch bool) *slog.Logger {
	if batch {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// measure locates the probe, builds the nettests and runs them.
func measure(ctx context.Context, cmd *cobra.Command, sess *runSession, descs []registry.Descriptor, inputs []string, f *runFlags) error {
	desc := descs[0]
	cfg := *sess.cfg // a copy: geolocation may fill the country the canaries depend on
	loc := locate(ctx, &cfg, sess, firstOr(inputs, firstGlobalURL()))
	if !f.batch && !f.json {
		fmt.Fprintf(cmd.ErrOrStderr(), "probe location: %s %s (%s)\n", loc.CC, loc.ASN, locationSources[loc.Source])
	}
	env, err := newNettestEnv(&cfg, time.Now)
	if err != nil {
		return withCode(exitUsage, err)
	}
	env.Logger = sess.logger
	uploading := cfg.Upload.Enabled && !f.noUpload
	r := &runner.Runner{
		Origin:      runner.Origin{ProbeCC: loc.CC, ProbeASN: loc.ASN, ProbeNetworkName: loc.NetworkName},
		Key:         sess.key.Private,
		Store:       sess.store,
		Enqueue:     uploading,
		Parallelism: firstPositive(f.parallelism, cfg.Run.Parallelism),
		NetworkKey:  loc.NetworkKey,
		Logger:      sess.logger,
	}
	if loc.ClientIP != "" {
		r.Origin.Scrub = []string{loc.ClientIP}
	}
	if err := withASNDB(&r.Origin, &cfg); err != nil {
		return withCode(exitUsage, err)
	}
	if uploading {
		client, err := newUploadClient(&cfg)
		if err != nil {
			return withCode(exitUsage, err)
		}
		client.Logf = func(format string, args ...any) { sess.logger.Info(fmt.Sprintf(format, args...)) }
		rec := &runner.Reachability{Store: sess.store, Key: sess.key.Private, Origin: r.Origin, Logf: client.Logf}
		client.OnRouteFailure = rec.Record
		r.Drain = func(ctx context.Context) error {
			res, err := client.Drain(ctx, sess.store)
			err = errors.Join(err, checkRunLog(ctx, sess.logger, client, res, sess.dataDir))
			return errors.Join(err, rec.Finish(ctx))
		}
	}
	if err := r.Compose(desc, &cfg, env); err != nil {
		return withCode(exitUsage, err)
	}
	// The others come after Compose: they share the network state it set up.
	for _, d := range descs[1:] {
		m, err := d.New(&cfg, env)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("run %s: %w", d.Name, err))
		}
		x := runner.Extra{Measurer: m, Skipped: d.Skipped}
		if uploading && cfg.Upload.Collector != "" {
			x.Refresh = targetsRefresh(d, &cfg, env, cfg.Upload.Collector)
		}
		r.Extras = append(r.Extras, x)
	}
	if inputs == nil {
		if inputs, err = defaultInputs(loc.CC, f.categories); err != nil {
			return withCode(exitUsage, err)
		}
		if uploading && cfg.Upload.Collector != "" {
			r.Refresh = func(ctx context.Context) ([]string, error) {
				return collectorInputs(ctx, cfg.Upload.Collector, loc.CC, f.categories)
			}
		}
	}
	return execute(ctx, cmd, r, inputs, f, sess.logger)
}

// execute runs and shows the run: JSON lines, a progress bar and a summary, or a
// structured log.
func execute(ctx context.Context, cmd *cobra.Command, r *runner.Runner, inputs []string, f *runFlags, logger *slog.Logger) error {
	stdout := cmd.OutOrStdout()
	var observers console.Multi
	var progress *console.Progress
	switch {
	case f.batch:
		observers = append(observers, console.Log{Logger: logger})
	case !f.json && console.IsTerminal(os.Stderr):
		progress = console.NewProgress(cmd.ErrOrStderr(), console.ColorEnabled(os.Stderr, os.Getenv))
		observers = append(observers, progress)
	}
	if f.json {
		observers = append(observers, console.JSONLines{W: stdout})
	}
	r.Observer = observers
	sum, err := r.Run(ctx, inputs)
	if progress != nil {
		progress.Close()
	}
	if sum != nil {
		switch {
		case f.json:
			if werr := console.WriteSummaryLine(stdout, sum); werr != nil && err == nil {
				err = werr
			}
		case f.batch:
			console.LogSummary(logger, sum)
		default:
			console.Summary(stdout, sum, console.ColorEnabled(os.Stdout, os.Getenv))
		}
	}
	if errors.Is(err, runner.ErrBadInput) {
		return withCode(exitUsage, err)
	}
	return err
}

// locate finds probe_cc and probe_asn; it never fails and is bounded in time.
func locate(ctx context.Context, cfg *config.Config, sess *runSession, probeURL string) geo.Location {
	l := &geo.Locator{Country: cfg.Probe.Country, ASN: cfg.Probe.ASN, NetworkName: cfg.Probe.NetworkName,
		Helpers: cfg.Control.Helpers, Memory: sess.store, Logger: sess.logger}
	loc := l.Locate(ctx, probeURL)
	sess.logger.Info("location", "probe_cc", loc.CC, "probe_asn", loc.ASN, "source", loc.Source)
	if cfg.Probe.Country == "" && loc.CC != geo.UnknownCC {
		cfg.Probe.Country = loc.CC // the canaries' embedded defaults follow the country
	}
	return loc
}

// locationSources says, for people, where the location came from.
var locationSources = map[string]string{
	geo.SourceConfig:  "from the configuration file",
	geo.SourceHelper:  "as the control helper sees this network",
	geo.SourceNetwork: "remembered from an earlier run on this network",
	geo.SourceUnknown: "unknown: set [probe] country and asn to name it",
}

// defaultInputs is the embedded list for the country plus the global list.
func defaultInputs(cc string, categories []string) ([]string, error) {
	entries, err := testlists.ForCountry(cc, nil)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if entries, err = testlists.Filter(entries, categories); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("run: the test list for %s has no URL in categories %v", cc, categories)
	}
	return testlists.URLs(entries), nil
}

// collectorInputs fetches the collector's list for the country, with the global list.
func collectorInputs(ctx context.Context, collector, cc string, categories []string) ([]string, error) {
	own, err := testlists.Fetch(ctx, nil, collector, cc)
	if err != nil {
		return nil, err
	}
	entries, err := testlists.ForCountry(cc, own)
	if err != nil {
		return nil, err
	}
	if entries, err = testlists.Filter(entries, categories); err != nil {
		return nil, err
	}
	return testlists.URLs(entries), nil
}

func firstGlobalURL() string {
	entries, _, _ := testlists.Embedded("global")
	if len(entries) == 0 {
		return ""
	}
	return entries[0].URL
}

func firstOr(list []string, def string) string {
	if len(list) > 0 && list[0] != "" {
		return list[0]
	}
	return def
}

func firstPositive(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}
