package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// snapshot reads every captured table consistent with a recorded binlog
// position: a brief global read lock, a consistent-snapshot transaction
// started on each of snapshot_workers other connections, the position
// read, the lock released, then the tables read in those transactions,
// several tables and key ranges of large tables at once (snapshotParts),
// their chunks published by this goroutine in the order one connection
// reading the tables one after another would have: table by table,
// parents first, each table's rows in primary-key order
// (sources.ReadSnapshot). Rows are op=r changes in chunk
// transactions whose Seq is the recorded position (its GTID sequence
// number, or binlog file and offset: seqScheme.snapshotBase) with the
// chunk number, so they sort before the stream that starts there.
//
// Before its first chunk is published, the snapshot's start is saved in
// the checkpoint store (SnapshotDone false): a start that finds it knows
// an earlier snapshot did not finish, and redoes it (redo). A redo's first
// chunk truncates every captured table, children before parents, so what
// the unfinished attempt left on the followers (rows deleted since, or a
// keyless table's rows) is cleared before the new rows arrive; its chunks
// sort after the unfinished attempt's (firstChunk).
//
// It returns the position to stream from and the last chunk's Seq, once
// everything is durable and checkpointed.
func (r *session) snapshot(ctx context.Context, redo bool) (offsets.Position, offsets.Seq, error) {
	cfg := r.cfg()
	r.src.update(func(s *sources.Status) { s.State = sources.StateSnapshotting })
	started := time.Now()
	lockConn, err := r.db.Conn(ctx)
	if err != nil {
		return offsets.Position{}, offsets.Seq{}, err
	}
	defer lockConn.Close()
	// Every worker's connection is open before the lock, so taking the
	// lock is all that stands between the first and the last snapshot.
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			c.Close()
		}
	}()
	for len(conns) < max(cfg.SnapshotWorkers, 1) {
		c, err := r.db.Conn(ctx)
		if err != nil {
			return offsets.Position{}, offsets.Seq{}, err
		}
		conns = append(conns, c)
		if _, err := c.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			return offsets.Position{}, offsets.Seq{}, err
		}
	}
	snapConn := conns[0]

	if _, err := lockConn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return offsets.Position{}, offsets.Seq{}, fmt.Errorf("source %s: snapshot: FLUSH TABLES WITH READ LOCK (needs RELOAD): %w", cfg.Name, err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			lockConn.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES")
			unlocked = true
		}
	}
	defer unlock()
	// Under the lock nothing commits: every worker's snapshot sees the
	// same transactions, those up to the position read below.
	for _, c := range conns {
		if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			return offsets.Position{}, offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
		}
	}
	pos, err := r.currentPosition(ctx, lockConn)
	if err != nil {
		return offsets.Position{}, offsets.Seq{}, err
	}
	if err := r.checkPreparedXA(ctx, lockConn); err != nil {
		return offsets.Position{}, offsets.Seq{}, err
	}
	unlock()
	base, err := r.scheme.snapshotBase(pos)
	if err != nil {
		return offsets.Position{}, offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
	}

	tables, err := r.snapshotTables(ctx, snapConn)
	if err != nil {
		return offsets.Position{}, offsets.Seq{}, err
	}
	first := uint32(0)
	if redo {
		if first, err = firstChunk(r.checkpoint, r.haveCheckpoint, base); err != nil {
			return offsets.Position{}, offsets.Seq{}, fmt.Errorf("source %s: %w", cfg.Name, err)
		}
	}
	// The start marker is durable before any chunk can reach a follower.
	if err := r.src.store.Save(ctx, cfg.Name, offsets.Checkpoint{Position: pos, Seq: offsets.Seq{Pos: base, Sub: first}, SeqScheme: r.scheme.String()}); err != nil {
		return offsets.Position{}, offsets.Seq{}, fmt.Errorf("source %s: snapshot: record its start: %w", cfg.Name, err)
	}
	r.src.log.Info("snapshot started", "tables", len(tables), "gtids", pos.GTIDs.String(), "binlog", pos.Binlog.String(),
		"redo", redo, "first_chunk", first)

	chunk := first
	publish := func(buf *sources.TxnBuffer, last bool) error {
		if chunk-first >= chunkGeneration {
			return fmt.Errorf("snapshot of more than %d chunks: raise snapshot_chunk_rows", chunkGeneration)
		}
		seq := offsets.Seq{Pos: base, Sub: chunk}
		txn := &ordering.Txn{Source: cfg.Name, Seq: seq, Pos: pos, CommitTime: started, Snapshot: true, LastSnapshot: last}
		txn.DependsOn = buf.SnapshotDependsOn(r.tracker, seq, last)
		chunk++
		return r.out.Publish(ctx, txn, buf.Live(), buf.Changes())
	}
	if redo {
		if err := r.truncateChunk(tables, publish); err != nil {
			return offsets.Position{}, offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
		}
	}
	parts, err := r.snapshotParts(ctx, snapConn, conns, tables)
	if err != nil {
		return offsets.Position{}, offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
	}
	var rows int64
	err = sources.ReadSnapshot(ctx, len(conns), snapshotAhead, parts, func(buf *sources.TxnBuffer) error {
		defer buf.Close()
		n := buf.Live()
		rows += int64(n)
		r.src.update(func(s *sources.Status) { s.SnapshotRows += int64(n) })
		return publish(buf, false)
	})
	if err != nil {
		err = fmt.Errorf("source %s: %w", cfg.Name, err)
		if errors.Is(err, ErrUndefinedBytes) {
			// The same bytes are read on every retry.
			err = supervise.Permanent(fmt.Errorf("%w; walship never replaces them: fix the value at the source (or the column's character set) and start again", err))
		}
		return offsets.Position{}, offsets.Seq{}, err
	}
	if err := publish(sources.NewTxnBuffer(0, r.spillDir(), cfg.SpillBytes).Filtered(cfg.Filter, "snapshot"), true); err != nil {
		return offsets.Position{}, offsets.Seq{}, err
	}
	last := offsets.Seq{Pos: base, Sub: chunk - 1}
	for {
		if err := r.out.Err(); err != nil {
			return offsets.Position{}, offsets.Seq{}, fmt.Errorf("source %s: snapshot: log write failed: %w", cfg.Name, err)
		}
		if s, _ := r.out.Durable(); !s.Less(last) {
			break
		}
		select {
		case <-ctx.Done():
			return offsets.Position{}, offsets.Seq{}, ctx.Err()
		case <-r.out.Notify():
		}
	}
	if err := r.src.store.Save(ctx, cfg.Name, offsets.Checkpoint{Position: pos, Seq: last, SnapshotDone: true, SeqScheme: r.scheme.String()}); err != nil {
		return offsets.Position{}, offsets.Seq{}, err
	}
	r.src.log.Info("snapshot done", "tables", len(tables), "parts", len(parts), "rows", rows, "chunks", chunk, "workers", len(conns), "took", time.Since(started).Round(time.Millisecond))
	return pos, last, nil
}

