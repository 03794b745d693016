package netx

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
)

// errNoPeerCertificates is returned when a handshake completed without the server
// sending any certificate, which no valid TLS 1.2/1.3 server does.
var errNoPeerCertificates = errors.New("x509: server sent no certificate")

// verifyChain checks the chain the peer sent against roots (nil means the system
// roots) for name. It is done after the handshake, not inside it, so that a chain
// that does not validate is still recorded: an unexpected issuer is the evidence of
// interception. name may be an IP literal, which x509 checks against IP SANs.
func verifyChain(chain []*x509.Certificate, name string, roots *x509.CertPool) error {
	if len(chain) == 0 {
		return Wrap("tls_handshake", errNoPeerCertificates)
	}
	intermediates := x509.NewCertPool()
	for _, cert := range chain[1:] {
		intermediates.AddCert(cert)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		DNSName:       name,
		Roots:         roots,
		Intermediates: intermediates,
	})
	if err == nil {
		return nil
	}
	failure := classifyX509(err)
	if failure == "" {
		failure = FailureSSLInvalidCertificate
	}
	return &Error{Failure: failure, Operation: "tls_handshake", Err: err}
}

// verificationName is the name a chain must be valid for: the SNI when one was sent,
// else the peer's IP address (a handshake without SNI goes to an IP literal).
func verificationName(sni string, remote net.Addr) string {
	if sni != "" || remote == nil {
		return sni
	}
	host, _, err := net.SplitHostPort(addrString(remote))
	if err != nil {
		return remote.String()
	}
	return host
}

// recordChain fills the certificate fields of ev from the peer chain.
func recordChain(ev *TLSHandshakeEvent, chain []*x509.Certificate) {
	ev.PeerCertificates = make([]PeerCertificate, 0, len(chain))
	for _, cert := range chain {
		ev.PeerCertificates = append(ev.PeerCertificates, PeerCertificate{Data: cert.Raw, Format: "base64"})
	}
	if len(chain) == 0 {
		return
	}
	leaf := chain[0]
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	ev.XLeafSPKISHA256 = hex.EncodeToString(sum[:])
	ev.XLeafIssuer = leaf.Issuer.String()
	ev.XLeafSubject = leaf.Subject.String()
	ev.XRootIssuer = chain[len(chain)-1].Issuer.String()
}

// recordState fills the negotiated parameters and the chain of ev.
func recordState(ev *TLSHandshakeEvent, version, cipher uint16, alpn string, chain []*x509.Certificate) {
	ev.TLSVersion = tlsVersionString(version)
	ev.CipherSuite = tls.CipherSuiteName(cipher)
	ev.NegotiatedProtocol = alpn
	recordChain(ev, chain)
}

// recordVerification sets the verification outcome of ev. The event's failure stays
// null: it says whether the handshake itself completed (packets flowed both ways,
// which reachability tests count), while x_verified and x_verify_failure say whether
// the chain is trustworthy. OONI folds both into failure because Go verifies inside
// the handshake; the caller still gets the ssl_* error, and the requests event of a
// Fetch carries it as its failure.
func recordVerification(ev *TLSHandshakeEvent, err error) {
	ev.XVerified = err == nil
	ev.XVerifyFailure = FailureOf(err)
}

// tlsVersionString names a TLS version as OONI does ("TLSv1.3").
func tlsVersionString(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	case 0:
		return ""
	}
	return tls.VersionName(v)
}
