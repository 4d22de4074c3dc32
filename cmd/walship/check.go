package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/walship/walship/config"
	"github.com/walship/walship/preflight"
)

func newCheckCmd() *cobra.Command {
	var path string
	var configOnly bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config and preflight every configured server; exit non-zero listing every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return withCode(exitUsage, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "config %s: ok (%d sources, %d sinks)\n", path, len(cfg.Sources), len(cfg.Sinks))
			if configOnly {
				return nil
			}
			rep := preflight.Check(context.WithoutCancel(cmd.Context()), cfg)
			if err := rep.Print(out); err != nil {
				return withCode(exitFailure, err)
			}
			if !rep.OK() {
				return withCode(exitFailure, fmt.Errorf("preflight found %d problem(s)", rep.Problems()))
			}
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().BoolVar(&configOnly, "config-only", false, "validate the config file without connecting to any server")
	return cmd
}
