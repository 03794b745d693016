// Package webconnectivity implements the web_connectivity nettest: for every URL it
// observes DNS (the configured resolver and a second path), TCP to every address, TLS
// with the URL's name, the HTTP fetch, HTTP/3 when the site speaks it, and a control
// helper's view of the same URL; then it decides a verdict (ok, blocked, throttled,
// intermittent, down, inconclusive) and, when blocked, how. The helper server lives in
// the thserver subpackage, the wire format in thproto.
package webconnectivity

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/report/upload"
)

// Name is the test_name.
const Name = "web_connectivity"

// Version is the test_version.
const Version = "0.1.0"

// Defaults of Config, each with its reason.
const (
	// DefaultRetries: a failing step is tried three times, as the detection-methods
	// notes suggest (≥ 3 tries before calling a TCP or TLS block, §7): one lost
	// packet must not make a verdict.
	DefaultRetries = 3
	// DefaultRetrySpacing spaces the tries past TCP's 1 s initial retransmission
	// timeout (RFC 6298), so a short burst of loss does not hit all of them.
	DefaultRetrySpacing = time.Second
	// DefaultBenignSNI is the name of the SNI swap. example.com is reserved for
	// documentation (RFC 2606, RFC 6761) and run by IANA: no censor has a reason to
	// block it, and it is an ordinary-looking name, so a middlebox that lets it
	// through while cutting the target's name shows it filters by SNI.
	DefaultBenignSNI = "example.com"
	// DefaultURLBudget bounds one URL, whatever happens: OONI v0.4's per-URL cap
	// (ooni-design.md §2.1). A black-holed URL ends far sooner (docs/methodology.md).
	DefaultURLBudget = 60 * time.Second
	// DefaultMaxAddresses bounds the addresses measured per URL: a censor's answer
	// or a CDN rarely has more, and each costs a connect and a handshake.
	DefaultMaxAddresses = 8
	// DefaultValidationPort is where an http:// URL's addresses are checked with a
	// TLS handshake for the name (OONI LTE's extension E001).
	DefaultValidationPort = "443"
)

// LookupFunc resolves host with the resolver named by resolverURL. It is injected so
// tests can script exact DNS outcomes; the default is nc.Lookup.
type LookupFunc func(ctx context.Context, nc *netx.Client, trace *netx.Trace, resolverURL, host string) (*netx.DNSResult, error)

// Config tunes the measurer; registry.WebConnectivityConfig fills it from the
// configuration file.
type Config struct {
	Helpers        []string      // control helper URLs, tried in order
	SecondResolver string        // "" for none
	Retries        int           // tries per failing step
	RetrySpacing   time.Duration // wait between tries
	BenignSNI      string        // the SNI swap's name
	Timeouts       TimeoutPolicy // adaptive step timeouts
	ControlBudget  time.Duration // all helpers together
	// MaxControlInFlight bounds concurrent control requests; 0 = DefaultMaxControlInFlight.
	MaxControlInFlight int
	URLBudget          time.Duration // one URL in total
	MaxAddresses       int
	ValidationPort     string
	QUIC               bool // try HTTP/3 where the site or the control says it speaks it
	// LabAllowPrivate: loopback and private DNS answers are not bogons, because the
	// lab's (or the test's) internet is private. Never set for a real network.
	LabAllowPrivate bool
	// ControlClient talks to the helpers; nil builds one trusting Netx.Roots.
	ControlClient *http.Client
	// ControlRoutes are helpers reached through a front or a proxy (the routes
	// of report/upload); the built ControlClient carries them, and each one's
	// upload.RouteBase is in Helpers.
	ControlRoutes []upload.Route
	// Lookup resolves names; nil means netx.Client.Lookup.
	Lookup LookupFunc
	// Fingerprints are the blockpage and interceptor fingerprints; nil: embedded.
	Fingerprints *Fingerprints
}

// FixedTimeouts is the policy of a configured step timeout ([run] timeout): every
// step gets t, never less than the floor.
func FixedTimeouts(t time.Duration) TimeoutPolicy {
	return TimeoutPolicy{Initial: t, Floor: timeoutFloor, Ceiling: t}
}

func (c *Config) fillDefaults(env *nettests.Env) {
	if c.Retries <= 0 {
		c.Retries = DefaultRetries
	}
	if c.RetrySpacing <= 0 {
		c.RetrySpacing = DefaultRetrySpacing
	}
	if c.BenignSNI == "" {
		c.BenignSNI = DefaultBenignSNI
	}
	if c.Timeouts.Initial <= 0 {
		c.Timeouts.Initial = defaultInitialTimeout
	}
	if c.Timeouts.Floor <= 0 {
		c.Timeouts.Floor = timeoutFloor
	}
	if c.Timeouts.Ceiling <= 0 {
		c.Timeouts.Ceiling = timeoutCeiling
	}
	if c.ControlBudget <= 0 {
		c.ControlBudget = defaultControlBudget
	}
	if c.MaxControlInFlight <= 0 {
		c.MaxControlInFlight = DefaultMaxControlInFlight
	}
	if c.URLBudget <= 0 {
		c.URLBudget = DefaultURLBudget
	}
	if c.MaxAddresses <= 0 {
		c.MaxAddresses = DefaultMaxAddresses
	}
	if c.ValidationPort == "" {
		c.ValidationPort = DefaultValidationPort
	}
	if c.Lookup == nil {
		c.Lookup = func(ctx context.Context, nc *netx.Client, trace *netx.Trace, resolverURL, host string) (*netx.DNSResult, error) {
			return nc.Lookup(ctx, trace, resolverURL, host)
		}
	}
	if c.Fingerprints == nil {
		c.Fingerprints = DefaultFingerprints()
	}
}

