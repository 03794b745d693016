package netx_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// seamStep is short: a dropped flow ends at the step timeout.
const seamStep = 700 * time.Millisecond

// TestOneSeamFaultsEveryProtocol: one netxtest.Seam installed as Client.Dial and
// Client.DialPacket carries every flow netx opens (TCP connects, DNS over UDP, TCP,
// DoT and DoH, QUIC), and the same fault injected there fails UDP (DNS and QUIC)
// exactly as it fails TCP: refused flows are network_unreachable, dropped ones
// generic_timeout_error.
func TestOneSeamFaultsEveryProtocol(t *testing.T) {
	p := newPKI(t)
	dns := dnstest.NewServer(t, map[string]dnstest.Rule{"example.test": dnstest.Answer(dnsTestPublicIPv4)})
	dot, doh := dns.StartDoT(t), dns.StartDoH(t)
	h3 := netxtest.NewHTTP3Server(t, p.good, http.NotFoundHandler())
	tcp := netxtest.NewHTTPServer(t, http.NotFoundHandler())
	seam := &netxtest.Seam{}
	roots := p.ca.Pool()
	roots.AddCert(dns.CA.Root)
	c := &netx.Client{Roots: roots, Timeout: seamStep, Dial: seam.Dial, DialPacket: seam.DialPacket}
	ctx := context.Background()
	flows := map[string]func() error{
		"tcp": func() error {
			conn, err := c.DialTCP(ctx, newTrace(), tcp.Addr)
			if err == nil {
				conn.Close()
			}
			return err
		},
		"quic": func() error {
			conn, _, err := c.HandshakeQUIC(ctx, newTrace(), h3.Addr, "example.test", nil)
			if err == nil {
				conn.CloseWithError(0, "")
			}
			return err
		},
	}
	for name, url := range map[string]string{"dns-udp": dns.UDPURL(), "dns-tcp": dns.TCPURL(), "dns-dot": dot, "dns-doh": doh} {
		flows[name] = func() error {
			_, err := c.LookupWithOptions(ctx, newTrace(), url, "example.test", netx.DNSOptions{DuplicateWindow: -1})
			return err
		}
	}
	packetFlows := map[string]bool{"dns-udp": true, "quic": true}
	for _, tc := range []struct {
		fault netxtest.Fault
		want  string
	}{
		{netxtest.Pass, ""},
		{netxtest.Unreachable, netx.FailureNetworkUnreachable},
		{netxtest.Drop, netx.FailureGenericTimeout},
	} {
		seam.Set(tc.fault)
		for name, run := range flows {
			streams, packets := len(seam.Streams()), len(seam.Packets())
			err := run()
			if got := failure(err); got != tc.want {
				t.Errorf("fault %d, %s: failure %q (%v), want %q", tc.fault, name, got, err, tc.want)
			}
			opened := len(seam.Streams()) > streams
			if packetFlows[name] {
				opened = len(seam.Packets()) > packets
			}
			if !opened {
				t.Errorf("fault %d, %s: no flow went through the seam", tc.fault, name)
			}
		}
	}
	for _, addr := range seam.Packets() {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("a datagram flow to %q: the seam must be told the destination", addr)
		}
	}
}
