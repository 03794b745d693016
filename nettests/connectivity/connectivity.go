// Package connectivity implements the connectivity nettest: it tells from one vantage
// point whether the network is online, fully or partly shut down, in an allowlist
// phase, throttled, or just locally broken, from local checks and canary rounds.
package connectivity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/report/clock"
)

// Name and Version of the nettest (test_name, test_version).
const (
	Name    = "connectivity"
	Version = "0.1.0"
)

// Defaults of Config; docs/methodology-network.md gives the measured time of a check.
const (
	// DefaultRounds: one round cannot show flapping, and a check must stay short
	// enough to run before and after every run; three rounds show a flip and
	// outvote one unlucky round.
	DefaultRounds = 3
	// DefaultRoundSpacing spaces rounds so that one burst of loss or a stateful
	// residual block does not hit every round (Quack's retry-and-wait). Longer
	// rhythms (the curfew of January 2022) show in the history of checks instead.
	DefaultRoundSpacing = 2 * time.Second
	// DefaultAttempts per protocol and canary in a round: a second try separates
	// per-packet loss from a dead path, and every try is counted in the ratios.
	DefaultAttempts = 2
	// DefaultAttemptTimeout bounds one attempt (connect plus handshake). Canaries
	// are chosen to be near: a TLS handshake from Kazakhstan to Amsterdam takes
	// well under a second, so 2.5 s covers a congested mobile link while keeping a
	// shutdown check (every attempt timing out) under half a minute.
	DefaultAttemptTimeout = 2500 * time.Millisecond
	// DefaultRetryDelay separates two attempts of one probe.
	DefaultRetryDelay = 250 * time.Millisecond
	// DefaultParallelism bounds the canaries measured at once (each runs its three
	// transports together, so at most 48 connections are open). 16 fits every
	// embedded set in one wave: a second wave would add a whole attempt timeout to
	// each round of a shutdown.
	DefaultParallelism = 16
	// DefaultMaxDuration bounds a whole check, whatever the network does.
	DefaultMaxDuration = 60 * time.Second
)

// Config tunes the test; the zero value of a field means its default.
type Config struct {
	Rounds         int
	RoundSpacing   time.Duration
	Attempts       int
	AttemptTimeout time.Duration
	RetryDelay     time.Duration
	Parallelism    int
	MaxDuration    time.Duration
	// PulseInterval and PulseTimeout pace the pulses (pulses.go); a negative
	// PulseInterval turns them off.
	PulseInterval time.Duration
	PulseTimeout  time.Duration
	// EarlyStopWindow is the least stretch of answered pulses that lets a check on
	// a network where everything answers end before its last round (earlystop.go);
	// negative turns the early stop off.
	EarlyStopWindow time.Duration
	// NoThroughput skips the download probe (the runner's quick checks).
	NoThroughput bool
	// Country selects the embedded canary sets when Canaries lists no domestic or
	// foreign canary.
	Country string
	// Canaries are configured canary entries (chooseCanaries says how they combine
	// with the embedded sets).
	Canaries CanaryLists
	// Resolver is the resolver setting, to tell a loopback stub from a real one;
	// "" means the environment's netx resolver.
	Resolver string
}

// CanaryLists are canary entries by class: URLs, host names or IP:port.
type CanaryLists struct {
	Domestic, Allowlisted, Foreign []string
}

func (c Config) withDefaults() Config {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&c.Rounds, DefaultRounds)
	set(&c.Attempts, DefaultAttempts)
	set(&c.Parallelism, DefaultParallelism)
	setD(&c.AttemptTimeout, DefaultAttemptTimeout)
	setD(&c.MaxDuration, DefaultMaxDuration)
	if c.RoundSpacing < 0 {
		c.RoundSpacing = 0
	} else if c.RoundSpacing == 0 {
		c.RoundSpacing = DefaultRoundSpacing
	}
	if c.RetryDelay < 0 {
		c.RetryDelay = 0
	} else if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.PulseInterval == 0 {
		c.PulseInterval = DefaultPulseInterval
	}
	setD(&c.PulseTimeout, DefaultPulseTimeout)
	if c.EarlyStopWindow == 0 {
		c.EarlyStopWindow = DefaultEarlyStopWindow
	}
	return c
}

