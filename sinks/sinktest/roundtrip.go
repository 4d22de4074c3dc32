package sinktest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

// Cell is one column of a round-trip table: how the source describes it,
// the value it sent, and the follower's text of the stored value, read
// with Read (a format of the quoted column; the plain column when empty).
type Cell struct {
	Col  ordering.Column
	Val  ordering.Value
	Want string
	Read string
}

// C is a cell of a column with no precision or scale.
func C(typ string, k ordering.Kind, v ordering.Value) Cell {
	return Cell{Col: ordering.Column{Type: typ, Kind: k, Precision: -1, Scale: -1}, Val: v}
}

// Arr is a cell of an array column of elem.
func Arr(typ string, elem ordering.Kind, v ordering.Value) Cell {
	return Cell{Col: ordering.Column{Type: typ, Kind: ordering.KindArray, Elem: elem, Precision: -1, Scale: -1}, Val: v}
}

// With is x with f applied to its column.
func With(x Cell, f func(*ordering.Column)) Cell { f(&x.Col); return x }

// CellTable is a follower table of cells made by a dialect: the key
// column "id", then a column cNN for each cell.
type CellTable struct {
	Name  sqlsink.Name
	Cells []Cell
	Cols  []ordering.Column   // the source's columns, the key first
	Defs  []sqlsink.ColumnDef // the dialect's columns for Cols
	Names []string
}

// CreateCells creates table n of cells, from source engine src, with the
// dialect's ColumnType and CreateTable.
func CreateCells(t testing.TB, ctx context.Context, d sqlsink.Dialect, db *sql.DB, n sqlsink.Name, key ordering.Column, src string, cells []Cell) *CellTable {
	t.Helper()
	ct := &CellTable{Name: n, Cells: cells, Cols: []ordering.Column{key}}
	for i, x := range cells {
		x.Col.Name = fmt.Sprintf("c%02d", i)
		ct.Cols = append(ct.Cols, x.Col)
	}
	ct.Defs = make([]sqlsink.ColumnDef, len(ct.Cols))
	ct.Names = make([]string, len(ct.Cols))
	for i, col := range ct.Cols {
		typ, err := d.ColumnType(col, src)
		if err != nil {
			t.Fatalf("ColumnType(%s %q): %v", col.Name, col.Type, err)
		}
		ct.Defs[i], ct.Names[i] = sqlsink.ColumnDef{Name: col.Name, Type: typ, NotNull: i == 0}, col.Name
	}
	Exec(t, ctx, db, d.CreateTable(n, ct.Defs, []string{"id"})...)
	return ct
}

// Row is the arguments of one row: id, then each cell's value (NULL with
// null) as the dialect's Param.
func (ct *CellTable) Row(t testing.TB, d sqlsink.Dialect, id any, null bool) []any {
	t.Helper()
	args := []any{id}
	for i, x := range ct.Cells {
		v := x.Val
		if null {
			v = ordering.Null()
		}
		p, err := d.Param(ct.Cols[i+1], v)
		if err != nil {
			t.Fatalf("Param(%s %q, %v): %v", ct.Cols[i+1].Name, ct.Cols[i+1].Type, v, err)
		}
		args = append(args, p)
	}
	return args
}

