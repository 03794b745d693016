// Command vantage is the censorship and shutdown measurement probe, its control
// helper and its collector. This package only wires subcommands; the work lives in
// probe/, nettests/, report/ and lab/.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/report/sqlitedb"
)

// Exit codes, documented in the README for scripts and cron.
const (
	exitOK    = 0
	exitError = 1 // the command could not do its work
	exitUsage = 2 // bad flag, argument or configuration
)

// exitError carries a specific exit code up to main.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// withCode attaches an exit code to err.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitCodeError{code: code, err: err}
}

// subcommands are added by the files of this package, one file per command.
var subcommands []func() *cobra.Command

func register(f func() *cobra.Command) { subcommands = append(subcommands, f) }

// buildLine is the second line of --version: what a bug report needs to know.
var buildLine = fmt.Sprintf("%s/%s, %s, sqlite: %s", runtime.GOOS, runtime.GOARCH, runtime.Version(), sqlitedb.Driver)

// globalFlags are shared by every subcommand.
type globalFlags struct {
	configPath string
}

var global globalFlags

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "vantage",
		Short:         "vantage measures censorship and network shutdowns",
		Version:       runner.SoftwareVersion,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("vantage version {{.Version}}\n" + buildLine + "\n")
	root.PersistentFlags().StringVar(&global.configPath, "config", "", "configuration file (default: the per-user file)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath()))
	})
	for _, f := range subcommands {
		root.AddCommand(f())
	}
	return root
}

func main() {
	err := newRoot().Execute()
	if err == nil {
		os.Exit(exitOK)
	}
	fmt.Fprintln(os.Stderr, "vantage:", err)
	var ce *exitCodeError
	if errors.As(err, &ce) {
		os.Exit(ce.code)
	}
	os.Exit(exitError)
}
