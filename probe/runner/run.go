package runner

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/history"
	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
)

// DefaultParallelism is how many URLs a run measures at once. A URL spends most of
// its time waiting (a DNS duplicate window, retries spaced 1 s apart, a black hole's
// step timeout), and waiting costs no CPU: 64 URLs at once keep 2 cores far from busy
// while a list with many black holes finishes in minutes rather than tens of minutes
// (1,000 URLs, 30 % black-holed, in about 44 s in the lab; docs/cli.md). One URL
// opens up to a dozen flows, so 64 URLs stay under a thousand concurrent flows, and
// most of those are single unanswered SYNs; a volunteer behind a small NAT box can
// lower it with --parallelism. What must not scale with it is bounded separately: the
// control requests (webconnectivity.DefaultMaxControlInFlight, below the helper's
// limit) and each URL's recorded bytes (netx's per-trace budgets).
const DefaultParallelism = 64

// MaxParallelism bounds --parallelism and [run] parallelism, as probe/config does.
const MaxParallelism = 1000

// ConfirmInterval is how often, at most, a run asks the network status whether
// canaries still answer while URL measurements complete. A URL measurement is held
// (not yet signed or stored) until canaries answered after it finished: a
// shutdown that began mid-run must turn that URL inconclusive rather than
// "blocked". Ten seconds keeps the hold short (and the loss of a killed run small)
// at the cost of one quick canary check per interval.
const ConfirmInterval = 10 * time.Second

// saveTimeout bounds the writes that finish an interrupted run: they must not be
// cancelled with the run, nor hang the exit.
const saveTimeout = 10 * time.Second

// Store is the part of probe/store a run writes to; *store.Store implements it.
type Store interface {
	BeginRun(ctx context.Context, info store.RunInfo) (int64, error)
	FinishRun(ctx context.Context, runID int64, summary []byte) error
	SaveMeasurement(ctx context.Context, runID int64, signedLine []byte, meta store.MeasurementMeta, enqueue bool) error
	AddConnectivity(ctx context.Context, r store.ConnectivityRecord) error
}

var _ Store = (*store.Store)(nil)

// Network is the run's view of the network: the nettests.NetworkStatus handed to
// nettests, fed with every connectivity result. netstate.Status implements it.
type Network interface {
	nettests.NetworkStatus
	Observe(r nettests.NetworkResult)
}

// Observer is told what a run does, for progress bars and --json. Its methods are
// called from the run's goroutine, one at a time.
type Observer interface {
	// Phase announces a step: "geolocation", "connectivity_before", "urls",
	// "connectivity_after", "upload".
	Phase(name string)
	// Planned says how many inputs the run will measure.
	Planned(n int)
	// Completed is called when one input's measurement finishes (it may still be
	// held until the network is confirmed).
	Completed(input string)
	// Saved is called with every measurement once it is signed and stored; line is
	// the canonical measurement (not the envelope).
	Saved(m *report.Measurement, line []byte)
}

// Runner runs one nettest over a list of inputs, bracketed by connectivity checks,
// and signs, stores and queues every measurement.
type Runner struct {
	// Measurer measures each input; it is shared by the pool (Run must be safe for
	// concurrent use).
	Measurer nettests.Measurer
	// Extras are measured once each after the inputs, inside the same checks.
	Extras []Extra
	// Connectivity, when set, checks the network before and after the inputs.
	Connectivity nettests.Measurer
	// Network is fed with connectivity results and confirms URL results; may be nil.
	Network Network
	// Skipped builds the test keys of an input not measured because the network
	// was down (webconnectivity.SkippedTestKeys). nil: inputs are measured anyway.
	Skipped func(input, reason string) any

	Origin      Origin
	Key         ed25519.PrivateKey
	Store       Store
	Enqueue     bool // queue every measurement for upload
	Parallelism int  // 0 = DefaultParallelism
	// ConfirmEvery is how often held URL results are confirmed; 0 = ConfirmInterval.
	ConfirmEvery time.Duration
	NetworkKey   string
	// Drain uploads the queue at the end when the network is online; nil = no upload.
	Drain func(ctx context.Context) error
	// Refresh, when set, is asked for fresher inputs (the collector's test list)
	// once the before-check shows a usable network; an error keeps the given inputs.
	Refresh func(ctx context.Context) ([]string, error)

	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
}

// Run measures inputs and returns the run's summary. Network failures never end
// a run: they are results. Errors are local (the store) or bad inputs.
func (r *Runner) Run(ctx context.Context, inputs []string) (*Summary, error) {
	r.setDefaults()
	if len(r.Key) != ed25519.PrivateKeySize {
		return nil, ErrNoKey
	}
	start := r.Now()
	runID, err := r.Store.BeginRun(ctx, store.RunInfo{TestName: r.Measurer.Name(), StartTime: start,
		ProbeCC: r.Origin.ProbeCC, ProbeASN: r.Origin.ProbeASN, NetworkName: r.Origin.ProbeNetworkName})
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	s := &state{r: r, runID: runID, reportID: newReportID(start, r.Measurer.Name(), r.Origin),
		sum: newSummary(runID)}
	err = s.run(ctx, inputs)
	s.sum.DurationS = r.Now().Sub(start).Seconds()
	if ferr := r.Store.FinishRun(context.WithoutCancel(ctx), runID, s.sum.JSON()); ferr != nil && err == nil {
		err = fmt.Errorf("runner: %w", ferr)
	}
	return s.sum, err
}

