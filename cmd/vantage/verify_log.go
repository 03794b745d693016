package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/report"
	"github.com/vantage-probe/vantage/report/translog"
)

// verifyLogFlags are `vantage verify`'s transparency-log flags.
type verifyLogFlags struct {
	proofs, key string
}

func (f *verifyLogFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.proofs, "log", "", "check every line's inclusion in a collector's log with this proof file (the FILE.log.json `vantage pull` writes: signed checkpoint and proofs)")
	cmd.Flags().StringVar(&f.key, "log-key", "", "with --log: the collector's verifier key the checkpoint must be signed with (default: the key in the proof file)")
}

// check verifies, offline, that every line of the bundle at name is included in
// the proof file's signed checkpoint, printing one line per line that is not.
func (f *verifyLogFlags) check(cmd *cobra.Command, name string) error {
	if name == "-" {
		return withCode(exitUsage, fmt.Errorf("verify: --log needs a file, not standard input"))
	}
	pf, err := translog.ReadProofFile(f.proofs)
	if err != nil {
		return fmt.Errorf("verify: --log: %w", err)
	}
	vkey := pf.VerifierKey
	if f.key != "" {
		if f.key != vkey {
			return withCode(exitVerifyFailed, fmt.Errorf("verify: %s was verified with the key %s, not --log-key", f.proofs, vkey))
		}
	}
	cp, err := translog.OpenCheckpoint([]byte(pf.Checkpoint), vkey)
	if err != nil {
		return withCode(exitVerifyFailed, fmt.Errorf("verify: %s: %w", f.proofs, err))
	}
	byUID := make(map[string]translog.InclusionProof, len(pf.Proofs))
	for _, p := range pf.Proofs {
		byUID[p.UID] = p
	}
	in, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer in.Close()
	out := cmd.OutOrStdout()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20+1)
	lines, bad := 0, 0
	for no := 1; sc.Scan(); no++ {
		line := sc.Bytes()
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			continue
		}
		lines++
		s, err := report.Verify(line)
		if err != nil {
			bad++ // already reported by the signature check
			continue
		}
		p, ok := byUID[s.MeasurementUID]
		switch {
		case !ok:
			fmt.Fprintf(out, "%s:%d: uid %s: no inclusion proof in %s\n", name, no, s.MeasurementUID, f.proofs)
			bad++
		case translog.VerifyInclusion(cp, p.LeafIndex, line, p.Hashes) != nil:
			fmt.Fprintf(out, "%s:%d: uid %s: not the bytes logged at leaf %d of %s's log\n", name, no, s.MeasurementUID, p.LeafIndex, cp.Origin)
			bad++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("verify: %s: %w", name, err)
	}
	fmt.Fprintf(out, "%s: %d of %d lines proved in the log %s at size %d (key %s)\n", name, lines-bad, lines, cp.Origin, cp.Size, vkey)
	if bad > 0 {
		return withCode(exitVerifyFailed, fmt.Errorf("verify: %s: %d of %d lines are not proved in the log", name, bad, lines))
	}
	return nil
}
