package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	driver "github.com/go-sql-driver/mysql"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/ordering"
)

// catItTable is a table of the catalog test: its DDL and its rows, each a
// list of SQL literals or, with args, an INSERT with parameters.
type catItTable struct {
	name    string
	ddl     string
	inserts []catItInsert
	hidden  int // trailing hidden hash columns (MariaDB long unique keys)
}

type catItInsert struct {
	sql  string
	args []any
}

// TestCatalogIntegration checks that the catalog and SELECT give what the
// binlog gives: snapshotTableOf's shape against newBinlogTable of the real
// TABLE_MAP event, and textRow of each row against the row event's values.
func TestCatalogIntegration(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse the DSN: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close()
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(version, "MariaDB") {
		t.Skipf("the test tables are MariaDB's; the source is %s", version)
	}
	schema := fmt.Sprintf("walship_catalog_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%.300s: %v", q, err)
		}
	}
	var pos string
	if err := conn.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	exec("CREATE DATABASE " + schema + " CHARACTER SET utf8mb4")
	defer func() {
		if _, err := db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+schema); err != nil {
			t.Errorf("drop %s: %v", schema, err)
		}
	}()
	exec("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'") // zero and invalid dates, invalid enum values, clipping
	exec("SET SESSION time_zone = '+02:00'")
	exec("SET NAMES utf8mb4")

	// The table of every type of TestBinlogTypesIntegration, and its rows.
	itCols := tyItColumns()
	defs, names, nrows := []string{"id int unsigned NOT NULL PRIMARY KEY"}, []string{"id"}, 0
	for _, c := range itCols {
		defs, names, nrows = append(defs, c.name+" "+c.typ), append(names, c.name), max(nrows, len(c.values))
	}
	nrows++ // a last row of NULLs
	typesTable := catItTable{name: "t", ddl: strings.Join(defs, ", ")}
	for r := range nrows {
		vals := []string{strconv.Itoa(r + 1)}
		for _, c := range itCols {
			if r < len(c.values) {
				vals = append(vals, c.values[r].sql)
			} else {
				vals = append(vals, "NULL")
			}
		}
		typesTable.inserts = append(typesTable.inserts, catItInsert{sql: fmt.Sprintf("INSERT INTO %%s (%s) VALUES (%s)",
			strings.Join(names, ", "), strings.Join(vals, ", "))})
	}
	tables := []catItTable{typesTable, catItFloats(), catItEdges(), catItHash(), catItNoKey()}

	for _, tb := range tables {
		exec(fmt.Sprintf("CREATE TABLE %s.%s (%s)", schema, tb.name, tb.ddl))
		for _, in := range tb.inserts {
			exec(fmt.Sprintf(in.sql, schema+"."+tb.name), in.args...)
		}
	}
	want := map[string]int{}
	for _, tb := range tables {
		want[tb.name] = len(tb.inserts)
	}
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	bcfg := replication.BinlogSyncerConfig{ServerID: uint32(52000 + os.Getpid()%1000), Flavor: "mariadb",
		Host: host, Port: uint16(port), User: cfg.User, Password: cfg.Passwd,
		UseDecimal: true, ParseTime: false, TimestampStringLocation: time.UTC,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	shapes, binRows := catItBinlog(ctx, t, bcfg, pos, schema, want)

	// Read as the snapshot does: the source's session settings, a
	// consistent-snapshot transaction on one connection.
	mc := driver.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = cfg.User, cfg.Passwd, "tcp", cfg.Addr
	mc.Loc, mc.ParseTime = time.UTC, false
	mc.Params = map[string]string{"time_zone": "'+00:00'", "sql_mode": "''"}
	mc.Collation = "utf8mb4_general_ci"
	connector, err := driver.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	sdb := sql.OpenDB(connector)
	defer sdb.Close()
	snap, err := sdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if _, err := snap.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		t.Fatal(err)
	}
	defer snap.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")

	for _, tb := range tables {
		t.Run(tb.name, func(t *testing.T) {
			bin := shapes[tb.name]
			got, err := snapshotTableOf(ctx, snap, schema, tb.name)
			if err != nil {
				t.Fatalf("snapshotTableOf: %v", err)
			}
			tyCatalogEqual(t, got, bin)
			if t.Failed() {
				return
			}
			pk, ncols := strings.Join(got.table.PrimaryKey, ","), len(got.table.Columns)
			switch {
			case tb.name == "edges" && pk != "k,id", // the UNIQUE NOT NULL key the server promotes
				tb.name == "nokey" && pk != "",
				tb.name == "hashy" && (pk != "id" || got.table.Columns[ncols-1].Name != "DB_ROW_HASH_2" || got.table.Columns[ncols-1].Nullable ||
					!got.table.Columns[ncols-2].Nullable):
				t.Errorf("primary key %q, columns %+v", pk, got.table.Columns)
			}
			if ct, err := catalogTable(ctx, sdb, schema, tb.name); err != nil || !catItSameTable(ct, got.table) {
				t.Errorf("catalogTable: %v\n%s", err, tyCatalogDiff(ct, got.table))
			}
			rows := catItSelect(ctx, t, snap, got, schema, got.selectList())
			brows := binRows[tb.name]
			if len(rows) != len(brows) || len(rows) != len(tb.inserts) {
				t.Fatalf("%d rows selected, %d in the binlog", len(rows), len(brows))
			}
			hiddenFrom := len(got.cols) - tb.hidden
			for r := range rows {
				for i := range rows[r] {
					g, w := rows[r][i], brows[r][i]
					if i >= hiddenFrom {
						if !g.IsNull() || w.Kind() != ordering.KindUint && !w.IsNull() { // NULL: a NULL key
							t.Errorf("row %d hidden %s: snapshot %v, binlog %s %v", r+1, got.table.Columns[i].Name, g, w.Kind(), w)
						}
						continue
					}
					if !g.Equal(w) {
						t.Errorf("row %d column %s (%s): SELECT %s %.80v, binlog %s %.80v", r+1, got.table.Columns[i].Name,
							got.table.Columns[i].Type, g.Kind(), g, w.Kind(), w)
					}
				}
			}
			if tb.name == "t" {
				tyCheckRows(t, got, rows, itCols, nrows) // and both are what MariaDB stored
			}
			if tb.name == "floats" {
				// The bare columns' text: how many floats it gets wrong.
				var list []string
				for _, c := range got.table.Columns {
					list = append(list, catalogQuote(c.Name))
				}
				plain := catItSelect(ctx, t, snap, got, schema, strings.Join(list, ", "))
				wrong, total := 0, 0
				for r := range plain {
					for i, c := range got.table.Columns {
						if c.Kind == ordering.KindFloat {
							total++
							if !plain[r][i].Equal(brows[r][i]) {
								wrong++
							}
						}
					}
				}
				t.Logf("FLOAT/DOUBLE read as bare columns: %d of %d values differ from the binlog's; with selectList: 0", wrong, total)
			}
		})
	}
	if _, err := snapshotTableOf(ctx, snap, schema, "nope"); err == nil || !strings.Contains(err.Error(), "not in information_schema") {
		t.Errorf("a missing table: %v", err)
	}
}

