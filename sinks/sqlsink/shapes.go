package sqlsink

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/walship/walship/ordering"
)

// The source shape each follower table was last brought to is kept in the
// follower (MetaShapes), so that a restart compares a table's next shape
// with the one before it, as a process that ran through the change does:
// a column that vanished while another appeared (a rename) or a type
// change that rounds stored values is recognised even when the daemon
// restarted between the DDL and the table's next row, and a follower
// column kept after an earlier drop is not taken for a renamed one. The
// row is written where the DDL runs: in the data transaction on engines
// with transactional DDL, on its own after the DDL on MySQL. changed_at
// dates it, for walship verify --since-ddl. A follower of an earlier
// version has no row: its tables' first shapes are compared with the
// follower's columns only, as before, and recorded.

// shapesTable is the name of the table in MetaShapes.
const shapesTable = "shapes"

// MetaShapes is where a follower of engine keeps the shapes its sinks
// brought its tables to. Columns: sink, tbl (follower table), source_table
// ("schema.table" at the source), shape (JSON of ordering.Table), and
// changed_at (RFC 3339 UTC); primary key (sink, tbl).
func MetaShapes(engine string) Name {
	if engine == "postgres" {
		return Name{Schema: MetaSchema, Table: shapesTable}
	}
	return Name{Table: MetaPrefix + shapesTable}
}

// shapesDDL creates the shapes table (after MetaTables, which creates the
// PostgreSQL schema).
func (a *Applier) shapesDDL() string {
	return "CREATE TABLE IF NOT EXISTS " + a.d.QuoteName(a.shapesT) + " (sink varchar(191) NOT NULL, tbl varchar(191) NOT NULL, " +
		"source_table varchar(400) NOT NULL, shape text NOT NULL, changed_at varchar(40) NOT NULL, PRIMARY KEY (sink, tbl))"
}

// shapeJSON is the recorded form of t: its columns and keys, without the
// markers of one transaction (Recreated, RenamedFrom) or of other tables
// (Cascades).
func shapeJSON(t *ordering.Table) ([]byte, error) {
	c := *t
	c.Recreated, c.RenamedFrom, c.Cascades, c.Backfilling = false, "", nil, false
	return json.Marshal(&c)
}

// loadShape returns the shape recorded for follower table n, or nil.
func (a *Applier) loadShape(ctx context.Context, tx *sql.Tx, n Name) (*ordering.Table, []byte, error) {
	if a.cfg.Sink == "" {
		return nil, nil, nil
	}
	q := fmt.Sprintf("SELECT shape FROM %s WHERE sink = %s AND tbl = %s", a.d.QuoteName(a.shapesT), a.d.Placeholder(0), a.d.Placeholder(1))
	var b []byte
	err := a.inTx(ctx, tx, func(tx *sql.Tx) error { return tx.QueryRowContext(ctx, q, a.cfg.Sink, n.String()).Scan(&b) })
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("read %s: %w", a.shapesT, err)
	}
	var t ordering.Table
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, nil, fmt.Errorf("%s row of %s/%s: %w", a.shapesT, a.cfg.Sink, n, err)
	}
	return &t, b, nil
}

// saveShape records t as the shape of follower table ft, unless it is the
// one recorded.
func (a *Applier) saveShape(ctx context.Context, tx *sql.Tx, ft *table, t *ordering.Table) error {
	if a.cfg.Sink == "" {
		return nil
	}
	b, err := shapeJSON(t)
	if err != nil {
		return err
	}
	if bytes.Equal(b, ft.stored) {
		return nil
	}
	cols := []string{"sink", "tbl", "source_table", "shape", "changed_at"}
	q := a.d.Upsert(a.shapesT, cols, []string{"sink", "tbl"}, 1)
	args := []any{a.cfg.Sink, ft.name.String(), t.QualifiedName(), string(b), time.Now().UTC().Format(time.RFC3339Nano)}
	if tx != nil {
		_, err = tx.ExecContext(ctx, q, args...)
	} else {
		_, err = a.db.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return fmt.Errorf("record the shape of %s in %s: %w", ft.name, a.shapesT, err)
	}
	ft.stored = b
	return nil
}

// moveShape follows a renamed follower table in the shapes table.
func (a *Applier) moveShape(ctx context.Context, tx *sql.Tx, from, to Name) error {
	if a.cfg.Sink == "" {
		return nil
	}
	for _, meta := range []Name{a.shapesT, a.indexT} { // the indexes follow the table
		q := fmt.Sprintf("UPDATE %s SET tbl = %s WHERE sink = %s AND tbl = %s", a.d.QuoteName(meta),
			a.d.Placeholder(0), a.d.Placeholder(1), a.d.Placeholder(2))
		var err error
		if tx != nil {
			_, err = tx.ExecContext(ctx, q, to.String(), a.cfg.Sink, from.String())
		} else {
			_, err = a.db.ExecContext(ctx, q, to.String(), a.cfg.Sink, from.String())
		}
		if err != nil {
			return fmt.Errorf("rename %s in %s: %w", from, meta, err)
		}
	}
	return nil
}

// ChangedShapes lists the follower tables whose shape sink recorded at or
// after since (walship verify --since-ddl): follower name -> source
// "schema.table". A follower without the shapes table has none.
func ChangedShapes(ctx context.Context, db *sql.DB, d Dialect, sink string, since time.Time) (map[string]string, error) {
	n := MetaShapes(d.Engine())
	q := fmt.Sprintf("SELECT tbl, source_table, changed_at FROM %s WHERE sink = %s", d.QuoteName(n), d.Placeholder(0))
	rows, err := db.QueryContext(ctx, q, sink)
	if err != nil {
		if exists, _ := tableExists(ctx, db, d, n); !exists {
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("read %s: %w", n, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var tbl, src, at string
		if err := rows.Scan(&tbl, &src, &at); err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		ts, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return nil, fmt.Errorf("%s row of %s/%s: changed_at: %w", n, sink, tbl, err)
		}
		if !ts.Before(since) {
			out[tbl] = src
		}
	}
	return out, rows.Err()
}

// tableExists reports whether n exists on the follower.
func tableExists(ctx context.Context, db *sql.DB, d Dialect, n Name) (bool, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	_, exists, err := d.Columns(ctx, tx, n)
	return exists, err
}

// ForgetShapes deletes the shapes sink recorded for the follower tables
// whose source table match accepts (walship accept-ddl: the user brought
// them to their source's new shape by hand), and returns their names. The
// sink then compares the next shape of each with the follower's columns
// only, as on its first start.
func ForgetShapes(ctx context.Context, db *sql.DB, d Dialect, sink string, match func(source string) bool) ([]string, error) {
	n := MetaShapes(d.Engine())
	q := fmt.Sprintf("SELECT tbl, source_table FROM %s WHERE sink = %s", d.QuoteName(n), d.Placeholder(0))
	rows, err := db.QueryContext(ctx, q, sink)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", n, err)
	}
	var forget []string
	for rows.Next() {
		var tbl, src string
		if err := rows.Scan(&tbl, &src); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		if match(src) {
			forget = append(forget, tbl)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", n, err)
	}
	del := fmt.Sprintf("DELETE FROM %s WHERE sink = %s AND tbl = %s", d.QuoteName(n), d.Placeholder(0), d.Placeholder(1))
	for _, tbl := range forget {
		if _, err := db.ExecContext(ctx, del, sink, tbl); err != nil {
			return nil, fmt.Errorf("delete from %s: %w", n, err)
		}
	}
	return forget, nil
}
