package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
-r) rm "` + table + `" ;;
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
	if code != 0 || !regexp.MustCompile(`^\d+ [0-5]-23/6 \* \* \* `).MatchString(out) || !strings.Contains(out, "--config "+h.config+" run --batch") || !strings.HasSuffix(strings.TrimSpace(out), cronMarker) {
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
	if !strings.Contains(string(svc), "ExecStart="+bin) || !strings.Contains(string(svc), "SuccessExitStatus=3") || !strings.Contains(string(timer), "OnCalendar=*-*-* *:") || !strings.Contains(string(timer), "Persistent=true") {
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

// TestScheduleInstallThenRemove: --remove takes out what --install put in (the
// crontab line, the systemd units) and nothing else; a crontab that held only
// vantage's line is removed whole.
func TestScheduleInstallThenRemove(t *testing.T) {
	bin := cliBinary(t)
	h := newProbeHome(t, bin, true)
	run := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--config", h.config}, args...)...)
		cmd.Env = append(os.Environ(), append([]string{"HOME=" + h.root, "XDG_CONFIG_HOME=" + h.root}, env...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, initial := range []string{"", "MAILTO=me\n5 4 * * * backup\n"} {
		pathEnv, table := fakeCrontab(t, initial)
		env := []string{"PATH=" + pathEnv}
		units := filepath.Join(h.root, "units")
		run(env, "schedule", "--install", "--every", "3h")
		run(env, "schedule", "--systemd", "--install", "--unit-dir", units)
		if b, _ := os.ReadFile(table); !strings.Contains(string(b), cronMarker) {
			t.Fatalf("nothing installed in the crontab:\n%s", b)
		}
		out := run(env, "schedule", "--remove", "--unit-dir", units)
		for _, want := range []string{"removed the crontab line", "removed " + filepath.Join(units, unitService), "removed " + filepath.Join(units, unitTimer)} {
			if !strings.Contains(out, want) {
				t.Errorf("--remove output lacks %q:\n%s", want, out)
			}
		}
		got, err := os.ReadFile(table)
		switch {
		case initial == "" && !os.IsNotExist(err):
			t.Errorf("a crontab that held only vantage's line is still there: %q %v", got, err)
		case initial != "" && string(got) != initial:
			t.Errorf("crontab after --remove = %q, want the other lines as they were: %q", got, initial)
		}
		if entries, _ := os.ReadDir(units); len(entries) != 0 {
			t.Errorf("unit directory not empty after --remove: %v", entries)
		}
		if out := run(env, "schedule", "--remove", "--unit-dir", units); !strings.Contains(out, "no vantage schedule was installed") {
			t.Errorf("second --remove: %s", out)
		}
	}
}
