package sqlsink

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
)

// Config configures an Applier.
type Config struct {
	// Sink is the sink's name (positions rows, the lock).
	Sink string
	// Conflicts is what the sink does when the follower's row is not the
	// one a change expects (conflict.go). Default: stop (PolicyError).
	Conflicts Conflicts
	// NoFold applies every change as it comes (fold.go): follower
	// triggers see each one. Default: folded.
	NoFold bool
	// Lock, if set, names the lock instead of Sink: a replay of some tables
	// keeps positions of its own under the sink's lock.
	Lock string
	// TakeOver ends the session of another process that holds the sink's
	// lock (Evictor) rather than wait for it: a cluster member that owns
	// the sink ends its previous owner's. Default: wait, then refuse.
	TakeOver bool
	// SourceEngines maps each source name to "postgres" or "mysql", for
	// type mapping.
	SourceEngines map[string]string
	// Prefix is prepended to every follower table name. Default: none.
	Prefix string
	// Rename maps "schema.table" of a source to a follower table name
	// ("table" or "schema.table" on PostgreSQL).
	Rename map[string]string
	// DropColumns drops follower columns the source dropped; otherwise they
	// stay, made nullable. Default: false.
	DropColumns bool
	// Indexes is copy (a follower table walship creates gets the source
	// table's secondary indexes, built once its snapshot is applied) or
	// primary_key_only; TableIndexes overrides it per source table
	// ("schema.table"). Default: copy.
	Indexes      string
	TableIndexes map[string]string
	// ForeignKeys adds the source's foreign keys between tables the sink
	// applies to the follower tables it created (with Indexes copy), once
	// their rows are loaded. Default: false.
	ForeignKeys bool
	// CascadeInto, if set, says which source tables (schema, table) the
	// source's unlogged foreign-key actions are replayed into; the others'
	// follower tables are left alone (a replay of some tables). Default:
	// every child table the source lists (see ordering.Cascade).
	CascadeInto func(schema, table string) bool
	// LeaseCheck is how often the lock's session is checked (which also
	// keeps it from idle timeouts such as MariaDB's wait_timeout).
	// Default: 2s.
	LeaseCheck time.Duration
}

// Applier implements sinks.Follower on a SQL database.
type Applier struct {
	cfg Config
	d   Dialect
	log *slog.Logger
	db  *sql.DB

	held atomic.Pointer[held] // the lock the last Prepare took

	schemaMu sync.Mutex      // one schema change at a time; never taken while holding mu
	mu       sync.Mutex      // guards the maps below; never held during I/O
	tables   map[Name]*table // follower tables seen, by follower name
	owners   map[Name]string // follower name -> "source schema.table"
	shapes   map[*ordering.Table]*shape
	present  map[Name]bool // follower tables a cascade found

	stats     applyStats
	conflicts conflictCounts

	// pending are the follower tables whose indexes wait for
	// BuildIndexes, by source (guarded by mu); warned the indexes already
	// logged as not built (guarded by schemaMu). indexes.go.
	pending map[string]map[Name]*table
	warned  map[string]bool

	// posT and appT are walship's tables on this follower (MetaNames),
	// shapesT its record of the shapes (MetaShapes).
	posT, appT, shapesT Name
	// indexT records the indexes walship built (MetaIndexes).
	indexT Name
}

// applyStats counts what the applier wrote.
type applyStats struct {
	statements atomic.Int64 // data statements sent (inserts, updates, deletes, upserts)
	changes    atomic.Int64 // row changes held for folding
	unfolded   atomic.Int64 // windows the follower refused folded, applied change by change
	pruned     atomic.Int64 // rows deleted as not seen by an incremental snapshot (prune.go)
}

// Stats are the applier's counters since it started.
type Stats struct {
	Statements int64 // data statements sent
	Folded     int64 // row changes written through the folding window
	Unfolded   int64 // windows the follower refused folded
	Pruned     int64 // rows deleted as not seen by an incremental snapshot
}

// Statements implements sinks.StatementCounter.
func (a *Applier) Statements() int64 { return a.stats.statements.Load() }

// Stats returns the counters.
func (a *Applier) Stats() Stats {
	return Stats{Statements: a.stats.statements.Load(), Folded: a.stats.changes.Load(), Unfolded: a.stats.unfolded.Load(), Pruned: a.stats.pruned.Load()}
}

