package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// walkFiles lists every file and directory under root, relative to it.
func walkFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && path != root {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestResetLeavesNothingBehind: after a real run, a key, a schedule of each kind
// this machine has and a batch log, `reset --yes` leaves no file of vantage's: the
// test walks the home, config and data directories.
func TestResetLeavesNothingBehind(t *testing.T) {
	bin := cliBinary(t)
	h := newProbeHome(t, bin, true)
	pathEnv, table := fakeCrontab(t, "")
	units := filepath.Join(h.root, ".config", "systemd", "user")
	env := append(os.Environ(), "HOME="+h.root, "XDG_CONFIG_HOME="+h.root, "XDG_DATA_HOME="+h.root, "PATH="+pathEnv)
	vantage := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--config", h.config}, args...)...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// A real (isolated, loopback-only) run fills the store and creates the key.
	if out, _, code := h.run(t, "run", "--batch", "--input", "https://example.org/"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"keys", "show"}, {"schedule", "--install"}, {"schedule", "--systemd", "--install", "--unit-dir", units}} {
		if out, err := vantage("", args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(h.data, batchLogName), []byte("{}\n"), 0o600)
	os.WriteFile(filepath.Join(h.data, batchLogName+".1"), []byte("{}\n"), 0o600)
	before := walkFiles(t, h.root)
	if len(before) < 6 {
		t.Fatalf("the set-up made too little to test: %v", before)
	}

	// Without the word, nothing goes.
	out, err := vantage("no\n", "reset", "--unit-dir", units)
	if exitCodeOf(err) != exitUsage || !strings.Contains(out, "nothing was deleted") {
		t.Fatalf("reset answered no: %v\n%s", err, out)
	}
	if after := walkFiles(t, h.root); len(after) != len(before) {
		t.Fatalf("a refused reset deleted something: %v -> %v", before, after)
	}

	out, err = vantage("", "reset", "--yes", "--unit-dir", units)
	if err != nil {
		t.Fatalf("reset --yes: %v\n%s", err, out)
	}
	for _, want := range []string{"deleted " + filepath.Join(h.data, "probe.key"), "deleted " + filepath.Join(h.data, "vantage.db"),
		"deleted " + h.config, "deleted " + h.data, "removed the crontab line", "removed " + filepath.Join(units, unitTimer)} {
		if !strings.Contains(out, want) {
			t.Errorf("reset output lacks %q:\n%s", want, out)
		}
	}
	var left []string
	for _, f := range walkFiles(t, h.root) {
		// The systemd directories are the user's (other units live there too); only
		// their emptiness matters.
		if fi, err := os.Stat(filepath.Join(h.root, f)); err == nil && fi.IsDir() && strings.HasPrefix(f, ".config") {
			continue
		}
		left = append(left, f)
	}
	if len(left) > 0 {
		t.Errorf("reset left files behind: %v", left)
	}
	if _, err := os.Stat(table); !os.IsNotExist(err) {
		t.Errorf("the crontab is still there: %v", err)
	}
}

// TestResetConfirmation: only the exact word confirms.
func TestResetConfirmation(t *testing.T) {
	for in, want := range map[string]bool{"delete\n": true, "  delete  \n": true, "delete": true, "yes\n": false, "\n": false, "": false, "Delete\n": false} {
		var out strings.Builder
		if got := confirmed(strings.NewReader(in), &out); got != want {
			t.Errorf("confirmed(%q) = %v, want %v", in, got, want)
		}
	}
}
