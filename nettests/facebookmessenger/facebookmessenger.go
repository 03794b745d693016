// Package facebookmessenger implements the facebook_messenger nettest: do
// Messenger's hosts resolve to Facebook's addresses and can they be reached, as
// OONI's facebook_messenger test (ts-019), with a service verdict in vantage's
// vocabulary.
package facebookmessenger

import (
	"context"
	_ "embed"
	"net/netip"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "facebook_messenger"

// Version is the test_version.
const Version = "0.1.0"

//go:embed data/targets.json
var defaultTargets []byte

// Roles: the app's API and MQTT edge carry messages; the CDNs carry media; the
// STUN host (calls, over UDP) is only resolved, as OONI does.
var Roles = []service.Role{
	{Name: "api", Label: "API and chat hosts", Essential: true},
	{Name: "cdn", Label: "media CDNs"},
	{Name: "stun", Label: "STUN host"},
}

// Config tunes the measurer.
type Config struct {
	// Targets is a target file replacing the embedded list ("" keeps it); its
	// prefixes are the service's addresses.
	Targets string
	// Parallelism is how many endpoints are measured at once; 0 is the default.
	Parallelism int
}

// TestKeys are the test_keys of one facebook_messenger measurement: OONI's keys
// with OONI's meanings, then vantage's service and endpoint verdicts.
type TestKeys struct {
	netx.Events
	service.Keys
	// Per host, OONI's pair: the DNS answers all inside Facebook's addresses
	// (null when not measured), and a TCP connection accepted (null when the
	// answers were inconsistent: OONI does not connect to them).
	FacebookBAPIDNSConsistent        *bool `json:"facebook_b_api_dns_consistent"`
	FacebookBAPIReachable            *bool `json:"facebook_b_api_reachable"`
	FacebookBGraphDNSConsistent      *bool `json:"facebook_b_graph_dns_consistent"`
	FacebookBGraphReachable          *bool `json:"facebook_b_graph_reachable"`
	FacebookEdgeDNSConsistent        *bool `json:"facebook_edge_dns_consistent"`
	FacebookEdgeReachable            *bool `json:"facebook_edge_reachable"`
	FacebookExternalCDNDNSConsistent *bool `json:"facebook_external_cdn_dns_consistent"`
	FacebookExternalCDNReachable     *bool `json:"facebook_external_cdn_reachable"`
	FacebookScontentCDNDNSConsistent *bool `json:"facebook_scontent_cdn_dns_consistent"`
	FacebookScontentCDNReachable     *bool `json:"facebook_scontent_cdn_reachable"`
	FacebookStarDNSConsistent        *bool `json:"facebook_star_dns_consistent"`
	FacebookStarReachable            *bool `json:"facebook_star_reachable"`
	FacebookSTUNDNSConsistent        *bool `json:"facebook_stun_dns_consistent"`
	FacebookSTUNReachable            *bool `json:"facebook_stun_reachable"`
	// FacebookDNSBlocking: some host's answers were not Facebook's (OONI).
	FacebookDNSBlocking *bool `json:"facebook_dns_blocking"`
	// FacebookTCPBlocking: some host with consistent answers refused TCP (OONI).
	FacebookTCPBlocking *bool `json:"facebook_tcp_blocking"`
}

// Measurer runs the facebook_messenger nettest.
type Measurer struct {
	base     *service.Base
	prefixes []netip.Prefix
}

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer; it fails only on a bad target file.
func New(env *nettests.Env, cfg Config) (*Measurer, error) {
	b, err := service.NewBase(Name, env, defaultTargets, cfg.Targets, cfg.Parallelism)
	if err != nil {
		return nil, err
	}
	m := &Measurer{base: b}
	for _, p := range b.List.Prefixes {
		m.prefixes = append(m.prefixes, netip.MustParsePrefix(p).Masked()) // checked by service.Parse
	}
	return m, nil
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// Run resolves every host and handshakes TLS with the API and CDN hosts on 443.
// An answer outside Facebook's addresses is not blocking by itself: an ISP cache
// or a new block serves a chain that verifies for the name, and then the host is
// reached (ok); only when that endpoint then fails is it dns.inconsistent.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	if err := service.CheckNoInput(Name, input); err != nil {
		return nil, err
	}
	nc := m.base.Netx
	eps := m.base.MeasureAll(ctx, m.base.List.Targets, func(ctx context.Context, t service.Target) service.Observation {
		if t.Role == "stun" {
			return service.Resolve(ctx, nc, trace, t)
		}
		return service.Handshake(ctx, nc, trace, t, nil, []string{"h2", "http/1.1"})
	})
	for i := range eps {
		if len(eps[i].Addrs) > 0 {
			c := m.consistent(eps[i].Addrs)
			eps[i].DNSConsistent = &c
		}
	}
	tk := &TestKeys{}
	tk.fillOONI(eps)
	m.base.Finish(ctx, &tk.Keys, Roles, eps)
	tk.Events = trace.Events()
	return tk, nil
}

