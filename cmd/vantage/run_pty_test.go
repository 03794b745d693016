package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// terminal is a vantage process on a pseudo-terminal, as a person runs it.
type terminal struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	seen bytes.Buffer
	done chan struct{}
}

// waitBound bounds each wait for text: a guard against a hung process, not a
// speed requirement (the isolated run ends within seconds).
const waitBound = 90 * time.Second

func startTerminal(t *testing.T, cmd *exec.Cmd) *terminal {
	t.Helper()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	term := &terminal{t: t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			term.mu.Lock()
			term.seen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil { // EIO once the process has exited and closed the terminal
				return
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); cmd.Process.Kill(); <-term.done })
	return term
}

func (term *terminal) text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.seen.String()
}

// waitFor waits until the screen shows want.
func (term *terminal) waitFor(want string) {
	term.t.Helper()
	deadline := time.Now().Add(waitBound)
	for !strings.Contains(term.text(), want) {
		select {
		case <-term.done:
			if !strings.Contains(term.text(), want) {
				term.t.Fatalf("the process ended without showing %q:\n%s", want, term.text())
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("%q did not appear:\n%s", want, term.text())
		}
	}
}

// exit waits for the process and returns its exit code and everything it showed.
func (term *terminal) exit() (int, string) {
	term.t.Helper()
	err := term.cmd.Wait()
	<-term.done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), term.text()
	}
	if err != nil {
		term.t.Fatal(err)
	}
	return 0, term.text()
}

func testInteractive(t *testing.T, bin string) {
	h := newProbeHome(t, bin, false)
	list := writeList(t, h.root, "list.csv", threeURLs)

	// First run: the consent text, a question, the answer, then the run.
	cmd := h.command("run", "--input-file", list)
	cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	term := startTerminal(t, cmd)
	term.waitFor(consentPrompt)
	screen := term.text()
	for _, want := range []string{"What vantage measures", "What is uploaded", "The risks", "never your IP address"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the consent text lacks %q", want)
		}
	}
	if strings.Contains(screen, "checking the network") {
		t.Fatal("measuring started before consent was given")
	}
	io.WriteString(term.tty, "yes\n")
	code, screen := term.exit()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, screen)
	}
	after := screen[strings.Index(screen, consentPrompt):]
	for _, want := range []string{
		"Consent recorded in " + h.config,
		"probe location: KZ AS9198 (from the configuration file)",
		"checking the network...",
		"3/3",           // the progress bar's count at the end
		"Network: ",     // the summary starts with the network verdict
		"local failure", // isolated: no route, not censorship
		"Other sites: 3 inconclusive",
		"vantage results show 1",
	} {
		if !strings.Contains(after, want) {
			t.Errorf("the screen lacks %q:\n%s", want, after)
		}
	}
	if !strings.Contains(after, "\x1b[1mNetwork: \x1b[0m") {
		t.Errorf("a terminal without NO_COLOR shows colours:\n%q", after)
	}
	if strings.Index(after, "Network: ") < strings.Index(after, "3/3") {
		t.Error("the summary must come after the progress bar")
	}
	text, _ := os.ReadFile(h.config)
	if !strings.Contains(string(text), "informed_consent = true") || !strings.Contains(string(text), `country = "KZ"`) || !strings.Contains(string(text), "# a volunteer's comment") {
		t.Errorf("consent not recorded, or other lines lost:\n%s", text)
	}

	// Second run, NO_COLOR: no question, no colour.
	cmd = h.command("run", "--input-file", list)
	cmd.Env = append(cmd.Env, "TERM=xterm-256color", "NO_COLOR=1")
	term = startTerminal(t, cmd)
	code, screen = term.exit()
	if code != 0 {
		t.Fatalf("second run: exit %d:\n%s", code, screen)
	}
	if strings.Contains(screen, "The risks") {
		t.Error("consent asked again although it is recorded")
	}
	for _, sgr := range []string{"\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[33m"} {
		if strings.Contains(screen, sgr) {
			t.Errorf("NO_COLOR set, yet %q appears:\n%q", sgr, screen)
		}
	}
	if !strings.Contains(screen, "Network: local failure") {
		t.Errorf("second run summary:\n%s", screen)
	}

	// Someone who declines: nothing is measured and nothing is recorded.
	h2 := newProbeHome(t, bin, false)
	before, _ := os.ReadFile(h2.config)
	term = startTerminal(t, h2.command("run", "--input-file", list))
	term.waitFor(consentPrompt)
	io.WriteString(term.tty, "no\n")
	code, screen = term.exit()
	if code != exitNoConsent || !strings.Contains(screen, "consent not given") || strings.Contains(screen, "checking the network") {
		t.Errorf("declined: exit %d:\n%s", code, screen)
	}
	if after, _ := os.ReadFile(h2.config); !bytes.Equal(before, after) {
		t.Error("declining changed the configuration")
	}
}
