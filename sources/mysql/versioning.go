package mysql

// System-versioned tables (MariaDB's CREATE TABLE ... WITH SYSTEM
// VERSIONING).
//
// A system-versioned table holds its current rows and the history rows
// that updates and deletes leave behind. Followers hold the current rows
// only: what SELECT * FROM t returns. The binlog holds every row of both
// kinds with the two period columns, ROW START and ROW END: implicit ones
// (named row_start and row_end, TIMESTAMP(6), not in
// information_schema.COLUMNS) or explicitly declared ones (GENERATED
// ALWAYS AS ROW START / ROW END, any name, in COLUMNS with
// GENERATION_EXPRESSION 'ROW START' / 'ROW END'). A row is current when
// its ROW END is the maximum: TIMESTAMP 2038-01-19 03:14:07.999999 UTC
// (2106-02-07 06:28:15.999999 on MariaDB 11.5+, whose TIMESTAMP reaches
// further; both are taken as the maximum), or 18446744073709551615 for
// transaction-precise (BIGINT UNSIGNED) periods. The server extends the
// primary key and every unique key with ROW END (the TABLE_MAP's primary
// key is (id, row_end)).
//
// What MariaDB 10.11 binlogs for each statement, and what is published:
//
//	statement                        binlog rows                                         published
//	INSERT                           INSERT, row_end max                                 insert
//	UPDATE (key kept or changed)     UPDATE current → current (new row_start),           update
//	                                 then INSERT of the old row with row_end = now       (dropped: history)
//	DELETE                           UPDATE current → row_end = now                      delete
//	DELETE HISTORY                   DELETE of each history row                          (dropped)
//
// sysVersioning.change is the translation, by the images' ROW END alone:
// an image is current or history whatever statement wrote it.
//
// The published shape is the table without its period columns, its keys
// without ROW END: the same shape the snapshot reads from the catalog
// (snapshotTableOf drops explicit period columns; implicit ones are not
// in COLUMNS), so followers are created without them.
//
// Which columns are the period columns comes from the catalog
// (catalogPeriod), read with the table's other keys (keyCache) and again
// after DDL; a binlog shape that lacks the named columns (rows written
// before ADD SYSTEM VERSIONING) is taken as it is. The binlog itself does
// not mark period columns. Limit: the catalog is today's, so a source
// that reads rows written while a table was versioned only after a later
// DROP SYSTEM VERSIONING (or a DROP TABLE) publishes them as plain rows,
// period columns and history rows included.
//
// Transaction-precise tables (ROW START and ROW END BIGINT UNSIGNED):
// MariaDB 10.11 binlogs their DML as statements even with
// binlog_format=ROW, which the source cannot replicate. The snapshot
// refuses them (ErrTrxPrecise); a stream that meets one of their
// statements stops with ErrStatement. Their rows would translate as above.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/walship/walship/ordering"
)

// The maximum ROW END of a timestamp period, in µs since 1970 UTC:
// TIMESTAMP's maximum, before and since MariaDB 11.5.
const (
	sysMaxTimestamp32 = 2147483647_999999
	sysMaxTimestamp64 = 4294967295_999999
)

// sysPeriod names a system-versioned table's period columns, from the
// catalog.
type sysPeriod struct {
	start, end string
	trxID      bool // BIGINT UNSIGNED transaction ids, not TIMESTAMP(6)
}

// has reports whether name is one of the period columns.
func (p *sysPeriod) has(name string) bool {
	return p != nil && (strings.EqualFold(name, p.start) || strings.EqualFold(name, p.end))
}

// without returns cols with the period columns removed.
func (p *sysPeriod) without(cols []string) []string {
	if p == nil || cols == nil {
		return cols
	}
	out := make([]string, 0, len(cols))
	for _, c := range cols {
		if !p.has(c) {
			out = append(out, c)
		}
	}
	return out
}

// catalogPeriod reads whether schema.table is system-versioned and, if
// it is, its period columns; nil otherwise (also for a table that is not
// in the catalog).
func catalogPeriod(ctx context.Context, q querier, schema, table string) (*sysPeriod, error) {
	name := schema + "." + table
	var typ string
	err := q.QueryRowContext(ctx, `SELECT TABLE_TYPE FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mysql: table %s: read information_schema.TABLES: %w", name, err)
	}
	if !strings.EqualFold(typ, "SYSTEM VERSIONED") {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, GENERATION_EXPRESSION, DATA_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND GENERATION_EXPRESSION IN ('ROW START', 'ROW END')`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("mysql: table %s: read its period columns: %w", name, err)
	}
	defer rows.Close()
	p := &sysPeriod{}
	for rows.Next() {
		var col, expr, dataType string
		if err := rows.Scan(&col, &expr, &dataType); err != nil {
			return nil, fmt.Errorf("mysql: table %s: read its period columns: %w", name, err)
		}
		if strings.EqualFold(expr, "ROW START") {
			p.start = col
		} else {
			p.end = col
		}
		p.trxID = p.trxID || strings.EqualFold(dataType, "bigint")
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: table %s: read its period columns: %w", name, err)
	}
	switch {
	case p.start == "" && p.end == "":
		p.start, p.end = "row_start", "row_end" // implicit: not in COLUMNS
	case p.start == "" || p.end == "":
		return nil, fmt.Errorf("mysql: table %s: system-versioned with one period column in information_schema.COLUMNS", name)
	}
	return p, nil
}

