package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/walship/walship/client"
	"github.com/walship/walship/config"
	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/replay"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sources"
)

// replayOpts are the flags of `walship replay`.
type replayOpts struct {
	path, sink, into, to, from string
	tables                     string
	dryRun, resnapshot         bool
	workers, batchTxns         int
	retries                    int
}

func newReplayCmd() *cobra.Command {
	var o replayOpts
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Rebuild a sink's follower from the log in Kafka, then exit",
		Long: `Replay applies the log of a sink's sources to its follower (or, with --into,
to another database of the same engine) with the daemon's apply path:
exactly once, under the sink's lock in the follower (a running daemon on the
same follower refuses it), and resumable: a replay that was stopped or killed
continues where it stopped when run again.

It stops when it applied everything the log held when it started, or at
--to. A position (a PostgreSQL LSN like 0/16B3748, a GTID set) stops exactly
after the last transaction at or before it. An RFC 3339 time stops after the
last transaction, in the source's log order, whose commit time is at or
before it: the follower holds a prefix of the source's history with every
transaction committed at or before the time, and also those before the last
of them in log order that committed later (PostgreSQL commit times are not
in LSN order, MariaDB's are whole seconds). The replay finds that
transaction by reading each source's transaction topic first.

A follower without recorded positions starts where --from says: the start
of the log (earliest, the default), the newest snapshot in the log
(snapshot), or after a position or time (a follower restored from a backup
taken there). A follower with positions always resumes after them. From the
start, the log must still begin at offset 0 (the snapshot is there): when
retention removed its beginning the replay refuses, and only a start from
a snapshot can build the follower (--from snapshot, or --resnapshot).

--tables rebuilds only some tables (empty them first). On a follower the
sink applies, they are rebuilt up to the sink's recorded positions, under
positions of their own, so the daemon then goes on with every table.

--resnapshot first takes a new consistent snapshot of each source into the
log (the recovery after a lost slot or a purged binlog; the daemon must be
stopped), then rebuilds an empty follower from it. While the daemon runs
the sink (its http API answers, with http.token) and its sources stream,
--resnapshot instead asks each source for an incremental snapshot of every
table it captures (or of --tables, named exactly) that also deletes the
rows the source no longer has (keys of integers or uuids), and waits until
the sink applied it: nothing stops, the follower need not be empty, and
the other sinks of those sources get the same rows (as upserts).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReplay(cmd, o)
		},
	}
	configFlag(cmd, &o.path)
	f := cmd.Flags()
	f.StringVar(&o.sink, "sink", "", "name of the sink to rebuild (required)")
	f.StringVar(&o.into, "into", "", "build into this database instead of the configured follower: a PostgreSQL URL, a go-sql-driver DSN or a SQLite path, by the sink's engine")
	f.StringVar(&o.to, "to", "", "stop after the last transaction at or before this LSN or GTID set, or after the last transaction in log order committed at or before this RFC 3339 time (a prefix of the log: transactions before it that committed later are applied too)")
	f.StringVar(&o.from, "from", "earliest", "where a follower without positions starts: earliest (the start of the log), snapshot (the newest snapshot in the log), or after a position (LSN, GTID set) or RFC 3339 time; a follower with positions resumes after them")
	f.StringVar(&o.tables, "tables", "", "rebuild only these tables: comma-separated schema.table patterns (globs), e.g. public.orders,public.line_*")
	f.BoolVar(&o.resnapshot, "resnapshot", false, "take a new snapshot of the sink's sources into the log first (the daemon must be stopped), then rebuild an empty follower from it")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan (topics, spine offsets, transactions, events per partition) and write nothing")
	f.IntVar(&o.workers, "workers", 0, "parallel appliers (default: the sink's workers)")
	f.IntVar(&o.batchTxns, "batch-txns", 0, "source transactions per follower transaction at most (default: 100)")
	f.IntVar(&o.retries, "retries", 10, "times a replay retries after the follower or Kafka became unavailable")
	cmd.MarkFlagRequired("sink")
	return cmd
}

// runReplay is `walship replay`: the flags checked, the config loaded,
// then package replay with the daemon's engine pieces; its errors map to
// exit codes, and a log that lost what the follower needs is explained.
func runReplay(cmd *cobra.Command, o replayOpts) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	ro := replay.Options{Sink: o.sink, Into: o.into, To: o.to, From: o.from, Resnapshot: o.resnapshot,
		Workers: o.workers, BatchTxns: o.batchTxns, Retries: o.retries, Progress: stderr}
	check := ro.Check
	if o.dryRun {
		check = ro.CheckDryRun
	}
	if err := check(); err != nil {
		return withCode(exitUsage, err)
	}
	tables, err := replay.ParseTables(o.tables)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ro.Tables = tables
	cfg, err := config.Load(o.path)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if ro.Kafka, err = newKafkaSecurity(cfg.Kafka); err != nil {
		return withCode(exitUsage, err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.resnapshot && o.into == "" && o.to == "" && !o.dryRun {
		if ok, err := resnapshotOnline(ctx, cfg, o, stdout, stderr); ok {
			return err
		}
	}
	if o.resnapshot && cfg.Cluster != nil && !o.dryRun {
		// Offline, the new snapshot's checkpoint would be saved only here,
		// and the cluster's state topic would hand the old one to the
		// source's next owner.
		return withCode(exitUsage, fmt.Errorf("replay --resnapshot: the config is of cluster %s, and no member answers at %s; "+
			"the offline re-snapshot does not support cluster mode yet (its checkpoint would not reach the cluster's state topic): "+
			"start the cluster and run it again (it then rebuilds the follower by incremental snapshots while the cluster runs)", cfg.Cluster.Name, cfg.HTTP.Listen))
	}
	log := newLogger(stderr, cfg.Log)
	ro.Log = log
	applyMemoryLimit(cfg, log)
	eng := replayEngines(cfg, log)
	if o.dryRun {
		plan, err := replay.DryRun(ctx, cfg, ro, eng)
		if plan != nil {
			plan.Print(stdout)
		}
		return replayExit(err)
	}
	rep, err := replay.Run(ctx, cfg, ro, eng)
	if rep != nil {
		rep.Print(stdout)
	}
	var trimmed *replay.TrimmedLogError
	var lost *replay.RetentionError
	switch {
	case errors.As(err, &trimmed):
		explainTrimmed(stderr, o, trimmed)
	case errors.As(err, &lost):
		fmt.Fprintf(stderr, `replay: %v
The log no longer holds everything this follower needs: a replay cannot rebuild it.
Take a new snapshot instead: stop the daemon, empty the follower database, and run
  walship replay -c %s --sink %s --resnapshot
README.md, "Rebuild and verify", has the runbook.
`, lost.Err, o.path, o.sink)
	}
	return replayExit(err)
}

// replayExit maps a replay's error to the exit code.
func replayExit(err error) error {
	if errors.Is(err, replay.ErrUsage) {
		return withCode(exitUsage, err)
	}
	return withCode(exitFailure, err)
}

// replayEngines lends the replay the daemon's engine pieces: the sink's
// applier and dialect, the sources' captures, and the PostgreSQL slot a
// re-snapshot drops.
func replayEngines(cfg *config.Config, log *slog.Logger) replay.Engines {
	return replay.Engines{
		Follower: func(sk config.Sink, engines map[string]string) (sqlsink.Config, sqlsink.Dialect) {
			return applierConfig(sk, engines), writerDialect(cfg, sk)
		},
		Source: func(sc config.Source, store *offsets.Store) (replay.Capture, error) {
			return buildEngineSource(cfg, sc, store, log, nil)
		},
		ResetSource: func(ctx context.Context, sc config.Source) error {
			if sc.Postgres == nil {
				return nil
			}
			return dropSlot(ctx, *sc.Postgres)
		},
	}
}

// explainTrimmed tells the user how to build a follower whose log lost its
// beginning: from the newest snapshot in the log when each source's log
// still holds one, with a new snapshot otherwise.
func explainTrimmed(w io.Writer, o replayOpts, e *replay.TrimmedLogError) {
	fmt.Fprintf(w, "replay: %v\n", e.Err)
	fmt.Fprintln(w, "The log no longer begins at offset 0: retention removed its beginning (the snapshot and the changes")
	fmt.Fprintln(w, "after it), which a follower without recorded positions needs. Only a start from a snapshot can")
	fmt.Fprintln(w, "build this follower.")
	if e.Applied == 0 {
		fmt.Fprintln(w, "Nothing was applied.")
	} else {
		fmt.Fprintf(w, "%d transactions were applied before the hole was found: empty the follower database first.\n", e.Applied)
	}
	for _, s := range e.Snapshots {
		switch {
		case s.Err != nil:
			fmt.Fprintf(w, "  source %s: could not look for a snapshot in the log: %v\n", s.Source, s.Err)
		case !s.Held:
			fmt.Fprintf(w, "  source %s: the log holds no snapshot\n", s.Source)
		default:
			fmt.Fprintf(w, "  source %s: the log holds a snapshot: %s\n", s.Source, s.Where)
		}
	}
	into := ""
	if o.into != "" {
		into = " --into DB" // not printed: a DSN may hold a password
	}
	if o.tables != "" {
		into += " --tables " + o.tables
	}
	if e.FromSnapshot {
		fmt.Fprintf(w, "Start from the newest snapshot the log holds:\n  walship replay -c %s --sink %s%s --from snapshot\n", o.path, o.sink, into)
		fmt.Fprintln(w, "(or take a new one: stop the daemon, empty the follower database, and run replay --resnapshot)")
		return
	}
	fmt.Fprintf(w, "Take a new snapshot: stop the daemon, empty the follower database, and run\n  walship replay -c %s --sink %s --resnapshot\n", o.path, o.sink)
}

// dropSlot drops the source's replication slot if it exists; an active
// slot (a daemon streams from it) is refused.
func dropSlot(ctx context.Context, pg config.PostgresSource) error {
	cc, err := pgx.ParseConfig(pg.DSN.Reveal())
	if err != nil {
		return fmt.Errorf("%s", config.DSNProblem(pg.DSN.Reveal(), err))
	}
	if pw := pg.Password.Reveal(); pw != "" {
		cc.Password = pw
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cc.Host, err)
	}
	defer conn.Close(ctx)
	var active bool
	var pid *int32
	err = conn.QueryRow(ctx, "SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1", pg.Slot).Scan(&active, &pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up slot %s: %w", pg.Slot, err)
	}
	if active {
		who := ""
		if pid != nil {
			who = fmt.Sprintf(" (server pid %d)", *pid)
		}
		return fmt.Errorf("replication slot %s is in use%s: stop the daemon capturing this source first", pg.Slot, who)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", pg.Slot); err != nil {
		return fmt.Errorf("drop slot %s: %w", pg.Slot, err)
	}
	return nil
}

// resnapshotOnline is replay --resnapshot while the daemon runs the sink
// and its sources stream (their slots are healthy): instead of stopping
// anything, each source of the sink takes an incremental snapshot of
// every table it captures (or of --tables), deleting the rows the source
// no longer has where the keys allow it, and the replay waits until the
// sink applied it. ok is false when the daemon does not answer (the
// offline re-snapshot then runs).
func resnapshotOnline(ctx context.Context, cfg *config.Config, o replayOpts, stdout, stderr io.Writer) (ok bool, err error) {
	api, err := newDaemonAPI(cfg)
	if err != nil {
		return false, nil
	}
	doc, err := api.status(ctx)
	if err != nil {
		return false, nil // no daemon: the offline path
	}
	var sink *config.Sink
	for i := range cfg.Sinks {
		if cfg.Sinks[i].Name == o.sink {
			sink = &cfg.Sinks[i]
		}
	}
	if sink == nil {
		return true, withCode(exitUsage, fmt.Errorf("replay: no sink named %q", o.sink))
	}
	// In a cluster each source is asked on the member that runs it.
	apis := map[string]*daemonAPI{}
	docs := map[string]*httpapi.StatusDoc{}
	for _, name := range sink.From {
		apis[name], docs[name] = api, doc
		if cfg.Cluster != nil {
			if apis[name], err = api.on(ctx, "source/"+name); err != nil {
				return true, err
			}
			if docs[name], err = apis[name].status(ctx); err != nil {
				return true, withCode(exitFailure, err)
			}
		}
	}
	for _, name := range sink.From {
		src := findSource(docs[name], name)
		switch {
		case src == nil:
			return true, withCode(exitUsage, fmt.Errorf("replay --resnapshot: the daemon at %s runs no source %s", cfg.HTTP.Listen, name))
		case src.State == "failed" || src.State == "backoff":
			return true, withCode(exitFailure, fmt.Errorf(`replay --resnapshot: source %s of the running daemon is %s (%s).
An incremental snapshot needs it streaming. If its slot or binlog is lost, stop the daemon, empty the
follower database, and run replay --resnapshot again: it then takes a new snapshot offline`, name, src.State, src.LastError))
		}
	}
	fmt.Fprintf(stdout, "The daemon at %s runs: the follower is rebuilt in place by incremental snapshots, the pipeline running.\n", cfg.HTTP.Listen)
	ids := map[string]string{}
	for _, name := range sink.From {
		req := sources.BackfillRequest{DeleteUnseen: true, All: o.tables == ""}
		for _, t := range strings.Split(o.tables, ",") {
			if t = strings.TrimSpace(t); t != "" {
				req.Tables = append(req.Tables, t)
			}
		}
		id, err := apis[name].startSnapshot(ctx, name, req)
		if err != nil {
			return true, err
		}
		ids[name] = id
		fmt.Fprintf(stdout, "source %s: incremental snapshot %s started\n", name, id)
		if doc, err := apis[name].status(ctx); err == nil {
			if src := findSource(doc, name); src != nil {
				for _, s := range src.Snapshots {
					if s.ID == id && len(s.Unpruned) > 0 {
						fmt.Fprintf(stdout, "source %s: %s: keys of other types than integers and uuids: rows the source no longer has are not deleted there\n", name, strings.Join(s.Unpruned, ", "))
					}
				}
			}
		}
	}
	for _, name := range sink.From {
		if err := apis[name].waitSnapshot(ctx, name, ids[name], stderr); err != nil {
			return true, err
		}
	}
	// Every row read is in the log; the sink has it once it applied the
	// source's newest position (a cluster member that does not run the
	// sink sends the wait on to the one that does).
	c := client.New("http://" + cfg.HTTP.Listen)
	for _, name := range sink.From {
		doc, err := apis[name].status(ctx)
		if err != nil {
			return true, withCode(exitFailure, err)
		}
		head := findSource(doc, name).Head
		if head == "" {
			continue
		}
		for {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := c.WaitForSource(wctx, o.sink, name, head)
			cancel()
			if err == nil {
				break
			}
			if !errors.Is(err, client.ErrTimeout) || ctx.Err() != nil {
				return true, withCode(exitFailure, fmt.Errorf("replay --resnapshot: sink %s: %w", o.sink, err))
			}
			fmt.Fprintf(stderr, "sink %s: %v\n", o.sink, err)
		}
		fmt.Fprintf(stdout, "sink %s applied source %s's snapshot (up to %s)\n", o.sink, name, head)
	}
	fmt.Fprintf(stdout, "Done. Check it with: walship verify -c %s --sink %s\n", o.path, o.sink)
	return true, nil
}
