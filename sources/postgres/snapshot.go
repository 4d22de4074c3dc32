package postgres

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
)

// snapshot reads every published table inside the snapshot the slot
// exported, as op=r changes in chunk transactions whose Seq is the
// consistent point with the chunk number: they sort before the first
// streamed transaction, which commits at or after that point. Parents are
// published before children, and chunks get dependencies like any
// transaction, so a follower with enforced foreign keys applies them in a
// valid order. snapshot_workers connections read tables and page ranges
// of large tables at once (snapshotParts), and this goroutine numbers and
// publishes their chunks in the order one connection reading the tables
// one after another would have: table by table, parents first, each
// table's rows in heap order (sources.ReadSnapshot).
// With redo, the first chunk truncates every table, children before
// parents, clearing what an unfinished earlier snapshot left on the
// followers.
//
// It returns once the last chunk is durable, and checkpoints it.
func (r *session) snapshot(ctx context.Context, name string, cp offsets.LSN, redo bool) (offsets.Seq, error) {
	cfg := r.cfg()
	r.src.update(func(s *sources.Status) { s.State = sources.StateSnapshotting })
	started := time.Now()
	tx, err := r.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(name)); err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: use exported snapshot %s: %w", cfg.Name, name, err)
	}
	tables, err := publicationTables(ctx, r.conn, cfg.Publication, cfg.Tables)
	if err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: %w", cfg.Name, err)
	}
	rels := make([]*relation, 0, len(tables))
	for _, t := range tables {
		relid, cols, err := catalogColumns(ctx, r.conn, t)
		if err != nil {
			return offsets.Seq{}, fmt.Errorf("source %s: %w", cfg.Name, err)
		}
		rel, err := buildRelation(ctx, r.conn, relid, t, cols, cfg.Tables, r.rewrites, 0)
		if err != nil {
			return offsets.Seq{}, fmt.Errorf("source %s: %w", cfg.Name, err)
		}
		if _, rel.partitioned, err = catalogTableOf(ctx, r.conn, t); err != nil {
			return offsets.Seq{}, fmt.Errorf("source %s: %w", cfg.Name, err)
		}
		if rel.partitioned {
			// The partitions as of the consistent point: the stream stops
			// if rows are attached or detached after it (checkPartitions).
			if r.leaves[rel.id], err = leaves(ctx, r.conn, rel.id); err != nil {
				return offsets.Seq{}, fmt.Errorf("source %s: %s: %w", cfg.Name, t, err)
			}
		}
		rels = append(rels, rel)
	}
	if err := r.saveLeaves(ctx); err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: %w", cfg.Name, err)
	}
	rels = parentsFirst(rels)
	r.src.log.Info("snapshot started", "tables", len(rels), "consistent_point", cp.String(), "redo", redo)

	chunk := uint32(0)
	var rows int64
	publish := func(buf *sources.TxnBuffer, last bool) error {
		seq := offsets.Seq{Pos: uint64(cp), Sub: chunk}
		txn := &ordering.Txn{Source: cfg.Name, Seq: seq, Pos: offsets.PGPosition(cp, cp), CommitTime: started,
			Snapshot: true, LastSnapshot: last}
		txn.DependsOn = buf.SnapshotDependsOn(r.tracker, seq, last)
		chunk++
		return r.out.Publish(ctx, txn, buf.Live(), buf.Changes())
	}
	if redo {
		// Children before parents, in one chunk: a follower with foreign
		// keys can empty every table (a PostgreSQL follower truncates them
		// in one statement).
		buf := sources.NewTxnBuffer(0, r.src.spillDir(), cfg.SpillBytes).Filtered(cfg.Filter, "snapshot")
		for i := len(rels) - 1; i >= 0; i-- {
			if err := buf.Add(0, ordering.Change{Table: rels[i].table, Op: ordering.OpTruncate}); err != nil {
				buf.Close()
				return offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
			}
		}
		err := publish(buf, false)
		buf.Close()
		if err != nil {
			return offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
		}
	}
	parts, conns, err := r.snapshotParts(ctx, name, rels)
	defer func() {
		for _, c := range conns[1:] {
			c.Close(context.WithoutCancel(ctx))
		}
	}()
	if err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
	}
	err = sources.ReadSnapshot(ctx, len(conns), snapshotAhead, parts, func(buf *sources.TxnBuffer) error {
		defer buf.Close()
		n := buf.Live()
		rows += int64(n)
		r.src.update(func(s *sources.Status) { s.SnapshotRows += int64(n) })
		return publish(buf, false)
	})
	if err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: %w", cfg.Name, err)
	}
	// A last, empty chunk marks the end for consumers (snapshot=last).
	lastBuf := sources.NewTxnBuffer(0, r.src.spillDir(), cfg.SpillBytes)
	if err := publish(lastBuf, true); err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
	}
	last := offsets.Seq{Pos: uint64(cp), Sub: chunk - 1}
	if err := tx.Commit(ctx); err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: snapshot: %w", cfg.Name, err)
	}
	for {
		if err := r.out.Err(); err != nil {
			return offsets.Seq{}, fmt.Errorf("source %s: snapshot: log write failed: %w", cfg.Name, err)
		}
		if s, _ := r.out.Durable(); !s.Less(last) {
			break
		}
		select {
		case <-ctx.Done():
			return offsets.Seq{}, ctx.Err()
		case <-r.out.Notify():
		}
	}
	if err := r.src.store.Save(ctx, cfg.Name, offsets.Checkpoint{Position: offsets.PGPosition(cp, cp), Seq: last, SnapshotDone: true, CoversSlot: true}); err != nil {
		return offsets.Seq{}, fmt.Errorf("source %s: %w", cfg.Name, err)
	}
	r.src.log.Info("snapshot done", "tables", len(rels), "parts", len(parts), "rows", rows, "chunks", chunk, "workers", cfg.SnapshotWorkers, "took", time.Since(started).Round(time.Millisecond))
	return last, nil
}

// parentsFirst orders relations so a table comes after the tables its
// foreign keys reference (cycles keep their name order).
func parentsFirst(rels []*relation) []*relation {
	byName := map[string]*relation{}
	for _, r := range rels {
		byName[r.table.QualifiedName()] = r
	}
	var out []*relation
	state := map[*relation]int{} // 1 visiting, 2 done
	var visit func(*relation)
	visit = func(r *relation) {
		if state[r] != 0 {
			return
		}
		state[r] = 1
		for _, fk := range r.table.ForeignKeys {
			if p := byName[fk.ParentSchema+"."+fk.ParentTable]; p != nil && p != r {
				visit(p)
			}
		}
		state[r] = 2
		out = append(out, r)
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].table.QualifiedName() < rels[j].table.QualifiedName() })
	for _, r := range rels {
		visit(r)
	}
	return out
}
