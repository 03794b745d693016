// Package tor implements the tor nettest: can the Tor directory authorities (OR
// and dir ports) and the configured bridges be reached, as OONI's tor test
// (ts-023), with per-target verdicts and a service verdict.
package tor

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"strconv"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "tor"

// Version is the test_version.
const Version = "0.1.0"

//go:embed data/targets.json
var defaultTargets []byte

// Target protocols (roles), as OONI's target_protocol.
const (
	ProtocolORPortDirauth = "or_port_dirauth"
	ProtocolDirPort       = "dir_port"
	ProtocolORPort        = "or_port"
	ProtocolOBFS4         = "obfs4"
)

// Roles: Tor bootstraps from the authorities (their OR ports, or their dir ports
// for the consensus); bridges are the way around a blocked authority list.
var Roles = []service.Role{
	{Name: ProtocolORPortDirauth, Label: "directory authorities", Essential: true},
	{Name: ProtocolDirPort, Label: "authority dir ports"},
	{Name: ProtocolORPort, Label: "bridges"},
	{Name: ProtocolOBFS4, Label: "obfs4 bridges"},
}

// OBFS4Step says how far an obfs4 bridge is measured: no well-kept Go obfs4
// implementation is available to vantage, so only the TCP connect is made.
const OBFS4Step = "tcp_connect_only"

// Config tunes the measurer.
type Config struct {
	// Targets is a target file replacing the embedded list ("" keeps it): the
	// place for bridges.
	Targets string
	// Parallelism is how many endpoints are measured at once; 0 is the default.
	Parallelism int
}

// Target is one entry of OONI's targets map.
type Target struct {
	Failure        *string `json:"failure"`
	TargetAddress  string  `json:"target_address"`
	TargetName     string  `json:"target_name"`
	TargetProtocol string  `json:"target_protocol"`
	TargetSource   string  `json:"target_source"`
}

// TestKeys are the test_keys of one tor measurement: OONI's keys with OONI's
// meanings (the events are at the top level rather than per target), then
// vantage's service and endpoint verdicts.
type TestKeys struct {
	netx.Events
	service.Keys
	Targets                 map[string]Target `json:"targets"`
	DirPortTotal            int               `json:"dir_port_total"`
	DirPortAccessible       int               `json:"dir_port_accessible"`
	OBFS4Total              int               `json:"obfs4_total"`
	OBFS4Accessible         int               `json:"obfs4_accessible"`
	ORPortDirauthTotal      int               `json:"or_port_dirauth_total"`
	ORPortDirauthAccessible int               `json:"or_port_dirauth_accessible"`
	ORPortTotal             int               `json:"or_port_total"`
	ORPortAccessible        int               `json:"or_port_accessible"`
	// XOBFS4Step is OBFS4Step: obfs4_accessible counts TCP connects only.
	XOBFS4Step string `json:"x_obfs4_step"`
}

// ServiceDetail is the summary's count of reachable authorities.
func (tk *TestKeys) ServiceDetail() string {
	return fmt.Sprintf("%d/%d authorities reachable", tk.ORPortDirauthAccessible, tk.ORPortDirauthTotal)
}

// Measurer runs the tor nettest.
type Measurer struct{ base *service.Base }

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer; it fails only on a bad target file.
func New(env *nettests.Env, cfg Config) (*Measurer, error) {
	b, err := service.NewBase(Name, env, defaultTargets, cfg.Targets, cfg.Parallelism)
	if err != nil {
		return nil, err
	}
	for _, t := range b.List.Targets {
		if !knownProtocol(t.Role) {
			return nil, fmt.Errorf("tor: target %q: role %q is not one of or_port_dirauth, dir_port, or_port, obfs4", t.ID, t.Role)
		}
	}
	return &Measurer{base: b}, nil
}

func knownProtocol(role string) bool {
	for _, r := range Roles {
		if r.Name == role {
			return true
		}
	}
	return false
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// Run measures every target: a TLS handshake with an OR port (a relay's link
// certificate is self-signed, so a completed handshake is success), an HTTP GET
// of the consensus from a dir port, a TCP connect to an obfs4 bridge.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	if err := service.CheckNoInput(Name, input); err != nil {
		return nil, err
	}
	nc := m.base.Netx
	targets := m.base.List.Targets
	eps := m.base.MeasureAll(ctx, targets, func(ctx context.Context, t service.Target) service.Observation {
		switch t.Role {
		case ProtocolDirPort:
			return service.Fetch(ctx, nc, trace, t, "http", nil)
		case ProtocolOBFS4:
			return service.Connect(ctx, nc, trace, t)
		}
		return service.HandshakeUnverified(ctx, nc, trace, t)
	})
	tk := &TestKeys{Targets: map[string]Target{}, XOBFS4Step: OBFS4Step}
	for i, e := range eps {
		tk.count(targets[i], e)
	}
	m.base.Finish(ctx, &tk.Keys, Roles, eps)
	tk.Events = trace.Events()
	return tk, nil
}

// count adds one target to OONI's totals and targets map.
func (tk *TestKeys) count(t service.Target, e service.Endpoint) {
	ok := 0
	if e.Failure == nil {
		ok = 1
	}
	switch t.Role {
	case ProtocolDirPort:
		tk.DirPortTotal, tk.DirPortAccessible = tk.DirPortTotal+1, tk.DirPortAccessible+ok
	case ProtocolOBFS4:
		tk.OBFS4Total, tk.OBFS4Accessible = tk.OBFS4Total+1, tk.OBFS4Accessible+ok
	case ProtocolORPortDirauth:
		tk.ORPortDirauthTotal, tk.ORPortDirauthAccessible = tk.ORPortDirauthTotal+1, tk.ORPortDirauthAccessible+ok
	case ProtocolORPort:
		tk.ORPortTotal, tk.ORPortAccessible = tk.ORPortTotal+1, tk.ORPortAccessible+ok
	}
	tk.Targets[t.ID] = Target{Failure: e.Failure, TargetAddress: net.JoinHostPort(t.Host, strconv.Itoa(t.Port)),
		TargetName: t.ID, TargetProtocol: t.Role, TargetSource: t.Source}
}

// SkippedTestKeys are the keys of a measurement not made because the network was
// down: inconclusive with the network's reason, OONI's counts at zero.
func SkippedTestKeys(reason string) *TestKeys {
	return &TestKeys{Events: service.EmptyEvents(), Keys: service.Skipped(reason), Targets: map[string]Target{}, XOBFS4Step: OBFS4Step}
}
