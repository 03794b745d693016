package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/config"
)

func init() { register(newConfigCmd) }

// configTemplate is the file `vantage config init` writes: every key a volunteer
// may want, commented, with the safe defaults (no upload until chosen).
const configTemplate = `# vantage configuration (TOML). Every key is optional. docs/cli.md explains them.

[probe]
# Leave country and asn unset to let vantage find them (from the control helper,
# or from what it learnt on this network before). Set them to override.
# country = "KZ"
# asn = "AS9198"
informed_consent = %v

[network]
# "system", or udp://IP:PORT, tcp://IP:PORT, tls://IP:PORT, https://HOST/PATH
resolver = "system"

[control]
# Control helpers (vantage helper serve) that see the sites from outside.
# helpers = ["https://helper.example.org"]
# Further helpers behind a front (a CDN that forwards by Host) or a proxy:
# helper_routes = [{ url = "https://helper.example.org", front = "cdn.example.com" }]

[upload]
# Measurements are always kept on this computer; set enabled = true and a
# collector to share them.
enabled = false
# collector = "https://collector.example.org"
# Further routes, tried in order when the collector cannot be reached: another
# host, a front (TLS SNI and DNS name of a CDN that forwards by Host), a proxy
# (socks5h:// for Tor or any SOCKS5 proxy, http:// for a CONNECT proxy).
# collectors = [
#   "https://collector2.example.net",
#   { url = "https://collector.example.org", front = "cdn.example.com" },
#   { url = "https://collector.example.org", proxy = "socks5h://127.0.0.1:9050" },
# ]

[storage]
# dir = "/path/to/data"    # default: ~/.local/share/vantage
# keep_uploaded_days = 28  # measurements the collector has are pruned after this (-1: never)

[run]
# parallelism = 64         # URLs measured at once
`

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "show or create the configuration file",
	}
	cmd.AddCommand(newConfigShowCmd(), newConfigInitCmd())
	return cmd
}

func newConfigShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "print the configuration in effect (file values over defaults)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cfg.Path != "" {
				fmt.Fprintf(out, "# from %s\n", cfg.Path)
			} else {
				path, _ := configFileForWriting(cfg)
				fmt.Fprintf(out, "# defaults: %s does not exist (create it with 'vantage config init')\n", path)
			}
			fmt.Fprintf(out, "# data directory: %s\n", dataDirOf(cfg))
			if err := toml.NewEncoder(out).Encode(cfg); err != nil {
				return fmt.Errorf("config show: %w", err)
			}
			return nil
		},
	}
}

func newConfigInitCmd() *cobra.Command {
	var accept, force bool
	cmd := &cobra.Command{
		Use:   "init [--accept-consent] [--force]",
		Short: "create the configuration file, or record consent in it",
		Long: `Create the configuration file (--config, else the per-user file) with commented
defaults. --accept-consent prints what vantage measures, what it uploads and the
risks, and records informed_consent = true: scheduled runs (--batch) need it.
On an existing file, --accept-consent only sets that key, keeping the rest;
--force replaces the file with the template.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := global.configPath
			if path == "" {
				p, err := config.DefaultPath()
				if err != nil {
					return withCode(exitUsage, err)
				}
				path = p
			}
			return initConfig(cmd, path, accept, force)
		},
	}
	cmd.Flags().BoolVar(&accept, "accept-consent", false, "record informed consent (after printing what it means)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file with the template")
	return cmd
}

func initConfig(cmd *cobra.Command, path string, accept, force bool) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if accept {
		fmt.Fprint(errOut, consentText+"\n")
	}
	_, statErr := os.Stat(path)
	exists := statErr == nil
	if statErr != nil && !errors.Is(statErr, os.ErrNotExist) {
		return withCode(exitUsage, fmt.Errorf("config init: %w", statErr))
	}
	switch {
	case exists && !force && !accept:
		return withCode(exitUsage, fmt.Errorf("config init: %s exists (use --accept-consent to record consent in it, --force to replace it)", path))
	case exists && !force:
		if err := recordConsent(path); err != nil {
			return err
		}
		fmt.Fprintf(out, "consent recorded in %s\n", path)
		return nil
	}
	text := fmt.Sprintf(configTemplate, accept)
	if _, err := config.Parse([]byte(text), path); err != nil {
		return fmt.Errorf("config init: template: %w", err) // a bug, caught by the tests
	}
	if err := config.WriteFile(path, []byte(text)); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s\n", path)
	if accept {
		fmt.Fprintln(out, "consent recorded")
	}
	return nil
}