// Insert is a plain INSERT of one row of every column.
func (ct *CellTable) Insert(d sqlsink.Dialect) string {
	ph := make([]string, len(ct.Names))
	q := make([]string, len(ct.Names))
	for i, n := range ct.Names {
		ph[i], q[i] = d.Placeholder(i), d.QuoteIdent(n)
	}
	return "INSERT INTO " + d.QuoteName(ct.Name) + " (" + strings.Join(q, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
}

// Check reads the table's columns back with the dialect's Columns, which
// must be TypeCompatible with what CreateTable made, then each row of
// rows (id → NULLs written): a NULL row's cells must be NULL (but for
// those with a Read), the others each cell's Want. expr is how a cell's
// quoted column is read (nil: with its Read), and key the argument for an
// id (nil: the id).
func (ct *CellTable) Check(t testing.TB, ctx context.Context, d sqlsink.Dialect, db *sql.DB, rows map[int64]bool,
	expr func(quoted string, x Cell) string, key func(id int64) any) {
	t.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	have, ok, err := d.Columns(ctx, tx, ct.Name)
	if err != nil || !ok || len(have) != len(ct.Defs) {
		t.Fatalf("Columns = %d columns, %v, %v", len(have), ok, err)
	}
	for i, h := range have {
		if !d.TypeCompatible(h.Type, ct.Defs[i].Type) {
			t.Errorf("%s: TypeCompatible(%q, %q) = false for the column CreateTable made", h.Name, h.Type, ct.Defs[i].Type)
		}
	}
	if expr == nil {
		expr = func(q string, x Cell) string {
			if x.Read != "" {
				return fmt.Sprintf(x.Read, q)
			}
			return q
		}
	}
	if key == nil {
		key = func(id int64) any { return id }
	}
	exprs := make([]string, len(ct.Cells))
	for i, x := range ct.Cells {
		exprs[i] = expr(d.QuoteIdent(ct.Cols[i+1].Name), x)
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + d.QuoteName(ct.Name) + " WHERE id = " + d.Placeholder(0)
	for id, null := range rows {
		got := make([]sql.NullString, len(ct.Cells))
		dest := make([]any, len(ct.Cells))
		for i := range got {
			dest[i] = &got[i]
		}
		if err := tx.QueryRowContext(ctx, q, key(id)).Scan(dest...); err != nil {
			t.Fatalf("read row %d: %v", id, err)
		}
		for i, x := range ct.Cells {
			switch {
			case null && got[i].Valid && x.Read == "":
				t.Errorf("row %d %s (%s): got %q, want NULL", id, ct.Cols[i+1].Name, x.Col.Type, got[i].String)
			case !null && (!got[i].Valid || got[i].String != x.Want):
				t.Errorf("row %d %s (%s as %s): got %q (valid %v), want %q", id, ct.Cols[i+1].Name, x.Col.Type, ct.Defs[i+1].Type,
					got[i].String, got[i].Valid, x.Want)
			}
		}
	}
}

// AddedWithDefaults adds a column of each cell, with the cell's value as
// its default (the dialect's Literal), to table n holding a row: the row
// must read what a bound value stores. A cell whose value has no Literal
// is passed over (Param refuses it too). The columns go batch at a time
// to a fresh table (batch 0: all to one). colType is the type added for
// the dialect's ColumnType (nil: that type); expr is how a quoted column
// is read (nil: with the cell's Read).
func AddedWithDefaults(t testing.TB, ctx context.Context, d sqlsink.Dialect, db *sql.DB, n sqlsink.Name, src string, cells []Cell,
	batch int, colType func(string) string, expr func(quoted string, x Cell) string) {
	t.Helper()
	if colType == nil {
		colType = func(typ string) string { return typ }
	}
	if expr == nil {
		expr = func(q string, x Cell) string {
			if x.Read != "" {
				return fmt.Sprintf(x.Read, q)
			}
			return q
		}
	}
	fresh := func() {
		Exec(t, ctx, db, d.CreateTable(n, []sqlsink.ColumnDef{{Name: "id", Type: "bigint", NotNull: true}}, []string{"id"})...)
		Exec(t, ctx, db, "INSERT INTO "+d.QuoteName(n)+" VALUES (1)")
	}
	var exprs []string
	var added []Cell
	check := func() {
		got := make([]sql.NullString, len(exprs))
		dest := make([]any, len(exprs))
		for i := range got {
			dest[i] = &got[i]
		}
		if err := db.QueryRowContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+d.QuoteName(n)).Scan(dest...); err != nil {
			t.Fatal(err)
		}
		for k, x := range added {
			if !got[k].Valid || got[k].String != x.Want {
				t.Errorf("column added with default %v (%s): existing row reads %q (valid %v), want %q", x.Val, x.Col.Type, got[k].String, got[k].Valid, x.Want)
			}
		}
		exprs, added = nil, nil
	}
	fresh()
	for i, x := range cells {
		x.Col.Name = fmt.Sprintf("d%02d", i)
		typ, err := d.ColumnType(x.Col, src)
		if err != nil {
			t.Fatal(err)
		}
		lit, err := d.Literal(x.Col, x.Val)
		if err != nil {
			continue // Param refuses it too (see the round trip)
		}
		Exec(t, ctx, db, d.AddColumn(n, sqlsink.ColumnDef{Name: x.Col.Name, Type: colType(typ), Default: lit}))
		exprs = append(exprs, expr(d.QuoteIdent(x.Col.Name), x))
		added = append(added, x)
		if len(exprs) == batch {
			check()
			Exec(t, ctx, db, "DROP TABLE "+d.QuoteName(n))
			fresh()
		}
	}
	if len(exprs) > 0 {
		check()
	}
}
