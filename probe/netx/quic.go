package netx

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"

	"github.com/quic-go/quic-go"
)

// DefaultQUICALPN is the ALPN a QUIC handshake offers when the caller names none:
// QUIC requires ALPN, and "h3" is what a browser sends (RFC 9114, section 3.1).
var DefaultQUICALPN = []string{"h3"}

// HandshakeQUIC dials address (IP:port; no name resolution here) over QUIC and
// records one quic_handshakes event with the same certificate fields and the same
// after-the-fact verification as HandshakeTLS: a chain that does not validate is
// recorded, the connection closed, and an ssl_* error returned with the event. sni ""
// sends no SNI. A path that drops UDP ends in generic_timeout_error once the step
// timeout passes. The caller closes the returned connection with CloseWithError.
func (c *Client) HandshakeQUIC(ctx context.Context, trace *Trace, address, sni string, alpn []string) (*quic.Conn, *TLSHandshakeEvent, error) {
	if _, err := netip.ParseAddrPort(address); err != nil {
		return nil, nil, fmt.Errorf("netx: quic handshake: address must be IP:port: %w", err)
	}
	if len(alpn) == 0 {
		alpn = DefaultQUICALPN
	}
	trace = orDiscard(trace)
	timeout := c.StepTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ev := &TLSHandshakeEvent{
		Network:          "udp",
		Address:          address,
		PeerCertificates: []PeerCertificate{},
		ServerName:       sni,
		T0:               trace.Elapsed(),
		Tags:             c.tags(),
		TransactionID:    trace.NewTransactionID(),
		XClientHello:     "quic-go",
	}
	// QUIRK: quic-go fills an empty ServerName with the address's IP, which
	// crypto/tls then leaves out of the ClientHello (RFC 6066, section 3, forbids IP
	// literals in SNI): sni "" still sends no SNI.
	tlsConf := &tls.Config{
		ServerName:         sni,
		NextProtos:         alpn,
		InsecureSkipVerify: true, // verified after the handshake by verifyChain
	}
	conn, err := c.dialQUIC(ctx, address, tlsConf, &quic.Config{HandshakeIdleTimeout: timeout})
	ev.T = trace.Elapsed()
	if err != nil {
		err = Wrap("quic_handshake", err)
		ev.Failure = FailureOf(err)
		trace.AddQUICHandshake(*ev)
		return nil, ev, err
	}
	st := conn.ConnectionState().TLS
	recordState(ev, st.Version, st.CipherSuite, st.NegotiatedProtocol, st.PeerCertificates)
	verr := verifyChain(st.PeerCertificates, verificationName(sni, conn.RemoteAddr()), c.Roots)
	recordVerification(ev, verr)
	trace.AddQUICHandshake(*ev)
	if verr != nil {
		conn.CloseWithError(0, "")
		return nil, ev, verr
	}
	return conn, ev, nil
}

// dialQUIC opens the UDP socket through Client.DialPacket (the one UDP seam, shared
// with DNS over UDP) and dials address over it. The socket lives as long as the
// connection: it is closed when the dial fails or the connection ends.
func (c *Client) dialQUIC(ctx context.Context, address string, tlsConf *tls.Config, conf *quic.Config) (*quic.Conn, error) {
	peer, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, err
	}
	pc, err := c.packetDialer()(ctx, "udp", address)
	if err != nil {
		return nil, err
	}
	conn, err := quic.Dial(ctx, pc, net.UDPAddrFromAddrPort(peer), tlsConf, conf)
	if err != nil {
		pc.Close()
		return nil, err
	}
	context.AfterFunc(conn.Context(), func() { pc.Close() })
	return conn, nil
}