// options is everything a Measurer is built from: New fills it from the
// environment and Config, tests with fakes (newMeasurer). One exported constructor.
type options struct {
	Config     Config
	Canaries   []Canary
	primitives primitives
	System     System
	// Resolver is the resolver setting, to tell a loopback stub from a real one.
	Resolver string
	Now      func() time.Time
	// Sleep waits d or until ctx ends; nil means a timer.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
	// Notes are copied into the test keys (e.g. no domestic canaries).
	Notes []string
}

// Measurer runs the connectivity test. It is safe for concurrent use.
type Measurer struct {
	cfg      Config
	canaries []Canary
	probes   primitives
	sys      System
	resolver string
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	logger   *slog.Logger
	notes    []string
}

var _ nettests.Measurer = (*Measurer)(nil)

// ErrInput is returned when the test is given an input: it measures the network.
var ErrInput = errors.New("connectivity: takes no input")

// New builds the measurer for a run: canaries from cfg.Canaries when set, else the
// embedded defaults for cfg.Country; netx primitives from env.Netx.
func New(env *nettests.Env, cfg Config) (*Measurer, error) {
	opts, err := optionsFor(env, cfg)
	if err != nil {
		return nil, err
	}
	return newMeasurer(opts), nil
}

func optionsFor(env *nettests.Env, cfg Config) (options, error) {
	opts := options{System: HostSystem(), Resolver: cfg.Resolver, Config: cfg}
	var netxCfg *netx.Client
	cc, lists := cfg.Country, cfg.Canaries
	if env != nil {
		netxCfg, opts.Now, opts.Logger = env.Netx, env.Now, env.Logger
	}
	if netxCfg != nil && opts.Resolver == "" {
		opts.Resolver = netxCfg.Resolver
	}
	var err error
	opts.Canaries, err = chooseCanaries(cc, lists.Domestic, lists.Allowlisted, lists.Foreign)
	if err != nil {
		return options{}, fmt.Errorf("connectivity: canaries: %w", err)
	}
	switch {
	case !hasClass(opts.Canaries, ClassDomestic) && !hasClass(opts.Canaries, ClassAllowlisted):
		opts.Notes = append(opts.Notes, "no domestic canaries (country "+orUnknown(cc)+"): an allowlist phase reads as a full shutdown")
	case !hasClass(opts.Canaries, ClassAllowlisted):
		opts.Notes = append(opts.Notes, "no allowlisted canaries: an allowlist that spares only services such as banks and state portals reads as a full shutdown")
	}
	opts.Config = opts.Config.withDefaults()
	opts.primitives = netxPrimitives(netxCfg, opts.Config.AttemptTimeout)
	return opts, nil
}

// Canaries returns the canaries a check with cfg probes: cfg.Canaries when set,
// else the embedded sets for cfg.Country (chooseCanaries says how they combine). A
// bad entry is an error naming it.
func Canaries(cfg Config) ([]Canary, error) {
	cs, err := chooseCanaries(cfg.Country, cfg.Canaries.Domestic, cfg.Canaries.Allowlisted, cfg.Canaries.Foreign)
	if err != nil {
		return nil, fmt.Errorf("connectivity: canaries: %w", err)
	}
	return cs, nil
}

// chooseCanaries applies the [canaries] configuration: a configuration that lists
// domestic or foreign canaries replaces every embedded set, its allowlisted ones
// included (only its own allowlisted list is used: a lab or a test must not
// probe real names it did not list); otherwise the embedded sets for cc are used,
// with the configured allowlisted list, when set, replacing the embedded one.
func chooseCanaries(cc string, domestic, allowlisted, foreign []string) ([]Canary, error) {
	if len(domestic)+len(foreign) > 0 {
		return ParseCanarySets(domestic, allowlisted, foreign)
	}
	embedded, err := DefaultCanaries(cc)
	if err != nil || len(allowlisted) == 0 {
		return embedded, err
	}
	configured, err := ParseCanarySets(nil, allowlisted, nil)
	if err != nil {
		return nil, err
	}
	var out []Canary
	for _, c := range embedded {
		if c.Class != ClassAllowlisted {
			out = append(out, c)
		}
	}
	return append(out, configured...), nil
}

