package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/report"
)

func init() { register(newVerifyCmd) }

// exitVerifyFailed: at least one line of the bundle did not verify.
const exitVerifyFailed = 3

func newVerifyCmd() *cobra.Command {
	var probes []string
	var logFlags verifyLogFlags
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "check every signature in a bundle and name each bad line",
		Long: `Check every line of a bundle (from 'vantage export', 'vantage pull' or the
collector's export) with nothing but the file itself: each signature must cover
the measurement's bytes exactly, each probe id must derive from its key. Prints
one line per bad line (FILE:LINE: uid UID: reason) and a total.

With --probe, only the listed probe ids are trusted: a valid signature by another
key is reported too. Without it, verify proves each line is unaltered since its
key signed it, not who holds that key.

Exit status: 0 every line verifies; 3 at least one line does not; 1 the file
could not be read; 2 usage error. FILE "-" reads standard input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			var in io.Reader = cmd.InOrStdin()
			if name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return fmt.Errorf("verify: %w", err)
				}
				defer f.Close()
				in = f
			}
			rep, err := report.VerifyBundle(in, report.VerifyOptions{ProbeIDs: probes})
			out := cmd.OutOrStdout()
			if rep != nil {
				for _, p := range rep.Problems {
					uid := p.UID
					if uid == "" {
						uid = "-"
					}
					fmt.Fprintf(out, "%s:%d: uid %s: %v\n", name, p.Line, uid, p.Err)
				}
			}
			if err != nil {
				return fmt.Errorf("verify: %s: %w", name, err)
			}
			bad := len(rep.Problems)
			fmt.Fprintf(out, "%s: %d lines, %d verified, %d invalid\n", name, rep.Lines, rep.Valid, bad)
			if logFlags.proofs != "" {
				if err := logFlags.check(cmd, name); err != nil {
					return err
				}
			}
			if bad > 0 {
				return withCode(exitVerifyFailed, fmt.Errorf("verify: %s: %d of %d lines do not verify", name, bad, rep.Lines))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&probes, "probe", nil, "trust only this probe id (repeatable)")
	logFlags.register(cmd)
	return cmd
}
