//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// ErrNotRoot means the lab cannot create namespaces and firewall rules here.
var ErrNotRoot = errors.New("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces")

// requiredTools are the programs the lab shells out to.
var requiredTools = []string{"ip", "iptables", "nft", "tc"}

// Supported says whether labs can be built by this process, and if not, why.
func Supported() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	for _, tool := range requiredTools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("needs %s in PATH (apt-get install iproute2 iptables nftables): %w", tool, err)
		}
	}
	return nil
}
