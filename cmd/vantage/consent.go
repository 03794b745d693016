package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/runner/console"
)

// consentText is what a volunteer reads before the first run. It follows the two
// points OONI's onboarding quiz checks (ooni-design.md §6: others may see that
// you run a probe; results are published), adapted to what vantage does.
const consentText = `Before vantage measures anything, please read this.

What vantage measures
  It tries to reach a list of websites (news, human rights, social media, and
  more, from Citizen Lab's test lists for your country) and a few well-known
  "canary" servers, over DNS, TCP, TLS, HTTP and QUIC, and records how each
  attempt went: answers, errors, timings, certificates, page sizes.

What is uploaded, when upload is enabled
  The signed measurements, to the collector in your configuration, where
  researchers and the public can read them. They name your country and your
  network (ASN), never your IP address: vantage removes it from every
  measurement, and nothing you browse yourself is ever recorded. Upload is off
  until you turn it on ([upload] enabled = true); measurements are always kept
  on this computer, so you can review them (vantage results).

The risks
  Anyone who watches your connection (your provider, your employer, the state)
  can see that this computer connects to the sites on the list, including ones
  that are forbidden where you are, and may recognise the pattern of a
  measurement probe. Where censorship is enforced, running a probe or visiting
  such sites may be illegal or dangerous. Only run vantage if you understand
  and accept these risks for yourself and for whoever owns this connection.
`

// consentPrompt asks for an explicit answer: nothing but "yes" counts.
const consentPrompt = "Do you understand the risks and agree to run vantage? Type yes or no: "

// errNoConsent explains how to give consent, for runs that cannot ask.
func errNoConsent(path string) error {
	where := "the configuration file"
	if path != "" {
		where = path
	}
	return withCode(exitNoConsent, fmt.Errorf(`informed consent is not recorded, so vantage will not measure (exit %d).
Read what vantage does and give consent with:
    vantage config init --accept-consent
or set, in %s:
    [probe]
    informed_consent = true`, exitNoConsent, where))
}

// ensureConsent returns nil when consent is recorded, or asks for it on a terminal
// (never in --batch) and records it in the configuration file.
func ensureConsent(cmd *cobra.Command, cfg *config.Config, batch bool) error {
	if cfg.Probe.InformedConsent {
		return nil
	}
	path, err := configFileForWriting(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if batch || !console.IsTerminal(os.Stdin) {
		return errNoConsent(path)
	}
	ok, err := askConsent(cmd.InOrStdin(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if !ok {
		return withCode(exitNoConsent, errors.New("consent not given: nothing was measured"))
	}
	if err := recordConsent(path); err != nil {
		return err
	}
	cfg.Probe.InformedConsent = true
	fmt.Fprintf(cmd.ErrOrStderr(), "Thank you. Consent recorded in %s.\n\n", path)
	return nil
}

// askConsent shows the text and reads one answer.
func askConsent(in io.Reader, out io.Writer) (bool, error) {
	fmt.Fprint(out, consentText+"\n")
	fmt.Fprint(out, consentPrompt)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, withCode(exitNoConsent, fmt.Errorf("consent: no answer: %w", err))
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "yes" || answer == "y", nil
}

// configFileForWriting is the file consent goes to: --config, the file the
// configuration came from, or the per-user default.
func configFileForWriting(cfg *config.Config) (string, error) {
	if global.configPath != "" {
		return global.configPath, nil
	}
	if cfg.Path != "" {
		return cfg.Path, nil
	}
	return config.DefaultPath()
}

// recordConsent records consent in the file at path; a file that cannot be read or
// would not parse afterwards is a configuration problem (exit code exitUsage).
func recordConsent(path string) error {
	return withCode(exitUsage, config.RecordConsent(path))
}