// newMeasurer builds a measurer from explicit options (tests inject fakes here).
func newMeasurer(o options) *Measurer {
	m := &Measurer{
		cfg: o.Config.withDefaults(), canaries: o.Canaries, probes: o.primitives, sys: o.System,
		resolver: o.Resolver, now: o.Now, sleep: o.Sleep, logger: o.Logger, notes: o.Notes,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.sleep == nil {
		m.sleep = clock.Sleep
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	if m.sys.Interfaces == nil || m.sys.ReadFile == nil {
		m.sys = HostSystem()
	}
	m.probes = m.probes.orNetx(m.cfg.AttemptTimeout)
	return m
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// Canaries returns the canaries the measurer probes.
func (m *Measurer) Canaries() []Canary { return append([]Canary{}, m.canaries...) }

// Run performs one check: local checks, canary rounds, a throughput probe when
// canaries answer, then the verdict. Network failures are results; the only errors
// are an input (this test takes none) and an interruption before the first round.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	if input != "" {
		return nil, fmt.Errorf("%w (got %q)", ErrInput, input)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, m.cfg.MaxDuration)
	defer cancel()
	start := m.now()
	local := LocalChecks{}
	checkLink(m.sys, &local)
	cfg := m.cfg
	if linkMissing(local) {
		// The kernel refuses every connect at once without a link or a route: one
		// round proves it, and a check under isolation must end quickly.
		cfg.Rounds, cfg.Attempts, cfg.RoundSpacing = 1, 1, 0
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.checkFirstHopAndResolver(ctx, trace, &local)
	}()
	runs := newCanaryRuns(m.canaries)
	var pulses []Pulse
	var watch *pulseWatch // nil without pulses: no early stop
	pctx, stopPulses := context.WithCancel(ctx)
	if cfg.PulseInterval > 0 && !linkMissing(local) {
		targets := newPulseTargets(m.canaries)
		for i, r := range runs {
			r.learn = func(addr string) { targets.learn(i, addr) }
		}
		watch = &pulseWatch{}
		wg.Go(func() { pulses = m.runPulses(pctx, trace, targets, cfg.PulseInterval, cfg.PulseTimeout, watch) })
	}
	starts, early := m.runRounds(ctx, trace, runs, cfg.Rounds, cfg.Attempts, cfg.RoundSpacing, watch, max(cfg.EarlyStopWindow, 0))
	stopPulses()
	wg.Wait()
	if len(starts) == 0 && parent.Err() != nil {
		// Interrupted before a single round: there is no evidence to judge, and an
		// empty check must not read as a shutdown.
		return nil, fmt.Errorf("connectivity: interrupted before the first round: %w", parent.Err())
	}
	for _, r := range runs {
		local.Resolver.Answered = local.Resolver.Answered || r.dnsAnswered
		local.FirstHop.Forwards = local.FirstHop.Forwards || answeredRounds(r.out) > 0
	}
	var tp *Throughput
	if !m.cfg.NoThroughput && !linkMissing(local) {
		tp = m.measureThroughput(ctx, trace, runs)
	}
	tk := newTestKeys(trace, local, runs, starts, pulses, tp, cfg)
	tk.Params.EarlyStop = early
	tk.Notes = append(tk.Notes, m.notes...)
	tk.Duration = m.now().Sub(start).Seconds()
	m.logger.Info("connectivity", "verdict", tk.Verdict, "reason", tk.Reason, "seconds", tk.Duration)
	return tk, nil
}

func (m *Measurer) checkFirstHopAndResolver(ctx context.Context, trace *netx.Trace, local *LocalChecks) {
	local.Resolver.Resolver = orDefault(m.resolver, "system")
	local.Resolver.LocalStub = resolverIsLocalStub(m.resolver, m.sys.ReadFile)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		checkFirstHop(ctx, m.sys, m.probes.DialTCP, m.now, local)
	}()
	// Resolver and gateway fields are disjoint, so the two checks run at once.
	actx, cancel := context.WithTimeout(ctx, m.cfg.AttemptTimeout)
	defer cancel()
	checkResolverInto(actx, m.probes.Lookup, trace, m.resolverName(), &local.Resolver)
	wg.Wait()
}

// resolverName is the first host canary, else resolverProbeName.
func (m *Measurer) resolverName() string {
	for _, c := range m.canaries {
		if !c.IsLiteral() {
			return c.Host
		}
	}
	return resolverProbeName
}

// linkMissing: the OS says there is no usable interface or no default route.
func linkMissing(l LocalChecks) bool {
	return l.Interface != nil && !*l.Interface || l.DefaultRoute != nil && !*l.DefaultRoute
}

func hasClass(cs []Canary, class string) bool {
	for _, c := range cs {
		if c.Class == class {
			return true
		}
	}
	return false
}

func orUnknown(cc string) string { return orDefault(cc, "unknown") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
