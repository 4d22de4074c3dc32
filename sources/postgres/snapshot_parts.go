package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
)

const (
	// snapshotAhead is how many chunks of one part may wait for the
	// publisher while an earlier part is published.
	snapshotAhead = 2
	// partChunks is the size of a page range, in chunks of rows: small
	// enough to spread a table over the workers, large enough that a
	// range's query costs little next to its rows.
	partChunks = 5
	// minTIDRangeVersion is the first server with TID range scans
	// (PostgreSQL 14): on older ones a range query scans the whole table.
	minTIDRangeVersion = 140000
)

// snapshotParts opens the snapshot's connections and divides the tables
// into parts. conns[0] is the session's own connection, already in the
// exported snapshot; with snapshot_workers above 1, every other
// connection imports the same snapshot (SET TRANSACTION SNAPSHOT), so all
// of them read the database as of the slot's consistent point. The
// exported snapshot stays importable while the replication connection
// that created the slot runs no other command, which it does not until
// the snapshot is over.
//
// An ordinary table of more than one range's rows is split into ranges
// of heap pages (ctid ranges: TID range scans), published in page order,
// the order a sequential scan reads them; a partitioned table, and every
// table when the server is older than PostgreSQL 14 or a single worker
// reads, is one part. A self-referencing table with a primary key is one
// part read in key order, so parents with smaller keys than their
// children come first whatever their place in the heap. The caller closes conns[1:], also on error.
func (r *session) snapshotParts(ctx context.Context, name string, rels []*relation) ([]sources.SnapshotPart, []*pgx.Conn, error) {
	cfg := r.cfg()
	conns := []*pgx.Conn{r.conn}
	for len(conns) < cfg.SnapshotWorkers {
		c, err := r.src.connect(ctx)
		if err != nil {
			return nil, conns, err
		}
		conns = append(conns, c)
		if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return nil, conns, err
		}
		if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(name)); err != nil {
			return nil, conns, fmt.Errorf("import exported snapshot %s on worker %d: %w", name, len(conns)-1, err)
		}
	}
	split := len(conns) > 1
	if split {
		var version int
		if err := r.conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
			return nil, conns, err
		}
		split = version >= minTIDRangeVersion
	}
	var parts []sources.SnapshotPart
	for _, rel := range rels {
		whole := &tablePart{r: r, rel: rel, conns: conns, from: -1, to: -1}
		if selfReferencing(rel.table) && len(rel.table.PrimaryKey) > 0 {
			// Key order, as MariaDB's clustered scan gives: a parent whose
			// key sorts before its children's (serial ids) comes first,
			// also when an update moved it to a later heap page.
			whole.keyOrder = true
			parts = append(parts, whole)
			continue
		}
		if !split || rel.partitioned {
			parts = append(parts, whole)
			continue
		}
		var pages, tuples float64
		if err := r.conn.QueryRow(ctx, `SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint, c.reltuples, c.relpages
			FROM pg_class c WHERE c.oid = $1`, rel.id).Scan(&pages, &tuples, new(float64)); err != nil {
			return nil, conns, fmt.Errorf("%s: size: %w", rel.table.QualifiedName(), err)
		}
		per := pagesPerPart(int64(pages), tuples, cfg.SnapshotChunkRows*partChunks)
		if int64(pages) <= per {
			parts = append(parts, whole)
			continue
		}
		for from := int64(0); from < int64(pages); from += per {
			to := from + per
			if to >= int64(pages) {
				to = -1 // the last range is open: the heap only grew since
			}
			parts = append(parts, &tablePart{r: r, rel: rel, conns: conns, from: from, to: to})
		}
	}
	return parts, conns, nil
}

// pagesPerPart is the number of heap pages holding about rows rows, from
// the planner's estimate of the table's rows (reltuples; -1 or 0 when it
// was never analyzed: then a guess of 100 rows a page, which errs towards
// more parts).
func pagesPerPart(pages int64, tuples float64, rows int) int64 {
	perPage := 100.0
	if tuples > 0 && pages > 0 {
		perPage = max(tuples/float64(pages), 1)
	}
	return max(int64(float64(rows)/perPage), 1)
}

