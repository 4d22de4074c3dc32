package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/supervise"
)

// A partitioned table is captured by its root (publish_via_partition_root),
// so its rows are those of its partitions. Attaching a table that holds
// rows, and detaching or dropping a partition, change those rows without a
// row change in the WAL: pgoutput sends nothing for them, and the followers
// would silently lack the attached rows or keep the detached ones. The
// source notices a changed partition set when pgoutput describes the root
// again (it does before the first change after an ATTACH or DETACH), and
// stops instead.
//
// The partitions last accepted are kept beside the checkpoint (a note of
// the checkpoint store), so a change made while walship was stopped is
// noticed after the restart, at the root's first change, and a stop is not
// forgotten by restarting: the followers stay wrong until rebuilt, and a
// rebuild (replay --resnapshot, a new snapshot) records the partitions anew.

// The classified errors of partition changes. Both are permanent: the
// followers differ from the source until they are rebuilt or repaired.
var (
	// ErrPartitionAttached: a table with rows written before it was
	// attached became a partition of a captured partitioned table.
	ErrPartitionAttached = errors.New("a partition with rows was attached")
	// ErrPartitionDetached: a partition holding rows (or dropped, so its
	// rows are unknown) left a captured partitioned table.
	ErrPartitionDetached = errors.New("a partition with rows was detached")
)

// leaf is a leaf partition of a captured partitioned table.
type leaf struct {
	oid  uint32
	name tableName
}

// leaves returns the leaf partitions under root (at every level), as the
// transaction's snapshot sees them (pg_inherits read in SQL, not through
// pg_partition_tree, which reads the latest catalog): in the snapshot, the
// partitions of its consistent point.
func leaves(ctx context.Context, conn *pgx.Conn, root uint32) (map[uint32]tableName, error) {
	rows, err := conn.Query(ctx, `WITH RECURSIVE tree(relid) AS (
			SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = $1
			UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid)
		SELECT c.oid, n.nspname::text, c.relname::text
		FROM tree JOIN pg_class c ON c.oid = tree.relid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind <> 'p'`, root)
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (leaf, error) {
		var l leaf
		return l, r.Scan(&l.oid, &l.name.Schema, &l.name.Name)
	})
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	out := make(map[uint32]tableName, len(all))
	for _, l := range all {
		out[l.oid] = l.name
	}
	return out, nil
}

// attachedWithRows reports whether the leaf l of root holds rows written
// before the newest link that brought it under root was created (the
// ATTACH, or CREATE TABLE ... PARTITION OF): those rows never reached the
// stream. A row's xmin is its writer; a frozen row counts as old.
func attachedWithRows(ctx context.Context, conn *pgx.Conn, root, l uint32, name tableName) (bool, error) {
	var found bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ONLY `+name.quoted()+` t WHERE age(t.xmin) > (
			SELECT min(age(i.xmin)) FROM pg_inherits i
			WHERE i.inhrelid IN (SELECT relid FROM pg_partition_ancestors($1::oid::regclass))
			  AND i.inhparent IN (SELECT relid FROM pg_partition_tree($2::oid::regclass))))`, l, root).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("rows of new partition %s: %w", name, err)
	}
	return found, nil
}

// detachedState tells what became of a former leaf: gone (dropped), or
// whether it holds rows.
func detachedState(ctx context.Context, conn *pgx.Conn, l uint32) (gone, rows bool, name tableName, err error) {
	err = conn.QueryRow(ctx, `SELECT n.nspname::text, c.relname::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`, l).Scan(&name.Schema, &name.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, false, name, nil
	}
	if err != nil {
		return false, false, name, fmt.Errorf("former partition %d: %w", l, err)
	}
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ONLY `+name.quoted()+`)`).Scan(&rows); err != nil {
		return false, false, name, fmt.Errorf("rows of former partition %s: %w", name, err)
	}
	return false, rows, name, nil
}

