// Package netxtest holds loopback servers for testing code built on probe/netx: a
// throwaway certificate authority, HTTPS (HTTP/1.1 and HTTP/2) and HTTP/3 servers
// with handlers chosen by the test, and misbehaving endpoints (a TCP black hole, a
// listener that resets during the TLS handshake, a UDP black hole, a server that
// truncates its body, a closed port). Everything listens on 127.0.0.1 only and is
// shut down by t.Cleanup.
package netxtest

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
	"time"
)

// certLifetime is long enough for any test run and short enough that a leaked test
// key is worthless.
const certLifetime = 24 * time.Hour

// CA is a throwaway certificate authority: a root and one intermediate. Leaves are
// signed by the intermediate and served with it, as real sites do, so the chain a
// client records has two certificates and the root stays out of it.
type CA struct {
	// Root is the self-signed root; trust it with Pool.
	Root *x509.Certificate
	// Intermediate signs the leaves.
	Intermediate *x509.Certificate

	rootKey, intermediateKey *ecdsa.PrivateKey
}

// NewCA creates a CA whose root's common name is name.
func NewCA(name string) (*CA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("netxtest: root key: %w", err)
	}
	rootTmpl := caTemplate(name)
	root, err := createCert(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("netxtest: root: %w", err)
	}
	intKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("netxtest: intermediate key: %w", err)
	}
	inter, err := createCert(caTemplate(name+" Intermediate"), root, &intKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("netxtest: intermediate: %w", err)
	}
	return &CA{Root: root, Intermediate: inter, rootKey: rootKey, intermediateKey: intKey}, nil
}

// Pool returns a pool holding only the root: the Config.Roots of a client that
// trusts this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root)
	return p
}

// RootPEM returns the root in PEM, the content of a [tls] roots file.
func (ca *CA) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
}

// Issue returns a leaf for names (DNS names or IP literals), with the intermediate
// in its chain, ready for tls.Config.Certificates. A leaf for the wrong name is
// Issue("other.example"); an untrusted leaf is one from another CA.
func (ca *CA) Issue(names ...string) (tls.Certificate, error) {
	return ca.issue(time.Now().Add(-time.Hour), time.Now().Add(certLifetime), names)
}

// IssueExpired is Issue for a leaf whose validity ended an hour ago: a client
// checking the chain reports ssl_invalid_certificate.
func (ca *CA) IssueExpired(names ...string) (tls.Certificate, error) {
	return ca.issue(time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), names)
}

func (ca *CA) issue(notBefore, notAfter time.Time, names []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("netxtest: leaf key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: firstOr(names, "localhost")},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	leaf, err := createCert(tmpl, ca.Intermediate, &key.PublicKey, ca.intermediateKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("netxtest: leaf: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{leaf.Raw, ca.Intermediate.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// NewRootCA creates a CA with no intermediate: its root, whose common name and
// organisation are name, signs the leaves and is served with them, as an
// intercepting middlebox's national root does (the lab's interceptor).
func NewRootCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("netxtest: root key: %w", err)
	}
	tmpl := caTemplate(name)
	tmpl.Subject.Organization = []string{name}
	root, err := createCert(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("netxtest: root: %w", err)
	}
	return &CA{Root: root, Intermediate: root, rootKey: key, intermediateKey: key}, nil
}

func caTemplate(name string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"vantage test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(certLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func createCert(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func firstOr(names []string, def string) string {
	if len(names) == 0 {
		return def
	}
	return names[0]
}
