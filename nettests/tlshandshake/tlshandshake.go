// Package tlshandshake implements the tlshandshake nettest: it connects to a
// host:port (or the host of a URL), runs one TLS handshake with the configured
// ClientHello and records the connect, the handshake, the peer chain and whether it
// verifies, as OONI's tlsping/tlshandshake experiments.
package tlshandshake

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "tlshandshake"

// Version is the test_version.
const Version = "0.1.0"

// DefaultALPN is offered when Config.ALPN is empty: what a browser offers, so the
// handshake looks like a real user's.
var DefaultALPN = []string{"h2", "http/1.1"}

// Config tunes the measurer.
type Config struct {
	// SNI replaces the server name taken from the input (to test whether a censor
	// matches on SNI: the same address with an innocuous name). "" keeps the
	// input's host; an IP literal input sends no SNI.
	SNI string
	// ALPN is the list offered; empty means DefaultALPN.
	ALPN []string
}

// TestKeys are the test_keys of one tlshandshake measurement.
type TestKeys struct {
	Host          string                   `json:"host"`
	Port          int                      `json:"port"`
	ServerName    string                   `json:"server_name"`
	Queries       []netx.DNSQueryEvent     `json:"queries"`
	TCPConnect    []netx.TCPConnectEvent   `json:"tcp_connect"`
	TLSHandshakes []netx.TLSHandshakeEvent `json:"tls_handshakes"`
	// Failure is null when the handshake completed and the chain verified; else
	// the failure of the step that failed (dns_*, connect, handshake, or the
	// ssl_* verification failure).
	Failure *string `json:"failure"`
	// XHandshakeCompleted is true when the handshake finished, even if the chain
	// did not verify (then XVerified is false: the chain is the evidence).
	XHandshakeCompleted bool `json:"x_handshake_completed"`
	XVerified           bool `json:"x_verified"`
}

// Measurer runs the tlshandshake nettest.
type Measurer struct {
	cfg  Config
	netx *netx.Client
}

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer from the environment.
func New(env *nettests.Env) (*Measurer, error) { return NewWithConfig(env, Config{}) }

// NewWithConfig builds a measurer with an explicit configuration.
func NewWithConfig(env *nettests.Env, cfg Config) (*Measurer, error) {
	if len(cfg.ALPN) == 0 {
		cfg.ALPN = DefaultALPN
	}
	nc := &netx.Client{}
	if env != nil && env.Netx != nil {
		nc = env.Netx
	}
	return &Measurer{cfg: cfg, netx: nc}, nil
}

// Name implements nettests.Measurer.
func (m *Measurer) Name() string { return Name }

// Version implements nettests.Measurer.
func (m *Measurer) Version() string { return Version }

// Run handshakes with input (host:port, IP:port, or an https URL). It returns an
// error only for input it cannot use; every network failure is a result.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	host, port, err := ParseTarget(input)
	if err != nil {
		return nil, err
	}
	tk := &TestKeys{Host: host, Port: port, ServerName: m.serverName(host)}
	ev, err := m.handshake(ctx, trace, host, port, tk.ServerName)
	tk.Failure = netx.FailureOf(err)
	if ev != nil {
		tk.XHandshakeCompleted = ev.Failure == nil
		tk.XVerified = ev.XVerified
	}
	events := trace.Events()
	tk.Queries, tk.TCPConnect, tk.TLSHandshakes = events.Queries, events.TCPConnect, events.TLSHandshakes
	return tk, nil
}

// serverName is the SNI to send: the configured override, else the host unless it
// is an IP literal (RFC 6066, section 3, forbids IP literals in SNI).
func (m *Measurer) serverName(host string) string {
	if m.cfg.SNI != "" {
		return m.cfg.SNI
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	return host
}

// handshake resolves host if needed, connects to its first address and handshakes.
func (m *Measurer) handshake(ctx context.Context, trace *netx.Trace, host string, port int, sni string) (*netx.TLSHandshakeEvent, error) {
	addr := host
	if net.ParseIP(host) == nil {
		res, err := m.netx.Lookup(ctx, trace, m.netx.Resolver, host)
		if err != nil {
			return nil, err
		}
		if len(res.Addrs) == 0 {
			return nil, netx.Wrap("resolve", netx.ErrDNSNoAnswer)
		}
		addr = res.Addrs[0]
	}
	conn, err := m.netx.DialTCP(ctx, trace, net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	tconn, ev, err := m.netx.HandshakeTLS(ctx, trace, conn, sni, m.cfg.ALPN)
	if tconn != nil {
		tconn.Close()
	}
	return ev, err
}

// ParseTarget returns the host and port of input: host:port, IP:port, or a URL
// (https by default port 443).
func ParseTarget(input string) (string, int, error) {
	in := strings.TrimSpace(input)
	hostport := in
	if strings.Contains(in, "://") {
		u, err := url.Parse(in)
		if err != nil || u.Hostname() == "" {
			return "", 0, fmt.Errorf("tlshandshake: input %q: not a usable URL", input)
		}
		hostport = u.Host
		if u.Port() == "" {
			hostport = net.JoinHostPort(u.Hostname(), "443")
		}
	}
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, fmt.Errorf("tlshandshake: input %q: want host:port or a URL: %w", input, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("tlshandshake: input %q: bad port %q", input, portText)
	}
	if err := netx.CheckHostname(host); err != nil {
		return "", 0, fmt.Errorf("tlshandshake: input %q: %w", input, err)
	}
	return host, port, nil
}
