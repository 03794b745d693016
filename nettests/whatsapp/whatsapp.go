// Package whatsapp implements the whatsapp nettest: can WhatsApp's chat
// endpoints, its registration server and its web client be reached, as OONI's
// whatsapp test (ts-018), with a service verdict in vantage's vocabulary.
package whatsapp

import (
	"context"
	_ "embed"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "whatsapp"

// Version is the test_version.
const Version = "0.1.0"

//go:embed data/targets.json
var defaultTargets []byte

// Roles: messages go through the chat endpoints; registering a new number and
// the web client are needed by some users only.
var Roles = []service.Role{
	{Name: "chat", Label: "chat endpoints", Essential: true},
	{Name: "registration", Label: "registration server"},
	{Name: "web", Label: "web client"},
}

// Config tunes the measurer.
type Config struct {
	// Targets is a target file replacing the embedded list ("" keeps it).
	Targets string
	// Parallelism is how many endpoints are measured at once; 0 is the default.
	Parallelism int
}

// TestKeys are the test_keys of one whatsapp measurement: OONI's keys with OONI's
// meanings, then vantage's service and endpoint verdicts.
type TestKeys struct {
	netx.Events
	service.Keys
	// WhatsappEndpointsStatus is "blocked" when no chat endpoint accepted a
	// connection, else "ok" (OONI: one endpoint failing is no blocking).
	WhatsappEndpointsStatus string `json:"whatsapp_endpoints_status"`
	// WhatsappEndpointsBlocked lists the chat endpoints that failed (OONI).
	WhatsappEndpointsBlocked []string `json:"whatsapp_endpoints_blocked"`
	// WhatsappEndpointsDNSInconsistent stays empty: OONI dropped the address
	// check, whose prefixes went stale (probe-engine#341).
	WhatsappEndpointsDNSInconsistent []string `json:"whatsapp_endpoints_dns_inconsistent"`
	RegistrationServerStatus         string   `json:"registration_server_status"`
	RegistrationServerFailure        *string  `json:"registration_server_failure"`
	WhatsappWebStatus                string   `json:"whatsapp_web_status"`
	WhatsappWebFailure               *string  `json:"whatsapp_web_failure"`
}

// Measurer runs the whatsapp nettest.
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

// Run connects to every chat endpoint and fetches the registration server and the
// web client over HTTPS.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	if err := service.CheckNoInput(Name, input); err != nil {
		return nil, err
	}
	nc := m.base.Netx
	eps := m.base.MeasureAll(ctx, m.base.List.Targets, func(ctx context.Context, t service.Target) service.Observation {
		if t.Role == "chat" {
			return service.Connect(ctx, nc, trace, t)
		}
		return service.Fetch(ctx, nc, trace, t, "https", nil)
	})
	tk := &TestKeys{}
	tk.fillOONI(eps)
	m.base.Finish(ctx, &tk.Keys, Roles, eps)
	tk.Events = trace.Events()
	return tk, nil
}

// fillOONI sets OONI's keys from the raw observations, before any verdict.
func (tk *TestKeys) fillOONI(eps []service.Endpoint) {
	tk.WhatsappEndpointsBlocked, tk.WhatsappEndpointsDNSInconsistent = []string{}, []string{}
	tk.RegistrationServerStatus, tk.WhatsappWebStatus = "ok", "ok"
	connected, chat := 0, 0
	for _, e := range eps {
		switch e.Role {
		case "chat":
			chat++
			if e.Failure == nil {
				connected++
			} else {
				tk.WhatsappEndpointsBlocked = append(tk.WhatsappEndpointsBlocked, e.ID)
			}
		case "registration":
			if e.Failure != nil {
				tk.RegistrationServerStatus, tk.RegistrationServerFailure = "blocked", e.Failure
			}
		case "web":
			if e.Failure != nil {
				tk.WhatsappWebStatus, tk.WhatsappWebFailure = "blocked", e.Failure
			}
		}
	}
	tk.WhatsappEndpointsStatus = "ok"
	if chat > 0 && connected == 0 {
		tk.WhatsappEndpointsStatus = "blocked"
	}
}

// SkippedTestKeys are the keys of a measurement not made because the network was
// down: inconclusive with the network's reason, OONI's keys at their zero values.
func SkippedTestKeys(reason string) *TestKeys {
	return &TestKeys{Events: service.EmptyEvents(), Keys: service.Skipped(reason)}
}
