package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// bulkLoad runs one BulkLoad of rows into ct in a transaction of its own,
// committed.
func bulkLoad(t *testing.T, ctx context.Context, d *Dialect, db *sql.DB, ct *sinktest.CellTable, key []string, rows ...[]ordering.Value) error {
	t.Helper()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	have, _, err := d.Columns(ctx, tx, ct.Name)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range have {
		types[c.Name] = c.Type
	}
	if _, err := d.BulkLoad(ctx, conn, sqlsink.BulkRows{Name: ct.Name, Columns: ct.Cols, Types: types, Key: key, Rows: rows}); err != nil {
		return err
	}
	return tx.Commit()
}

func cellRow(ct *sinktest.CellTable, id int64, null bool) []ordering.Value {
	r := []ordering.Value{ordering.Int(id)}
	for _, x := range ct.Cells {
		if null {
			r = append(r, ordering.Null())
		} else {
			r = append(r, x.Val)
		}
	}
	return r
}

// loadRoundTrip: the cells whose follower type LOAD DATA takes (loadType)
// go to a table of their own, loaded with LOAD DATA, and must read what the
// statements store; a load that meets a key already there, and a load
// into a table with other types, are declined and write nothing.
func loadRoundTrip(t *testing.T, d *Dialect, db *sql.DB, ctx context.Context, src string, cells []sinktest.Cell) {
	key := ordering.Column{Name: "id", Type: "bigint", Kind: ordering.KindInt}
	all := sinktest.CreateCells(t, ctx, d, db, sqlsink.Name{Table: "load_all_" + src}, key, src, cells)
	var loadable []sinktest.Cell
	for i, x := range cells {
		if loadType(strings.ToLower(all.Defs[i+1].Type)) {
			if _, err := d.Param(all.Cols[i+1], x.Val); err == nil {
				loadable = append(loadable, x)
			}
		}
	}
	if len(loadable) == len(cells) {
		t.Fatalf("every cell is loadable: the declined case is not tested")
	}
	if err := bulkLoad(t, ctx, d, db, all, nil, cellRow(all, 1, false)); !errors.Is(err, sqlsink.ErrBulkDeclined) {
		t.Errorf("load of every type: %v, want ErrBulkDeclined", err)
	}
	ct := sinktest.CreateCells(t, ctx, d, db, sqlsink.Name{Table: "load_" + src}, key, src, loadable)
	if err := bulkLoad(t, ctx, d, db, ct, nil, cellRow(ct, 1, false), cellRow(ct, 2, true)); err != nil {
		t.Fatalf("load of %d loadable cells: %v", len(loadable), err)
	}
	if err := bulkLoad(t, ctx, d, db, ct, []string{"id"}, cellRow(ct, 3, false), cellRow(ct, 2, false)); !errors.Is(err, sqlsink.ErrBulkDeclined) {
		t.Errorf("load meeting a key: %v, want ErrBulkDeclined", err)
	}
	if n := sinktest.Count(t, ctx, d, db, ct.Name); n != 2 {
		t.Errorf("%d rows after the declined load, want 2", n)
	}
	ct.Check(t, ctx, d, db, map[int64]bool{1: false, 2: true}, nil, nil)
	t.Logf("%s: %d of %d cells loaded with LOAD DATA", src, len(loadable), len(cells))
}

func TestIntegrationLoadRoundTrip(t *testing.T) {
	sinktest.RoundTrips(t, "mysql", func(t *testing.T, src string, cells []sinktest.Cell) {
		d, db, ctx := follower(t)
		loadRoundTrip(t, d, db, ctx, src, cells)
	})
}

func TestLoadText(t *testing.T) {
	var b bytes.Buffer
	for _, p := range []any{nil, int64(-1), uint64(18446744073709551615), 0.1, 1e21, "a\tb\\c\nd\r\x00e", `\N`} {
		if !appendLoadText(&b, p) {
			t.Fatalf("appendLoadText(%v) = false", p)
		}
		b.WriteByte('|')
	}
	want := `\N|-1|18446744073709551615|0.1|1e+21|a\tb\\c\nd\r\0e|\\N|`
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	if appendLoadText(&b, []byte("x")) {
		t.Error("[]byte taken")
	}
	for typ, want := range map[string]bool{"bigint(20)": true, "int(10) unsigned": true, "varchar(20)": true, "longtext": true,
		"datetime(6)": true, "decimal(10,2)": true, "double": true, "date": true, "timestamp(3)": true,
		"varbinary(10)": false, "blob": false, "bit(8)": false, "float": false, "time(6)": false, "year(4)": false,
		"enum('a')": false, "json": false, "binary(4)": false, "char(4) binary": false} {
		if got := loadType(typ); got != want {
			t.Errorf("loadType(%q) = %v", typ, got)
		}
	}
}

func TestLoadRefused(t *testing.T) {
	for n, want := range map[uint16]bool{1148: true, 3948: true, 4166: true, 1062: false, 1205: false} {
		if got := loadRefused(fmt.Errorf("load: %w", &mysql.MySQLError{Number: n})); got != want {
			t.Errorf("loadRefused(%d) = %v", n, got)
		}
	}
	if loadRefused(errors.New("x")) {
		t.Error("loadRefused of a plain error")
	}
}

// TestIntegrationLoadTrickyText: text LOAD DATA escapes reads back as sent.
func TestIntegrationLoadTrickyText(t *testing.T) {
	d, db, ctx := follower(t)
	tricky := "a\tb\\c\nd\r\x00e\\N"
	cells := []sinktest.Cell{{Col: ordering.Column{Type: "text", Kind: ordering.KindString, Nullable: true, Precision: -1, Scale: -1},
		Val: ordering.String(tricky), Want: tricky}, {Col: ordering.Column{Type: "text", Kind: ordering.KindString, Nullable: true, Precision: -1, Scale: -1},
		Val: ordering.String(`\N`), Want: `\N`}}
	ct := sinktest.CreateCells(t, ctx, d, db, sqlsink.Name{Table: "load_tricky"}, ordering.Column{Name: "id", Type: "bigint", Kind: ordering.KindInt}, "postgres", cells)
	if err := bulkLoad(t, ctx, d, db, ct, nil, cellRow(ct, 1, false), cellRow(ct, 2, true)); err != nil {
		t.Fatal(err)
	}
	ct.Check(t, ctx, d, db, map[int64]bool{1: false, 2: true}, nil, nil)
}