func (r *Runner) setDefaults() {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Observer == nil {
		r.Observer = nopObserver{}
	}
	if r.Parallelism <= 0 {
		r.Parallelism = DefaultParallelism
	}
	r.Parallelism = min(r.Parallelism, MaxParallelism)
	if r.ConfirmEvery <= 0 {
		r.ConfirmEvery = ConfirmInterval
	}
}

// state is one run in progress.
type state struct {
	r            *Runner
	runID        int64
	reportID     string
	extraReports map[string]string // extra nettest -> its report id
	sum          *Summary
}

// run is plan → measure → confirm → upload.
func (s *state) run(ctx context.Context, inputs []string) error {
	before := s.checkNetwork(ctx, history.PhaseBefore)
	s.sum.NetworkVerdict = before
	reason := nettests.NetworkDownReason(before)
	// In an allowlist phase the collector abroad is unreachable by definition: do
	// not wait for it.
	if reason == "" && before != nettests.NetworkWhitelist && s.r.Refresh != nil && ctx.Err() == nil {
		if fresh, err := s.r.Refresh(ctx); err != nil {
			s.r.Logger.Info("keeping the local test list", "err", err)
		} else if len(fresh) > 0 {
			inputs = fresh
		}
	}
	s.r.Observer.Planned(len(inputs) + len(s.r.Extras))
	if reason != "" && s.r.Skipped != nil {
		s.r.Logger.Info("network down before the inputs: not measuring them", "verdict", before, "inputs", len(inputs))
		return errors.Join(s.skipAll(ctx, inputs, reason), s.skipExtras(ctx, reason))
	}
	s.r.Observer.Phase("urls")
	held, inputErr := s.measureAll(ctx, inputs)
	extra, extraErr := s.measureExtras(ctx)
	held, inputErr = append(held, extra...), errors.Join(inputErr, extraErr)
	after := ""
	if ctx.Err() == nil {
		after = s.checkNetwork(ctx, history.PhaseAfter)
	}
	s.sum.NetworkVerdictAfter = after
	reason = nettests.NetworkDownReason(after)
	if ctx.Err() != nil || (s.r.Connectivity != nil && after == "") {
		reason = nettests.ReasonNetworkUnknown
	}
	if err := s.finalizeAll(context.WithoutCancel(ctx), held, reason); err != nil {
		return errors.Join(inputErr, err)
	}
	s.sum.closeNetwork(before, after)
	if ctx.Err() != nil {
		return fmt.Errorf("runner: interrupted: %w", ctx.Err())
	}
	s.upload(ctx, after)
	return inputErr
}

// skipAll records every input as not measured: a run during a shutdown costs one
// connectivity check, not one timeout per URL. A signal stops it between two
// inputs (each costs a save, well under a millisecond): what was saved stays, and
// the run ends interrupted, as a measuring run does.
func (s *state) skipAll(ctx context.Context, inputs []string, reason string) error {
	for _, in := range inputs {
		if ctx.Err() != nil {
			return fmt.Errorf("runner: interrupted: %w", ctx.Err())
		}
		meas := newMeasurement(s.r.Measurer, in, s.r.Origin, s.reportID, s.r.Now())
		meas.TestKeys = s.r.Skipped(in, reason)
		s.r.Observer.Completed(in)
		if err := s.save(context.WithoutCancel(ctx), meas); err != nil {
			return err
		}
	}
	return nil
}

// upload drains the queue when the network looks online. Failures are logged:
// measurements stay queued for the next run or `vantage upload`.
func (s *state) upload(ctx context.Context, verdict string) {
	if s.r.Drain == nil || !s.r.Enqueue {
		return
	}
	if nettests.NetworkDownReason(verdict) != "" {
		s.r.Logger.Info("not uploading: the network is down; measurements stay queued", "verdict", verdict)
		return
	}
	s.r.Observer.Phase("upload")
	if err := s.r.Drain(ctx); err != nil {
		s.r.Logger.Warn("upload incomplete; measurements stay queued", "err", err)
		s.sum.UploadError = err.Error()
		return
	}
	s.sum.Uploaded = true
}

type nopObserver struct{}

func (nopObserver) Phase(string)                      {}
func (nopObserver) Planned(int)                       {}
func (nopObserver) Completed(string)                  {}
func (nopObserver) Saved(*report.Measurement, []byte) {}

// Errors of Run. Callers compare with errors.Is.
var (
	// ErrNoKey: the Runner has no signing key.
	ErrNoKey = errors.New("runner: no signing key")
	// ErrBadInput: a nettest refused an input (the other inputs were measured).
	ErrBadInput = errors.New("bad input")
)
