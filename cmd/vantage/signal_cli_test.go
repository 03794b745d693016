//go:build unix

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
	t.Run("SIGTERM while an endless list is read", func(t *testing.T) { testSignalWhileAnEndlessListIsRead(t, bin) })
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		after int // JSON lines printed before the signal; 0: at the location log line, just before the check
	}{
		{"SIGTERM during the check", syscall.SIGTERM, 0},
		{"SIGINT at the first skip", syscall.SIGINT, 2},
		{"SIGTERM after 2,000 skips", syscall.SIGTERM, 2000},
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
			// --batch logs JSON records on stderr, the location one right before
			// the check.
			cmd := h.command("run", "--batch", "--json", "--no-upload", "--input-file", file)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			located := make(chan time.Time, 1)
			go func() { // owned: ends when the process's stderr closes
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					if strings.Contains(sc.Text(), `"msg":"location"`) {
						select {
						case located <- time.Now():
						default:
						}
					}
				}
			}()
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
				timer = located
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

// testSignalWhileAnEndlessListIsRead: the list is a FIFO the test keeps
// writing to, so the run is certainly reading it (and has its signal handler)
// when SIGTERM comes after 20,000 lines. The run must stop reading and exit 1,
// having measured and stored nothing.
func testSignalWhileAnEndlessListIsRead(t *testing.T, bin string) {
	t.Parallel()
	h := newProbeHome(t, bin, true)
	fifo := filepath.Join(h.root, "endless.txt")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := h.command("run", "--json", "--no-upload", "--input-file", fifo)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	signalled := make(chan time.Time, 1)
	written := make(chan int, 1)
	go func() { // owned: ends when the run closes its end (EPIPE), or is unblocked below
		n := 0
		defer func() { written <- n }()
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		bw := bufio.NewWriter(w)
		for ; ; n++ {
			if _, err := fmt.Fprintf(bw, "https://endless%d.example/\n", n); err != nil {
				return
			}
			if n == 20_000 {
				if bw.Flush() != nil {
					return
				}
				signalled <- time.Now()
				cmd.Process.Signal(syscall.SIGTERM)
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		err = <-done
		t.Errorf("the run was still reading the endless list 30 s after the start")
	}
	exited := time.Now()
	// Unblock the writer's open if the run never opened the FIFO.
	if r, oerr := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); oerr == nil {
		r.Close()
	}
	n := <-written
	var at time.Time
	select {
	case at = <-signalled:
	default:
		t.Fatalf("the run ended (%v) after %d lines, before the signal", err, n)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitError {
		t.Errorf("exit %d, want %d (interrupted): %v", code, exitError, err)
	}
	if c := countStored(t, h.data); c != 0 {
		t.Errorf("stored %d measurements before any check", c)
	}
	t.Logf("SIGTERM after 20,000 lines of an endless list: exit 1 %v after the signal, %d lines written in all", exited.Sub(at).Round(time.Millisecond), n)
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