// snapshotTables lists the captured base tables, parents first.
func (r *session) snapshotTables(ctx context.Context, conn *sql.Conn) ([]*binlogTable, error) {
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var names [][2]string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			rows.Close()
			return nil, err
		}
		if matches(r.cfg().Tables, s, t) && !r.isSignal(s, t) {
			names = append(names, [2]string{s, t})
		}
	}
	rows.Close()
	var out []*binlogTable
	for _, n := range names {
		t, err := snapshotTableOf(ctx, conn, n[0], n[1])
		if err != nil {
			return nil, err
		}
		t.rawText(r.cfg().raw)
		keyed, err := r.keys.withKeys(ctx, t.table)
		if err != nil {
			return nil, err
		}
		t.table = keyed
		out = append(out, t)
	}
	return parentsFirst(out), nil
}

// truncateChunk publishes a redo's first chunk: a truncate of every
// captured table, children before parents, so a follower that enforces
// foreign keys can empty each table (a PostgreSQL sink truncates them in
// one statement). It is a barrier: every later chunk follows it.
func (r *session) truncateChunk(tables []*binlogTable, publish func(*sources.TxnBuffer, bool) error) error {
	buf := sources.NewTxnBuffer(0, r.spillDir(), r.cfg().SpillBytes).Filtered(r.cfg().Filter, "snapshot")
	defer buf.Close()
	for i := len(tables) - 1; i >= 0; i-- {
		if err := buf.Add(0, ordering.Change{Table: tables[i].table, Op: ordering.OpTruncate}); err != nil {
			return err
		}
	}
	return publish(buf, false)
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// parentsFirst orders tables so a table comes after those its foreign keys
// reference.
func parentsFirst(ts []*binlogTable) []*binlogTable {
	byName := map[string]*binlogTable{}
	for _, t := range ts {
		byName[t.table.QualifiedName()] = t
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].table.QualifiedName() < ts[j].table.QualifiedName() })
	var out []*binlogTable
	state := map[*binlogTable]int{}
	var visit func(*binlogTable)
	visit = func(t *binlogTable) {
		if state[t] != 0 {
			return
		}
		state[t] = 1
		for _, fk := range t.table.ForeignKeys {
			if p := byName[fk.ParentSchema+"."+fk.ParentTable]; p != nil && p != t {
				visit(p)
			}
		}
		state[t] = 2
		out = append(out, t)
	}
	for _, t := range ts {
		visit(t)
	}
	return out
}
