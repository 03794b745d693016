package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/identity"
)

func init() { register(newKeysCmd) }

// dataDirOf is the probe's data directory: [storage] dir, else the per-user default.
func dataDirOf(cfg *config.Config) string {
	if cfg.Storage.Dir != "" {
		return cfg.Storage.Dir
	}
	return config.DefaultDataDir()
}

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "the probe's signing key",
	}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show",
		Short: "print the probe id and public key (creating the key on first use)",
		Long: `Print the probe id and the public key that sign this probe's measurements.
The key pair is created on first use in the data directory ([storage] dir) as
probe.key, readable by its owner only. Give the probe id to researchers so that
they can check a bundle with 'vantage verify --probe ID'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			id, err := identity.LoadOrCreate(dataDirOf(cfg))
			if err != nil {
				return err
			}
			pub := base64.StdEncoding.EncodeToString(id.Public)
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(map[string]string{"probe_id": id.ProbeID, "public_key": pub, "key_file": id.Path})
			}
			fmt.Fprintf(out, "probe_id:   %s\npublic_key: %s\nkey_file:   %s\n", id.ProbeID, pub, id.Path)
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.AddCommand(show)
	return cmd
}
