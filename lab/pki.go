package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"time"
)

// certLifetime covers the longest lab run with room for clock skew.
const certLifetime = 24 * time.Hour

// NationalCAName is the issuer the TLS interceptor presents. It copies the name of
// the root Kazakhstan asked its citizens to install in 2019 (Censored Planet,
// https://censoredplanet.org/kazakhstan), so a probe that keeps a list of known
// interception issuers can recognise it.
const NationalCAName = "Qaznet Trust Network"

// Authority is a throwaway certificate authority that issues leaf certificates on
// demand, for any name or address.
type Authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// NewAuthority creates a self-signed root named commonName.
func NewAuthority(commonName string) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("lab: ca key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{commonName}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("lab: ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("lab: ca certificate: %w", err)
	}
	return &Authority{
		cert:   cert,
		key:    key,
		pem:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		leaves: map[string]*tls.Certificate{},
	}, nil
}

// PEM returns the root certificate in PEM form (the probe's [tls] roots).
func (a *Authority) PEM() []byte { return a.pem }

// Leaf returns a certificate for a DNS name or an IP address literal, issuing it
// on first use.
func (a *Authority) Leaf(name string) (*tls.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.leaves[name]; ok {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("lab: leaf key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		tmpl.IPAddresses = []net.IP{ip.AsSlice()}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, fmt.Errorf("lab: leaf certificate for %s: %w", name, err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der, a.cert.Raw}, PrivateKey: key}
	a.leaves[name] = c
	return c, nil
}

// GetCertificate serves a certificate for the requested server name or, when the
// client sent none (an IP-literal canary), for the address it connected to.
func (a *Authority) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := hello.ServerName
	if name == "" {
		name = localIP(hello)
	}
	if name == "" {
		return nil, fmt.Errorf("lab: no server name and no local address")
	}
	return a.Leaf(canonicalName(name))
}

// localIP is the address the client connected to, or "".
func localIP(hello *tls.ClientHelloInfo) string {
	if hello.Conn == nil || hello.Conn.LocalAddr() == nil {
		return ""
	}
	ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
	if err != nil {
		return ""
	}
	return ap.Addr().Unmap().String()
}

// TLSConfig returns a server configuration that issues certificates on demand.
func (a *Authority) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: a.GetCertificate, MinVersion: tls.VersionTLS12}
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
