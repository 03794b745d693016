package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/store"
	"github.com/vantage-probe/vantage/report"
)

// TestSignalDuringAShutdownRun: a run whose check finds the network down records
// every URL as skipped, one save each; SIGTERM and SIGINT used to be ignored
// there (16,632 more skips after a SIGTERM on a 20,000-URL list, exit 0; a
// million-row list ran until SIGKILL). At several moments of such a run the
// binary must exit 1, and everything it stored must verify and be what it
// printed. The time from the signal to the exit is logged (the figure); a run
// still going 10 s after the signal fails (100,000 skips took a minute).
func TestSignalDuringAShutdownRun(t *testing.T) {
	requireIsolation(t)
	bin := cliBinary(t)
	var list strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&list, "https://site%d.example/\n", i)
	}
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		after  int           // JSON lines printed before the signal
		orWait time.Duration // or this long after the start, when after is 0
	}{
		{"SIGTERM while the list is read", syscall.SIGTERM, 0, 100 * time.Millisecond},
		{"SIGTERM during the check", syscall.SIGTERM, 0, 1500 * time.Millisecond},
		{"SIGINT at the first skip", syscall.SIGINT, 2, 0},
		{"SIGTERM after 2,000 skips", syscall.SIGTERM, 2000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // most of each run is waiting for the check's timeouts
			h := newProbeHome(t, bin, true)
			file := filepath.Join(h.root, "list.txt")
			if err := os.WriteFile(file, []byte(list.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := h.command("run", "--json", "--no-upload", "--input-file", file)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string, 1024)
			go func() { // owned: ends when the process's stdout closes
				defer close(lines)
				sc := bufio.NewScanner(stdout)
				sc.Buffer(make([]byte, 1<<20), 16<<20)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var printed []string
			var timer <-chan time.Time
			if tc.after == 0 {
				timer = time.After(tc.orWait)
			}
			var signalled time.Time
			for line := range waitOrSignal(ctx, lines, timer, func() bool { return tc.after > 0 && len(printed) >= tc.after }, func() {
				signalled = time.Now()
				cmd.Process.Signal(tc.sig)
			}) {
				printed = append(printed, line)
			}
			exitedAfter := time.Since(signalled)
			err = cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			if signalled.IsZero() {
				t.Fatalf("the run ended (exit %d, %d lines) before the signal", code, len(printed))
			}
			if code != exitError {
				t.Errorf("exit %d after %v, want %d (interrupted): %v", code, tc.sig, exitError, err)
			}
			if exitedAfter > 10*time.Second {
				t.Errorf("exited %v after the signal", exitedAfter)
			}
			uids := map[string]bool{}
			for _, l := range printed {
				var m struct {
					UID string `json:"measurement_uid"`
				}
				if json.Unmarshal([]byte(l), &m) == nil && m.UID != "" {
					uids[m.UID] = true
				}
			}
			st, err := store.Open(h.data)
			if err != nil {
				t.Fatalf("store after the signal: %v", err)
			}
			defer st.Close()
			n := 0
			err = st.MeasurementsSince(context.Background(), time.Time{}, func(m store.StoredMeasurement) error {
				n++
				if _, err := report.Verify(m.Line); err != nil {
					t.Errorf("stored %s does not verify: %v", m.UID, err)
				}
				if !uids[m.UID] {
					t.Errorf("stored %s was not printed", m.UID)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != len(uids) {
				t.Errorf("stored %d, printed %d", n, len(uids))
			}
			t.Logf("%s: exit %d %v after the signal, %d measurements printed and stored, all verify", tc.name, code, exitedAfter.Round(time.Millisecond), n)
		})
	}
}

// waitOrSignal passes lines on and calls signal once, when timer fires or ready
// says so; it ends when lines closes or ctx is done.
func waitOrSignal(ctx context.Context, lines <-chan string, timer <-chan time.Time, ready func() bool, signal func()) <-chan string {
	out := make(chan string)
	go func() { // owned: ends with lines or ctx
		defer close(out)
		sent := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer:
				if !sent {
					sent = true
					signal()
				}
			case l, ok := <-lines:
				if !ok {
					return
				}
				select {
				case out <- l:
				case <-ctx.Done():
					return
				}
				if !sent && ready() {
					sent = true
					signal()
				}
			}
		}
	}()
	return out
}