// buildControlClient is the default ControlClient: it trusts Netx.Roots and
// carries the ControlRoutes.
func (c *Config) buildControlClient(env *nettests.Env) error {
	if c.ControlClient != nil {
		return nil
	}
	base := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: env.Netx.Roots},
		TLSHandshakeTimeout: perHelperBudget,
		MaxIdleConnsPerHost: c.MaxControlInFlight, // one reusable connection per request slot
		ForceAttemptHTTP2:   true,
	}
	var rt http.RoundTripper = base
	if len(c.ControlRoutes) > 0 {
		routes, err := upload.NewRouteTransport(c.ControlRoutes, base)
		if err != nil {
			return fmt.Errorf("webconnectivity: helper routes: %w", err)
		}
		rt = routes
	}
	c.ControlClient = &http.Client{
		Transport: rt,
		// A helper answers where it is asked; a redirect is a failure, not a
		// pointer to follow somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return nil
}

// Measurer measures URLs. One Measurer serves a whole run and Run is called
// concurrently: the RTT estimator behind the adaptive timeouts is run-wide.
type Measurer struct {
	env     *nettests.Env
	cfg     Config
	rtt     *RTTEstimator
	tput    *throughputs
	control *controlClient

	mu        sync.Mutex
	clientIPs map[string]bool
}

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer with the default configuration (HTTP/3 tried, no helper).
func New(env *nettests.Env) (*Measurer, error) {
	return NewWithConfig(env, Config{QUIC: true})
}

// NewWithConfig builds a measurer with an explicit configuration; the registry
// maps the configuration file into it.
func NewWithConfig(env *nettests.Env, cfg Config) (*Measurer, error) {
	if env == nil {
		return nil, errors.New("webconnectivity: nil environment")
	}
	if env.Netx == nil {
		env.Netx = &netx.Client{}
	}
	cfg.fillDefaults(env)
	if err := cfg.buildControlClient(env); err != nil {
		return nil, err
	}
	return &Measurer{
		env:  env,
		cfg:  cfg,
		rtt:  &RTTEstimator{},
		tput: &throughputs{},
		control: &controlClient{helpers: cfg.Helpers, client: cfg.ControlClient, budget: cfg.ControlBudget,
			slots: make(chan struct{}, cfg.MaxControlInFlight)},
		clientIPs: map[string]bool{},
	}, nil
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// ClientIPs returns every address a helper said the probe came from: the probe's
// public addresses, which the runner must scrub from every measurement.
func (m *Measurer) ClientIPs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.clientIPs))
	for ip := range m.clientIPs {
		out = append(out, ip)
	}
	return out
}

// ErrBadInput is wrapped by Run's error for an input that is not an http(s) URL.
var ErrBadInput = errors.New("webconnectivity: input is not an http:// or https:// URL")

// Run implements nettests.Measurer: it measures one URL and returns *TestKeys.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	u, err := url.Parse(input)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q", ErrBadInput, input)
	}
	if err := netx.CheckHostname(u.Hostname()); err != nil && net.ParseIP(u.Hostname()) == nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadInput, input, err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, m.cfg.URLBudget)
	defer cancel()

	step := m.rtt.StepTimeout(m.cfg.Timeouts)
	nc := *m.env.Netx
	nc.Timeout = step
	canaries := m.watchCanaries(ctx)
	obs := m.observe(ctx, trace, u, &nc)
	obs.NetworkVerdict, obs.Canaries = canaries()
	obs.LabPrivate = m.cfg.LabAllowPrivate
	obs.RunThroughput, obs.RunThroughputSamples = m.tput.median() // the others', before this one's
	m.tput.add(obs.HTTP)
	decision := Decide(obs, m.cfg.Fingerprints)
	if decision.wantsLossSample {
		if sampler, ok := m.env.Network.(lossSampler); ok && ctx.Err() == nil {
			failed, attempts := sampler.CanaryLoss(ctx)
			if attempts > 0 {
				obs.CanaryLoss = &LossSample{Failed: failed, Attempts: attempts}
				decision = Decide(obs, m.cfg.Fingerprints)
			}
		}
	}
	if parent.Err() != nil {
		// The run was cancelled mid-measurement: the failures are ours, not the site's.
		decision = Decision{Verdict: nettests.VerdictInconclusive, Reason: ReasonInterrupted,
			Evidence: Evidence{Detail: "the run was interrupted while this URL was measured"}}
	}
	return m.testKeys(trace, obs, decision, step), nil
}

// lossSampler is a NetworkStatus that can measure, now, the share of canary
// connects that fail (netstate.Status does).
type lossSampler interface {
	CanaryLoss(ctx context.Context) (failed, attempts int)
}

// watchCanaries asks the runner, in the window of this URL's tries, whether canaries
// answer, when the network is known to be partly shut down. The returned func waits
// for the answer and gives the network verdict and the canaries' state.
func (m *Measurer) watchCanaries(ctx context.Context) func() (string, *bool) {
	ns := m.env.Network
	if ns == nil {
		return func() (string, *bool) { return "", nil }
	}
	verdict := ns.Verdict()
	if verdict != nettests.NetworkPartialShutdown {
		return func() (string, *bool) { return verdict, nil }
	}
	done := make(chan bool, 1)
	go func() { done <- ns.CanariesUp(ctx) }()
	return func() (string, *bool) {
		up := <-done
		return verdict, &up
	}
}
