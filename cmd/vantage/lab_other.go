//go:build !linux

package main

import (
	"errors"
	"runtime"

	"github.com/spf13/cobra"
)

func init() { register(newLabCmd) }

// errLabNeedsLinux is what `vantage lab` says off Linux: the lab is built out of
// Linux network namespaces, netfilter and tc, which no other OS has.
var errLabNeedsLinux = errors.New("lab: the lab needs Linux (network namespaces, netfilter, tc); this is " + runtime.GOOS)

func newLabCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "lab",
		Short:              "Emulated censored networks (Linux only)",
		Long:               "vantage lab builds emulated censored networks out of Linux network namespaces.\nIt needs Linux; see docs/lab.md.",
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errLabNeedsLinux
		},
	}
}
