// Package servicetest helps test the service nettests on loopback: target files
// written from a list, and a dialer that fails chosen addresses with exact errors.
package servicetest

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// Errors a fake dial returns, classified by netx as a censor's would be.
var (
	ErrTimeout = &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	ErrRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
)

// WriteTargets writes l as a target file in a temporary directory and returns its path.
func WriteTargets(t testing.TB, l service.List) string {
	t.Helper()
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "targets.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Net places loopback servers behind stable fake addresses: target i gets
// 127.0.0.(i+2) and the port the real service uses, and Dial routes that address
// to the server's real one, so measurements read the same from run to run.
// Fail makes a fake address fail with an exact error instead.
type Net struct {
	route map[string]string
	Fail  map[string]error
	next  int
}

// NewNet returns an empty Net.
func NewNet() *Net { return &Net{route: map[string]string{}, Fail: map[string]error{}} }

// Target places a server listening at realAddr as a target of the given role,
// host and port; path is its request path ("" for connect-only targets).
func (n *Net) Target(id, role, host string, port int, realAddr, path string) service.Target {
	n.next++
	ip := "127.0.0." + strconv.Itoa(n.next+1)
	n.route[net.JoinHostPort(ip, strconv.Itoa(port))] = realAddr
	return service.Target{ID: id, Role: role, Host: host, Port: port, Addr: ip, Path: path, Source: "test"}
}

// Dial implements netx.DialFunc.
func (n *Net) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if err, ok := n.Fail[address]; ok {
		return nil, err
	}
	if real, ok := n.route[address]; ok {
		address = real
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// Env is an environment whose netx trusts ca, dials through n and waits at most
// a second per step.
func (n *Net) Env(ca *netxtest.CA) *nettests.Env {
	nc := &netx.Client{Timeout: time.Second, Dial: n.Dial, ClientHello: "go"}
	if ca != nil {
		nc.Roots = ca.Pool()
	}
	return &nettests.Env{Netx: nc}
}

// Network is a fixed nettests.NetworkStatus.
type Network struct {
	VerdictValue string
	Up           bool
}

var _ nettests.NetworkStatus = Network{}

// Verdict implements nettests.NetworkStatus.
func (n Network) Verdict() string { return n.VerdictValue }

// CanariesUp implements nettests.NetworkStatus.
func (n Network) CanariesUp(context.Context) bool { return n.Up }

// Addr is the IP:port a target is dialled at.
func Addr(t service.Target) string { return net.JoinHostPort(t.Addr, strconv.Itoa(t.Port)) }
