// Package dnscheck implements the dnscheck nettest: can the well-known encrypted
// resolvers (DNS over HTTPS and over TLS) be used from this network, and do their
// answers agree with each other; OONI's dnscheck test (ts-028) measures one
// resolver per input, this one the whole list, with a service verdict.
package dnscheck

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "dnscheck"

// Version is the test_version.
const Version = "0.1.0"

//go:embed data/targets.json
var defaultTargets []byte

// Config tunes the measurer.
type Config struct {
	// Targets is a target file replacing the embedded list ("" keeps it): one
	// target per resolver (a path makes it DoH, none DoT), its names the test names.
	Targets string
	// Parallelism is how many resolvers are measured at once; 0 is the default.
	Parallelism int
}

// Lookup is one name as one resolver answered it.
type Lookup struct {
	Addrs   []string `json:"addrs"`
	Failure *string  `json:"failure"`
	// Consistent: the answer shares an address with another resolver's answer
	// for the name (null when no other resolver answered it).
	Consistent *bool `json:"consistent"`
}

// Resolver is one resolver's view of the test names.
type Resolver struct {
	URL     string            `json:"url"`
	Lookups map[string]Lookup `json:"lookups"`
}

// TestKeys are the test_keys of one dnscheck measurement: OONI's domain and
// lookups (every query, by resolver URL), vantage's per-resolver answers and the
// local resolver's, then vantage's service and endpoint verdicts.
type TestKeys struct {
	netx.Events
	service.Keys
	Domain  string                          `json:"domain"`
	Lookups map[string][]netx.DNSQueryEvent `json:"lookups"`
	// Resolvers are the encrypted resolvers' answers, by target id.
	Resolvers map[string]Resolver `json:"x_resolvers"`
	// Local is the probe's own resolver (the configured one, else the system's),
	// compared with the encrypted ones: inconsistent there and consistent among
	// them is DNS censorship that encrypted DNS escapes.
	Local Resolver `json:"x_local"`
	// LocalConsistent is false when some name's local answer shares no address
	// with any encrypted resolver's; null when nothing could be compared.
	LocalConsistent *bool `json:"x_local_consistent"`
	usable, total   int
}

// ServiceDetail is the summary's count of usable resolvers.
func (tk *TestKeys) ServiceDetail() string {
	return fmt.Sprintf("%d/%d encrypted resolvers usable", tk.usable, tk.total)
}

// Measurer runs the dnscheck nettest.
type Measurer struct {
	base  *service.Base
	roles []service.Role
}

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer; it fails only on a bad target file.
func New(env *nettests.Env, cfg Config) (*Measurer, error) {
	b, err := service.NewBase(Name, env, defaultTargets, cfg.Targets, cfg.Parallelism)
	if err != nil {
		return nil, err
	}
	if len(b.List.Names) == 0 {
		return nil, fmt.Errorf("dnscheck: the target list has no names to look up")
	}
	// Each resolver is its own role, none essential: any one usable resolver is
	// an escape, and a DoH endpoint failing says nothing of another provider's.
	m := &Measurer{base: b}
	seen := map[string]bool{}
	for _, t := range b.List.Targets {
		if !seen[t.Role] {
			seen[t.Role] = true
			m.roles = append(m.roles, service.Role{Name: t.Role, Label: t.Role})
		}
	}
	return m, nil
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// resolverURL is the netx resolver URL of a target: DoH when it has a path.
func resolverURL(t service.Target) string {
	hostport := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	if t.Path != "" {
		u := url.URL{Scheme: "https", Host: hostport, Path: t.Path}
		if t.Port == 443 {
			u.Host = t.Host
		}
		return u.String()
	}
	return "tls://" + hostport
}

// pinned is nc dialling t.Addr whenever asked for t's host and port (the lab's
// addresses): DoH and DoT then keep t.Host as SNI and in the URL.
func pinned(nc *netx.Client, t service.Target) *netx.Client {
	if t.Addr == "" {
		return nc
	}
	c := *nc
	base, from := nc.Dialer(), net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	to := net.JoinHostPort(t.Addr, strconv.Itoa(t.Port))
	c.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		if address == from {
			address = to
		}
		return base(ctx, network, address)
	}
	return &c
}
