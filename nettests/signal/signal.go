// Package signal implements the signal nettest: can Signal's service hosts be
// reached over TLS chains that reach Signal's own pinned CA, as OONI's signal test
// (ts-029), with a service verdict in vantage's vocabulary.
package signal

import (
	"context"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "signal"

// Version is the test_version.
const Version = "0.1.0"

//go:embed data/targets.json
var defaultTargets []byte

// Roles: the backend carries messages and accounts; the CDNs carry attachments.
var Roles = []service.Role{
	{Name: "backend", Label: "service hosts", Essential: true},
	{Name: "cdn", Label: "attachment CDNs"},
}

// ErrNoPinnedCA: the target list has no usable ca_pem.
var ErrNoPinnedCA = errors.New("signal: the target list's ca_pem holds no certificate")

// Config tunes the measurer.
type Config struct {
	// Targets is a target file replacing the embedded list ("" keeps it); its
	// ca_pem replaces Signal's CA (the lab gives its own).
	Targets string
	// Parallelism is how many endpoints are measured at once; 0 is the default.
	Parallelism int
}

// TestKeys are the test_keys of one signal measurement: OONI's keys with OONI's
// meanings, then vantage's service and endpoint verdicts.
type TestKeys struct {
	netx.Events
	service.Keys
	// SignalBackendStatus is "blocked" when any host failed, else "ok" (OONI);
	// SignalBackendFailure is the failure of the last one that failed.
	SignalBackendStatus  string  `json:"signal_backend_status"`
	SignalBackendFailure *string `json:"signal_backend_failure"`
}

// Measurer runs the signal nettest.
type Measurer struct {
	base *service.Base
	// pinned verifies the backend: Signal's CA alone, so that a root the system
	// trusts (a state CA installed on the device) cannot stand in for it.
	pinned *x509.CertPool
	// cdn verifies the CDNs, served by public CAs: the probe's roots plus Signal's.
	cdn *x509.CertPool
}

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer; it fails on a bad target file or pinned CA.
func New(env *nettests.Env, cfg Config) (*Measurer, error) {
	b, err := service.NewBase(Name, env, defaultTargets, cfg.Targets, cfg.Parallelism)
	if err != nil {
		return nil, err
	}
	pinned := x509.NewCertPool()
	if !pinned.AppendCertsFromPEM([]byte(b.List.CAPEM)) {
		return nil, ErrNoPinnedCA
	}
	cdn, err := cdnRoots(b.Netx.Roots, b.List.CAPEM)
	if err != nil {
		return nil, err
	}
	return &Measurer{base: b, pinned: pinned, cdn: cdn}, nil
}

// cdnRoots is the probe's roots ([tls] roots, else the system's) plus Signal's CA.
func cdnRoots(roots *x509.CertPool, caPEM string) (*x509.CertPool, error) {
	var pool *x509.CertPool
	if roots != nil {
		pool = roots.Clone()
	} else {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("signal: system roots: %w", err)
		}
		pool = sys
	}
	pool.AppendCertsFromPEM([]byte(caPEM))
	return pool, nil
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// Run fetches every host over HTTPS; a chain that does not reach the pinned CA
// fails the handshake (ssl_unknown_authority: tls.mitm).
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	if err := service.CheckNoInput(Name, input); err != nil {
		return nil, err
	}
	nc := m.base.Netx
	eps := m.base.MeasureAll(ctx, m.base.List.Targets, func(ctx context.Context, t service.Target) service.Observation {
		roots := m.pinned
		if t.Role == "cdn" {
			roots = m.cdn
		}
		return service.Fetch(ctx, nc, trace, t, "https", roots)
	})
	tk := &TestKeys{SignalBackendStatus: "ok"}
	for _, e := range eps {
		if e.Failure != nil {
			tk.SignalBackendStatus, tk.SignalBackendFailure = "blocked", e.Failure
		}
	}
	m.base.Finish(ctx, &tk.Keys, Roles, eps)
	tk.Events = trace.Events()
	return tk, nil
}

// SkippedTestKeys are the keys of a measurement not made because the network was
// down: inconclusive with the network's reason, OONI's keys at their zero values.
func SkippedTestKeys(reason string) *TestKeys {
	return &TestKeys{Events: service.EmptyEvents(), Keys: service.Skipped(reason)}
}