func catItSameTable(a, b *ordering.Table) bool {
	return a != nil && b != nil && tyCatalogDiff(a, b) == ""
}

// catItSelect reads a table ordered by its first column with the text
// protocol, as the snapshot does.
func catItSelect(ctx context.Context, t *testing.T, q querier, tb *binlogTable, schema, list string) [][]ordering.Value {
	t.Helper()
	rows, err := q.QueryContext(ctx, "SELECT "+list+" FROM "+catalogQuote(schema)+"."+catalogQuote(tb.table.Name)+
		" ORDER BY "+catalogQuote(tb.table.Columns[0].Name))
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(tb.cols))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var out [][]ordering.Value
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row, err := tb.textRow(raw)
		if err != nil {
			t.Fatalf("textRow: %v", err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// catItBinlog streams the binlog from pos until every table of want has
// its rows: the table shapes (newBinlogTable of the last TABLE_MAP) and
// rows, ordered by the first column.
func catItBinlog(ctx context.Context, t *testing.T, cfg replication.BinlogSyncerConfig, pos, schema string, want map[string]int) (map[string]*binlogTable, map[string][][]ordering.Value) {
	t.Helper()
	set, err := gomysql.ParseMariadbGTIDSet(pos)
	if err != nil {
		t.Fatalf("GTID position %q: %v", pos, err)
	}
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	stream, err := syncer.StartSyncGTID(set)
	if err != nil {
		t.Fatalf("start the binlog stream: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	shapes := map[string]*binlogTable{}
	rows := map[string][][]ordering.Value{}
	done := func() bool {
		for name, n := range want {
			if len(rows[name]) < n {
				return false
			}
		}
		return true
	}
	byID := map[uint64]*binlogTable{}
	for !done() {
		ev, err := stream.GetEvent(ctx)
		if err != nil {
			t.Fatalf("read the binlog (%v): %v", rows, err)
		}
		switch e := ev.Event.(type) {
		case *replication.TableMapEvent:
			if string(e.Schema) == schema {
				bt, err := newBinlogTable(e)
				if err != nil {
					t.Fatalf("newBinlogTable %s: %v", e.Table, err)
				}
				shapes[string(e.Table)], byID[e.TableID] = bt, bt
			}
		case *replication.RowsEvent:
			if string(e.Table.Schema) != schema {
				continue
			}
			bt := byID[e.TableID]
			for k, vals := range e.Rows {
				row, err := bt.row(vals, e.SkippedColumns[k]...)
				if err != nil {
					t.Fatalf("row of %s: %v", e.Table.Table, err)
				}
				rows[string(e.Table.Table)] = append(rows[string(e.Table.Table)], row)
			}
		}
	}
	for name, rs := range rows {
		catItSortRows(rs)
		rows[name] = rs
	}
	return shapes, rows
}

// catItSortRows orders rows by their first column (an integer id).
func catItSortRows(rs [][]ordering.Value) {
	key := func(v ordering.Value) int64 {
		if v.Kind() == ordering.KindUint {
			return int64(v.Uint())
		}
		return v.Int()
	}
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && key(rs[j][0]) < key(rs[j-1][0]); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// catItFloats: FLOAT and DOUBLE columns, edge values and random bit
// patterns, inserted exactly (binary protocol parameters).
func catItFloats() catItTable {
	tb := catItTable{name: "floats", ddl: "id int NOT NULL PRIMARY KEY, f float, d double, fu float unsigned, " +
		"f72 float(7,2), d102 double(10,2), f30 float(30), r real, fz float(12,6) zerofill"}
	rng := rand.New(rand.NewPCG(1, 2))
	f32s := []float32{0, float32(math.Copysign(0, -1)), 1.5, -0.1, 0.1, 16777217, 16777216, 1.2345678, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, 1.17549435e-38, -1.17549435e-38, 3.1415927, 1e-10, 123456.79}
	f64s := []float64{0, math.Copysign(0, -1), 2.25, 1e308, -1e308, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
		2.2250738585072014e-308, 0.1, 0.30000000000000004, 1.0 / 3, 123456789.12345679, 9007199254740993, 1e-300, math.Pi}
	for len(f32s) < 200 {
		f := math.Float32frombits(rng.Uint32())
		if !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) {
			f32s = append(f32s, f)
		}
	}
	for len(f64s) < 200 {
		f := math.Float64frombits(rng.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			f64s = append(f64s, f)
		}
	}
	for i := range f32s {
		f, d := f32s[i], f64s[i]
		small := float64(f)
		if math.Abs(small) >= 1e5 || math.Abs(small) < 1e-3 {
			small = float64(rng.IntN(2_000_000)-1_000_000) / 1000 // in range for (7,2), (10,2), (12,6)
		}
		tb.inserts = append(tb.inserts, catItInsert{sql: "INSERT INTO %s VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			args: []any{i + 1, float64(f), d, math.Abs(float64(f)), small, small, d, d, math.Abs(small)}})
	}
	tb.inserts = append(tb.inserts, catItInsert{sql: "INSERT INTO %s (id) VALUES (1000)"})
	return tb
}

// catItEdges: a promoted primary key, wide CHARs, charsets, odd labels,
// MariaDB's UUID/INET types, geometry, temporal corners.
func catItEdges() catItTable {
	labels64 := make([]string, 64)
	for i := range labels64 {
		labels64[i] = fmt.Sprintf("'m%d'", i)
	}
	ddl := []string{
		"id int NOT NULL", "k varchar(5) NOT NULL", "UNIQUE KEY u_nullable (n)", "UNIQUE KEY u_k_id (k, id)", "n int",
		"ch255 char(255)", "ch0 char(0)", "vc3 varchar(300) CHARACTER SET utf8mb3", "bin255 binary(255)",
		"ucs varchar(10) CHARACTER SET ucs2", "u16 char(3) CHARACTER SET utf16", "u32 varchar(4) CHARACTER SET utf32",
		"cyr varchar(10) CHARACTER SET cp1251", "gb varchar(5) CHARACTER SET gbk", "l1bin varchar(5) CHARACTER SET latin1 COLLATE latin1_bin",
		"uca varchar(5) COLLATE utf8mb4_uca1400_ai_ci", "nopad text COLLATE utf8mb4_nopad_bin", "vbin varchar(5) BINARY",
		`e enum('','b,c','it''s','x\\y','nl\nx','z\0','tab	q','ü',' lead','?')`,
		"s64 set(" + strings.Join(labels64, ",") + ")", "sl1 set('é','ß') CHARACTER SET latin1",
		"el1 enum('ÿ','€') CHARACTER SET latin1 NOT NULL DEFAULT 'ÿ'",
		"dec5 decimal(5,5)", "dec0 decimal(65,0) unsigned", "bit1 bit(1)", "bit9 bit(9)",
		"i_z int(5) unsigned zerofill", "b1 tinyint(1)", "mu mediumint unsigned",
		"tm3 time(3)", "dt1 datetime(1)", "ts6 timestamp(6) NULL", "tsn timestamp NOT NULL DEFAULT '2000-01-01 00:00:00'",
		"y year NOT NULL DEFAULT 2000", "dd date",
		"uu uuid", "i4 inet4", "i6 inet6",
		"g geometry", "ls linestring", "mp multipoint", "gc geometrycollection", "pg polygon NULL",
		"j json", "inv int INVISIBLE", "gv int AS (id * 2) VIRTUAL", "gs varchar(20) AS (CONCAT(k, '!')) STORED",
	}
	tb := catItTable{name: "edges", ddl: strings.Join(ddl, ", ")}
	cols := "id, k, n, ch255, ch0, vc3, bin255, ucs, u16, u32, cyr, gb, l1bin, uca, nopad, vbin, e, s64, sl1, el1, dec5, dec0, bit1, bit9, " +
		"i_z, b1, mu, tm3, dt1, ts6, tsn, y, dd, uu, i4, i6, g, ls, mp, gc, pg, j, inv"
	rows := [][]string{
		{"1", "'a'", "NULL", "REPEAT('😀', 255)", "''", "REPEAT('ü', 300)", "x'ff'", "'üñ'", "'😀ab'", "'😀😀😀😀'",
			"'Привет'", "'中文'", "'é'", "'Ça'", "'nopad  '", "'AbC'", "'b,c'", "'m0,m63'", "'é,ß'", "'€'",
			"-0.99999", "99999999999999999999999999999999999999999999999999999999999999999", "b'1'", "b'100000001'",
			"42", "1", "16777215", "'-838:59:59.999'", "'9999-12-31 23:59:59.9'", "'2038-01-19 05:14:07.999999'",
			"'1970-01-01 02:00:01'", "1901", "'2024-02-30'",
			"'6ccd780c-baba-1026-9564-5b8c656024db'", "'255.255.255.255'", "'2001:db8::ff00:42:8329'",
			"ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('LINESTRING(0 0,1 1,2 1)')",
			"ST_GeomFromText('MULTIPOINT(0 0,1 1)')", "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))')",
			"ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')", `'{"k": "é\\u00e9", "n": [1.0, -0.0, 1e-7]}'`, "7"},
		{"2", "'b'", "5", "'trailing   '", "NULL", "''", "x'00'", "''", "'a'", "''", "''", "''", "''", "''", "''", "''",
			"'nope'", "''", "''", "'ÿ'", "0.00001", "0", "b'0'", "b'111111111'", "0", "-128", "0", "'-00:00:00.001'",
			"'0000-00-00 00:00:00'", "0", "'2000-01-01 00:00:00'", "0", "'0000-00-00'",
			"'00000000-0000-0000-0000-000000000000'", "'0.0.0.0'", "'::'", "NULL", "NULL", "NULL", "NULL", "NULL", "'[]'", "NULL"},
		{"3", "'c'", "6", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
			"'nl\\nx'", "NULL", "NULL", "DEFAULT", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
			"DEFAULT", "DEFAULT", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
		{"4", "'d'", "7", "'x'", "''", "'y'", "''", "'z'", "'w'", "'v'", "'u'", "'t'", "'s'", "'r'", "'q'", "'p'",
			"'z\\0'", "'m5'", "'ß'", "'€'", "-0.00001", "1", "b'1'", "b'1'", "1", "0", "1", "'00:00:00.5'",
			"'2024-01-15 10:20:30.5'", "'2024-07-01 12:00:00.000001'", "'2030-01-01 00:00:00'", "2155", "'2024-00-15'",
			"'6ccd780c-baba-4026-9564-5b8c656024db'", "'1.2.3.4'", "'::ffff:1.2.3.4'", "NULL", "NULL", "NULL", "NULL", "NULL", "'null'", "NULL"},
		{"5", "'e'", "8", "' 😀'", "''", "'y'", "''", "'z'", "'w'", "'v'", "'u'", "'t'", "'s'", "'r'", "'q'", "'p'",
			"'it''s'", "NULL", "NULL", "'ÿ'", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
			"NULL", "NULL", "DEFAULT", "DEFAULT", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
	}
	for _, e := range []string{"'tab\tq'", "'x\\\\y'", "'ü'", "' lead'", "'?'", "''", "5"} {
		rows = append(rows, append([]string{strconv.Itoa(len(rows) + 1), fmt.Sprintf("'f%d'", len(rows)), "NULL"}, rows[2][3:]...))
		rows[len(rows)-1][16] = e
	}
	for _, r := range rows {
		tb.inserts = append(tb.inserts, catItInsert{sql: "INSERT INTO %s (" + cols + ") VALUES (" + strings.Join(r, ", ") + ")"})
	}
	return tb
}

// catItHash: MariaDB long unique keys, each with a hidden hash column.
func catItHash() catItTable {
	return catItTable{name: "hashy", hidden: 2,
		ddl: "id int NOT NULL PRIMARY KEY, b blob, t text NOT NULL, UNIQUE KEY kb (b), UNIQUE KEY kt (t) USING HASH",
		inserts: []catItInsert{
			{sql: "INSERT INTO %s VALUES (1, 'x', 'y')"},
			{sql: "INSERT INTO %s VALUES (2, NULL, 'z')"},
		}}
}

// catItNoKey: no primary key, nullable unique key, a prefix key elsewhere.
func catItNoKey() catItTable {
	return catItTable{name: "nokey",
		ddl: "id int, a varchar(100), u int, UNIQUE KEY (u), KEY (a(10))",
		inserts: []catItInsert{
			{sql: "INSERT INTO %s VALUES (1, 'a', NULL)"},
			{sql: "INSERT INTO %s VALUES (2, NULL, 3)"},
		}}
}
