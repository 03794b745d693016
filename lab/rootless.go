//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// EnvUserns marks a process that RootlessReexec started inside a user namespace.
const EnvUserns = "VANTAGE_LAB_USERNS"

// rootlessSetup runs inside `unshare -Urnm` (a user namespace where we are root,
// with our own network and mount namespaces) before the real command: a private
// /run for iproute2's named namespaces and the xtables lock, and a resolv.conf
// pointing at the lab's honest resolver, since /etc/netns cannot be written
// without real root.
const rootlessSetup = `set -e
mount -t tmpfs vantage-lab /run
mkdir -p /run/netns
printf 'nameserver %s\noptions timeout:1 attempts:2\n' > /run/vantage-lab-resolv.conf
mount --bind /run/vantage-lab-resolv.conf /etc/resolv.conf 2>/dev/null || true
exec "$@"`

// RootlessReexec re-runs this program inside a user namespace when it is not root
// and unprivileged user namespaces work, and returns the child's exit code with
// ran=true. It returns ran=false (and why, in err) when the caller should go on
// as it is: already root, already re-executed, or no user namespaces here.
func RootlessReexec() (code int, ran bool, err error) {
	if os.Geteuid() == 0 || os.Getenv(EnvUserns) != "" {
		return 0, false, nil
	}
	script := fmt.Sprintf(rootlessSetup, HonestResolver)
	// A dry run of the set-up first: where it fails, the caller skips cleanly
	// instead of failing inside the namespace.
	if out, err := exec.Command("unshare", "-Urnm", "sh", "-c", script, "sh", "true").CombinedOutput(); err != nil {
		return 0, false, fmt.Errorf("unprivileged user namespaces unavailable (unshare -Urnm: %v: %s)", err, out)
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, false, fmt.Errorf("lab: find own binary: %w", err)
	}
	args := append([]string{"-Urnm", "sh", "-c", script, "sh", exe}, os.Args[1:]...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), EnvUserns+"=1")
	// The child gets Ctrl-C from the terminal and tears its labs down; the
	// parent only waits for it.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	defer signal.Reset(os.Interrupt, syscall.SIGTERM)
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("lab: re-exec in a user namespace: %w", err)
	}
	return 0, true, nil
}
