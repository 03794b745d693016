// Package dns implements the dns nettest: it resolves one host name (A and AAAA)
// with the configured resolver and records every query, the addresses, the failure
// and whether a UDP query received conflicting duplicate replies (injection).
package dns

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "dns"

// Version is the test_version.
const Version = "0.1.0"

// Config tunes the measurer.
type Config struct {
	// Resolver is the resolver URL ("system", "udp://IP:PORT", "tcp://IP:PORT",
	// "tls://HOST:PORT", "https://HOST/PATH"); "" means the environment's.
	Resolver string
	// DNS tunes the lookup (the UDP duplicate window, the reply cap); the zero value
	// keeps netx's defaults.
	DNS netx.DNSOptions
}

// TestKeys are the test_keys of one dns measurement.
type TestKeys struct {
	Hostname    string               `json:"hostname"`
	ResolverURL string               `json:"resolver_url"`
	Engine      string               `json:"engine"`
	Queries     []netx.DNSQueryEvent `json:"queries"`
	Addrs       []string             `json:"addrs"`
	Rcode       int                  `json:"rcode"`
	Failure     *string              `json:"failure"`
	// XInjected is true when a UDP query received two valid replies with different
	// data: the evidence of on-path DNS injection.
	XInjected bool `json:"x_injected"`
	// XBogons lists the answered addresses that lie in special-purpose ranges
	// (netx.IsBogon): how censors often block without a blockpage.
	XBogons []string `json:"x_bogons"`
	// XIgnoredReplies counts UDP datagrams dropped as malformed or not matching
	// the query.
	XIgnoredReplies int `json:"x_ignored_replies"`
}

// Measurer runs the dns nettest.
type Measurer struct {
	cfg  Config
	netx *netx.Client
}

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer from the environment: the resolver is env.Netx.Resolver,
// else the system's.
func New(env *nettests.Env) (*Measurer, error) {
	return NewWithConfig(env, Config{})
}

// NewWithConfig builds a measurer with an explicit configuration.
func NewWithConfig(env *nettests.Env, cfg Config) (*Measurer, error) {
	nc := &netx.Client{}
	if env != nil && env.Netx != nil {
		nc = env.Netx
	}
	if cfg.Resolver == "" {
		cfg.Resolver = nc.Resolver
	}
	if cfg.Resolver == "" {
		cfg.Resolver = netx.EngineSystem
	}
	if err := netx.CheckResolverURL(cfg.Resolver); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return &Measurer{cfg: cfg, netx: nc}, nil
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// Run resolves the host of input (a host name, an IP literal or a URL). It returns
// an error only for input it cannot use; a failed lookup is a result.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	host, err := HostOf(input)
	if err != nil {
		return nil, err
	}
	if trace == nil {
		trace = netx.NewTrace(time.Now(), nil)
	}
	tk := &TestKeys{Hostname: host, ResolverURL: m.cfg.Resolver, Addrs: []string{}, XBogons: []string{}}
	res, err := m.netx.LookupWithOptions(ctx, trace, m.cfg.Resolver, host, m.cfg.DNS)
	if res == nil { // only bad input yields no result; HostOf checked the host
		return nil, fmt.Errorf("dns: %w", err)
	}
	tk.Engine, tk.Rcode, tk.Failure = res.Engine, res.Rcode, res.Failure
	tk.XInjected, tk.XIgnoredReplies = res.Injected, res.Ignored
	tk.Addrs = append(tk.Addrs, res.Addrs...)
	for _, a := range res.Addrs {
		if netx.IsBogonString(a) {
			tk.XBogons = append(tk.XBogons, a)
		}
	}
	tk.Queries = trace.Events().Queries
	return tk, nil
}

// HostOf returns the host name input names: input itself, or the host of a URL.
func HostOf(input string) (string, error) {
	host := strings.TrimSpace(input)
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil {
			return "", fmt.Errorf("dns: %w", err)
		}
		host = u.Hostname()
	}
	if err := netx.CheckHostname(host); err != nil {
		return "", fmt.Errorf("dns: %w", err)
	}
	return host, nil
}
