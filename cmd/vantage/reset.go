package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/identity"
	"github.com/vantage-probe/vantage/probe/runner"
	"github.com/vantage-probe/vantage/probe/store"
)

func init() { register(newResetCmd) }

// resetConfirmation is what the volunteer types to confirm a reset.
const resetConfirmation = "delete"

// dataFiles are the files vantage keeps in its data directory: the signing key,
// the store with sqlite's companions, the run lock and the batch log with its
// rotated generation.
func dataFiles() []string {
	db := store.FileName
	return []string{identity.KeyFileName, db, db + "-wal", db + "-shm", db + "-journal",
		runner.LockFileName, batchLogName, batchLogName + ".1"}
}

func newResetCmd() *cobra.Command {
	var yes bool
	var unitDir string
	cmd := &cobra.Command{
		Use:   "reset [--yes]",
		Short: "delete everything of vantage's on this machine: key, store, config, log, schedule",
		Long: `Delete the probe's signing key, its store of measurements (uploaded or not),
its configuration file, its batch log and any schedule 'vantage schedule
--install' installed, then say what was deleted. For a volunteer who no longer
wants to keep anything of vantage's on the machine. It asks you to type 'delete'
first; --yes skips the question (for scripts). The vantage binary itself stays:
remove it as you installed it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			configPath, err := configFileForWriting(cfg)
			if err != nil {
				return withCode(exitUsage, err)
			}
			return reset(cmd, dataDirOf(cfg), configPath, unitDir, yes)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&unitDir, "unit-dir", "", "the directory given to 'schedule --systemd --install --unit-dir', if any")
	return cmd
}

func reset(cmd *cobra.Command, dataDir, configPath, unitDir string, yes bool) error {
	out := cmd.OutOrStdout()
	var files []string
	for _, name := range dataFiles() {
		if _, err := os.Lstat(filepath.Join(dataDir, name)); err == nil {
			files = append(files, filepath.Join(dataDir, name))
		}
	}
	if _, err := os.Lstat(configPath); err == nil {
		files = append(files, configPath)
	}
	fmt.Fprintln(out, "vantage reset deletes:")
	for _, f := range files {
		fmt.Fprintln(out, "  "+f)
	}
	fmt.Fprintln(out, "  and any schedule of vantage's (crontab line, systemd units, launch agent, task)")
	if !yes && !confirmed(cmd.InOrStdin(), out) {
		return withCode(exitUsage, errors.New("reset: not confirmed; nothing was deleted"))
	}
	// Under the run lock, so that a scheduled run does not write while the store goes.
	release, err := runner.Lock(dataDir)
	if errors.Is(err, runner.ErrLocked) {
		return withCode(exitLocked, fmt.Errorf("reset: %w; nothing was deleted: try again when it ends", err))
	}
	if err != nil {
		return err
	}
	var errs []error
	if err := removeSchedules(out, unitDir); err != nil {
		errs = append(errs, err)
	}
	release()
	for _, f := range append(files, filepath.Join(dataDir, runner.LockFileName)) {
		switch err := os.Remove(f); {
		case err == nil:
			fmt.Fprintln(out, "deleted", f)
		case !os.IsNotExist(err):
			errs = append(errs, fmt.Errorf("reset: %w", err))
		}
	}
	removeEmptyDir(out, dataDir)
	if filepath.Base(filepath.Dir(configPath)) == "vantage" {
		removeEmptyDir(out, filepath.Dir(configPath))
	}
	return errors.Join(errs...)
}

// confirmed asks for the confirmation word on in.
func confirmed(in io.Reader, out io.Writer) bool {
	fmt.Fprintf(out, "Type %q to delete all of this: ", resetConfirmation)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out)
		return false
	}
	return strings.TrimSpace(line) == resetConfirmation
}

// removeEmptyDir removes dir when nothing is left in it, and names what is left
// otherwise: files that are not vantage's are never deleted.
func removeEmptyDir(out io.Writer, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	if len(entries) == 0 {
		if os.Remove(dir) == nil {
			fmt.Fprintln(out, "deleted", dir)
		}
		return
	}
	for _, e := range entries {
		fmt.Fprintln(out, "left (not vantage's):", filepath.Join(dir, e.Name()))
	}
}
