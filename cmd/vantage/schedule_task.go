package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode/utf16"
)

// taskName is the Windows Task Scheduler task vantage creates.
const taskName = "vantage"

// taskXML is a Task Scheduler 1.2 task: a time trigger repeating every `every`
// hours from the plan's first hour and minute, with StartWhenAvailable so that a
// run missed while the laptop slept or was off starts as soon as it can (the
// catch-up of systemd's Persistent=), on battery too. cmd.exe appends the run's
// JSON log to the batch log: the Task Scheduler keeps no output.
func (p *schedulePlan) taskXML() string {
	start := fmt.Sprintf("2026-01-01T%02d:%02d:00", p.firstHour(), p.minute)
	// cmd /c strips the outer pair of quotes and runs the rest: each path keeps
	// its own quotes (paths under "Program Files" have spaces).
	run := fmt.Sprintf(`/c ""%s" --config "%s" run --batch 2>>"%s""`, p.binary, p.configPath, p.logPath)
	return `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>vantage censorship and shutdown measurement run, every ` + formatHours(p.every) + `</Description>
    <URI>\` + taskName + `</URI>
  </RegistrationInfo>
  <Triggers>
    <TimeTrigger>
      <StartBoundary>` + start + `</StartBoundary>
      <Enabled>true</Enabled>
      <Repetition>
        <Interval>PT` + fmt.Sprint(p.hours()) + `H</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
      <RandomDelay>PT10M</RandomDelay>
    </TimeTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <ExecutionTimeLimit>PT2H</ExecutionTimeLimit>
    <Priority>7</Priority>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>cmd.exe</Command>
      <Arguments>` + xmlText(run) + `</Arguments>
    </Exec>
  </Actions>
</Task>
`
}

// utf16File encodes text as schtasks /XML reads it: UTF-16LE with a byte order
// mark, as the encoding declaration says.
func utf16File(text string) []byte {
	units := utf16.Encode([]rune(strings.ReplaceAll(text, "\n", "\r\n")))
	b := make([]byte, 2, 2+2*len(units))
	b[0], b[1] = 0xff, 0xfe
	for _, u := range units {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func installTask(out io.Writer, plan *schedulePlan) error {
	dir, err := os.MkdirTemp("", "vantage-task-")
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "task.xml")
	if err := os.WriteFile(path, utf16File(plan.taskXML()), 0o600); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	if b, err := exec.Command("schtasks", "/Create", "/TN", taskName, "/XML", path, "/F").CombinedOutput(); err != nil {
		return fmt.Errorf("schedule: schtasks /Create: %w: %s", err, bytes.TrimSpace(b))
	}
	fmt.Fprintf(out, "created the task %q; see it with: schtasks /Query /TN %s\nlog: %s\n", taskName, taskName, plan.logPath)
	return nil
}

func removeTask(string) ([]string, error) {
	if _, err := exec.LookPath("schtasks"); err != nil {
		return nil, nil
	}
	if exec.Command("schtasks", "/Query", "/TN", taskName).Run() != nil {
		return nil, nil // no such task
	}
	if b, err := exec.Command("schtasks", "/Delete", "/TN", taskName, "/F").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("schedule: schtasks /Delete: %w: %s", err, bytes.TrimSpace(b))
	}
	return []string{"the Task Scheduler task " + taskName}, nil
}
