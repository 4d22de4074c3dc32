package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// replayFollower is the sink's applier as a replay uses it: --from sets
// where a follower without positions starts, --tables filters the changes
// (keeping positions of its own), --resnapshot wants an empty follower.
type replayFollower struct {
	*sqlsink.Applier
	stderr io.Writer
	// starts is where each source starts on a follower that recorded no
	// positions; nil: the start of the log.
	starts map[string]sinks.SourceState
	// requireEmpty, when set, refuses a follower with positions; it is the
	// reason given.
	requireEmpty string
	// tables are the --tables patterns (nil: every table); main is then the
	// sink's own positions name (the replay records under another).
	tables []string
	main   string
	to     string // --to, refused with --tables on the sink's own follower

	// logStart, when set, checks that the log of a source still holds the
	// beginning a follower starting there needs (checkLogStart), before
	// anything is applied.
	logStart func(ctx context.Context, source string) error
	sources  []string

	mu     sync.Mutex
	live   bool                   // --tables on a follower the sink applies: stop at its positions
	limits map[string]offsets.Seq // the sink's watermark per source, when live
}

func hasPositions(state map[string]sinks.SourceState) bool {
	for _, s := range state {
		if !s.Watermark.Seq.IsZero() || s.Offsets.Spine != 0 || len(s.Above) > 0 {
			return true
		}
	}
	return false
}

// Prepare implements sinks.Follower.
func (f *replayFollower) Prepare(ctx context.Context) (map[string]sinks.SourceState, func(), error) {
	state, release, err := f.Applier.Prepare(ctx)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (map[string]sinks.SourceState, func(), error) {
		release()
		return nil, nil, supervise.Permanent(err)
	}
	if f.tables != nil {
		mainState, err := f.Applier.StateOf(ctx, f.main)
		if err != nil {
			return fail(err)
		}
		f.mu.Lock()
		f.live, f.limits = hasPositions(mainState), map[string]offsets.Seq{}
		for src, st := range mainState {
			if len(st.Above) > 0 {
				f.mu.Unlock()
				return fail(fmt.Errorf("--tables: sink %s recorded %d transactions of source %s applied out of order above its watermark %s; let the daemon catch up, stop it once idle, and run the replay again",
					f.main, len(st.Above), src, st.Watermark.Pos))
			}
			f.limits[src] = st.Watermark.Seq
		}
		live := f.live
		f.mu.Unlock()
		if live && f.to != "" {
			return fail(fmt.Errorf("--tables with --to on a follower sink %s applies would leave those tables behind the others; replay --into another database to look at tables as of a position", f.main))
		}
	}
	if hasPositions(state) {
		if f.requireEmpty != "" {
			return fail(fmt.Errorf("%s: the follower already recorded positions of this sink; drop and recreate the follower database (or replay --into an empty one)", f.requireEmpty))
		}
		fmt.Fprintln(f.stderr, "replay: the follower recorded positions: resuming after them")
	} else if f.starts != nil {
		out := map[string]sinks.SourceState{}
		for src, st := range f.starts {
			st.Above = map[offsets.Seq]bool{}
			out[src] = st
		}
		state = out
	}
	// A source read from spine offset 0 is read from the beginning of its
	// log, which must all be there: refuse now rather than after applying
	// the transactions before the first hole.
	if f.logStart != nil {
		for _, src := range f.sources {
			if state[src].Offsets.Spine != 0 {
				continue
			}
			if err := f.logStart(ctx, src); err != nil {
				return fail(err)
			}
		}
	}
	return state, release, nil
}

func (f *replayFollower) isLive() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