// table is what walship knows of a follower table.
type table struct {
	name Name
	cols map[string]FollowerColumn
	// src is the source shape the table was last evolved to: by this
	// process, or as recorded in the follower (shapes.go); nil before the
	// first. stored is the recorded form (shapeJSON).
	src    *ordering.Table
	stored []byte
	// created: walship created the table (recorded in MetaIndexes); built
	// are the indexes it built there (name -> DDL), want those the newest
	// shape wants (indexes.go).
	created bool
	built   map[string]string
	want    []wantIndex
}

// shape is a source table shape resolved against its follower table.
type shape struct {
	name Name
	src  *ordering.Table
	key  []int // indexes of the key columns in src.Columns
	// types are the follower's column types when the shape was resolved.
	types map[string]string
	// absent: a shape without columns (a truncate of a dropped table whose
	// shape the source no longer knew) whose follower table does not
	// exist; its truncate does nothing.
	absent bool
}

var (
	_ sinks.Follower     = (*Applier)(nil)
	_ sinks.LeaseWatcher = (*Applier)(nil)
)

// New returns an Applier; Prepare connects.
func New(cfg Config, d Dialect, log *slog.Logger) *Applier {
	a := &Applier{cfg: cfg, d: d, log: log, tables: map[Name]*table{},
		owners: map[Name]string{}, shapes: map[*ordering.Table]*shape{}, present: map[Name]bool{}}
	a.posT, a.appT = MetaNames(d.Engine())
	a.shapesT = MetaShapes(d.Engine())
	a.indexT = MetaIndexes(d.Engine())
	a.pending, a.warned = map[string]map[Name]*table{}, map[string]bool{}
	return a
}

// Retryable implements sinks.Follower. A lost lock is retryable: the
// sink stops, and its restart takes the lock again (or finds it held).
func (a *Applier) Retryable(err error) bool {
	return errors.Is(err, sinks.ErrLockLost) || errors.Is(err, ErrSchemaRetry) || errors.Is(err, ErrConflictRace) || a.d.Retryable(err)
}

// Prepare implements sinks.Follower.
func (a *Applier) Prepare(ctx context.Context) (map[string]sinks.SourceState, func(), error) {
	db, err := a.d.Open(ctx)
	if err != nil {
		return nil, nil, err
	}
	a.db = db
	lock := a.cfg.Lock
	if lock == "" {
		lock = a.cfg.Sink
	}
	lease, err := a.d.Lock(ctx, db, lock)
	if ev, ok := a.d.(Evictor); ok && a.cfg.TakeOver && errors.Is(err, ErrLocked) {
		// The caller tries again (sinks.Sink waits for a held lock): the
		// ended session lets go of it in a moment.
		who, eerr := ev.Evict(ctx, db, lock)
		if eerr != nil {
			return nil, nil, fmt.Errorf("%w; ending the session that holds it failed: %w", err, eerr)
		}
		if who != "" {
			a.log.Warn("took the sink's lock over: ended the session holding it (a previous owner)", "holder", who)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	release := a.hold(lease)
	ddls := append(a.d.MetaTables(), a.shapesDDL(), a.indexesDDL())
	if a.cfg.Conflicts.record() {
		ddls = append(ddls, a.conflictsDDL())
	}
	for _, ddl := range ddls {
		// Two sinks on one database may create the tables at once; an
		// IF NOT EXISTS that loses the race fails, and a retry sees them.
		var err error
		for try := 0; try < 3; try++ {
			if _, err = db.ExecContext(ctx, ddl); err == nil {
				break
			}
			time.Sleep(time.Duration(50*(try+1)) * time.Millisecond)
		}
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("create walship tables: %w", err)
		}
	}
	if err := a.migrate(ctx); err != nil {
		release()
		return nil, nil, err
	}
	state, err := a.StateOf(ctx, a.cfg.Sink)
	if err != nil {
		release()
		return nil, nil, err
	}
	return state, release, nil
}

// held is a lock taken by Prepare.
type held struct {
	lease Lease
	lost  atomic.Pointer[error] // the error that ended it
	ch    chan error            // receives lost, once
}

// hold starts checking lease every Config.LeaseCheck until the returned
// release, which stops the checks and gives the lock back.
func (a *Applier) hold(lease Lease) (release func()) {
	every := a.cfg.LeaseCheck
	if every <= 0 {
		every = 2 * time.Second
	}
	h := &held{lease: lease, ch: make(chan error, 1)}
	a.held.Store(h)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every+5*time.Second)
			err := lease.Check(ctx)
			cancel()
			if err != nil {
				h.lose(err)
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			lease.Release()
		})
	}
}

// lose records the first error that ended the lock and tells the sink
// (which returns it, for the daemon to log).
func (h *held) lose(err error) {
	if h.lost.CompareAndSwap(nil, &err) {
		h.ch <- err
	}
}

