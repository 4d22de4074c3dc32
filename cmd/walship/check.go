package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/walship/walship/config"
)

func newCheckCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config and preflight every configured server; exit non-zero listing every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return withCode(exitUsage, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "config %s: ok (%d sources, %d sinks)\n", path, len(cfg.Sources), len(cfg.Sinks))
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}
