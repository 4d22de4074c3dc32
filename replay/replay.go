package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// Options are a replay's choices; `walship replay` sets them from its
// flags, whose names the errors use.
type Options struct {
	// Sink names the configured sink whose follower is rebuilt. Required.
	Sink string
	// Into, when set, builds into this database instead of the sink's
	// follower: a PostgreSQL URL, a go-sql-driver DSN or a SQLite path, by
	// the sink's engine. Default: the configured follower.
	Into string
	// To stops the replay: after the last transaction at or before a
	// position (a PostgreSQL LSN, a GTID set), or after the last
	// transaction in log order committed at or before an RFC 3339 time.
	// Default (""): the end of the log as of the start of the replay.
	To string
	// From is where a follower without recorded positions starts:
	// "earliest" (the start of the log), "snapshot" (the newest snapshot
	// in the log), or after a position or RFC 3339 time. A follower with
	// positions resumes after them. Default ("", or the old spelling
	// "resume"): earliest.
	From string
	// Tables, when set, rebuilds only the tables matching these
	// schema.table patterns (ParseTables). Default (nil): every table.
	Tables []string
	// Resnapshot takes a new snapshot of each source into the log first,
	// then rebuilds an empty follower from it. Default: false.
	Resnapshot bool
	// Workers is the number of parallel appliers. Default (0): the sink's
	// workers (one on SQLite, always).
	Workers int
	// BatchTxns is the most source transactions per follower transaction.
	// Default (0): the sinks package's default (100).
	BatchTxns int
	// Retries is how many times Run retries after the follower or Kafka
	// became unavailable. Default (0): none.
	Retries int
	// Kafka is the brokers' TLS and SASL (kafka.NewSecurity of the
	// config's kafka block). Default: plaintext.
	Kafka kafka.Security
	// Progress receives what the replay is doing, a line at a time (a
	// progress bar when it is a terminal). Default (nil): discarded.
	Progress io.Writer
	// Log is the logger of the sink's applier. Default (nil): discarded.
	Log *slog.Logger
}

// Check reports the options that contradict each other, as an ErrUsage.
// Run and DryRun check them too.
func (o Options) Check() error {
	from := o.from()
	if o.Resnapshot && from != "earliest" && from != "snapshot" {
		return usagef("--resnapshot rebuilds from the new snapshot: --from %s does not apply", from)
	}
	return nil
}

// CheckDryRun is Check for a dry run, which refuses Resnapshot.
func (o Options) CheckDryRun() error {
	if err := o.Check(); err != nil {
		return err
	}
	if o.Resnapshot {
		return usagef("--resnapshot writes a snapshot into the log: it has no dry run")
	}
	return nil
}

func (o Options) from() string {
	if o.From == "" || o.From == "resume" {
		return "earliest" // resume is the old spelling: a follower with positions resumes anyway
	}
	return o.From
}

// Engines are the engine-specific pieces a replay needs, built by the
// caller the way the daemon builds them, so that this package imports no
// engine.
type Engines struct {
	// Follower returns a sink's applier configuration and its follower
	// dialect, as the daemon's sink uses them. engines maps each source
	// of the sink to its type family ("postgres" or "mysql"). Each call
	// returns a new dialect (the replay may turn its foreign keys off).
	// Required.
	Follower func(sk config.Sink, engines map[string]string) (sqlsink.Config, sqlsink.Dialect)
	// Source builds the capture of a source as the daemon runs it, without
	// taking the source's lock (the replay holds it). Only Resnapshot calls
	// it, and needs it.
	Source func(sc config.Source, store *offsets.Store) (Capture, error)
	// ResetSource drops what the source's server keeps for a capture
	// resuming (a PostgreSQL replication slot), so that the next capture
	// takes a new snapshot; it refuses one in use. Nil: nothing to reset.
	// Only Resnapshot calls it, under the source's lock.
	ResetSource func(ctx context.Context, sc config.Source) error
}

// Capture is a source's capture as the daemon runs it.
type Capture interface {
	// Run captures until ctx is cancelled or it fails.
	Run(ctx context.Context, ready func()) error
	// Status is safe to call while Run runs.
	Status() sources.Status
}

