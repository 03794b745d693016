// Package tcpconnect implements the tcpconnect nettest: it opens a TCP connection to
// an IP:port or host:port and records the connect (and, for a host name, the DNS
// queries), as OONI's tcp_connect test.
package tcpconnect

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
)

// Name is the test_name.
const Name = "tcpconnect"

// Version is the test_version.
const Version = "0.1.0"

// DefaultMaxAddresses bounds how many resolved addresses of a host are tried: a
// name with many records must not turn one input into a scan.
const DefaultMaxAddresses = 4

// Config tunes the measurer.
type Config struct {
	// MaxAddresses is how many resolved addresses are tried, in order, until one
	// connects; zero means DefaultMaxAddresses.
	MaxAddresses int
}

// TestKeys are the test_keys of one tcpconnect measurement.
type TestKeys struct {
	Host       string                 `json:"host"`
	Port       int                    `json:"port"`
	Queries    []netx.DNSQueryEvent   `json:"queries"`
	TCPConnect []netx.TCPConnectEvent `json:"tcp_connect"`
	// Connection is "success" or the failure string, as OONI's tcp_connect keys.
	Connection string `json:"connection"`
	// Failure is null on success, else the failure of the last step tried.
	Failure *string `json:"failure"`
}

// Measurer runs the tcpconnect nettest.
type Measurer struct {
	cfg  Config
	netx *netx.Client
}

var _ nettests.Measurer = (*Measurer)(nil)

// New builds a measurer from the environment.
func New(env *nettests.Env) (*Measurer, error) { return NewWithConfig(env, Config{}) }

// NewWithConfig builds a measurer with an explicit configuration.
func NewWithConfig(env *nettests.Env, cfg Config) (*Measurer, error) {
	if cfg.MaxAddresses <= 0 {
		cfg.MaxAddresses = DefaultMaxAddresses
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

// Run connects to input (IP:port or host:port). It returns an error only for input
// it cannot use; a failed lookup or connect is a result.
func (m *Measurer) Run(ctx context.Context, input string, trace *netx.Trace) (any, error) {
	host, port, err := ParseEndpoint(input)
	if err != nil {
		return nil, err
	}
	tk := &TestKeys{Host: host, Port: port}
	err = m.connect(ctx, trace, host, port)
	tk.Failure = netx.FailureOf(err)
	tk.Connection = "success"
	if tk.Failure != nil {
		tk.Connection = *tk.Failure
	}
	ev := trace.Events()
	tk.Queries, tk.TCPConnect = ev.Queries, ev.TCPConnect
	return tk, nil
}

// connect resolves host when it is a name and connects to its addresses in turn
// until one answers.
func (m *Measurer) connect(ctx context.Context, trace *netx.Trace, host string, port int) error {
	addrs := []string{host}
	if net.ParseIP(host) == nil {
		res, err := m.netx.Lookup(ctx, trace, m.netx.Resolver, host)
		if err != nil {
			return err
		}
		addrs = res.Addrs
	}
	if len(addrs) > m.cfg.MaxAddresses {
		addrs = addrs[:m.cfg.MaxAddresses]
	}
	var err error
	for _, a := range addrs {
		var conn net.Conn
		conn, err = m.netx.DialTCP(ctx, trace, net.JoinHostPort(a, strconv.Itoa(port)))
		if err == nil {
			conn.Close()
			return nil
		}
	}
	return err
}

// ParseEndpoint splits "host:port" (IPv6 in brackets) and checks both halves.
func ParseEndpoint(input string) (string, int, error) {
	host, portText, err := net.SplitHostPort(strings.TrimSpace(input))
	if err != nil {
		return "", 0, fmt.Errorf("tcpconnect: input %q: want IP:port or host:port: %w", input, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("tcpconnect: input %q: bad port %q", input, portText)
	}
	if err := netx.CheckHostname(host); err != nil {
		return "", 0, fmt.Errorf("tcpconnect: input %q: %w", input, err)
	}
	return host, port, nil
}
