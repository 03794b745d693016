package identity

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vantage-probe/vantage/report"
)

func TestCreateThenLoadSameKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	a, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	b, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Private.Equal(b.Private) || a.ProbeID != b.ProbeID || a.ProbeID != report.ProbeID(a.Public) {
		t.Fatal("second load returned a different identity")
	}
	// The key signs measurements that verify.
	line, err := report.Sign(a.Private, []byte(`{"measurement_uid":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.Verify(line)
	if err != nil || s.ProbeID != a.ProbeID {
		t.Fatalf("Verify = %v, %v", s, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only the key (temporary file left behind?)", len(entries))
	}
}

func TestConcurrentFirstUseAgrees(t *testing.T) {
	dir := t.TempDir()
	ids := make([]*Identity, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := LoadOrCreate(dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id == nil || ids[0] == nil || id.ProbeID != ids[0].ProbeID {
			t.Fatal("concurrent first use produced different identities")
		}
	}
}

func TestRefusesLoosePermissions(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, KeyFileName)
	before, _ := os.ReadFile(path)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		os.Chmod(path, mode)
		_, err := LoadOrCreate(dir)
		if !errors.Is(err, ErrLoosePermissions) || !strings.Contains(err.Error(), path) {
			t.Errorf("mode %04o: err = %v, want ErrLoosePermissions naming the file", mode, err)
		}
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("a refused key file was rewritten")
	}
}

func TestRefusesCorruptKey(t *testing.T) {
	cases := map[string]string{
		"empty":         "",
		"garbage":       "hello\n",
		"truncated":     "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n",
		"wrong type":    "-----BEGIN CERTIFICATE-----\nMC4CAQAwBQYDK2VwBCIEIGbAMjbxpfucTQjulnI1gIa1kL0pycdTQ39nVCBVHndo\n-----END CERTIFICATE-----\n",
		"trailing data": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGbAMjbxpfucTQjulnI1gIa1kL0pycdTQ39nVCBVHndo\n-----END PRIVATE KEY-----\nextra\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFileName)
			os.WriteFile(path, []byte(content), 0o600)
			_, err := LoadOrCreate(dir)
			if !errors.Is(err, ErrCorruptKey) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want ErrCorruptKey naming the file", err)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Error("a corrupt key file was replaced")
			}
		})
	}
}

// TestReadsOpenSSLKey checks the file format is standard PKCS #8 PEM: this key was
// made with `openssl genpkey -algorithm ed25519`, and the public key expected is
// what `openssl pkey -pubout -outform DER | tail -c 32 | base64` printed for it.
func TestReadsOpenSSLKey(t *testing.T) {
	dir := t.TempDir()
	pemKey := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGbAMjbxpfucTQjulnI1gIa1kL0pycdTQ39nVCBVHndo\n-----END PRIVATE KEY-----\n"
	os.WriteFile(filepath.Join(dir, KeyFileName), []byte(pemKey), 0o600)
	id, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(id.Public); got != "Z00LvsdXiV8h+L18PLEX0tOxaCZiGq/LaJjTSWsQ2/E=" {
		t.Errorf("public key = %s, want openssl's", got)
	}
	if id.ProbeID != report.ProbeID(id.Public) {
		t.Errorf("probe id %s does not derive from the key", id.ProbeID)
	}
}