// Report is what a finished replay applied.
type Report struct {
	Sink, Target string
	// Txns and Rows count what this run applied.
	Txns, Rows int64
	Elapsed    time.Duration
	// Sources are the follower's positions per source at the end.
	Sources []sinks.SourceStatus
	// Tables, set after a Tables replay into the follower the sink
	// applies, are the tables handed back to the sink's own positions.
	Tables []string
}

// Print writes the report as `walship replay` prints it.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "replayed sink %s into %s: %d transactions, %d rows in %s\n", r.Sink, r.Target, r.Txns, r.Rows,
		r.Elapsed.Round(time.Millisecond))
	for _, s := range r.Sources {
		at := "nothing applied"
		if !s.Applied.Pos.IsZero() {
			at = "applied up to " + s.Applied.Pos.String()
			if !s.Applied.CommitTime.IsZero() {
				at += " (commit " + s.Applied.CommitTime.Format(time.RFC3339Nano) + ")"
			}
		}
		fmt.Fprintf(w, "  source %s: %s\n", s.Source, at)
	}
	if r.Tables != nil {
		fmt.Fprintf(w, "  tables %s are at the sink's recorded positions; the daemon goes on with every table\n", strings.Join(r.Tables, ", "))
	}
}

// source is one source of the replayed sink.
type source struct {
	name, prefix string
	engine       offsets.Engine
	first, end   int64 // spine offsets: first held, end (next to be written) at start
	exists       bool
}

// job is one replay or dry run: the options checked against the config,
// then the log surveyed.
type job struct {
	cfg      *config.Config
	o        Options
	eng      Engines
	sk       config.Sink // a copy, Into applied
	target   string
	srcs     []*source
	to, from *bound
	starts   map[string]sinks.SourceState
	progress io.Writer
	log      *slog.Logger
}

// newJob checks the options against the config; every error is an
// ErrUsage.
func newJob(cfg *config.Config, o Options, eng Engines) (*job, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	o.From = o.from()
	j := &job{cfg: cfg, o: o, eng: eng, progress: o.Progress, log: o.Log}
	if j.progress == nil {
		j.progress = io.Discard
	}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	sk := cfg.SinkNamed(o.Sink)
	if sk == nil {
		return nil, usagef("no sink %q in %s (sinks: %s)", o.Sink, cfg.File, strings.Join(cfg.SinkNames(), ", "))
	}
	j.sk = *sk
	var err error
	if j.target, err = target(&j.sk, o.Into); err != nil {
		return nil, usageError{err}
	}
	for _, name := range sk.From {
		for _, s := range cfg.Sources {
			if s.Name == name {
				j.srcs = append(j.srcs, &source{name: name, prefix: s.TopicPrefix, engine: s.PositionEngine()})
			}
		}
	}
	if j.to, err = parseBound(o.To, j.srcs); err != nil {
		return nil, usageError{err}
	}
	if o.From != "earliest" && o.From != "snapshot" {
		if j.from, err = parseBound(o.From, j.srcs); err != nil {
			return nil, usagef("--from: want earliest, snapshot, a position or a time: %w", err)
		}
	}
	return j, nil
}