// forgetTables deletes the positions a --tables replay kept, once its
// tables caught up with the sink's; the run closed its connections, so
// this opens the follower again, under the sink's lock.
func forgetTables(ctx context.Context, a *sqlsink.Applier) error {
	_, release, err := a.Prepare(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	defer release()
	return a.Forget(ctx)
}

// beyondLimit reports whether a live --tables replay must stop at txn.
func (f *replayFollower) beyondLimit(source string, txn *kafka.Txn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live {
		return false
	}
	limit, ok := f.limits[source]
	return !ok || limit.Less(txn.End.Seq)
}

func (f *replayFollower) keep(tables []*ordering.Table) []*ordering.Table {
	if f.tables == nil {
		return tables
	}
	var out []*ordering.Table
	for _, t := range tables {
		if config.MatchTable(f.tables, t.Schema, t.Name) {
			out = append(out, t)
		}
	}
	return out
}

// EnsureSchema implements sinks.Follower.
func (f *replayFollower) EnsureSchema(ctx context.Context, source string, tables []*ordering.Table) error {
	return f.Applier.EnsureSchema(ctx, source, f.keep(tables))
}

// Begin implements sinks.Follower.
func (f *replayFollower) Begin(ctx context.Context) (sinks.FollowerTx, error) {
	tx, err := f.Applier.Begin(ctx)
	if err != nil || f.tables == nil {
		return tx, err
	}
	return filterTx{tx, f}, nil
}

// filterTx applies only the changes of --tables.
type filterTx struct {
	sinks.FollowerTx
	f *replayFollower
}

func (t filterTx) Apply(ctx context.Context, source string, ch *ordering.Change) error {
	if !config.MatchTable(t.f.tables, ch.Table.Schema, ch.Table.Name) {
		// Its foreign-key actions the source did not log may reach the
		// tables rebuilt (sqlsink's CascadeInto keeps them there).
		if c, ok := t.FollowerTx.(interface {
			ApplyCascades(context.Context, *ordering.Change) error
		}); ok {
			return c.ApplyCascades(ctx, ch)
		}
		return nil
	}
	return t.FollowerTx.Apply(ctx, source, ch)
}

func (t filterTx) EnsureSchema(ctx context.Context, source string, tables []*ordering.Table) error {
	return t.FollowerTx.EnsureSchema(ctx, source, t.f.keep(tables))
}

// tablesKey names the positions a --tables replay keeps: the sink's name
// and a digest of the sorted patterns, so a rerun with the same tables
// resumes and one with other tables starts over.
func tablesKey(sink string, patterns []string) string {
	p := append([]string(nil), patterns...)
	sort.Strings(p)
	sum := sha256.Sum256([]byte(strings.Join(p, ",")))
	return sink + "/tables-" + hex.EncodeToString(sum[:4])
}

// parseTables splits --tables and checks each pattern.
func parseTables(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, ".") {
			return nil, fmt.Errorf("--tables %q: each pattern is schema.table (a MariaDB database is its schema), globs allowed, e.g. public.orders or shop.*", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--tables is empty")
	}
	return out, nil
}

// errNoSnapshot is findStart's answer to --from snapshot on a log that
// holds no snapshot.
var errNoSnapshot = errors.New("no snapshot in the log")

// findStart scans a source's transaction topic for where --from starts:
// "snapshot" is the first chunk of the newest snapshot in the log; a
// position or time starts after the last transaction at or before it.
// The state returned starts a follower without positions there.
func findStart(ctx context.Context, cfg *config.Config, s *replaySource, from string, b *bound) (sinks.SourceState, string, error) {
	st := sinks.SourceState{}
	if s.exists && s.end <= s.first && s.first > 0 && from == "snapshot" {
		return st, "", fmt.Errorf("%w: the log of source %s (%s) is empty: retention removed every record up to offset %d: take one with replay --resnapshot",
			errNoSnapshot, s.name, kafka.TransactionTopic(s.prefix), s.first)
	}
	if !s.exists || s.end <= s.first {
		return st, "the log is empty", nil
	}
	kr := kafkago.NewReader(kafkago.ReaderConfig{Brokers: cfg.Kafka.Brokers, Topic: kafka.TransactionTopic(s.prefix), Partition: 0,
		Dialer:   kafkaSecurity(cfg).Dialer(10 * time.Second),
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
	defer kr.Close()
	if err := kr.SetOffset(s.first); err != nil {
		return st, "", err
	}
	snapAt := int64(-1)
	var prev sinks.Applied
	for off := s.first; off < s.end; {
		m, err := kr.FetchMessage(ctx)
		if err != nil {
			return st, "", err
		}
		off = m.Offset + 1
		rec := envelope.Record{Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, envelope.Header{Key: h.Key, Value: h.Value})
		}
		mk, err := envelope.DecodeMarker(rec)
		if err != nil {
			return st, "", fmt.Errorf("%s/0 offset %d: %w", kafka.TransactionTopic(s.prefix), m.Offset, err)
		}
		hb := mk.Status == envelope.StatusHeartbeat
		if mk.Status != envelope.StatusEnd && !hb {
			continue
		}
		if from != "snapshot" {
			if b.beyond(s.name, &kafka.Txn{End: mk, Heartbeat: hb}) {
				st.Watermark = sinks.Applied{Seq: prev.Seq, Pos: b.pos[s.name], CommitTime: prev.CommitTime}
				st.Offsets.Spine = m.Offset
				return st, fmt.Sprintf("starts at spine offset %d (after transaction %s)", m.Offset, prev.Seq), nil
			}
		} else if !hb && mk.Snapshot && mk.Seq.Sub == 0 {
			snapAt = m.Offset
		}
		if !hb {
			prev = sinks.Applied{Seq: mk.Seq, Pos: mk.Pos, CommitTime: mk.Time}
		}
	}
	if from != "snapshot" {
		st.Watermark = sinks.Applied{Seq: prev.Seq, Pos: b.pos[s.name], CommitTime: prev.CommitTime}
		st.Offsets.Spine = s.end
		return st, "the log holds nothing after it", nil
	}
	if snapAt < 0 && s.first > 0 {
		return st, "", fmt.Errorf("%w: the log of source %s (%s offsets %d..%d) holds none: take one with replay --resnapshot",
			errNoSnapshot, s.name, kafka.TransactionTopic(s.prefix), s.first, s.end-1)
	}
	if snapAt < 0 {
		return st, "", fmt.Errorf("%w: the log of source %s (%s offsets %d..%d) holds none: replay --from earliest, or take one with replay --resnapshot",
			errNoSnapshot, s.name, kafka.TransactionTopic(s.prefix), s.first, s.end-1)
	}
	// The watermark stays zero: nothing before the snapshot is applied.
	st.Offsets.Spine = snapAt
	return st, fmt.Sprintf("starts at the newest snapshot, spine offset %d", snapAt), nil
}

// resnapshot takes a new consistent snapshot of each source of the sink
// into the log: it resets the source (its checkpoint, and a PostgreSQL
// slot) under the source's lock, so no daemon may be capturing it, and
// runs the source until its snapshot is durable in Kafka.
func resnapshot(ctx context.Context, stderr io.Writer, log *slog.Logger, cfg *config.Config, sk *config.Sink) error {
	store, err := offsets.OpenStore(cfg.StateDir)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, name := range sk.From {
		var sc config.Source
		for _, s := range cfg.Sources {
			if s.Name == name {
				sc = s
			}
		}
		if sc.External != "" {
			return fmt.Errorf("--resnapshot: source %s is captured by another daemon (external: %s); run the re-snapshot with that daemon's config", name, sc.External)
		}
		if err := resnapshotSource(ctx, stderr, log, cfg, sc, store); err != nil {
			return fmt.Errorf("--resnapshot: source %s: %w", name, err)
		}
	}
	return nil
}

func resnapshotSource(ctx context.Context, stderr io.Writer, log *slog.Logger, cfg *config.Config, sc config.Source, store *offsets.Store) error {
	release, err := offsets.LockSource(cfg.StateDir, sc.Name)
	if err != nil {
		return fmt.Errorf("%w (is the daemon running? stop it first)", err)
	}
	defer release()
	switch {
	case sc.Postgres != nil:
		pg := *sc.Postgres
		pg.Snapshot = "initial"
		sc.Postgres = &pg
		if err := dropSlot(ctx, pg); err != nil {
			return err
		}
	case sc.MySQL != nil:
		my := *sc.MySQL
		my.Snapshot = "initial"
		sc.MySQL = &my
	}
	if err := store.Delete(ctx, sc.Name); err != nil {
		return fmt.Errorf("delete the checkpoint: %w", err)
	}
	fmt.Fprintf(stderr, "replay: source %s: checkpoint deleted; taking a new snapshot into the log\n", sc.Name)
	src, err := buildEngineSource(cfg, sc, store, log)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(rctx, func() {}) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return fmt.Errorf("the source stopped before its snapshot was durable: %w", err)
		case <-ctx.Done():
			cancel()
			<-done
			return ctx.Err()
		case <-tick.C:
		}
		cp, err := store.Load(ctx, sc.Name)
		if err == nil && cp.SnapshotDone {
			st := src.Status()
			cancel()
			if err := <-done; err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("stop the source: %w", err)
			}
			fmt.Fprintf(stderr, "replay: source %s: snapshot of %d rows durable in the log at %s\n", sc.Name, st.SnapshotRows, cp.Position)
			return nil
		}
		if st := src.Status(); st.State == sources.StateFailed {
			cancel()
			<-done
			return fmt.Errorf("the source failed: %s", st.LastError)
		}
	}
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
