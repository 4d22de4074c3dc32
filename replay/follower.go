package replay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/supervise"
)

// follower is the sink's applier as a replay uses it: --from sets
// where a follower without positions starts, --tables filters the changes
// (keeping positions of its own), --resnapshot wants an empty follower.
type follower struct {
	*sqlsink.Applier
	progress io.Writer
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
	// beginning a follower starting there needs (job.checkLogStart), before
	// anything is applied.
	logStart func(ctx context.Context, source string) error
	sources  []string

	mu     sync.Mutex
	live   bool                   // --tables on a follower the sink applies: stop at its positions
	limits map[string]offsets.Seq // the sink's watermark per source, when live
}

var _ sinks.Follower = (*follower)(nil)

// hasPositions reports whether a follower recorded positions of a sink.
func hasPositions(state map[string]sinks.SourceState) bool {
	for _, s := range state {
		if !s.Watermark.Seq.IsZero() || s.Offsets.Spine != 0 || len(s.Above) > 0 {
			return true
		}
	}
	return false
}

// Prepare implements sinks.Follower.
func (f *follower) Prepare(ctx context.Context) (map[string]sinks.SourceState, func(), error) {
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
		fmt.Fprintln(f.progress, "replay: the follower recorded positions: resuming after them")
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

func (f *follower) isLive() bool {
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
func (f *follower) beyondLimit(source string, txn *kafka.Txn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live {
		return false
	}
	limit, ok := f.limits[source]
	return !ok || limit.Less(txn.End.Seq)
}

func (f *follower) keep(tables []*ordering.Table) []*ordering.Table {
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
func (f *follower) EnsureSchema(ctx context.Context, source string, tables []*ordering.Table) error {
	return f.Applier.EnsureSchema(ctx, source, f.keep(tables))
}

// Begin implements sinks.Follower.
func (f *follower) Begin(ctx context.Context) (sinks.FollowerTx, error) {
	tx, err := f.Applier.Begin(ctx)
	if err != nil || f.tables == nil {
		return tx, err
	}
	return filterTx{tx, f}, nil
}

// filterTx applies only the changes of --tables.
type filterTx struct {
	sinks.FollowerTx
	f *follower
}

// BlocksOthers passes the follower's lock probe through (sinks.LockProber),
// so a batch waiting for its commit turn still sees that it blocks another.
func (t filterTx) BlocksOthers(ctx context.Context) (bool, error) {
	if p, ok := t.FollowerTx.(sinks.LockProber); ok {
		return p.BlocksOthers(ctx)
	}
	return false, nil
}

// Fence passes sinks.Fencer through.
func (t filterTx) Fence(ctx context.Context) error {
	if f, ok := t.FollowerTx.(sinks.Fencer); ok {
		return f.Fence(ctx)
	}
	return nil
}

// Flush passes sinks.Flusher through.
func (t filterTx) Flush(ctx context.Context) error {
	if f, ok := t.FollowerTx.(sinks.Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
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

// ParseTables splits --tables and checks each pattern; its errors are
// ErrUsage.
func ParseTables(s string) ([]string, error) {
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
			return nil, usagef("--tables %q: each pattern is schema.table (a MariaDB database is its schema), globs allowed, e.g. public.orders or shop.*", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, usagef("--tables is empty")
	}
	return out, nil
}