// target applies Into to the sink and describes where it writes.
func target(sk *config.Sink, into string) (string, error) {
	switch {
	case sk.Postgres != nil:
		pg := *sk.Postgres
		sk.Postgres = &pg
		return "PostgreSQL " + redirect(&pg.DSN, into), nil
	case sk.MySQL != nil:
		my := *sk.MySQL
		sk.MySQL = &my
		return "MySQL/MariaDB " + redirect(&my.DSN, into), nil
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

// redirect sets dsn to into, when set, and returns it redacted.
func redirect(dsn *config.Secret, into string) string {
	if into != "" {
		*dsn = config.Secret(into)
	}
	return config.RedactDSN(dsn.Reveal())
}

// survey reads the log as it is now: each source's spine bounds, a --to
// time resolved on each log, and where --from starts.
func (j *job) survey(ctx context.Context) error {
	for _, s := range j.srcs {
		if err := s.spineBounds(ctx, j.cfg.Kafka.Brokers, j.o.Kafka, j.cfg.Kafka.DialTimeout); err != nil {
			return err
		}
	}
	if b := j.to; b != nil && b.isTime {
		b.ends = map[string]timeBound{}
		for _, s := range j.srcs {
			tb, err := j.resolveTime(ctx, s, b.time)
			if err != nil {
				return fmt.Errorf("source %s: --to %s: %w", s.name, b.text, err)
			}
			b.ends[s.name] = tb
			if s.exists {
				fmt.Fprintf(j.progress, "replay: source %s: --to %s %s\n", s.name, b.text, tb.describe(b.time))
			}
		}
	}
	if j.o.From != "earliest" {
		j.starts = map[string]sinks.SourceState{}
		for _, s := range j.srcs {
			st, what, err := j.findStart(ctx, s, j.o.From, j.from)
			if err != nil {
				return err
			}
			fmt.Fprintf(j.progress, "replay: source %s: --from %s %s\n", s.name, j.o.From, what)
			j.starts[s.name] = st
		}
	}
	return nil
}

// sinkEngines maps each source to its type family for the applier.
func (j *job) sinkEngines() map[string]string {
	engines := map[string]string{}
	for _, s := range j.srcs {
		engines[s.name] = string(s.engine)
		if s.engine == offsets.EngineMariaDB {
			engines[s.name] = "mysql"
		}
	}
	return engines
}

// applier is the sink's applier as the daemon builds it.
func (j *job) applier() *sqlsink.Applier {
	ac, d := j.eng.Follower(j.sk, j.sinkEngines())
	return sqlsink.New(ac, d, j.log.With("sink", j.sk.Name))
}

// Run rebuilds the follower of the sink o.Sink from the log in Kafka (see
// the package documentation) and reports what it applied. It returns a
// Report with a *ShortLogError when the log ended before o.To, and no
// Report with any other error.
func Run(ctx context.Context, cfg *config.Config, o Options, eng Engines) (*Report, error) {
	j, err := newJob(cfg, o, eng)
	if err != nil {
		return nil, err
	}
	if o.Resnapshot {
		// Refuse a follower with positions before touching the source.
		if err := j.requireNoPositions(ctx); err != nil {
			return nil, err
		}
		if err := j.resnapshot(ctx); err != nil {
			return nil, err
		}
		j.o.From = "snapshot"
	}
	if err := j.survey(ctx); err != nil {
		return nil, err
	}
	return j.apply(ctx)
}

// requireNoPositions refuses a Resnapshot into a follower that recorded
// positions of the sink.
func (j *job) requireNoPositions(ctx context.Context) error {
	a := j.applier()
	state, release, err := a.Prepare(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	defer release()
	if hasPositions(state) {
		return fmt.Errorf("--resnapshot rebuilds an empty follower, and this one recorded positions of sink %s: drop and recreate the follower database, or replay --into an empty one", j.sk.Name)
	}
	return nil
}

// progress is what the replay's log readers saw, per source.
type progress struct {
	mu      sync.Mutex
	read    map[string]int64 // next spine offset of the last transaction read
	first   map[string]int64 // the same, of the first transaction this process read
	crossed map[string]bool  // the log passed --to
}

// apply runs the sink's apply path over the log surveyed, retrying while
// the follower or Kafka is unavailable.
func (j *job) apply(ctx context.Context) (*Report, error) {
	sk, b, out := j.sk, j.to, j.progress
	ac, d := j.eng.Follower(sk, j.sinkEngines())
	var logs []sinks.SourceLog
	end := map[string]int64{}
	for _, s := range j.srcs {
		logs = append(logs, sinks.SourceLog{Name: s.name, Prefix: s.prefix})
		end[s.name] = s.end
		if !s.exists {
			end[s.name] = 0
		}
		if tb, ok := b.limit(s.name); ok {
			end[s.name] = min(end[s.name], tb.end)
		}
	}
	tables := j.o.Tables
	if tables != nil {
		// The other tables are not at the states the log passes through:
		// foreign keys between them and these would fail on the way, and
		// hold again at the end.
		d.(interface{ ForeignKeysOff() }).ForeignKeysOff()
		ac.Lock, ac.Sink = sk.Name, tablesKey(sk.Name, tables)
		// The source's unlogged cascades reach only the tables rebuilt: the
		// others are at the sink's positions, not the log's.
		ac.CascadeInto = func(schema, table string) bool { return config.MatchTable(tables, schema, table) }
		fmt.Fprintf(out, "replay: tables %s, positions kept as sink %q\n", strings.Join(tables, ", "), ac.Sink)
	}
	f := &follower{Applier: sqlsink.New(ac, d, j.log.With("sink", sk.Name)), progress: out,
		starts: j.starts, tables: tables, main: sk.Name, to: j.o.To}
	if j.o.Resnapshot {
		f.requireEmpty = "--resnapshot"
	}
	checked := map[string]bool{}
	for _, s := range j.srcs {
		f.sources = append(f.sources, s.name)
	}
	f.logStart = func(ctx context.Context, source string) error {
		if checked[source] {
			return nil
		}
		for _, s := range j.srcs {
			if s.name == source {
				if err := j.checkLogStart(ctx, s, end[source]); err != nil {
					return err
				}
			}
		}
		checked[source] = true
		return nil
	}
	workers := sk.Workers
	if j.o.Workers > 0 {
		workers = j.o.Workers
	}
	if sk.SQLite != nil {
		workers = 1
	}
	pr := &progress{read: map[string]int64{}, first: map[string]int64{}, crossed: map[string]bool{}}
	for _, s := range j.srcs {
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
	sc := sinks.Config{
		Name: sk.Name, Sources: logs, Brokers: j.cfg.Kafka.Brokers, Workers: workers, DialTimeout: j.cfg.Kafka.DialTimeout, MaxMessageBytes: j.cfg.Kafka.MaxMessageBytes,
		BatchTxns: j.o.BatchTxns, End: end, Until: until, KafkaSecurity: j.o.Kafka, CommitOrder: sinks.CommitOrder(sk.CommitOrder),
	}
	if flt, err := sk.Filter(); err != nil {
		return nil, err
	} else if flt != nil {
		sc.Filter = flt
	}
	sink := sinks.New(sc, f, j.log)

	fmt.Fprintf(out, "replay: sink %s into %s\n", sk.Name, j.target)
	for _, s := range j.srcs {
		if s.exists {
			fmt.Fprintf(out, "replay: source %s: %s offsets %d..%d\n", s.name, kafka.TransactionTopic(s.prefix), s.first, s.end-1)
		} else {
			fmt.Fprintf(out, "replay: source %s: no log yet (%s does not exist)\n", s.name, kafka.TransactionTopic(s.prefix))
		}
	}
	start := time.Now()
	progCtx, stopProg := context.WithCancel(ctx)
	progDone := make(chan struct{})
	go func() { defer close(progDone); reportProgress(progCtx, out, sink, j.srcs, pr, start) }()
	var runErr error
	for attempt := 0; ; attempt++ {
		runErr = sink.Run(ctx, func() {})
		if runErr == nil || ctx.Err() != nil || supervise.IsPermanent(runErr) || attempt >= j.o.Retries {
			break
		}
		wait := min(time.Duration(attempt+1)*time.Second, 5*time.Second)
		fmt.Fprintf(out, "replay: %v; retrying in %s\n", runErr, wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	stopProg()
	<-progDone
	st := sink.Status()
	var trimmed *kafka.TrimmedError
	switch {
	case errors.As(runErr, &trimmed):
		return nil, j.trimmedLog(ctx, st.AppliedTxns, runErr)
	case errors.Is(runErr, kafka.ErrRetention):
		return nil, &RetentionError{Err: runErr}
	case errors.Is(runErr, sinks.ErrLocked):
		return nil, fmt.Errorf("%w: stop the daemon applying to this follower, or replay --into another database", runErr)
	case runErr != nil:
		return nil, runErr
	case ctx.Err() != nil:
		return nil, &InterruptedError{Applied: st.AppliedTxns, Err: ctx.Err()}
	}
	rep := &Report{Sink: sk.Name, Target: j.target, Txns: st.AppliedTxns, Rows: st.AppliedChanges,
		Elapsed: time.Since(start), Sources: st.Sources}
	var short []string
	for i, s := range st.Sources {
		if b != nil && !pr.crossed[j.srcs[i].name] && !b.reached(s.Source, s.Applied) {
			short = append(short, s.Source)
		}
	}
	if f.isLive() {
		// The tables caught up with the sink: its own positions cover them
		// from here on.
		if err := forgetTables(ctx, sqlsink.New(ac, d, j.log.With("sink", sk.Name))); err != nil {
			return rep, err
		}
		rep.Tables = tables
	}
	if len(short) > 0 {
		return rep, &ShortLogError{Sources: short, To: b.text}
	}
	return rep, nil
}
