package translog_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/report/translog"
)

func TestKeyPersistsAndSignsCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db.logkey")
	k, err := translog.LoadOrCreateKey(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if !strings.HasPrefix(k.Origin(), "vantage-collector-") {
		t.Errorf("origin %q", k.Origin())
	}
	again, err := translog.LoadOrCreateKey(path, "")
	if err != nil || again.VerifierKey() != k.VerifierKey() {
		t.Fatalf("reloaded key %v %v", again, err)
	}
	if _, err := translog.LoadOrCreateKey(path, "another-name"); err == nil {
		t.Error("a key file named otherwise was accepted for another origin")
	}
	root := bytes.Repeat([]byte{7}, 32)
	signed, err := k.Sign(translog.Checkpoint{Origin: k.Origin(), Size: 12, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(signed), k.Origin()+"\n12\nBwcH") {
		t.Errorf("checkpoint text %q", signed)
	}
	c, err := translog.OpenCheckpoint(signed, k.VerifierKey())
	if err != nil || c.Size != 12 || !bytes.Equal(c.Root, root) {
		t.Fatalf("open: %+v %v", c, err)
	}
	tampered := bytes.Replace(signed, []byte("\n12\n"), []byte("\n13\n"), 1)
	if _, err := translog.OpenCheckpoint(tampered, k.VerifierKey()); err == nil {
		t.Error("a checkpoint with another size verified")
	}
}

func TestParseCheckpointRefusesMalformedBodies(t *testing.T) {
	root := "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="
	for _, text := range []string{
		"origin\n12\n",                     // no root
		"\n12\n" + root + "\n",             // no origin
		"origin\n012\n" + root + "\n",      // leading zero
		"origin\n-1\n" + root + "\n",       // negative
		"origin\n12\nAAAA\n",               // short root
		"origin\n12\n" + root[:10] + "!\n", // not base64
	} {
		if _, err := translog.ParseCheckpoint(text); err == nil {
			t.Errorf("%q parsed", text)
		}
	}
	if c, err := translog.ParseCheckpoint("origin\n0\n" + root + "\nextension\n"); err != nil || c.Size != 0 {
		t.Errorf("with an extension line: %+v %v", c, err)
	}
}
