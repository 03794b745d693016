package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/connectivity"
	"github.com/vantage-probe/vantage/nettests/registry"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/geo"
	"github.com/vantage-probe/vantage/probe/history"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/probe/store"
)

func init() { register(newCheckCmd) }

// defaultHistorySince is how far back --history looks by default: a week shows a
// curfew rhythm (January 2022 lasted from the 4th to the 11th).
const defaultHistorySince = "7d"

type checkFlags struct {
	json    bool
	history bool
	since   string
}

func newCheckCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check [--json] [--history [--since T]]",
		Short: "decide the network verdict now, or show the history of verdicts",
		Long: `Run the connectivity test alone: local checks (interface, default route,
gateway, resolver) and rounds of canaries, domestic and foreign, over DNS, TCP,
TLS and QUIC. Print one line: the verdict (online, full_shutdown,
partial_shutdown, whitelist, local_failure, throttled) and its evidence, the
ratio of successful attempts per class and protocol. The verdict is kept in the
local store for the timeline. No helper, collector or DNS is needed: without a
network the answer is local_failure.

--json prints the measurement instead (one JSON object).
--history prints, without measuring, the timeline of stored verdicts since T
(default 7d; RFC 3339, a date, or a duration back from now): consecutive checks
with the same verdict are merged into windows with their start and end, and a
silence of more than 2h between checks shows as no_data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if f.history {
				return runHistory(ctx, cmd.OutOrStdout(), cfg, f.since, time.Now())
			}
			return runCheck(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, f.json, defaultCheckDeps())
		},
	}
	cmd.Flags().BoolVar(&f.json, "json", false, "print the measurement as JSON")
	cmd.Flags().BoolVar(&f.history, "history", false, "print the timeline of stored verdicts instead of measuring")
	cmd.Flags().StringVar(&f.since, "since", defaultHistorySince, "with --history: the start of the timeline")
	return cmd
}

// connectivityHistory is the part of the local store that check uses.
type connectivityHistory interface {
	history.Writer
	history.Reader
	Close() error
}

// checkDeps are what runCheck builds on; tests replace them.
type checkDeps struct {
	connectivity registry.Constructor
	openHistory  func(dir string) (connectivityHistory, error)
	networkKey   func() string
	now          func() time.Time
}

func defaultCheckDeps() checkDeps {
	return checkDeps{
		connectivity: registry.MustLookup(connectivity.Name).New,
		openHistory:  func(dir string) (connectivityHistory, error) { return store.Open(dir) },
		networkKey:   geo.DefaultNetworkKey,
		now:          time.Now,
	}
}

// runCheck measures, keeps the verdict and prints. The store is best effort: a
// probe that cannot write its history still says what it saw.
func runCheck(ctx context.Context, stdout, stderr io.Writer, cfg *config.Config, asJSON bool, deps checkDeps) error {
	env, err := newNettestEnv(cfg, deps.now)
	if err != nil {
		return withCode(exitUsage, err)
	}
	m, err := deps.connectivity(cfg, env)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("check: %w", err))
	}
	check := &runner.Check{Connectivity: m, NetworkKey: deps.networkKey(), Now: deps.now,
		Origin: runner.Origin{ProbeCC: cfg.Probe.Country, ProbeASN: cfg.Probe.ASN, ProbeNetworkName: cfg.Probe.NetworkName}}
	h, herr := deps.openHistory(dataDirOf(cfg))
	if herr == nil {
		defer h.Close()
		check.History = h
	}
	res, err := check.Run(ctx)
	if err != nil {
		return err
	}
	if herr == nil {
		herr = res.HistoryErr
	}
	if herr != nil {
		fmt.Fprintf(stderr, "vantage: check: not kept in the history: %v\n", herr)
	}
	if asJSON {
		_, err = fmt.Fprintf(stdout, "%s\n", res.Line)
	} else if tk, ok := res.Measurement.TestKeys.(*connectivity.TestKeys); ok {
		_, err = fmt.Fprintln(stdout, tk.Summary())
	} else {
		_, err = fmt.Fprintln(stdout, res.Measurement.TestKeys.(nettests.NetworkResult).NetworkVerdict())
	}
	return err
}

// newNettestEnv is the environment every nettest of `run` and `check` shares: the
// configured resolver, ClientHello and roots.
func newNettestEnv(cfg *config.Config, now func() time.Time) (*nettests.Env, error) {
	roots, err := loadRoots(cfg.TLS.Roots)
	if err != nil {
		return nil, err
	}
	nc := &netx.Client{Resolver: cfg.Network.Resolver, ClientHello: cfg.TLS.ClientHello, Roots: roots}
	return &nettests.Env{Netx: nc, Now: now}, nil
}

// runHistory prints the timeline of stored verdicts since the --since value.
func runHistory(ctx context.Context, stdout io.Writer, cfg *config.Config, since string, now time.Time) error {
	t, err := parseSince(since, now)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("check: --since: %w", err))
	}
	h, err := defaultCheckDeps().openHistory(dataDirOf(cfg))
	if err != nil {
		return fmt.Errorf("check: history: %w", err)
	}
	defer h.Close()
	entries, err := history.Read(ctx, h, t)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return renderTimeline(stdout, history.Windows(history.Points(entries), history.DefaultMaxGap), t)
}

// stateOf groups verdicts so that on and off windows read at a glance.
var stateOf = map[string]string{
	nettests.NetworkOnline:          "ON",
	nettests.NetworkThrottled:       "slow",
	nettests.NetworkPartialShutdown: "part",
	nettests.NetworkWhitelist:       "allow",
	nettests.NetworkFullShutdown:    "OFF",
	nettests.NetworkLocalFailure:    "local",
	history.NoData:                  "-",
}

// renderTimeline prints one line per window: start, end, length, a short state, the
// verdict and the number of checks, in UTC.
func renderTimeline(w io.Writer, windows []history.Window, since time.Time) error {
	if len(windows) == 0 {
		_, err := fmt.Fprintf(w, "no connectivity checks stored since %s\n", since.UTC().Format("2006-01-02 15:04 MST"))
		return err
	}
	checks := 0
	for _, win := range windows {
		checks += win.Checks
	}
	fmt.Fprintf(w, "network timeline (UTC): %d windows, %d checks since %s\n", len(windows), checks, since.UTC().Format("2006-01-02 15:04"))
	for _, win := range windows {
		state := stateOf[win.Verdict]
		if state == "" {
			state = "?"
		}
		if _, err := fmt.Fprintf(w, "%s -> %s  %8s  %-5s  %-16s  %d checks\n",
			win.Start.UTC().Format("2006-01-02 15:04"), win.End.UTC().Format("2006-01-02 15:04"),
			formatSpan(win.End.Sub(win.Start)), state, win.Verdict, win.Checks); err != nil {
			return err
		}
	}
	return nil
}

// formatSpan writes a duration as 2d3h, 13h30m or 45m.
func formatSpan(d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh%02dm", hours, mins)
	default:
		return fmt.Sprintf("%dm", mins)
	}
}
