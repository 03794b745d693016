package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newCompletionCmd) }

// newCompletionCmd replaces cobra's default completion command with one whose help
// says how to install the script for each shell.
func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "print a shell completion script",
		Long: `Print the completion script for a shell. To load it:

  bash:       source <(vantage completion bash)
              (for every session: vantage completion bash > /etc/bash_completion.d/vantage)
  zsh:        vantage completion zsh > "${fpath[1]}/_vantage"   (then start a new shell)
  fish:       vantage completion fish > ~/.config/fish/completions/vantage.fish
  powershell: vantage completion powershell | Out-String | Invoke-Expression`,
		Args:                  cobra.ExactArgs(1),
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell"},
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return withCode(exitUsage, fmt.Errorf("completion: unknown shell %q (bash, zsh, fish, powershell)", args[0]))
		},
	}
}
