package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/walship/walship/config"
	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sinks/sqlsink"
)

func newStatusCmd() *cobra.Command {
	var path string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show positions and lag of every source and sink: from the running daemon, or from stored state when none runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return withCode(exitUsage, err)
			}
			ctx := cmd.Context()
			doc, live, err := liveStatus(ctx, cfg)
			if err != nil {
				if doc, err = storedStatus(ctx, cfg); err != nil {
					return withCode(exitFailure, err)
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			printStatus(out, doc, live)
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status document as JSON")
	return cmd
}

// liveStatus asks the running daemon.
func liveStatus(ctx context.Context, cfg *config.Config) (httpapi.StatusDoc, bool, error) {
	var doc httpapi.StatusDoc
	if cfg.HTTP.Listen == "off" {
		return doc, false, errors.New("http is off")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.HTTP.Listen+"/api/v1/status", nil)
	if err != nil {
		return doc, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return doc, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return doc, false, fmt.Errorf("status API: %s", resp.Status)
	}
	return doc, true, json.NewDecoder(resp.Body).Decode(&doc)
}

// storedStatus reads what a stopped daemon left: the sources' checkpoints
// and each follower's positions table.
func storedStatus(ctx context.Context, cfg *config.Config) (httpapi.StatusDoc, error) {
	doc := httpapi.StatusDoc{Version: version, Time: time.Now().UTC()}
	var store *offsets.Store
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "checkpoints.db")); err == nil {
		if store, err = offsets.OpenStore(cfg.StateDir); err == nil {
			defer store.Close()
		}
	}
	for _, s := range cfg.Sources {
		st := httpapi.SourceStatus{Name: s.Name, Engine: s.Engine(), State: "not running"}
		if s.External != "" {
			st.State = "external"
		} else if store != nil {
			cp, err := store.Load(ctx, s.Name)
			switch {
			case err == nil:
				st.Acked = cp.Position.String()
			case errors.Is(err, offsets.ErrNoCheckpoint):
				st.LastError = "no checkpoint yet"
			default:
				st.LastError = err.Error()
			}
		}
		doc.Sources = append(doc.Sources, st)
	}
	for _, s := range cfg.Sinks {
		st := httpapi.SinkStatus{Name: s.Name, State: "not running"}
		rows, err := followerPositions(ctx, s)
		if err != nil {
			st.LastError = err.Error()
		}
		for _, src := range s.From {
			ss := httpapi.SinkSource{Source: src}
			if r, ok := rows[src]; ok {
				ss.Applied, ss.AppliedSeq = r.pos, r.seq
				if t, err := time.Parse(time.RFC3339Nano, r.commit); err == nil {
					ss.AppliedCommit = &t
				}
			}
			st.Sources = append(st.Sources, ss)
		}
		doc.Sinks = append(doc.Sinks, st)
	}
	return doc, nil
}

type positionRow struct{ seq, pos, commit string }

func followerPositions(ctx context.Context, s config.Sink) (map[string]positionRow, error) {
	if s.SQLite != nil {
		if _, err := os.Stat(s.SQLite.Path); err != nil {
			return nil, fmt.Errorf("follower %s: %w", s.SQLite.Path, err)
		}
	}
	d := dialectFor(s)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := d.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// walship's own table, or, for a sink that has not started since
	// walship moved its positions there, the table of earlier versions.
	pos, _ := sqlsink.MetaNames(d.Engine())
	q := "SELECT source, seq, position, commit_ts FROM %s WHERE sink = " + d.Placeholder(0)
	rows, err := db.QueryContext(ctx, fmt.Sprintf(q, d.QuoteName(pos)), s.Name)
	if err != nil {
		var lerr error
		if rows, lerr = db.QueryContext(ctx, fmt.Sprintf(q, d.QuoteIdent(sqlsink.LegacyPositionsTable)), s.Name); lerr != nil {
			return nil, fmt.Errorf("read positions: %w", err)
		}
	}
	defer rows.Close()
	out := map[string]positionRow{}
	for rows.Next() {
		var src string
		var r positionRow
		if err := rows.Scan(&src, &r.seq, &r.pos, &r.commit); err != nil {
			return nil, err
		}
		if p, err := offsets.ParsePosition(r.pos); err == nil {
			r.pos = p.String()
		}
		out[src] = r
	}
	return out, rows.Err()
}

