package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenPlan has fixed paths (with a space and a % that must be escaped) and a
// fixed minute and hour, so that every scheduler's output is a golden file.
func goldenPlan(every time.Duration, windows bool) *schedulePlan {
	if windows {
		return &schedulePlan{binary: `C:\Program Files\vantage\vantage.exe`, configPath: `C:\Users\Aigerim\AppData\Roaming\vantage\config.toml`,
			logPath: `C:\Users\Aigerim\AppData\Local\vantage\batch.log`, every: every, minute: 17, hour: 9}
	}
	return &schedulePlan{binary: "/usr/local/bin/vantage", configPath: "/home/aigerim/My 100% config/config.toml",
		logPath: "/home/aigerim/.local/share/vantage/batch.log", every: every, minute: 17, hour: 9}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "schedule", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, got)
	}
}

func TestScheduleGolden(t *testing.T) {
	six := goldenPlan(6*time.Hour, false)
	checkGolden(t, "cron-6h.txt", six.cronLine()+"\n")
	checkGolden(t, "vantage-6h.timer", six.timerUnit())
	checkGolden(t, "vantage-user.service", six.serviceUnit(false))
	checkGolden(t, "vantage-system.service", six.serviceUnit(true))
	checkGolden(t, "launchd-6h.plist", six.launchdPlist())
	checkGolden(t, "launchd-1h.plist", goldenPlan(time.Hour, false).launchdPlist())
	checkGolden(t, "task-6h.xml", goldenPlan(6*time.Hour, true).taskXML())
}

// TestScheduleTimes pins the calendar of each interval, in each scheduler's syntax.
func TestScheduleTimes(t *testing.T) {
	for _, c := range []struct {
		every            time.Duration
		cronHours, onCal string
		runHours         int
	}{
		{time.Hour, "*", "*-*-* *:17:00", 24},
		{6 * time.Hour, "3-23/6", "*-*-* 03/6:17:00", 4},
		{5 * time.Hour, "4-23/5", "*-*-* 04/5:17:00", 4}, // 4, 9, 14, 19
		{24 * time.Hour, "9", "*-*-* 09:17:00", 1},
	} {
		p := goldenPlan(c.every, false)
		if f := strings.Fields(p.cronLine()); f[0] != "17" || f[1] != c.cronHours {
			t.Errorf("%s: cron %q %q, want 17 %q", c.every, f[0], f[1], c.cronHours)
		}
		if got := p.onCalendar(); got != c.onCal {
			t.Errorf("%s: OnCalendar %q, want %q", c.every, got, c.onCal)
		}
		if got := len(p.runHours()); got != c.runHours {
			t.Errorf("%s: %d run hours, want %d", c.every, got, c.runHours)
		}
	}
}

// TestCronEscapesPercent: cron turns an unescaped % into a newline.
func TestCronEscapesPercent(t *testing.T) {
	line := goldenPlan(time.Hour, false).cronLine()
	if strings.Contains(strings.ReplaceAll(line, `\%`, ""), "%") {
		t.Errorf("unescaped %% in %s", line)
	}
	if !strings.Contains(line, `'/home/aigerim/My 100\% config/config.toml'`) {
		t.Errorf("config path not quoted and escaped: %s", line)
	}
}

// TestSystemdUnitsVerify: systemd-analyze accepts the units (where it exists),
// with no warning either (an unknown key is only a warning).
func TestSystemdUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	for _, system := range []bool{false, true} {
		dir := t.TempDir()
		p := goldenPlan(6*time.Hour, false)
		p.binary = "/bin/true" // verify wants the ExecStart binary to exist
		os.WriteFile(filepath.Join(dir, unitService), []byte(p.serviceUnit(system)), 0o644)
		os.WriteFile(filepath.Join(dir, unitTimer), []byte(p.timerUnit()), 0o644)
		out, err := exec.Command("systemd-analyze", "verify", "--man=no",
			filepath.Join(dir, unitService), filepath.Join(dir, unitTimer)).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify (system %v): %v\n%s", system, err, out)
		}
	}
}

func TestUTF16File(t *testing.T) {
	b := utf16File("a\nб")
	want := []byte{0xff, 0xfe, 'a', 0, '\r', 0, '\n', 0, 0x31, 0x04}
	if string(b) != string(want) {
		t.Errorf("utf16File = % x, want % x", b, want)
	}
}
