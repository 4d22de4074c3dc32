package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/walship/walship/config"
	"github.com/walship/walship/replay"
	"github.com/walship/walship/sinks/sqlsink"
)

// newAcceptDDLCmd is `walship accept-ddl`: the way out of a schema-change
// stop that the follower's columns cannot show (a type change that rounds
// values, on SQLite): forget the shapes the sink recorded for the tables.
func newAcceptDDLCmd() *cobra.Command {
	var path, sink, tables string
	cmd := &cobra.Command{
		Use:   "accept-ddl",
		Short: "Tell a stopped sink that its follower tables were brought to their source's new shape by hand",
		Long: `A sink stops at a schema change whose effect on stored rows is not in the source's log (a type change
that rounds values, a rename, a volatile default) and names the table. Once the follower table was changed
the same way by hand, accept-ddl forgets the source shape the sink recorded for the table, so that its
restart compares the new shape with the follower's columns only. Needed where the follower's columns do not
show the change (SQLite, whose columns take any value); elsewhere the restart sees the changed column.
Run it with the sink stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sink == "" || tables == "" {
				return withCode(exitUsage, errors.New("accept-ddl: --sink and --tables are required"))
			}
			cfg, err := config.Load(path)
			if err != nil {
				return withCode(exitUsage, err)
			}
			s := cfg.SinkNamed(sink)
			if s == nil {
				return withCode(exitUsage, fmt.Errorf("accept-ddl: no sink named %q in %s (sinks: %s)", sink, cfg.File, strings.Join(cfg.SinkNames(), ", ")))
			}
			patterns, err := replay.ParseTables(tables)
			if err != nil {
				return withCode(exitUsage, err)
			}
			d := dialectFor(*s)
			db, err := d.Open(cmd.Context())
			if err != nil {
				return withCode(exitFailure, err)
			}
			defer db.Close()
			forgot, err := sqlsink.ForgetShapes(cmd.Context(), db, d, sink, func(src string) bool {
				schema, table, _ := strings.Cut(src, ".")
				return config.MatchTable(patterns, schema, table)
			})
			if err != nil {
				return withCode(exitFailure, err)
			}
			if len(forgot) == 0 {
				return withCode(exitUsage, fmt.Errorf("accept-ddl: sink %s recorded no shape of a table matching %s", sink, tables))
			}
			for _, t := range forgot {
				fmt.Fprintf(cmd.OutOrStdout(), "sink %s: forgot the recorded shape of %s\n", sink, t)
			}
			return nil
		},
	}
	configFlag(cmd, &path)
	f := cmd.Flags()
	f.StringVar(&sink, "sink", "", "the stopped sink (required)")
	f.StringVar(&tables, "tables", "", "comma-separated schema.table patterns of the source tables (required)")
	return cmd
}