func printStatus(w io.Writer, doc httpapi.StatusDoc, live bool) {
	if live {
		fmt.Fprintf(w, "walship %s, status at %s\n\n", doc.Version, doc.Time.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "no daemon answers: stored positions at %s\n\n", doc.Time.Format(time.RFC3339))
	}
	printCluster(w, doc)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tENGINE\tSTATE\tHEAD\tACKED\tLAG BYTES\tTXN/S\tLEADER\tFAILOVERS\tERROR")
	for _, s := range doc.Sources {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.1f\t%s\t%d\t%s\n", s.Name, s.Engine, s.State, dash(s.Head), dash(s.Acked), s.LagBytes, s.TxnsPerSec,
			dash(s.Leader), s.Failovers, s.LastError)
	}
	tw.Flush()
	fmt.Fprintln(w)
	printSnapshots(w, doc)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tSTATE\tSOURCE\tAPPLIED\tLAG S\tLAG BYTES\tLAG TXNS\tTXN/S\tERROR")
	for _, s := range doc.Sinks {
		if len(s.Sources) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t%s\n", s.Name, s.State, s.LastError)
		}
		for i, src := range s.Sources {
			name, state, errText := s.Name, s.State, s.LastError
			if s.Building != "" {
				state += " (building index " + s.Building + ")"
			}
			if i > 0 {
				name, state, errText = "", "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%d\t%.1f\t%s\n", name, state, src.Source, dash(src.Applied), src.LagSeconds,
				src.LagBytes, src.LagTxns, s.TxnsPerSec, errText)
		}
	}
	tw.Flush()
	printConflicts(w, doc)
}

// printConflicts lists the conflicts each sink settled (conflicts:), and
// what each source left out as written by a sink it ignores.
func printConflicts(w io.Writer, doc httpapi.StatusDoc) {
	var any bool
	for _, s := range doc.Sinks {
		any = any || len(s.Conflicts) > 0
	}
	for _, s := range doc.Sources {
		any = any || s.IgnoredTransactions > 0
	}
	if !any {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range doc.Sources {
		if s.IgnoredTransactions > 0 {
			fmt.Fprintf(tw, "source %s left out %d transactions written by the sinks it ignores\n", s.Name, s.IgnoredTransactions)
		}
	}
	var rows []string
	for _, s := range doc.Sinks {
		for _, c := range s.Conflicts {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%d", s.Name, c.Table, c.Kind, c.Resolution, c.Count))
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(tw, "SINK\tTABLE\tCONFLICT\tRESOLUTION\tCOUNT")
		for _, r := range rows {
			fmt.Fprintln(tw, r)
		}
	}
	tw.Flush()
}

// printCluster lists a cluster's members and what each runs (cluster
// mode): the figures of a component another member runs are on that
// member's status.
func printCluster(w io.Writer, doc httpapi.StatusDoc) {
	c := doc.Cluster
	if c == nil {
		return
	}
	fmt.Fprintf(w, "cluster %s, generation %d, answered by %s\n", c.Name, c.Generation, c.Member)
	if c.Error != "" {
		fmt.Fprintf(w, "members not listed: %s\n", c.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tADDRESS\tCOMPONENTS")
	for _, m := range c.Members {
		comps := strings.Join(m.Components, ", ")
		if m.Mismatch {
			comps = "none: its configuration names other components"
		}
		name := m.Member
		if m.Self {
			name += " (this one)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, dash(m.Advertise), dash(comps))
	}
	tw.Flush()
	var idle []string
	for comp, owner := range c.Owners {
		if owner == "" {
			idle = append(idle, comp)
		}
	}
	if len(idle) > 0 {
		sort.Strings(idle)
		fmt.Fprintf(w, "run by no member yet: %s\n", strings.Join(idle, ", "))
	}
	fmt.Fprintln(w)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printSnapshots lists the incremental snapshots with a progress bar.
func printSnapshots(w io.Writer, doc httpapi.StatusDoc) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	any := false
	for _, s := range doc.Sources {
		for _, b := range s.Snapshots {
			if !any {
				fmt.Fprintln(tw, "SNAPSHOT\tSOURCE\tTABLE\tPROGRESS\tROWS\tROWS/S\tETA")
				any = true
			}
			frac := 0.0
			if b.Estimate > 0 {
				frac = min(1, float64(b.Rows)/float64(b.Estimate))
			}
			bar := strings.Repeat("#", int(frac*20)) + strings.Repeat(".", 20-int(frac*20))
			eta := "-"
			if b.ETASeconds > 0 {
				eta = (time.Duration(b.ETASeconds) * time.Second).String()
			}
			id := b.ID
			if b.DeleteUnseen {
				id += " (deletes unseen)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t[%s] %3.0f%%\t%d of ~%d\t%.0f\t%s\n", id, s.Name, dash(b.Table), bar, frac*100, b.Rows, b.Estimate, b.RowsPerSec, eta)
		}
	}
	if any {
		tw.Flush()
		fmt.Fprintln(w)
	}
}
