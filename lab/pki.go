//go:build linux

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
	"net/netip"
	"strings"
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

// Leaf returns a certificate for DNS names and IP address literals (the first is
// the subject), issuing it on first use.
func (a *Authority) Leaf(sans ...string) (*tls.Certificate, error) {
	if len(sans) == 0 {
		return nil, fmt.Errorf("lab: a certificate needs a name")
	}
	key := strings.Join(sans, ",")
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.leaves[key]; ok {
		return c, nil
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("lab: leaf key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: sans[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, san := range sans {
		if ip, err := netip.ParseAddr(san); err == nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, san)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &priv.PublicKey, a.key)
	if err != nil {
		return nil, fmt.Errorf("lab: leaf certificate for %s: %w", key, err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der, a.cert.Raw}, PrivateKey: priv}
	a.leaves[key] = c
	return c, nil
}

// GetCertificate serves a certificate for the requested server name or, when the
// client sent none, for the address it connected to. The interceptor uses it: a
// MITM box forges whatever name it is asked for.
func (a *Authority) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName != "" {
		return a.Leaf(canonicalName(hello.ServerName))
	}
	if local, ok := localAddr(hello); ok {
		return a.Leaf(local.String())
	}
	return nil, fmt.Errorf("lab: no server name and no local address")
}

// siteCertificate behaves like real hosting: the server at an address presents
// the certificate of the site that lives there (with the address as a SAN too,
// for IP-literal clients), whatever name the client asks for; an address with no
// site presents a certificate for the bare address. A lying resolver's address
// therefore fails validation for the blocked name, as it would in the wild.
func siteCertificate(a *Authority, w *World) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		local, ok := localAddr(hello)
		if !ok {
			return a.GetCertificate(hello) // no address to go by (never seen in practice)
		}
		if s, found := w.SiteAt(local); found {
			return a.Leaf(s.Name, local.String())
		}
		return a.Leaf(local.String())
	}
}

// localAddr is the address the client connected to.
func localAddr(hello *tls.ClientHelloInfo) (netip.Addr, bool) {
	if hello.Conn == nil || hello.Conn.LocalAddr() == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
	if err != nil || ap.Addr().IsUnspecified() {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// TLSConfig returns a server configuration that issues certificates on demand
// with get (GetCertificate when nil).
func (a *Authority) TLSConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	if get == nil {
		get = a.GetCertificate
	}
	return &tls.Config{GetCertificate: get, MinVersion: tls.VersionTLS12}
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