// sysVersioning is how rows of one binlog shape of a system-versioned
// table become changes of its current rows.
type sysVersioning struct {
	end   int   // ROW END's index in the binlog row image
	trxID bool  // ROW END is a transaction id
	keep  []int // the indexes of the other columns, in order
}

// newSysVersioning finds p's columns in the binlog shape t and returns
// the translation and the shape without them (keys without them too).
// ok is false when t lacks them.
func newSysVersioning(t *ordering.Table, p *sysPeriod) (*sysVersioning, *ordering.Table, bool, error) {
	start, end := -1, -1
	for i, c := range t.Columns {
		switch {
		case strings.EqualFold(c.Name, p.start):
			start = i
		case strings.EqualFold(c.Name, p.end):
			end = i
		}
	}
	if start < 0 || end < 0 {
		return nil, nil, false, nil
	}
	v := &sysVersioning{end: end}
	for _, i := range []int{start, end} {
		c := t.Columns[i]
		switch {
		case c.Kind == ordering.KindTimestampTZ && c.Precision == 6:
		case c.Kind == ordering.KindUint && c.Type == "bigint unsigned":
			v.trxID = true
		default:
			return nil, nil, false, fmt.Errorf("mysql: table %s: period column %s is %s in the binlog, not timestamp(6) or bigint unsigned",
				t.QualifiedName(), c.Name, c.Type)
		}
	}
	if t.Columns[start].Kind != t.Columns[end].Kind {
		return nil, nil, false, fmt.Errorf("mysql: table %s: period columns %s and %s differ in type", t.QualifiedName(), p.start, p.end)
	}
	view := *t
	view.Columns = make([]ordering.Column, 0, len(t.Columns)-2)
	for i, c := range t.Columns {
		if i != start && i != end {
			v.keep = append(v.keep, i)
			view.Columns = append(view.Columns, c)
		}
	}
	view.PrimaryKey = p.without(t.PrimaryKey)
	if len(view.PrimaryKey) == 0 {
		view.PrimaryKey = nil
	}
	view.UniqueKeys = nil
	for _, uk := range t.UniqueKeys {
		if k := p.without(uk); len(k) > 0 {
			view.UniqueKeys = append(view.UniqueKeys, k)
		}
	}
	return v, &view, true, nil
}

// current reports whether a decoded row image is a current row: its ROW
// END is the maximum.
func (v *sysVersioning) current(row []ordering.Value) bool {
	e := row[v.end]
	if v.trxID {
		return e.Kind() == ordering.KindUint && e.Uint() == math.MaxUint64
	}
	if e.Kind() != ordering.KindTimestampTZ {
		return false
	}
	us := e.Int()
	return us == sysMaxTimestamp32 || us == sysMaxTimestamp64
}

// strip returns the image without its period columns.
func (v *sysVersioning) strip(row []ordering.Value) []ordering.Value {
	if row == nil {
		return nil
	}
	out := make([]ordering.Value, len(v.keep))
	for j, i := range v.keep {
		out[j] = row[i]
	}
	return out
}

// change translates one row change of the binlog shape (full decoded
// images) into a change of the current rows, images stripped of the
// period columns; ok is false when it changes history only.
//
//	binlog           before   after     published
//	insert                    current   insert
//	insert                    history   (history row written)
//	update           current  current   update
//	update           current  history   delete (a DELETE ends the row)
//	update           history  current   insert
//	update           history  history   (history only)
//	delete           current            delete
//	delete           history            (DELETE HISTORY)
func (v *sysVersioning) change(op ordering.Op, before, after []ordering.Value) (ordering.Op, []ordering.Value, []ordering.Value, bool) {
	bc := before != nil && v.current(before)
	ac := after != nil && v.current(after)
	switch {
	case bc && ac:
		return op, v.strip(before), v.strip(after), true
	case bc:
		return ordering.OpDelete, v.strip(before), nil, true
	case ac:
		return ordering.OpInsert, nil, v.strip(after), true
	}
	return op, nil, nil, false
}
