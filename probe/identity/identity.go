// Package identity gives a probe its signing key: an ed25519 key pair made on first
// use and kept, readable by its owner only, in the data directory.
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vantage-probe/vantage/report"
)

// KeyFileName is the key file inside the data directory.
const KeyFileName = "probe.key"

// pemType is the PEM block type: the key is PKCS #8, as `openssl genpkey -algorithm
// ed25519` writes it, so standard tools can read it.
const pemType = "PRIVATE KEY"

// Errors from LoadOrCreate. Callers compare with errors.Is.
var (
	ErrLoosePermissions = errors.New("key file is readable or writable by others")
	ErrCorruptKey       = errors.New("key file is not a vantage ed25519 private key")
)

// Identity is a probe's key pair and the probe id derived from it.
type Identity struct {
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
	ProbeID string // report.ProbeID(Public)
	Path    string // the key file
}

// LoadOrCreate reads dir/probe.key, creating the data directory and a new key
// when there is none. A key file that others may read or write, or that does not
// hold an ed25519 key, is refused rather than replaced: replacing it would
// silently change the probe's identity.
func LoadOrCreate(dir string) (*Identity, error) {
	path := filepath.Join(dir, KeyFileName)
	id, err := load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: create data directory: %w", err)
	}
	if err := create(path); err != nil {
		return nil, err
	}
	return load(path)
}

func load(path string) (*Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("identity: %s: %w: not a regular file", path, ErrCorruptKey)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("identity: %s: %w (mode %04o); run chmod 600 %s if the key is yours", path, ErrLoosePermissions, perm, path)
	}
	data := make([]byte, 4096) // a PEM ed25519 key is 119 bytes; anything near this size is not one
	n, err := f.Read(data)
	if err != nil && n == 0 {
		return nil, fmt.Errorf("identity: %s: %w: %v", path, ErrCorruptKey, err)
	}
	priv, err := parse(data[:n])
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w: %v", path, ErrCorruptKey, err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &Identity{Private: priv, Public: pub, ProbeID: report.ProbeID(pub), Path: path}, nil
}

func parse(data []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != pemType {
		return nil, errors.New("no PEM PRIVATE KEY block")
	}
	if len(rest) > 0 && len(trimSpace(rest)) > 0 {
		return nil, errors.New("unexpected data after the key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", key)
	}
	return priv, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// create writes a new key atomically: to a private temporary file, synced, then
// hard-linked into place. A link fails if the name exists, so two processes
// starting at once cannot overwrite each other's key: the loser simply loads the
// winner's. A crash leaves either no key file or a complete one.
func create(path string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("identity: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("identity: encode key: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".probe.key.tmp*")
	if err != nil {
		return fmt.Errorf("identity: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; Chmod states it and survives an odd umask.
	err = errors.Join(tmp.Chmod(0o600), pem.Encode(tmp, &pem.Block{Type: pemType, Bytes: der}), tmp.Sync(), tmp.Close())
	if err != nil {
		return fmt.Errorf("identity: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("identity: install key file: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes the new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("identity: sync data directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("identity: sync data directory: %w", err)
	}
	return nil
}