// consistent reports whether every address is inside the service's prefixes.
func (m *Measurer) consistent(addrs []string) bool {
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || !m.inPrefixes(ip.Unmap()) {
			return false
		}
	}
	return true
}

func (m *Measurer) inPrefixes(ip netip.Addr) bool {
	for _, p := range m.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// fillOONI sets OONI's keys from the raw observations, before any verdict.
func (tk *TestKeys) fillOONI(eps []service.Endpoint) {
	dnsBlocking, tcpBlocking := false, false
	for _, e := range eps {
		dnsOK, reach := hostKeys(e)
		if dnsOK != nil && !*dnsOK {
			dnsBlocking = true
		}
		if reach != nil && !*reach {
			tcpBlocking = true
		}
		if d, r := tk.slots(e.ID); d != nil {
			*d, *r = dnsOK, reach
		}
	}
	tk.FacebookDNSBlocking, tk.FacebookTCPBlocking = &dnsBlocking, &tcpBlocking
}

// hostKeys is OONI's pair for one host: DNS consistent (false also when the lookup
// failed), and reachable when consistent and connected to (nil for STUN, which
// OONI only resolves).
func hostKeys(e service.Endpoint) (dnsOK, reach *bool) {
	failedAt := ""
	if e.FailedOperation != nil {
		failedAt = *e.FailedOperation
	}
	consistent := failedAt != "resolve" && e.DNSConsistent != nil && *e.DNSConsistent
	if !consistent || e.Role == "stun" {
		return &consistent, nil
	}
	connected := failedAt != "connect"
	return &consistent, &connected
}

// slots returns the OONI keys of a host id, nil for ids OONI does not know.
func (tk *TestKeys) slots(id string) (dns, reach **bool) {
	switch id {
	case "b_api":
		return &tk.FacebookBAPIDNSConsistent, &tk.FacebookBAPIReachable
	case "b_graph":
		return &tk.FacebookBGraphDNSConsistent, &tk.FacebookBGraphReachable
	case "edge":
		return &tk.FacebookEdgeDNSConsistent, &tk.FacebookEdgeReachable
	case "external_cdn":
		return &tk.FacebookExternalCDNDNSConsistent, &tk.FacebookExternalCDNReachable
	case "scontent_cdn":
		return &tk.FacebookScontentCDNDNSConsistent, &tk.FacebookScontentCDNReachable
	case "star":
		return &tk.FacebookStarDNSConsistent, &tk.FacebookStarReachable
	case "stun":
		return &tk.FacebookSTUNDNSConsistent, &tk.FacebookSTUNReachable
	}
	return nil, nil
}

// SkippedTestKeys are the keys of a measurement not made because the network was
// down: inconclusive with the network's reason, OONI's keys at their zero values.
func SkippedTestKeys(reason string) *TestKeys {
	return &TestKeys{Events: service.EmptyEvents(), Keys: service.Skipped(reason)}
}
