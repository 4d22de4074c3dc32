package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/supervise"
)

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
stopped), then rebuilds an empty follower from it.`,
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

// replaySource is one source of the replayed sink.
type replaySource struct {
	name, prefix string
	engine       offsets.Engine
	first, end   int64 // spine offsets: first held, end (next to be written) at start
	exists       bool
}

func runReplay(cmd *cobra.Command, o replayOpts) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if o.from == "resume" {
		o.from = "earliest" // the old spelling: a follower with positions resumes anyway
	}
	if o.resnapshot && o.from != "earliest" && o.from != "snapshot" {
		return withCode(exitUsage, fmt.Errorf("--resnapshot rebuilds from the new snapshot: --from %s does not apply", o.from))
	}
	if o.resnapshot && o.dryRun {
		return withCode(exitUsage, fmt.Errorf("--resnapshot writes a snapshot into the log: it has no dry run"))
	}
	tables, err := parseTables(o.tables)
	if err != nil {
		return withCode(exitUsage, err)
	}
	cfg, err := config.Load(o.path)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if _, err := newKafkaSecurity(cfg.Kafka); err != nil {
		return withCode(exitUsage, err)
	}
	var sk *config.Sink
	for i := range cfg.Sinks {
		if cfg.Sinks[i].Name == o.sink {
			sk = &cfg.Sinks[i]
		}
	}
	if sk == nil {
		var names []string
		for _, s := range cfg.Sinks {
			names = append(names, s.Name)
		}
		return withCode(exitUsage, fmt.Errorf("no sink %q in %s (sinks: %s)", o.sink, o.path, strings.Join(names, ", ")))
	}
	target, err := replayTarget(sk, o.into)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var srcs []*replaySource
	for _, name := range sk.From {
		for _, s := range cfg.Sources {
			if s.Name == name {
				srcs = append(srcs, &replaySource{name: name, prefix: s.TopicPrefix, engine: sourceEngine(s)})
			}
		}
	}
	b, err := parseBound(o.to, srcs)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var fromBound *bound
	if o.from != "earliest" && o.from != "snapshot" {
		if fromBound, err = parseBound(o.from, srcs); err != nil {
			return withCode(exitUsage, fmt.Errorf("--from: want earliest, snapshot, a position or a time: %w", err))
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := newLogger(stderr, cfg.Log)
	if o.resnapshot {
		// Refuse a follower with positions before touching the source.
		if err := requireNoPositions(ctx, sk, sinkEngines(srcs), log); err != nil {
			return withCode(exitFailure, err)
		}
		if err := resnapshot(ctx, stderr, log, cfg, sk); err != nil {
			return withCode(exitFailure, err)
		}
		o.from = "snapshot"
	}
	for _, s := range srcs {
		if err := s.spineBounds(ctx, cfg.Kafka.Brokers, kafkaSecurity(cfg), cfg.Kafka.DialTimeout); err != nil {
			return withCode(exitFailure, err)
		}
	}
	if b != nil && b.isTime {
		b.ends = map[string]timeBound{}
		for _, s := range srcs {
			tb, err := resolveTime(ctx, cfg, s, b.time)
			if err != nil {
				return withCode(exitFailure, fmt.Errorf("source %s: --to %s: %w", s.name, b.text, err))
			}
			b.ends[s.name] = tb
			if s.exists {
				fmt.Fprintf(stderr, "replay: source %s: --to %s %s\n", s.name, b.text, tb.describe(b.time))
			}
		}
	}
	var starts map[string]sinks.SourceState
	if o.from != "earliest" {
		starts = map[string]sinks.SourceState{}
		for _, s := range srcs {
			st, what, err := findStart(ctx, cfg, s, o.from, fromBound)
			if err != nil {
				return withCode(exitFailure, err)
			}
			fmt.Fprintf(stderr, "replay: source %s: --from %s %s\n", s.name, o.from, what)
			starts[s.name] = st
		}
	}
	if o.dryRun {
		return withCode(exitFailure, dryRun(ctx, stdout, cfg, sk.Name, target, srcs, b))
	}
	rf := replayFollowerOpts{starts: starts, tables: tables}
	if o.resnapshot {
		rf.requireEmpty = "--resnapshot"
	}
	return withCode(exitFailure, replay(ctx, stdout, stderr, log, cfg, sk, target, srcs, b, o, rf))
}

// sinkEngines maps each source to its type family for the applier.
func sinkEngines(srcs []*replaySource) map[string]string {
	engines := map[string]string{}
	for _, s := range srcs {
		engines[s.name] = string(s.engine)
		if s.engine == offsets.EngineMariaDB {
			engines[s.name] = "mysql"
		}
	}
	return engines
}

// requireNoPositions refuses a --resnapshot into a follower that recorded
// positions of the sink.
func requireNoPositions(ctx context.Context, sk *config.Sink, engines map[string]string, log *slog.Logger) error {
	a := applierFor(*sk, engines, dialectFor(*sk), log)
	state, release, err := a.Prepare(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	defer release()
	if hasPositions(state) {
		return fmt.Errorf("--resnapshot rebuilds an empty follower, and this one recorded positions of sink %s: drop and recreate the follower database, or replay --into an empty one", sk.Name)
	}
	return nil
}

// replayFollowerOpts configure the replayFollower.
type replayFollowerOpts struct {
	starts       map[string]sinks.SourceState
	tables       []string
	requireEmpty string
}

// replayTarget applies --into to the sink and describes where it writes.
func replayTarget(sk *config.Sink, into string) (string, error) {
	switch {
	case sk.Postgres != nil:
		pg := *sk.Postgres
		if into != "" {
			pg.DSN = config.Secret(into)
		}
		sk.Postgres = &pg
		return "PostgreSQL " + config.RedactDSN(pg.DSN.Reveal()), nil
	case sk.MySQL != nil:
		my := *sk.MySQL
		if into != "" {
			my.DSN = config.Secret(into)
		}
		sk.MySQL = &my
		return "MySQL/MariaDB " + config.RedactDSN(my.DSN.Reveal()), nil
	case sk.SQLite != nil:
		lite := *sk.SQLite
		if into != "" {
			lite.Path = into
		}
		sk.SQLite = &lite
		return "SQLite " + lite.Path, nil
	}
	return "", fmt.Errorf("sink %s has no engine block", sk.Name)
}

// spineBounds reads the source's transaction topic bounds: the log as of
// now is what the replay applies.
func (s *replaySource) spineBounds(ctx context.Context, brokers []string, sec kafka.Security, timeout time.Duration) error {
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	topic := kafka.TransactionTopic(s.prefix)
	n, err := kafka.Partitions(ctx, brokers, sec, timeout, topic)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	s.exists = n > 0
	if !s.exists {
		return nil // the source never wrote: nothing to replay
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := sec.Dialer(timeout)
	var conn *kafkago.Conn
	for _, b := range brokers {
		if conn, err = d.DialLeader(dctx, "tcp", b, topic, 0); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("source %s: connect to the leader of %s/0: %w", s.name, topic, err)
	}
	defer conn.Close()
	s.first, s.end, err = conn.ReadOffsets()
	if err != nil {
		return fmt.Errorf("source %s: offsets of %s/0: %w", s.name, topic, err)
	}
	return nil
}

// bound is --to: a commit time, or a position per source. A time is
// resolved on each source's log before the replay (resolveTime): the
// prefix up to the last transaction committed at or before it.
type bound struct {
	text   string
	time   time.Time
	isTime bool
	pos    map[string]offsets.Position
	ends   map[string]timeBound // a time resolved, per source
}

func parseBound(s string, srcs []*replaySource) (*bound, error) {
	if s == "" {
		return nil, nil
	}
	b := &bound{text: s, pos: map[string]offsets.Position{}}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		b.time, b.isTime = t, true
		return b, nil
	}
	for _, src := range srcs {
		p, err := offsets.ParseTarget(src.engine, s)
		if err != nil {
			return nil, fmt.Errorf("--to %q is neither an RFC 3339 time nor a position of source %s (%s): %v", s, src.name, src.engine, err)
		}
		b.pos[src.name] = p
	}
	return b, nil
}

// limit is the time bound resolved on source's log, if the bound is a time.
func (b *bound) limit(source string) (timeBound, bool) {
	if b == nil || !b.isTime {
		return timeBound{}, false
	}
	tb, ok := b.ends[source]
	return tb, ok
}

// beyond reports whether the log of source passed the bound at txn: txn
// is a transaction after it, or a heartbeat saying every transaction up to
// the bound was sent before it. Neither it nor anything later is applied.
func (b *bound) beyond(source string, txn *kafka.Txn) bool {
	mk := txn.End
	if b.isTime {
		// --from TIME (findStart); --to TIME is resolved to an offset.
		return !mk.Time.IsZero() && mk.Time.After(b.time)
	}
	t, p := b.pos[source], mk.Pos
	if p.IsZero() || p.Engine != t.Engine && !(isMy(p.Engine) && isMy(t.Engine)) {
		return false
	}
	if p.Engine == offsets.EnginePostgres {
		limit := max(t.LSN, t.EndLSN)
		if txn.Heartbeat {
			return max(p.LSN, p.EndLSN) >= limit
		}
		return p.LSN > limit
	}
	if txn.Heartbeat {
		return !p.GTIDs.IsEmpty() && p.GTIDs.Contains(t.GTIDs)
	}
	if p.GTID != "" {
		if g, err := offsets.ParseGTIDSet(t.GTIDs.Flavor(), p.GTID); err == nil {
			return !t.GTIDs.Contains(g)
		}
	}
	return !p.GTIDs.IsEmpty() && !t.GTIDs.Contains(p.GTIDs)
}

func isMy(e offsets.Engine) bool { return e == offsets.EngineMySQL || e == offsets.EngineMariaDB }

// reached reports whether a watermark at applied covers the bound.
func (b *bound) reached(source string, applied sinks.Applied) bool {
	if b.isTime {
		return !applied.CommitTime.Before(b.time)
	}
	ok, err := applied.Pos.Reached(b.pos[source])
	return err == nil && ok
}

// progress is what the replay's log readers saw, per source.
type progress struct {
	mu      sync.Mutex
	read    map[string]int64 // next spine offset of the last transaction read
	first   map[string]int64 // the same, of the first transaction this process read
	crossed map[string]bool  // the log passed --to
}

func replay(ctx context.Context, stdout, stderr io.Writer, log *slog.Logger, cfg *config.Config, sk *config.Sink,
	target string, srcs []*replaySource, b *bound, o replayOpts, rfo replayFollowerOpts) error {
	d := dialectFor(*sk)
	// As buildSink: the same applier and dialect as the daemon.
	engines := sinkEngines(srcs)
	var logs []sinks.SourceLog
	end := map[string]int64{}
	for _, s := range srcs {
		logs = append(logs, sinks.SourceLog{Name: s.name, Prefix: s.prefix})
		end[s.name] = s.end
		if !s.exists {
			end[s.name] = 0
		}
		if tb, ok := b.limit(s.name); ok {
			end[s.name] = min(end[s.name], tb.end)
		}
	}
	ac := applierConfig(*sk, engines)
	if rfo.tables != nil {
		// The other tables are not at the states the log passes through:
		// foreign keys between them and these would fail on the way, and
		// hold again at the end.
		d.(interface{ ForeignKeysOff() }).ForeignKeysOff()
		ac.Lock, ac.Sink = sk.Name, tablesKey(sk.Name, rfo.tables)
		// The source's unlogged cascades reach only the tables rebuilt: the
		// others are at the sink's positions, not the log's.
		ac.CascadeInto = func(schema, table string) bool { return config.MatchTable(rfo.tables, schema, table) }
		fmt.Fprintf(stderr, "replay: tables %s, positions kept as sink %q\n", strings.Join(rfo.tables, ", "), ac.Sink)
	}
	f := &replayFollower{Applier: sqlsink.New(ac, d, log.With("sink", sk.Name)), stderr: stderr,
		starts: rfo.starts, requireEmpty: rfo.requireEmpty, tables: rfo.tables, main: sk.Name, to: o.to}
	checked := map[string]bool{}
	for _, s := range srcs {
		f.sources = append(f.sources, s.name)
	}
	f.logStart = func(ctx context.Context, source string) error {
		if checked[source] {
			return nil
		}
		for _, s := range srcs {
			if s.name == source {
				if err := checkLogStart(ctx, cfg, s, end[source]); err != nil {
					return err
				}
			}
		}
		checked[source] = true
		return nil
	}
	workers := sk.Workers
	if o.workers > 0 {
		workers = o.workers
	}
	if sk.SQLite != nil {
		workers = 1
	}
	pr := &progress{read: map[string]int64{}, first: map[string]int64{}, crossed: map[string]bool{}}
	for _, s := range srcs {
		if tb, ok := b.limit(s.name); ok {
			pr.crossed[s.name] = tb.crossed
		}
	}
	until := func(source string, txn *kafka.Txn) bool {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		// A time bound is a spine offset (end), not a test of each commit.
		if (b != nil && !b.isTime && b.beyond(source, txn)) || f.beyondLimit(source, txn) {
			pr.crossed[source] = true
			return true
		}
		pr.read[source] = txn.Offsets.Spine
		if _, ok := pr.first[source]; !ok {
			pr.first[source] = txn.Offsets.Spine
		}
		return false
	}
	sink := sinks.New(sinks.Config{
		Name: sk.Name, Sources: logs, Brokers: cfg.Kafka.Brokers, Workers: workers, DialTimeout: cfg.Kafka.DialTimeout, MaxMessageBytes: cfg.Kafka.MaxMessageBytes,
		BatchTxns: o.batchTxns, End: end, Until: until, KafkaSecurity: kafkaSecurity(cfg), CommitOrder: sinks.CommitOrder(sk.CommitOrder),
	}, f, log)

	fmt.Fprintf(stderr, "replay: sink %s into %s\n", sk.Name, target)
	for _, s := range srcs {
		if s.exists {
			fmt.Fprintf(stderr, "replay: source %s: %s offsets %d..%d\n", s.name, kafka.TransactionTopic(s.prefix), s.first, s.end-1)
		} else {
			fmt.Fprintf(stderr, "replay: source %s: no log yet (%s does not exist)\n", s.name, kafka.TransactionTopic(s.prefix))
		}
	}
	start := time.Now()
	progCtx, stopProg := context.WithCancel(ctx)
	progDone := make(chan struct{})
	go func() { defer close(progDone); reportProgress(progCtx, stderr, sink, srcs, pr, start) }()
	var runErr error
	for attempt := 0; ; attempt++ {
		runErr = sink.Run(ctx, func() {})
		if runErr == nil || ctx.Err() != nil || supervise.IsPermanent(runErr) || attempt >= o.retries {
			break
		}
		wait := min(time.Duration(attempt+1)*time.Second, 5*time.Second)
		fmt.Fprintf(stderr, "replay: %v; retrying in %s\n", runErr, wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	stopProg()
	<-progDone
	st := sink.Status()
	elapsed := time.Since(start)
	var trimmed *kafka.TrimmedError
	switch {
	case errors.As(runErr, &trimmed):
		explainTrimmed(ctx, stderr, cfg, o, srcs, st.AppliedTxns, runErr)
		return errors.New("the log no longer holds its beginning, which this follower needs: start from a snapshot")
	case errors.Is(runErr, kafka.ErrRetention):
		fmt.Fprintf(stderr, `replay: %v