// tablePart is a table, or the heap pages [from, to) of one (to -1: to
// the end), read in text format so values decode exactly like the
// stream's. An ordinary table is read ONLY (children of old-style
// inheritance are tables of their own); a partitioned table is read
// whole: the rows of every partition attached in the exported snapshot,
// as rows of the root, just as the stream names them
// (publish_via_partition_root).
type tablePart struct {
	r        *session
	rel      *relation
	conns    []*pgx.Conn
	from, to int64
	// keyOrder reads the table in primary-key order (ORDER BY).
	keyOrder bool
}

// selfReferencing reports whether one of t's foreign keys references t.
func selfReferencing(t *ordering.Table) bool {
	for _, fk := range t.ForeignKeys {
		if fk.ParentSchema == t.Schema && fk.ParentTable == t.Name {
			return true
		}
	}
	return false
}

func (p *tablePart) query() string {
	t := p.rel.table
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	from := " FROM ONLY "
	if p.rel.partitioned {
		from = " FROM "
	}
	q := "SELECT " + strings.Join(names, ", ") + from + pgx.Identifier{t.Schema, t.Name}.Sanitize()
	switch {
	case p.from < 0:
	case p.to < 0:
		q += fmt.Sprintf(" WHERE ctid >= '(%d,0)'::tid", p.from)
	default:
		q += fmt.Sprintf(" WHERE ctid >= '(%d,0)'::tid AND ctid < '(%d,0)'::tid", p.from, p.to)
	}
	if p.keyOrder {
		keys := make([]string, len(t.PrimaryKey))
		for i, k := range t.PrimaryKey {
			keys[i] = pgx.Identifier{k}.Sanitize()
		}
		q += " ORDER BY " + strings.Join(keys, ", ")
	}
	return q
}

// Read streams the part's rows (the server sends them as the worker takes
// them: a worker waiting for the publisher holds one chunk and a socket
// buffer) and hands them on in chunks of snapshot_chunk_rows.
func (p *tablePart) Read(ctx context.Context, worker int, emit func(*sources.TxnBuffer) error) error {
	r, rel := p.r, p.rel
	cfg := r.cfg()
	err := func() error {
		rr := p.conns[worker].PgConn().ExecParams(ctx, p.query(), nil, nil, nil, nil)
		defer rr.Close()
		var buf *sources.TxnBuffer
		defer func() {
			if buf != nil {
				buf.Close()
			}
		}()
		for rr.NextRow() {
			if buf == nil {
				buf = sources.NewChunkBuffer(r.src.spillDir(), cfg.SpillBytes).Filtered(cfg.Filter, "snapshot")
			}
			row, err := rel.decodeRow(rr.Values())
			if err != nil {
				return err
			}
			if err := buf.Add(0, ordering.Change{Table: rel.table, Op: ordering.OpRead, After: row}); err != nil {
				return err
			}
			if buf.Live() == cfg.SnapshotChunkRows {
				b := buf
				buf = nil
				if err := emit(b); err != nil {
					return err
				}
			}
		}
		if _, err := rr.Close(); err != nil {
			return err
		}
		if buf != nil {
			b := buf
			buf = nil
			return emit(b)
		}
		return nil
	}()
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", rel.table.QualifiedName(), err)
	}
	return nil
}

// decodeRow decodes a row the server sent as text, column by column
// (NULL: nil).
func (rel *relation) decodeRow(vals [][]byte) ([]ordering.Value, error) {
	row := make([]ordering.Value, len(vals))
	for i, v := range vals {
		if v == nil {
			continue
		}
		dv, err := rel.types[i].decode(v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", rel.table.Columns[i].Name, err)
		}
		row[i] = dv
	}
	return row, nil
}