// err is the error that ended the lock, or nil.
func (h *held) err() error {
	if p := h.lost.Load(); p != nil {
		return *p
	}
	return nil
}

// Lost implements sinks.LeaseWatcher.
func (a *Applier) Lost() <-chan error {
	if h := a.held.Load(); h != nil {
		return h.ch
	}
	return nil
}

// fence fails with ErrLockLost unless the lock is still held, asked in
// tx: every transaction that writes calls it last before its commit, so a
// follower transaction commits only while this process holds the lock.
func (a *Applier) fence(ctx context.Context, tx *sql.Tx) error {
	h := a.held.Load()
	if h == nil {
		return nil
	}
	if err := h.err(); err != nil {
		return err
	}
	if err := h.lease.Fence(ctx, tx); err != nil {
		if errors.Is(err, sinks.ErrLockLost) {
			h.lose(err)
		}
		return err
	}
	return nil
}

// StateOf reads what the follower recorded for the sink named sink (after
// Prepare).
func (a *Applier) StateOf(ctx context.Context, sink string) (map[string]sinks.SourceState, error) {
	q := fmt.Sprintf("SELECT source, seq, position, commit_ts, offsets FROM %s WHERE sink = %s",
		a.d.QuoteName(a.posT), a.d.Placeholder(0))
	rows, err := a.db.QueryContext(ctx, q, sink)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", a.posT, err)
	}
	defer rows.Close()
	out := map[string]sinks.SourceState{}
	for rows.Next() {
		var source, seq, pos, ts, offs string
		if err := rows.Scan(&source, &seq, &pos, &ts, &offs); err != nil {
			return nil, fmt.Errorf("read %s: %w", a.posT, err)
		}
		st := sinks.SourceState{Above: map[offsets.Seq]bool{}}
		if st.Watermark, err = parseApplied(seq, pos, ts); err != nil {
			return nil, fmt.Errorf("%s row of %s/%s: %w", a.posT, sink, source, err)
		}
		if err := json.Unmarshal([]byte(offs), &st.Offsets); err != nil {
			return nil, fmt.Errorf("%s row of %s/%s: offsets: %w", a.posT, sink, source, err)
		}
		out[source] = st
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q = fmt.Sprintf("SELECT source, seq FROM %s WHERE sink = %s", a.d.QuoteName(a.appT), a.d.Placeholder(0))
	rows2, err := a.db.QueryContext(ctx, q, sink)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", a.appT, err)
	}
	defer rows2.Close()
	for rows2.Next() {
		var source, seq string
		if err := rows2.Scan(&source, &seq); err != nil {
			return nil, err
		}
		s, err := offsets.ParseSeq(seq)
		if err != nil {
			return nil, fmt.Errorf("%s row of %s/%s: %w", a.appT, sink, source, err)
		}
		st, ok := out[source]
		if !ok {
			st = sinks.SourceState{Above: map[offsets.Seq]bool{}}
		}
		if st.Watermark.Seq.Less(s) {
			st.Above[s] = true
		}
		out[source] = st
	}
	return out, rows2.Err()
}

func parseApplied(seq, pos, ts string) (sinks.Applied, error) {
	var ap sinks.Applied
	var err error
	if ap.Seq, err = offsets.ParseSeq(seq); err != nil {
		return ap, err
	}
	if ap.Pos, err = offsets.ParsePosition(pos); err != nil {
		return ap, err
	}
	if ts != "" {
		if ap.CommitTime, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return ap, err
		}
	}
	return ap, nil
}

