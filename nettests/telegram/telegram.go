// Package telegram implements the telegram nettest: can Telegram's data centres
// and its web client be reached, as OONI's telegram test (ts-020), with a service
// verdict in vantage's vocabulary.
package telegram

import (
	"context"
	_ "embed"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "telegram"

// Version is the test_version.
const Version = "0.1.0"

//go:embed data/targets.json
var defaultTargets []byte

// Roles: the app talks to its data centres; the web client is one way in among
// others, so the app works without it.
var Roles = []service.Role{
	{Name: "dc", Label: "data centres", Essential: true},
	{Name: "web", Label: "web client"},
}

// Config tunes the measurer.
type Config struct {
	// Targets is a target file replacing the embedded list ("" keeps it).
	Targets string
	// Parallelism is how many endpoints are measured at once; 0 is the default.
	Parallelism int
}

// TestKeys are the test_keys of one telegram measurement: OONI's keys with OONI's
// meanings, then vantage's service and endpoint verdicts.
type TestKeys struct {
	netx.Events
	service.Keys
	// TelegramTCPBlocking: no data centre accepted a TCP connection (OONI).
	TelegramTCPBlocking bool `json:"telegram_tcp_blocking"`
	// TelegramHTTPBlocking: no data centre answered an HTTP request (OONI).
	TelegramHTTPBlocking bool `json:"telegram_http_blocking"`
	// TelegramWebStatus is "ok" or "blocked"; TelegramWebFailure its failure (OONI).
	TelegramWebStatus  string  `json:"telegram_web_status"`
	TelegramWebFailure *string `json:"telegram_web_failure"`
}

// Measurer runs the telegram nettest.
type Measurer struct{ base *service.Base }

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer; it fails only on a bad target file.
func New(env *nettests.Env, cfg Config) (*Measurer, error) {
	b, err := service.NewBase(Name, env, defaultTargets, cfg.Targets, cfg.Parallelism)
	if err != nil {
		return nil, err
	}
	return &Measurer{base: b}, nil
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// Run measures every target: a plain HTTP request to each data centre address
// (the connect is its first step), and an HTTPS fetch of the web client.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	if err := service.CheckNoInput(Name, input); err != nil {
		return nil, err
	}
	nc := m.base.Netx
	eps := m.base.MeasureAll(ctx, m.base.List.Targets, func(ctx context.Context, t service.Target) service.Observation {
		if t.Role == "web" {
			return service.Fetch(ctx, nc, trace, t, "https", nil)
		}
		return service.Fetch(ctx, nc, trace, t, "http", nil)
	})
	tk := &TestKeys{}
	tk.fillOONI(eps)
	m.base.Finish(ctx, &tk.Keys, Roles, eps)
	tk.Events = trace.Events()
	return tk, nil
}

// fillOONI sets OONI's keys from the raw observations, before any verdict: OONI
// calls the data centres blocked only when every one of them fails.
func (tk *TestKeys) fillOONI(eps []service.Endpoint) {
	connected, answered, dcs := 0, 0, 0
	tk.TelegramWebStatus = "ok"
	for _, e := range eps {
		if e.Role == "web" {
			if e.Failure != nil {
				tk.TelegramWebStatus, tk.TelegramWebFailure = "blocked", e.Failure
			}
			continue
		}
		dcs++
		if e.Failure == nil {
			answered++
		}
		if e.Failure == nil || (e.FailedOperation != nil && *e.FailedOperation != "connect" && *e.FailedOperation != "resolve") {
			connected++
		}
	}
	tk.TelegramTCPBlocking = dcs > 0 && connected == 0
	tk.TelegramHTTPBlocking = dcs > 0 && answered == 0
}

// SkippedTestKeys are the keys of a measurement not made because the network was
// down: inconclusive with the network's reason, OONI's keys at their zero values.
func SkippedTestKeys(reason string) *TestKeys {
	return &TestKeys{Events: service.EmptyEvents(), Keys: service.Skipped(reason)}
}
