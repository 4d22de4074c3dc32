package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
)

const (
	// snapshotAhead is how many chunks of one part may wait for the
	// publisher while an earlier part is published.
	snapshotAhead = 2
	// partChunks is the size of a key range, in chunks of rows.
	partChunks = 5
)

// snapshotParts divides the tables into parts, read on conns (each in the
// same consistent snapshot). With more than one worker, a table with a
// one-column integer primary key and more rows than one range (by the
// server's estimate, information_schema.TABLES.TABLE_ROWS) is split into
// ranges of equal key width between its smallest and largest key, read
// in key order, ranges in key order: the order InnoDB's scan of the whole
// table (its clustered index) gives. Every other table is one part.
func (r *session) snapshotParts(ctx context.Context, conn *sql.Conn, conns []*sql.Conn, tables []*binlogTable) ([]sources.SnapshotPart, error) {
	cfg := r.cfg()
	var parts []sources.SnapshotPart
	for _, t := range tables {
		whole := &tablePart{r: r, t: t, conns: conns}
		key := intKey(t)
		if len(conns) < 2 || key < 0 {
			parts = append(parts, whole)
			continue
		}
		var est sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
			t.table.Schema, t.table.Name).Scan(&est); err != nil {
			return nil, fmt.Errorf("%s: estimate rows: %w", t.table.QualifiedName(), err)
		}
		per := int64(cfg.SnapshotChunkRows * partChunks)
		if !est.Valid || est.Int64 <= per {
			parts = append(parts, whole)
			continue
		}
		col := quoteIdent(t.table.Columns[key].Name)
		var lo, hi sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT MIN("+col+"), MAX("+col+") FROM "+quoteIdent(t.table.Schema)+"."+quoteIdent(t.table.Name)).
			Scan(&lo, &hi); err != nil || !lo.Valid || !hi.Valid {
			// Unsigned keys beyond int64, or an empty table: read it whole.
			parts = append(parts, whole)
			continue
		}
		bounds := keyRanges(lo.Int64, hi.Int64, (est.Int64+per-1)/per)
		for i := range len(bounds) + 1 {
			p := &tablePart{r: r, t: t, conns: conns, key: col, ranged: true}
			if i > 0 {
				p.lo, p.hasLo = bounds[i-1], true
			}
			if i < len(bounds) {
				p.hi, p.hasHi = bounds[i], true
			}
			parts = append(parts, p)
		}
	}
	return parts, nil
}

// intKey is the index of t's primary key column when the key is one
// integer column, else -1.
func intKey(t *binlogTable) int {
	if len(t.table.PrimaryKey) != 1 {
		return -1
	}
	for i, c := range t.table.Columns {
		if c.Name == t.table.PrimaryKey[0] && (c.Kind == ordering.KindInt || c.Kind == ordering.KindUint) {
			return i
		}
	}
	return -1
}

// keyRanges divides [lo, hi] into n ranges of about equal width and
// returns the n-1 bounds between them, ascending and distinct.
func keyRanges(lo, hi, n int64) []int64 {
	if n < 2 || hi <= lo {
		return nil
	}
	width := (uint64(hi) - uint64(lo)) / uint64(n) // no overflow for any lo <= hi
	if width == 0 {
		width = 1
	}
	var out []int64
	for b := uint64(lo) + width; len(out) < int(n)-1 && int64(b) <= hi && int64(b) > lo; b += width {
		out = append(out, int64(b))
	}
	return out
}

// tablePart is a table, or the rows of one whose key is in [lo, hi) (a
// missing bound: unbounded).
type tablePart struct {
	r            *session
	t            *binlogTable
	conns        []*sql.Conn
	ranged       bool
	key          string // the quoted key column of a ranged part
	lo, hi       int64
	hasLo, hasHi bool
}

func (p *tablePart) query() (string, []any) {
	// selectList reads floats exactly (CAST AS DOUBLE) and skips MariaDB's
	// hidden hash columns.
	q := "SELECT " + p.t.selectList() + " FROM " + quoteIdent(p.t.table.Schema) + "." + quoteIdent(p.t.table.Name)
	if !p.ranged {
		return q, nil
	}
	var args []any
	switch {
	case p.hasLo && p.hasHi:
		q += " WHERE " + p.key + " >= ? AND " + p.key + " < ?"
		args = []any{p.lo, p.hi}
	case p.hasLo:
		q += " WHERE " + p.key + " >= ?"
		args = []any{p.lo}
	case p.hasHi:
		q += " WHERE " + p.key + " < ?"
		args = []any{p.hi}
	}
	return q + " ORDER BY " + p.key, args
}

// Read streams the part's rows in chunks of snapshot_chunk_rows.
func (p *tablePart) Read(ctx context.Context, worker int, emit func(*sources.TxnBuffer) error) error {
	if err := p.read(ctx, p.conns[worker], emit); err != nil {
		return fmt.Errorf("snapshot of %s: %w", p.t.table.QualifiedName(), err)
	}
	return nil
}

func (p *tablePart) read(ctx context.Context, conn *sql.Conn, emit func(*sources.TxnBuffer) error) error {
	r, t := p.r, p.t
	cfg := r.cfg()
	q, args := p.query()
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var buf *sources.TxnBuffer
	defer func() {
		if buf != nil {
			buf.Close()
		}
	}()
	raw := make([]sql.RawBytes, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row, err := t.textRow(raw)
		if err != nil {
			return err
		}
		if buf == nil {
			buf = sources.NewChunkBuffer(r.spillDir(), cfg.SpillBytes).Filtered(cfg.Filter, "snapshot")
		}
		if err := buf.Add(0, ordering.Change{Table: t.table, Op: ordering.OpRead, After: row}); err != nil {
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
	if err := rows.Err(); err != nil {
		return err
	}
	if buf != nil {
		b := buf
		buf = nil
		return emit(b)
	}
	return nil
}