// Forget deletes everything the follower recorded for this sink (its
// positions and applied rows), in one transaction.
func (a *Applier) Forget(ctx context.Context) error {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range []Name{a.posT, a.appT} {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE sink = %s", a.d.QuoteName(t), a.d.Placeholder(0)), a.cfg.Sink); err != nil {
			return fmt.Errorf("forget the positions of %s: %w", a.cfg.Sink, err)
		}
	}
	if err := a.fence(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Close implements sinks.Follower.
func (a *Applier) Close() error {
	if a.db == nil {
		return nil
	}
	return a.db.Close()
}

// Fold implements sinks.Follower.
func (a *Applier) Fold(ctx context.Context, source string, w sinks.Applied, resume kafka.Offsets) error {
	pos, err := w.Pos.MarshalText()
	if err != nil {
		return err
	}
	offs, err := json.Marshal(resume)
	if err != nil {
		return err
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	cols := []string{"sink", "source", "seq", "position", "commit_ts", "offsets", "applied_at"}
	q := a.d.Upsert(a.posT, cols, []string{"sink", "source"}, 1)
	if _, err := tx.ExecContext(ctx, q, a.cfg.Sink, source, w.Seq.String(), string(pos), formatTime(w.CommitTime),
		string(offs), formatTime(time.Now())); err != nil {
		return fmt.Errorf("record watermark: %w", err)
	}
	q = fmt.Sprintf("DELETE FROM %s WHERE sink = %s AND source = %s AND seq <= %s", a.d.QuoteName(a.appT),
		a.d.Placeholder(0), a.d.Placeholder(1), a.d.Placeholder(2))
	if _, err := tx.ExecContext(ctx, q, a.cfg.Sink, source, w.Seq.String()); err != nil {
		return fmt.Errorf("fold applied transactions: %w", err)
	}
	if err := a.fence(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Begin implements sinks.Follower. With a BulkLoader dialect the
// transaction holds its connection, for the bulk path to reach it.
func (a *Applier) Begin(ctx context.Context) (sinks.FollowerTx, error) {
	if h := a.held.Load(); h != nil && h.err() != nil {
		return nil, h.err()
	}
	bulk, _ := a.d.(BulkLoader)
	var opts *sql.TxOptions
	if a.cfg.Conflicts.active() && a.d.Engine() == "mysql" {
		// The conflict checks lock the row they read (conflict.go): under
		// InnoDB's REPEATABLE READ a missing row's gap would be locked, and
		// parallel inserts into one gap deadlock.
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	if bulk == nil {
		tx, err := a.db.BeginTx(ctx, opts)
		if err != nil {
			return nil, err
		}
		return &Tx{a: a, tx: tx, noFold: a.cfg.NoFold}, nil
	}
	conn, err := a.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Tx{a: a, tx: tx, conn: conn, bulk: bulk, noFold: a.cfg.NoFold}, nil
}

// SerialWrites implements sinks.SerialWriter: SQLite has one writer at a
// time.
func (a *Applier) SerialWrites() bool { return a.d.Engine() == "sqlite" }

// RecordsInTurn implements sinks.RecorderInTurn: on MySQL the fold's range
// delete in the applied table takes next-key locks.
func (a *Applier) RecordsInTurn() bool { return a.d.Engine() == "mysql" }

// Fence implements sinks.Fencer.
func (t *Tx) Fence(ctx context.Context) error { return t.a.fence(ctx, t.tx) }

// BlocksOthers implements sinks.LockProber where the dialect has a probe
// (LockProbe); without one it answers false.
func (t *Tx) BlocksOthers(ctx context.Context) (bool, error) {
	p, ok := t.a.d.(LockProbe)
	if !ok {
		return false, nil
	}
	var b bool
	err := t.tx.QueryRowContext(ctx, p.BlocksOthersQuery()).Scan(&b)
	return b, err
}

// Flush implements sinks.Flusher: the inserts held back for one
// multi-row statement are written now.
func (t *Tx) Flush(ctx context.Context) error { return t.flush(ctx) }

// Tx is one follower transaction.
type Tx struct {
	a    *Applier
	tx   *sql.Tx
	conn *sql.Conn  // the transaction's connection, with bulk only
	bulk BulkLoader // the dialect's bulk path, or nil
	// pending accumulates consecutive inserts (or snapshot rows) into one
	// table for a multi-row statement or a bulk load.
	pend      *shape
	pendOp    ordering.Op
	pendRows  [][]ordering.Value // after images, not copied
	pendBytes int
	pendKeys  map[string]struct{} // keys of pending snapshot rows (upserts)
	// touched are the follower tables this transaction changed (MySQL
	// holds their metadata locks until it ends).
	touched map[Name]bool
	// ddl are the follower tables whose schema this transaction ensured
	// inside itself: a rollback undoes that DDL, so their cached shapes
	// are forgotten with it.
	ddl []Name
	// pendTrunc holds consecutive truncates, written before anything
	// that follows them (see TableTruncater).
	pendTrunc []*shape
	// win holds row changes back to write them folded (fold.go); noFold
	// turns that off, savepoints counts the fold's savepoints.
	win        *window
	noFold     bool
	savepoints int
	// stmts are the statements kept prepared (SQLite: run).
	stmts map[string]*sql.Stmt
	// conflicted are the tables whose direct bulk upsert found a row
	// there already (BulkRows.Direct); keyBuf is rowKey's buffer.
	conflicted     map[Name]bool
	bulkSavepoints int
	keyBuf         []byte
	// seen are the keys of the incremental snapshots' rows of each table
	// since its last prune (prune.go).
	seen map[Name]map[string]struct{}
	// cur is the source transaction whose changes come (Txn); met are the
	// conflicts met, counted once the transaction commits (conflict.go).
	cur sinks.Applied
	met []metConflict
}

// Commit implements sinks.FollowerTx. Record must come before it: it
// writes the pending rows.
func (t *Tx) Commit() error {
	defer t.release()
	if len(t.pendRows) > 0 || len(t.pendTrunc) > 0 || t.win != nil {
		t.tx.Rollback()
		t.a.forget(t.ddl)
		return errors.New("commit with unwritten rows: Record was not called last")
	}
	err := t.tx.Commit()
	if err != nil {
		t.a.forget(t.ddl)
		return err
	}
	t.settle()
	return nil
}

// Rollback implements sinks.FollowerTx.
func (t *Tx) Rollback() error {
	defer t.release()
	t.a.forget(t.ddl)
	return t.tx.Rollback()
}

// forget drops the cached follower tables names and the shapes that map to
// them: DDL made inside a transaction that did not commit is gone, and the
// next EnsureSchema must find that out from the follower.
func (a *Applier) forget(names []Name) {
	if len(names) == 0 {
		return
	}
	a.schemaMu.Lock()
	defer a.schemaMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range names {
		delete(a.tables, n)
		for t, sh := range a.shapes {
			if sh.name == n {
				delete(a.shapes, t)
			}
		}
	}
}

func (t *Tx) release() {
	if t.conn != nil {
		t.conn.Close()
		t.conn = nil
	}
}

// Record implements sinks.FollowerTx.
func (t *Tx) Record(ctx context.Context, source string, txns []sinks.Applied) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	for start := 0; start < len(txns); start += 100 {
		batch := txns[start:min(start+100, len(txns))]
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s (sink, source, seq, position, commit_ts) VALUES ", t.a.d.QuoteName(t.a.appT))
		args := make([]any, 0, 5*len(batch))
		for i, ap := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := 0; j < 5; j++ {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(t.a.d.Placeholder(5*i + j))
			}
			b.WriteString(")")
			pos, err := ap.Pos.MarshalText()
			if err != nil {
				return err
			}
			args = append(args, t.a.cfg.Sink, source, ap.Seq.String(), string(pos), formatTime(ap.CommitTime))
		}
		if _, err := t.tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("record applied transactions: %w", err)
		}
	}
	return t.a.fence(ctx, t.tx)
}

// ChangeError is a change the follower rejected. Its text never holds a
// row value: a server error is described by Safe (the dialect's redacted
// text) when the dialect gives one; Err keeps the error for errors.Is/As.
type ChangeError struct {
	Table string // follower table
	Op    ordering.Op
	Code  string // SQLSTATE or error number
	Err   error
	Safe  string // Err's text without row values ("": Err's own text has none)
}

func (e *ChangeError) Error() string {
	code := ""
	if e.Code != "" {
		code = " [" + e.Code + "]"
	}
	msg := e.Safe
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("apply %s to %s%s: %s", opName(e.Op), e.Table, code, msg)
}

// Redactor is implemented by dialects whose server errors can quote row
// values (MariaDB's "Duplicate entry 'value'", PostgreSQL's invalid input
// messages): Redact describes err without them, or returns "" for an
// error that is not the server's.
type Redactor interface {
	Redact(err error) string
}

// serverError is the ChangeError of a server error err from dialect d.
func serverError(d Dialect, table string, op ordering.Op, err error) *ChangeError {
	ce := &ChangeError{Table: table, Op: op, Code: d.Code(err), Err: err}
	if r, ok := d.(Redactor); ok {
		ce.Safe = r.Redact(err)
	}
	return ce
}

func (e *ChangeError) Unwrap() error { return e.Err }

func opName(op ordering.Op) string {
	switch op {
	case ordering.OpInsert:
		return "insert"
	case ordering.OpUpdate:
		return "update"
	case ordering.OpDelete:
		return "delete"
	case ordering.OpTruncate:
		return "truncate"
	case ordering.OpRead:
		return "snapshot row"
	case ordering.OpPrune:
		return "delete of rows not seen"
	}
	return string(op)
}

// ErrNoRow is wrapped when an update or delete finds no row to change.
var ErrNoRow = errors.New("the row is not on the follower (the follower diverged from the source)")

// ErrNoKey is wrapped when a keyless table's update or delete has no
// before image to match on.
var ErrNoKey = errors.New("the table has no primary key and the source sent no full before image (set REPLICA IDENTITY FULL, or binlog_row_image=FULL)")
