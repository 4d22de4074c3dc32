package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/walship/walship/config"
	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/sources"
)

// newSnapshotCmd is `walship snapshot`: ask the running daemon for an
// incremental snapshot of some tables of a source (issue 17), over its
// API (POST /api/v1/sources/{name}/snapshots, with http.token).
func newSnapshotCmd() *cobra.Command {
	var path, source, tables, where, pause, resume, cancel string
	var all, deleteUnseen, wait bool
	var chunkRows int
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Re-read tables of a source while the daemon streams on (an incremental snapshot)",
		Long: `Asks the running daemon to read the tables again, chunk by chunk in primary-key order, while the stream
goes on, with no lock: each chunk's rows reach the followers as upserts, in the log's order, never older than
a change already applied. Progress is kept, so a restart goes on from the last chunk done. walship status
shows it. PostgreSQL and MySQL/MariaDB sources (these need signal_table). Needs http.token (or
http.token_file) in the config.

--delete-unseen also deletes, on every follower, the rows of each chunk's key range that the source no
longer has, so a follower holding rows its source lost is repaired too. It needs keys of integers or uuids
(whose order every engine shares) and no --where; with --all, tables with other keys are read without it.`,
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
			start := tables != "" || all
			if source == "" || start == (action != "") || tables != "" && all {
				return withCode(exitUsage, errors.New("snapshot: --source, and --tables or --all (start one) or --pause, --resume or --cancel ID, are required"))
			}
			cfg, err := config.Load(path)
			if err != nil {
				return withCode(exitUsage, err)
			}
			api, err := newDaemonAPI(cfg)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("snapshot: %w", err))
			}
			if cfg.Cluster != nil {
				// The member that runs the source takes the request.
				if api, err = api.on(cmd.Context(), "source/"+source); err != nil {
					return err
				}
			}
			if action != "" {
				if err := api.control(cmd.Context(), source, id, action); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "incremental snapshot %s of source %s: %s\n", id, source, action)
				return nil
			}
			req := sources.BackfillRequest{Where: where, All: all, DeleteUnseen: deleteUnseen, ChunkRows: chunkRows}
			for _, t := range strings.Split(tables, ",") {
				if t = strings.TrimSpace(t); t != "" {
					req.Tables = append(req.Tables, t)
				}
			}
			id, err = api.startSnapshot(cmd.Context(), source, req)
			if err != nil {
				return err
			}
			what := strings.Join(req.Tables, ", ")
			if all {
				what = "every table"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "incremental snapshot %s of %s started on source %s (walship status shows its progress)\n", id, what, source)
			if !wait {
				return nil
			}
			return api.waitSnapshot(cmd.Context(), source, id, cmd.ErrOrStderr())
		},
	}
	configFlag(cmd, &path)
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "the source (required)")
	f.StringVar(&tables, "tables", "", "comma-separated schema.table names")
	f.BoolVar(&all, "all", false, "every table the source captures (but its signal table), instead of --tables")
	f.StringVar(&where, "where", "", "read only the rows matching this condition (the source engine's SQL)")
	f.BoolVar(&deleteUnseen, "delete-unseen", false, "also delete the followers' rows that the source no longer has (keys of integers or uuids; not with --where)")
	f.IntVar(&chunkRows, "chunk-rows", 0, fmt.Sprintf("rows per chunk (default %d)", sources.BackfillChunkRows))
	f.BoolVar(&wait, "wait", false, "wait until the snapshot has read every table, printing its progress")
	f.StringVar(&pause, "pause", "", "pause the incremental snapshot of this id (after its current chunk)")
	f.StringVar(&resume, "resume", "", "resume the paused incremental snapshot of this id")
	f.StringVar(&cancel, "cancel", "", "cancel the incremental snapshot of this id (what it read stays on the followers)")
	return cmd
}

// daemonAPI is the running daemon's HTTP API, where the config says it
// listens, with its token.
type daemonAPI struct {
	listen, token string
	hc            *http.Client
}

// newDaemonAPI is the API of cfg's daemon; an error says why it cannot be
// reached (http off, no token).
func newDaemonAPI(cfg *config.Config) (*daemonAPI, error) {
	if cfg.HTTP.Listen == "off" {
		return nil, errors.New("the daemon's http is off; it is how walship reaches it")
	}
	token := cfg.HTTP.Token.Reveal()
	if token == "" {
		return nil, errors.New("no http.token (or http.token_file) in the config: the daemon refuses requests that change state without one")
	}
	return &daemonAPI{listen: cfg.HTTP.Listen, token: token, hc: &http.Client{Timeout: 60 * time.Second}}, nil
}

