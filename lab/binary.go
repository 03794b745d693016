//go:build linux

package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EnvBinary names the vantage binary the lab runs; the Makefile sets it.
const EnvBinary = "VANTAGE_BIN"

// FindBinary returns $VANTAGE_BIN, or builds ./cmd/vantage of the module that
// contains dir into tmpDir. The build is the slow path of a bare `go test`.
func FindBinary(ctx context.Context, dir, tmpDir string) (string, error) {
	if bin := os.Getenv(EnvBinary); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("lab: %s=%s: %w", EnvBinary, bin, err)
		}
		return bin, nil
	}
	root, err := moduleRoot(ctx, dir)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(tmpDir, "vantage")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/vantage")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lab: go build ./cmd/vantage: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

func moduleRoot(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("lab: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("lab: %s is not inside a Go module", dir)
	}
	return filepath.Dir(mod), nil
}
