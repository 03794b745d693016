//go:build linux

package lab

import (
	"bytes"
	"context"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Timeouts of the processes the lab starts.
const (
	// helperReadyTimeout bounds the helper's start-up; it binds one port.
	helperReadyTimeout = 15 * time.Second
	// readyPollInterval is how often readiness is re-checked while waiting.
	readyPollInterval = 20 * time.Millisecond
	// stopGrace is how long a process may take to exit after SIGTERM.
	stopGrace = 2 * time.Second
)

// EnvRunMarker is set in the environment of every process the lab starts, with the
// lab's prefix as value, so that the teardown test can find strays in /proc.
const EnvRunMarker = "VANTAGE_LAB_RUN"

// process is a long-running child (the control helper) owned by a lab.
type process struct {
	cmd    *exec.Cmd
	output *lockedBuffer
	done   chan struct{}
	err    error
	once   sync.Once
}

// startProcess starts cmd and returns at once; Close stops it.
func startProcess(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, output: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.output
	cmd.Stderr = p.output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Close sends SIGTERM to the process group, then SIGKILL after a grace period, and
// waits for the exit.
func (p *process) Close() error {
	p.once.Do(func() {
		if p.exited() {
			return
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return nil
}

// startHelper runs `vantage helper serve` in the internet namespace and waits until
// it accepts connections.
func (l *Lab) startHelper(ctx context.Context, bin string) error {
	// The helper resolves with the honest resolver and trusts the lab CA, from its
	// own configuration file (never the per-user one of whoever runs the lab).
	cfgPath := filepath.Join(l.Dir, "helper.toml")
	cfg := fmt.Sprintf("[network]\nresolver = %q\n\n[tls]\nroots = %q\n",
		fmt.Sprintf("udp://%s:53", HonestResolver), l.CAFile())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	cmd := l.Topology.Internet.Command(context.Background(), bin, "helper", "serve", "--config", cfgPath,
		"--listen", HelperAddr.String(), "--lab-allow-private")
	cmd.Env = append(os.Environ(),
		"SSL_CERT_FILE="+l.CAFile(), // for anything that uses the system roots
		"HOME="+l.Dir, "XDG_CONFIG_HOME="+l.Dir, "XDG_DATA_HOME="+l.Dir,
		EnvRunMarker+"="+l.Topology.Prefix)
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	l.onClose(p.Close)
	ctx, cancel := context.WithTimeout(ctx, helperReadyTimeout)
	defer cancel()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		c, err := l.Topology.Internet.Dial(ctx, "tcp4", HelperAddr.String())
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("lab: control helper exited: %v: %s", p.err, p.output.String())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: control helper not listening on %v: %w: %s", HelperAddr, ctx.Err(), p.output.String())
		case <-tick.C:
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the writer goroutines of os/exec and a
// concurrent reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	const limit = 1 << 20 // a chatty helper must not grow without bound
	if b.buf.Len() > limit {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