// on is the API of the cluster member that runs component ("source/NAME",
// "sink/NAME"): d itself outside cluster mode, or when d's member runs it.
func (d *daemonAPI) on(ctx context.Context, component string) (*daemonAPI, error) {
	doc, err := d.status(ctx)
	if err != nil {
		return nil, withCode(exitFailure, err)
	}
	c := doc.Cluster
	if c == nil {
		return d, nil
	}
	owner := c.Owners[component]
	if owner == "" {
		return nil, withCode(exitFailure, fmt.Errorf("no member of cluster %s runs %s now (a takeover under way?); try again", c.Name, component))
	}
	for _, m := range c.Members {
		if m.Member != owner {
			continue
		}
		if m.Self {
			return d, nil
		}
		if m.Advertise == "" {
			return nil, withCode(exitFailure, fmt.Errorf("%s runs on cluster member %s, which advertises no HTTP address (cluster.advertise)", component, owner))
		}
		return &daemonAPI{listen: m.Advertise, token: d.token, hc: d.hc}, nil
	}
	return nil, withCode(exitFailure, fmt.Errorf("%s runs on cluster member %s, which the cluster does not list", component, owner))
}

// apiStartWait is how long a request waits for a daemon whose API
// refuses connections (it is starting).
const apiStartWait = 10 * time.Second

// post sends body to path; the answer's status and its error field.
func (d *daemonAPI) post(ctx context.Context, path string, body []byte, answer any) (int, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.listen+path, bytes.NewReader(body))
	if err != nil {
		return 0, withCode(exitUsage, err)
	}
	hr.Header.Set("Authorization", "Bearer "+d.token)
	hr.Header.Set("Content-Type", "application/json")
	resp, err := d.hc.Do(hr)
	// A daemon that has just started may not listen yet: a refused
	// connection never reached it, so asking again is safe.
	for wait := time.Now().Add(apiStartWait); err != nil && errors.Is(err, syscall.ECONNREFUSED) && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
			return 0, withCode(exitFailure, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
		hr.Body = io.NopCloser(bytes.NewReader(body))
		resp, err = d.hc.Do(hr)
	}
	if err != nil {
		return 0, withCode(exitFailure, fmt.Errorf("the daemon at %s: %w", d.listen, err))
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(answer)
	return resp.StatusCode, nil
}

// refused maps an answer other than ok to an error with its exit code.
func refused(code int, status, msg string) error {
	switch code {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
		return withCode(exitUsage, fmt.Errorf("snapshot: %s", msg))
	}
	return withCode(exitFailure, fmt.Errorf("snapshot: the daemon answered %d %s: %s", code, status, msg))
}

// startSnapshot asks source for an incremental snapshot; its id.
func (d *daemonAPI) startSnapshot(ctx context.Context, source string, req sources.BackfillRequest) (string, error) {
	body, _ := json.Marshal(req)
	var answer struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	code, err := d.post(ctx, "/api/v1/sources/"+source+"/snapshots", body, &answer)
	if err != nil {
		return "", err
	}
	if code != http.StatusAccepted {
		return "", refused(code, http.StatusText(code), answer.Error)
	}
	return answer.ID, nil
}

// control pauses, resumes or cancels incremental snapshot id of source.
func (d *daemonAPI) control(ctx context.Context, source, id, action string) error {
	var answer struct {
		Error string `json:"error"`
	}
	code, err := d.post(ctx, "/api/v1/sources/"+source+"/snapshots/"+id+"/"+action, nil, &answer)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return refused(code, http.StatusText(code), answer.Error)
	}
	return nil
}

// status reads the daemon's status.
func (d *daemonAPI) status(ctx context.Context) (*httpapi.StatusDoc, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.listen+"/api/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("the daemon at %s: %w", d.listen, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the daemon at %s answered %s", d.listen, resp.Status)
	}
	var doc httpapi.StatusDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("the daemon at %s: its status: %w", d.listen, err)
	}
	return &doc, nil
}

// findSource is source's entry of doc, nil if none.
func findSource(doc *httpapi.StatusDoc, source string) *httpapi.SourceStatus {
	for i := range doc.Sources {
		if doc.Sources[i].Name == source {
			return &doc.Sources[i]
		}
	}
	return nil
}

// waitSnapshot waits until incremental snapshot id of source has read
// every table, printing its progress to w every few seconds. A source that
// failed meanwhile ends the wait with its error.
func (d *daemonAPI) waitSnapshot(ctx context.Context, source, id string, w io.Writer) error {
	last := time.Time{}
	for {
		doc, err := d.status(ctx)
		if err != nil {
			return withCode(exitFailure, fmt.Errorf("snapshot %s: %w", id, err))
		}
		src := findSource(doc, source)
		if src == nil {
			return withCode(exitFailure, fmt.Errorf("snapshot %s: the daemon runs no source %s any more", id, source))
		}
		if src.State == "failed" {
			return withCode(exitFailure, fmt.Errorf("snapshot %s: source %s failed: %s", id, source, src.LastError))
		}
		var cur *httpapi.SnapshotStatus
		for i := range src.Snapshots {
			if src.Snapshots[i].ID == id {
				cur = &src.Snapshots[i]
			}
		}
		if cur == nil {
			fmt.Fprintf(w, "incremental snapshot %s of source %s: done\n", id, source)
			return nil
		}
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(w, "incremental snapshot %s of source %s: %s, %d of about %d rows\n", id, source, cur.Table, cur.Rows, cur.Estimate)
		}
		select {
		case <-ctx.Done():
			return withCode(exitFailure, fmt.Errorf("snapshot %s: %w (it goes on in the daemon)", id, ctx.Err()))
		case <-time.After(500 * time.Millisecond):
		}
	}
}