The log no longer holds everything this follower needs: a replay cannot rebuild it.
Take a new snapshot instead: stop the daemon, empty the follower database, and run
  walship replay -c %s --sink %s --resnapshot
README.md, "Rebuild and verify", has the runbook.
`, runErr, o.path, sk.Name)
		return errors.New("the log no longer holds what the replay needs")
	case errors.Is(runErr, sinks.ErrLocked):
		return fmt.Errorf("%w: stop the daemon applying to this follower, or replay --into another database", runErr)
	case runErr != nil:
		return runErr
	case ctx.Err() != nil:
		return fmt.Errorf("replay interrupted after %d transactions; run it again to resume where it stopped", st.AppliedTxns)
	}
	fmt.Fprintf(stdout, "replayed sink %s into %s: %d transactions, %d rows in %s\n", sk.Name, target, st.AppliedTxns, st.AppliedChanges,
		elapsed.Round(time.Millisecond))
	var short []string
	for i, s := range st.Sources {
		at := "nothing applied"
		if !s.Applied.Pos.IsZero() {
			at = "applied up to " + s.Applied.Pos.String()
			if !s.Applied.CommitTime.IsZero() {
				at += " (commit " + s.Applied.CommitTime.Format(time.RFC3339Nano) + ")"
			}
		}
		fmt.Fprintf(stdout, "  source %s: %s\n", s.Source, at)
		if b != nil && !pr.crossed[srcs[i].name] && !b.reached(s.Source, s.Applied) {
			short = append(short, s.Source)
		}
	}
	if f.isLive() {
		// The tables caught up with the sink: its own positions cover them
		// from here on.
		if err := forgetTables(ctx, sqlsink.New(ac, d, log.With("sink", sk.Name))); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  tables %s are at the sink's recorded positions; the daemon goes on with every table\n", strings.Join(rfo.tables, ", "))
	}
	if len(short) > 0 {
		return fmt.Errorf("the log of %s ended (as of the start of the replay) before --to %s: everything it held is applied; run again later to go further",
			strings.Join(short, ", "), b.text)
	}
	return nil
}

// reportProgress prints a progress line on w every second (a bar when w
// is a terminal).
func reportProgress(ctx context.Context, w io.Writer, sink *sinks.Sink, srcs []*replaySource, pr *progress, start time.Time) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastRows int64
	last := start
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(w)
			}
			return
		case now := <-tick.C:
			st := sink.Status()
			var total, done, startRead int64
			pr.mu.Lock()
			for _, s := range srcs {
				if !s.exists {
					continue
				}
				total += s.end - s.first
				if r, ok := pr.read[s.name]; ok {
					done += min(r, s.end) - s.first
					startRead += pr.first[s.name] - s.first
				}
			}
			pr.mu.Unlock()
			rate := float64(st.AppliedChanges-lastRows) / now.Sub(last).Seconds()
			lastRows, last = st.AppliedChanges, now
			pct, eta := 100.0, "-"
			if total > 0 {
				pct = 100 * float64(done) / float64(total)
				if el := now.Sub(start).Seconds(); done > startRead && el > 0 {
					secs := float64(total-done) / (float64(done-startRead) / el)
					eta = (time.Duration(secs) * time.Second).String()
				}
			}
			line := fmt.Sprintf("replay %s: %d transactions, %d rows applied, %.0f rows/s, log %.1f%% read, ETA %s",
				st.Name, st.AppliedTxns, st.AppliedChanges, rate, pct, eta)
			if tty {
				n := int(pct / 5)
				fmt.Fprintf(w, "\r[%s%s] %s\x1b[K", strings.Repeat("#", n), strings.Repeat(" ", 20-n), line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

// dryRun prints the plan: per source, the spine range and what it holds
// up to the bound.
func dryRun(ctx context.Context, w io.Writer, cfg *config.Config, sink, target string, srcs []*replaySource, b *bound) error {
	fmt.Fprintf(w, "replay plan for sink %s into %s (dry run: nothing is written)\n", sink, target)
	if b != nil {
		fmt.Fprintf(w, "  stop after the last transaction at or before %s\n", b.text)
	} else {
		fmt.Fprintf(w, "  stop at the end of the log as of now\n")
	}
	for _, s := range srcs {
		topic := kafka.TransactionTopic(s.prefix)
		if !s.exists || s.end <= s.first {
			fmt.Fprintf(w, "source %s: %s holds nothing\n", s.name, topic)
			continue
		}
		txns, hbs, upto, parts, err := scanSpine(ctx, cfg, s, b)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.name, err)
		}
		fmt.Fprintf(w, "source %s: topic %s offsets %d..%d (up to %d with the bound): %d transactions (END markers), %d heartbeats\n",
			s.name, topic, s.first, s.end-1, upto, txns, hbs)
		keys := make([]string, 0, len(parts))
		for k := range parts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %d events\n", k, parts[k])
		}
	}
	fmt.Fprintln(w, "a replay resumes after the positions the follower recorded; on an empty follower it applies all of the above")
	return nil
}

// scanSpine reads a source's transaction topic from first to end, or to
// the bound.
func scanSpine(ctx context.Context, cfg *config.Config, s *replaySource, b *bound) (txns, hbs, upto int64, parts map[string]int64, err error) {
	parts = map[string]int64{}
	upto = s.first - 1
	end := s.end
	if tb, ok := b.limit(s.name); ok {
		end = min(end, tb.end)
	}
	err = eachMarker(ctx, cfg, s, s.first, end, func(off int64, mk envelope.Marker) bool {
		hb := mk.Status == envelope.StatusHeartbeat
		if b != nil && !b.isTime && b.beyond(s.name, &kafka.Txn{End: mk, Heartbeat: hb}) {
			return false
		}
		upto = off
		if hb {
			hbs++
			return true
		}
		txns++
		for _, pc := range mk.Partitions {
			parts[fmt.Sprintf("%s/%d", pc.Topic, pc.Partition)] += int64(pc.Count)
		}
		return true
	})
	return
}