// checkPartitions compares the leaves of a captured partitioned table with
// those seen before in this session (the snapshot's, or the first time the
// stream described the table) and stops on a change that moved rows in or
// out without a row change: see ErrPartitionAttached and
// ErrPartitionDetached. New partitions without earlier rows (CREATE TABLE
// ... PARTITION OF, or attaching an empty table) and detached empty ones
// are fine: their rows, if any, come through the stream.
func (r *session) checkPartitions(ctx context.Context, rel *relation) error {
	now, err := leaves(ctx, r.conn, rel.id)
	if err != nil {
		return fmt.Errorf("source %s: %s: %w", r.cfg().Name, rel.table.QualifiedName(), err)
	}
	before, ok := r.leaves[rel.id]
	r.leaves[rel.id] = now
	if !ok {
		return r.saveLeaves(ctx)
	}
	if maps.Equal(before, now) {
		return nil
	}
	table, at := rel.table.QualifiedName(), r.position()
	var added, removed []uint32
	for oid := range now {
		if _, ok := before[oid]; !ok {
			added = append(added, oid)
		}
	}
	for oid := range before {
		if _, ok := now[oid]; !ok {
			removed = append(removed, oid)
		}
	}
	sort.Slice(added, func(i, j int) bool { return added[i] < added[j] })
	sort.Slice(removed, func(i, j int) bool { return removed[i] < removed[j] })
	for _, oid := range added {
		name := now[oid]
		rows, err := attachedWithRows(ctx, r.conn, rel.id, oid, name)
		if err != nil {
			return fmt.Errorf("source %s: %s: %w", r.cfg().Name, table, err)
		}
		if rows {
			return supervise.Permanent(fmt.Errorf("source %s: %w: %s was attached to %s (noticed at %s) with rows written before, which PostgreSQL does not stream, so the followers lack them; restarting does not repair them: rebuild the followers (walship replay --resnapshot). To add a partition without this stop, attach it empty and insert its rows through %s",
				r.cfg().Name, ErrPartitionAttached, name, table, at, table))
		}
		r.src.log.Info("partition added", "table", table, "partition", name.String(), "at", at)
	}
	for _, oid := range removed {
		gone, rows, name, err := detachedState(ctx, r.conn, oid)
		if err != nil {
			return fmt.Errorf("source %s: %s: %w", r.cfg().Name, table, err)
		}
		if gone {
			return supervise.Permanent(fmt.Errorf("source %s: %w: partition %s left %s and is gone (noticed at %s); PostgreSQL streams no delete for the rows it held, so the followers may keep them under %s; restarting does not repair them: delete them on the followers or rebuild the followers (walship replay --resnapshot). To drop a partition without this stop, delete its rows through %s and detach it, and drop it once walship has streamed a later change of %s",
				r.cfg().Name, ErrPartitionDetached, before[oid], table, at, table, table, table))
		}
		if rows {
			return supervise.Permanent(fmt.Errorf("source %s: %w: partition %s was detached from %s with rows (noticed at %s); PostgreSQL streams no delete for them, so the followers keep them under %s; restarting does not repair them: delete them on the followers or rebuild the followers (walship replay --resnapshot). To detach a partition without this stop, delete its rows through %s first",
				r.cfg().Name, ErrPartitionDetached, name, table, at, table, table))
		}
		r.src.log.Info("empty partition removed", "table", table, "partition", before[oid].String(), "at", at)
	}
	return r.saveLeaves(ctx)
}

// partitionNotes is implemented by a checkpoint store that keeps notes
// beside the checkpoint (offsets.Store). A store without it (tests' own)
// keeps the partitions for the session only.
type partitionNotes interface {
	SaveNote(ctx context.Context, source, name string, value []byte) error
	LoadNote(ctx context.Context, source, name string) ([]byte, error)
}

// partitionsNote names the note of the accepted partitions: JSON, root
// oid -> leaf oid -> name.
const partitionsNote = "partitions"

// loadLeaves starts the session with the partitions last accepted.
func (r *session) loadLeaves(ctx context.Context) error {
	n, ok := r.src.store.(partitionNotes)
	if !ok {
		return nil
	}
	b, err := n.LoadNote(ctx, r.cfg().Name, partitionsNote)
	if err != nil || b == nil {
		return err
	}
	if err := json.Unmarshal(b, &r.leaves); err != nil {
		return fmt.Errorf("source %s: the partitions kept with the checkpoint: %w", r.cfg().Name, err)
	}
	return nil
}

// saveLeaves records the partitions accepted now.
func (r *session) saveLeaves(ctx context.Context) error {
	n, ok := r.src.store.(partitionNotes)
	if !ok {
		return nil
	}
	b, err := json.Marshal(r.leaves)
	if err != nil {
		return err
	}
	return n.SaveNote(ctx, r.cfg().Name, partitionsNote, b)
}

// position names where the stream is, for errors: the commit LSN of the
// transaction being received, or the newest WAL position seen.
func (r *session) position() string {
	if r.cur != nil && !r.inStream {
		return "the transaction committing at " + offsets.LSN(r.curBegin.FinalLSN).String()
	}
	if r.inStream {
		return "streamed transaction " + txnID(r.streamXid) + ", WAL up to " + r.head.String()
	}
	return "WAL " + r.head.String()
}

// leafOIDs lists the oids of a leaf set.
func leafOIDs(m map[uint32]tableName) []uint32 {
	out := make([]uint32, 0, len(m))
	for oid := range m {
		out = append(out, oid)
	}
	return out
}
