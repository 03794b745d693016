package netx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"

	utls "github.com/refraction-networking/utls"
)

// Names of Client.ClientHello.
const (
	// ClientHelloChrome sends utls's current Chrome ClientHello (the default): a
	// censor that fingerprints Go's ClientHello must not see a different handshake
	// than real users do.
	ClientHelloChrome = "chrome"
	// ClientHelloGo sends crypto/tls's own ClientHello.
	ClientHelloGo = "go"
)

// HandshakeTLS runs a TLS handshake over conn and records one tls_handshakes event.
// sni "" sends no server_name extension (IP literals). alpn, when not empty, replaces
// the ClientHello's ALPN list. The chain is verified after the handshake against
// Client.Roots (nil: system roots) for sni, or for the peer IP when sni is "", so that
// a handshake with an untrusted or mismatched chain is still recorded in full: the
// event and an ssl_unknown_authority / ssl_invalid_hostname / ssl_invalid_certificate
// error are then returned together and the connection is closed. HandshakeTLS owns
// conn: on any error it is closed. The handshake is bounded by the step timeout.
func (c *Client) HandshakeTLS(ctx context.Context, trace *Trace, conn net.Conn, sni string, alpn []string) (net.Conn, *TLSHandshakeEvent, error) {
	trace = orDiscard(trace)
	ctx, cancel := context.WithTimeout(ctx, c.StepTimeout())
	defer cancel()
	txID := TransactionIDOf(conn)
	if txID == 0 {
		txID = trace.NewTransactionID()
	}
	ev := &TLSHandshakeEvent{
		Network:          "tcp",
		Address:          addrString(conn.RemoteAddr()),
		PeerCertificates: []PeerCertificate{},
		ServerName:       sni,
		T0:               trace.Elapsed(),
		Tags:             c.tags(),
		TransactionID:    txID,
		XClientHello:     c.clientHelloName(),
	}
	tlsConn, state, err := c.handshake(ctx, conn, sni, alpn)
	ev.T = trace.Elapsed()
	if err != nil {
		conn.Close()
		err = Wrap("tls_handshake", err)
		ev.Failure = FailureOf(err)
		trace.AddTLSHandshake(*ev)
		return nil, ev, err
	}
	recordState(ev, state.version, state.cipher, state.alpn, state.chain)
	verr := verifyChain(state.chain, verificationName(sni, conn.RemoteAddr()), c.Roots)
	recordVerification(ev, verr)
	trace.AddTLSHandshake(*ev)
	if verr != nil {
		tlsConn.Close()
		return nil, ev, verr
	}
	return tlsConn, ev, nil
}

// handshakeState is what a completed handshake negotiated.
type handshakeState struct {
	version, cipher uint16
	alpn            string
	chain           []*x509.Certificate
}

func (c *Client) clientHelloName() string {
	if c.ClientHello == ClientHelloGo {
		return ClientHelloGo
	}
	return ClientHelloChrome
}

func (c *Client) handshake(ctx context.Context, conn net.Conn, sni string, alpn []string) (net.Conn, handshakeState, error) {
	if c.clientHelloName() == ClientHelloGo {
		return stdlibHandshake(ctx, conn, sni, alpn)
	}
	return chromeHandshake(ctx, conn, sni, alpn)
}

// stdlibHandshake runs crypto/tls. Verification is skipped here and done by
// verifyChain afterwards (see HandshakeTLS).
func stdlibHandshake(ctx context.Context, conn net.Conn, sni string, alpn []string) (net.Conn, handshakeState, error) {
	tc := tls.Client(conn, &tls.Config{
		ServerName:         sni,
		NextProtos:         alpn,
		InsecureSkipVerify: true, // verified after the handshake by verifyChain
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, handshakeState{}, err
	}
	st := tc.ConnectionState()
	return tc, handshakeState{st.Version, st.CipherSuite, st.NegotiatedProtocol, st.PeerCertificates}, nil
}

// chromeHandshake runs utls with the HelloChrome_Auto preset, its ALPN list replaced
// by alpn when given.
func chromeHandshake(ctx context.Context, conn net.Conn, sni string, alpn []string) (net.Conn, handshakeState, error) {
	spec, err := utls.UTLSIdToSpec(utls.HelloChrome_Auto)
	if err != nil {
		return nil, handshakeState{}, fmt.Errorf("netx: chrome hello spec: %w", err)
	}
	if len(alpn) > 0 {
		for _, ext := range spec.Extensions {
			if a, ok := ext.(*utls.ALPNExtension); ok {
				a.AlpnProtocols = append([]string{}, alpn...)
			}
		}
	}
	uc := utls.UClient(conn, &utls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, // verified after the handshake by verifyChain
	}, utls.HelloCustom)
	if err := uc.ApplyPreset(&spec); err != nil {
		return nil, handshakeState{}, fmt.Errorf("netx: apply chrome hello: %w", err)
	}
	if err := uc.HandshakeContext(ctx); err != nil {
		return nil, handshakeState{}, err
	}
	st := uc.ConnectionState()
	return uc, handshakeState{st.Version, st.CipherSuite, st.NegotiatedProtocol, st.PeerCertificates}, nil
}
