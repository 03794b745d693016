package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vantage-probe/vantage/probe/runner"
)

func init() { register(newManpageCmd) }

// newManpageCmd writes vantage(1) from the commands' own help, so the man page
// that the packages install never drifts from --help. Hidden: `make release` uses it.
func newManpageCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "manpage",
		Short:  "print the vantage(1) man page (roff), generated from --help",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeManpage(cmd.OutOrStdout(), cmd.Root())
		},
	}
}

func writeManpage(w io.Writer, root *cobra.Command) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH VANTAGE 1 \"\" \"vantage %s\" \"User Commands\"\n", roff(runner.SoftwareVersion))
	b.WriteString(".SH NAME\nvantage \\- censorship and shutdown measurement probe\n")
	b.WriteString(".SH SYNOPSIS\n.B vantage\n[\\fB\\-\\-config\\fR \\fIFILE\\fR] \\fICOMMAND\\fR [\\fIFLAGS\\fR]\n")
	b.WriteString(".SH DESCRIPTION\nvantage measures how websites and canary hosts answer over DNS, TCP, TLS, HTTP and QUIC, " +
		"says for every site whether and how it is blocked, and for the network whether it is up, shut down or locally broken. " +
		"Each command below is also described by \\fBvantage\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR.\n")
	b.WriteString(".SH GLOBAL OPTIONS\n")
	writeFlags(&b, root.PersistentFlags())
	b.WriteString(".SH COMMANDS\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" && c != root {
				continue
			}
			b.WriteString(".SS \"" + roff(sub.CommandPath()) + "\"\n")
			text := sub.Long
			if text == "" {
				text = sub.Short
			}
			b.WriteString(roffParagraphs(text))
			if sub.Runnable() {
				b.WriteString(".PP\nUsage: \\fB" + roff(sub.UseLine()) + "\\fR\n")
				writeFlags(&b, sub.LocalFlags())
			}
			walk(sub)
		}
	}
	walk(root)
	b.WriteString(`.SH EXIT STATUS
0: the run completed (a shutdown is a result, not an error); 1: an error; 2: usage or configuration error; 3: another run is in progress; 4: informed consent is not recorded.
.SH FILES
The configuration file and the data directory (signing key, store, batch log) are printed by \fBvantage config show\fR; \fBvantage reset\fR deletes them.
.SH SEE ALSO
The README and docs/ of the source: methodology, command line, collector API.
`)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFlags(b *strings.Builder, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name := "\\fB\\-\\-" + roff(f.Name) + "\\fR"
		if f.Shorthand != "" {
			name = "\\fB\\-" + roff(f.Shorthand) + "\\fR, " + name
		}
		if f.Value.Type() != "bool" {
			name += " \\fI" + roff(f.Value.Type()) + "\\fR"
		}
		usage := f.Usage
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		b.WriteString(".TP\n" + name + "\n" + roff(usage) + "\n")
	})
}

// roff escapes text for a roff line: backslashes and dashes, and a line that
// would start with a control character.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// roffParagraphs keeps the help text's paragraphs (blank lines) and lines.
func roffParagraphs(s string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		b.WriteString(".PP\n.nf\n" + roff(para) + "\n.fi\n")
	}
	return b.String()
}
