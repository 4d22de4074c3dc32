package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/walship/walship/config"
	"github.com/walship/walship/sources"
)

// newSnapshotCmd is `walship snapshot`: ask the running daemon for an
// incremental snapshot of some tables of a source (issue 17), over its
// API (POST /api/v1/sources/{name}/snapshots, with http.token).
func newSnapshotCmd() *cobra.Command {
	var path, source, tables, where, pause, resume, cancel string
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Re-read tables of a source while the daemon streams on (an incremental snapshot)",
		Long: `Asks the running daemon to read the tables again, chunk by chunk in primary-key order, while the stream
goes on, with no lock: each chunk's rows reach the followers as upserts, in the log's order, never older than
a change already applied. Progress is kept, so a restart goes on from the last chunk done. walship status
shows it. PostgreSQL sources. Needs http.token (or http.token_file) in the config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			control := map[string]string{sources.BackfillPause: pause, sources.BackfillResume: resume, sources.BackfillCancel: cancel}
			action, id := "", ""
			for a, v := range control {
				if v != "" {
					if action != "" {
						return withCode(exitUsage, errors.New("snapshot: give one of --pause, --resume and --cancel"))
					}
					action, id = a, v
				}
			}
			if source == "" || (tables == "") == (action == "") {
				return withCode(exitUsage, errors.New("snapshot: --source, and --tables (start one) or --pause, --resume or --cancel ID, are required"))
			}
			cfg, err := config.Load(path)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if cfg.HTTP.Listen == "off" {
				return withCode(exitUsage, errors.New("snapshot: the daemon's http is off; it is how walship snapshot reaches it"))
			}
			token := cfg.HTTP.Token.Reveal()
			if token == "" {
				return withCode(exitUsage, errors.New("snapshot: no http.token (or http.token_file) in the config: the daemon refuses requests that change state without one"))
			}
			req := sources.BackfillRequest{Where: where}
			for _, t := range strings.Split(tables, ",") {
				if t = strings.TrimSpace(t); t != "" {
					req.Tables = append(req.Tables, t)
				}
			}
			body, _ := json.Marshal(req)
			url := "http://" + cfg.HTTP.Listen + "/api/v1/sources/" + source + "/snapshots"
			if action != "" {
				url += "/" + id + "/" + action
				body = nil
			}
			hr, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return withCode(exitUsage, err)
			}
			hr.Header.Set("Authorization", "Bearer "+token)
			hr.Header.Set("Content-Type", "application/json")
			client := &http.Client{Timeout: 60 * time.Second}
			resp, err := client.Do(hr)
			if err != nil {
				return withCode(exitFailure, fmt.Errorf("snapshot: the daemon at %s: %w", cfg.HTTP.Listen, err))
			}
			defer resp.Body.Close()
			var answer struct {
				ID    string `json:"id"`
				Error string `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&answer)
			switch {
			case resp.StatusCode == http.StatusOK && action != "":
				fmt.Fprintf(cmd.OutOrStdout(), "incremental snapshot %s of source %s: %s\n", id, source, action)
				return nil
			case resp.StatusCode == http.StatusAccepted:
				fmt.Fprintf(cmd.OutOrStdout(), "incremental snapshot %s of %s started on source %s (walship status shows its progress)\n", answer.ID, strings.Join(req.Tables, ", "), source)
				return nil
			case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusConflict:
				return withCode(exitUsage, fmt.Errorf("snapshot: %s", answer.Error))
			default:
				return withCode(exitFailure, fmt.Errorf("snapshot: the daemon answered %s: %s", resp.Status, answer.Error))
			}
		},
	}
	configFlag(cmd, &path)
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "the source (required)")
	f.StringVar(&tables, "tables", "", "comma-separated schema.table names (required)")
	f.StringVar(&where, "where", "", "read only the rows matching this condition (the source engine's SQL)")
	f.StringVar(&pause, "pause", "", "pause the incremental snapshot of this id (after its current chunk)")
	f.StringVar(&resume, "resume", "", "resume the paused incremental snapshot of this id")
	f.StringVar(&cancel, "cancel", "", "cancel the incremental snapshot of this id (what it read stays on the followers)")
	return cmd
}
