package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCrontab puts a crontab(1) on PATH that keeps the table in a file.
func fakeCrontab(t *testing.T, initial string) (path, table string) {
	t.Helper()
	dir := t.TempDir()
	table = filepath.Join(dir, "table")
	if initial != "" {
		os.WriteFile(table, []byte(initial), 0o600)
	}
	script := `#!/bin/sh
case "$1" in
-l) [ -f "` + table + `" ] || { echo "no crontab for user" >&2; exit 1; }; cat "` + table + `" ;;
-) cat > "` + table + `" ;;
*) exit 2 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "crontab"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH"), table
}

func TestSchedule(t *testing.T) {
	bin := cliBinary(t)
	h := newProbeHome(t, bin, true)
	// schedule sends no traffic: it runs bare, with a fake crontab.
	run := func(env []string, args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"--config", h.config}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), errb.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), 0
	}
	out, _, code := run(nil, "schedule", "--every", "6h")
	if code != 0 || !strings.Contains(out, " */6 * * * ") || !strings.Contains(out, "--config "+h.config+" run --batch") || !strings.HasSuffix(strings.TrimSpace(out), cronMarker) {
		t.Errorf("schedule: exit %d\n%s", code, out)
	}
	if _, _, code := run(nil, "schedule", "--every", "90m"); code != exitUsage {
		t.Errorf("--every 90m: exit %d, want %d", code, exitUsage)
	}

	pathEnv, table := fakeCrontab(t, "MAILTO=me\n5 4 * * * backup\n0 * * * * /old/vantage run --batch "+cronMarker+"\n")
	for range 2 { // installing twice leaves one line
		if out, errOut, code := run([]string{"PATH=" + pathEnv}, "schedule", "--install"); code != 0 {
			t.Fatalf("install: exit %d %s %s", code, out, errOut)
		}
	}
	got, _ := os.ReadFile(table)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 3 || lines[0] != "MAILTO=me" || lines[1] != "5 4 * * * backup" || !strings.Contains(lines[2], h.config) || strings.Contains(string(got), "/old/vantage") {
		t.Errorf("crontab after install:\n%s", got)
	}

	units := t.TempDir()
	out, _, code = run(nil, "schedule", "--systemd", "--install", "--unit-dir", units)
	if code != 0 || !strings.Contains(out, "enable it with: systemctl") {
		t.Errorf("systemd install: exit %d\n%s", code, out)
	}
	svc, _ := os.ReadFile(filepath.Join(units, unitService))
	timer, _ := os.ReadFile(filepath.Join(units, unitTimer))
	if !strings.Contains(string(svc), "ExecStart="+bin) || !strings.Contains(string(svc), "SuccessExitStatus=3") || !strings.Contains(string(timer), "OnUnitActiveSec=1h") {
		t.Errorf("units:\n%s\n%s", svc, timer)
	}

	noConsent := newProbeHome(t, bin, false)
	cmd := exec.Command(bin, "--config", noConsent.config, "schedule", "--install")
	cmd.Env = append(os.Environ(), "PATH="+pathEnv)
	if out, err := cmd.CombinedOutput(); exitCodeOf(err) != exitNoConsent || !strings.Contains(string(out), "--accept-consent") {
		t.Errorf("install without consent: %v\n%s", err, out)
	}
}

func exitCodeOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
