package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"reflect"
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

type tyItValue struct {
	sql  string // SQL literal inserted
	want ordering.Value
}

type tyItColumn struct {
	name, typ string // column name, SQL type
	col       ordering.Column
	values    []tyItValue // row k takes values[k], or NULL
}

// tyItColumns is a table of every type, as MariaDB 10.11 logs it.
func tyItColumns() []tyItColumn {
	K := func(k ordering.Kind, typ string) ordering.Column { return ordering.Column{Kind: k, Type: typ} }
	L := func(c ordering.Column, n int) ordering.Column { c.Length = n; return c }
	P := func(c ordering.Column, p, s int) ordering.Column { c.Precision, c.Scale = p, s; return c }
	dec, str, by := ordering.Decimal, ordering.String, func(s string) ordering.Value { return ordering.Bytes([]byte(s)) }
	sp := ordering.Special
	day := func(s string) ordering.Value {
		d, _ := time.Parse("2006-01-02", s)
		return ordering.Date(d.Unix() / 86400)
	}
	micros := func(s string) int64 {
		d, _ := time.Parse("2006-01-02 15:04:05.999999", s)
		return d.UnixMicro()
	}
	clock := func(h, m, s, us int64) int64 { return ((h*60+m)*60+s)*1e6 + us }
	return []tyItColumn{
		{"c_tiny", "tinyint", K(ordering.KindInt, "tinyint"), []tyItValue{{"-128", ordering.Int(-128)}, {"127", ordering.Int(127)}}},
		{"c_tiny_u", "tinyint unsigned", K(ordering.KindUint, "tinyint unsigned"), []tyItValue{{"255", ordering.Uint(255)}, {"0", ordering.Uint(0)}}},
		{"c_bool", "boolean", K(ordering.KindInt, "tinyint"), []tyItValue{{"true", ordering.Int(1)}, {"false", ordering.Int(0)}}},
		{"c_small", "smallint", K(ordering.KindInt, "smallint"), []tyItValue{{"-32768", ordering.Int(-32768)}}},
		{"c_small_u", "smallint unsigned", K(ordering.KindUint, "smallint unsigned"), []tyItValue{{"65535", ordering.Uint(65535)}}},
		{"c_med", "mediumint", K(ordering.KindInt, "mediumint"), []tyItValue{{"-8388608", ordering.Int(-8388608)}, {"8388607", ordering.Int(8388607)}}},
		{"c_med_u", "mediumint unsigned", K(ordering.KindUint, "mediumint unsigned"), []tyItValue{{"16777215", ordering.Uint(16777215)}}},
		{"c_int", "int", K(ordering.KindInt, "int"), []tyItValue{{"-2147483648", ordering.Int(math.MinInt32)}}},
		{"c_int_u", "int unsigned", K(ordering.KindUint, "int unsigned"), []tyItValue{{"4294967295", ordering.Uint(math.MaxUint32)}}},
		{"c_big", "bigint", K(ordering.KindInt, "bigint"), []tyItValue{
			{"-9223372036854775808", ordering.Int(math.MinInt64)}, {"9223372036854775807", ordering.Int(math.MaxInt64)}}},
		{"c_big_u", "bigint unsigned", K(ordering.KindUint, "bigint unsigned"), []tyItValue{
			{"18446744073709551615", ordering.Uint(math.MaxUint64)}, {"0", ordering.Uint(0)}}},
		{"c_dec", "decimal(10,2)", P(K(ordering.KindDecimal, "decimal(10,2)"), 10, 2), []tyItValue{
			{"3.5", dec("3.50")}, {"-0.5", dec("-0.50")}, {"-12345678.9", dec("-12345678.90")}, {"0", dec("0.00")}}},
		{"c_dec65", "decimal(65,30)", P(K(ordering.KindDecimal, "decimal(65,30)"), 65, 30), []tyItValue{
			{"12345678901234567890123456789012345.123456789012345678901234567890",
				dec("12345678901234567890123456789012345.123456789012345678901234567890")},
			{"-0.000000000000000000000000000001", dec("-0.000000000000000000000000000001")},
			{"-99999999999999999999999999999999999", dec("-99999999999999999999999999999999999.000000000000000000000000000000")}}},
		{"c_float", "float", K(ordering.KindFloat, "float"), []tyItValue{
			{"1.5", ordering.Float(1.5)}, {"-0.1", ordering.Float(float64(float32(-0.1)))}}},
		{"c_double", "double", K(ordering.KindFloat, "double"), []tyItValue{{"2.25", ordering.Float(2.25)}, {"1e308", ordering.Float(1e308)}}},
		{"c_bit8", "bit(8)", L(K(ordering.KindUint, "bit(8)"), 8), []tyItValue{{"b'10000001'", ordering.Uint(129)}}},
		{"c_bit64", "bit(64)", L(K(ordering.KindUint, "bit(64)"), 64), []tyItValue{
			{"b'" + strings.Repeat("1", 64) + "'", ordering.Uint(math.MaxUint64)}, {"b'1'", ordering.Uint(1)}}},
		{"c_year", "year", K(ordering.KindInt, "year"), []tyItValue{{"2024", ordering.Int(2024)}, {"1901", ordering.Int(1901)}}},
		{"c_date", "date", K(ordering.KindDate, "date"), []tyItValue{
			{"'2024-02-29'", day("2024-02-29")}, {"'0000-00-00'", sp(ordering.KindDate, "0000-00-00")},
			{"'2024-00-15'", sp(ordering.KindDate, "2024-00-15")}, {"'1000-01-01'", day("1000-01-01")}}},
		{"c_time", "time", K(ordering.KindTime, "time"), []tyItValue{
			{"'-838:59:59'", ordering.Time(-clock(838, 59, 59, 0))}, {"'838:59:59'", ordering.Time(clock(838, 59, 59, 0))},
			{"'-00:00:01'", ordering.Time(-1e6)}, {"'00:00:00'", ordering.Time(0)}}},
		{"c_time6", "time(6)", P(K(ordering.KindTime, "time(6)"), 6, 0), []tyItValue{
			{"'-00:00:00.000001'", ordering.Time(-1)}, {"'12:34:56.123456'", ordering.Time(clock(12, 34, 56, 123456))},
			{"'-838:59:59.999999'", ordering.Time(-clock(838, 59, 59, 999999))}}},
		{"c_time1", "time(1)", P(K(ordering.KindTime, "time(1)"), 1, 0), []tyItValue{
			{"'-00:00:01.5'", ordering.Time(-1500000)}, {"'00:00:00.5'", ordering.Time(500000)}}},
		{"c_dt", "datetime", K(ordering.KindTimestamp, "datetime"), []tyItValue{
			{"'2024-01-15 10:20:30'", ordering.Timestamp(micros("2024-01-15 10:20:30"))},
			{"'0000-00-00 00:00:00'", sp(ordering.KindTimestamp, "0000-00-00 00:00:00")},
			{"'2024-00-00 10:00:00'", sp(ordering.KindTimestamp, "2024-00-00 10:00:00")},
			{"'1969-12-31 23:59:59'", ordering.Timestamp(-1e6)}}},
		{"c_dt6", "datetime(6)", P(K(ordering.KindTimestamp, "datetime(6)"), 6, 0), []tyItValue{
			{"'1000-01-01 00:00:00.000001'", ordering.Timestamp(micros("1000-01-01 00:00:00.000001"))},
			{"'9999-12-31 23:59:59.999999'", ordering.Timestamp(micros("9999-12-31 23:59:59.999999"))}}},
		{"c_dt2", "datetime(2)", P(K(ordering.KindTimestamp, "datetime(2)"), 2, 0), []tyItValue{
			{"'2024-01-15 10:20:30.05'", ordering.Timestamp(micros("2024-01-15 10:20:30.05"))},
			{"'0000-00-00 00:00:00'", sp(ordering.KindTimestamp, "0000-00-00 00:00:00.00")}}},
		// The session's time zone is +02:00: TIMESTAMP literals are local to it.
		{"c_ts", "timestamp(3) NULL DEFAULT NULL", P(K(ordering.KindTimestampTZ, "timestamp(3)"), 3, 0), []tyItValue{
			{"'2038-01-19 05:14:07.999'", ordering.TimestampTZ(micros("2038-01-19 03:14:07.999"))},
			{"'1970-01-01 02:00:01'", ordering.TimestampTZ(1e6)},
			{"0", sp(ordering.KindTimestampTZ, "0000-00-00 00:00:00.000")},
			{"'2024-07-01 12:00:00.5'", ordering.TimestampTZ(micros("2024-07-01 10:00:00.5"))}}},
		{"c_ts0", "timestamp NULL DEFAULT NULL", K(ordering.KindTimestampTZ, "timestamp"), []tyItValue{
			{"'2024-01-15 12:00:00'", ordering.TimestampTZ(micros("2024-01-15 10:00:00"))}}},
		{"c_vc", "varchar(40)", L(K(ordering.KindString, "varchar(40)"), 40), []tyItValue{
			{"'😀 emoji ✓'", str("😀 emoji ✓")}, {"''", str("")}, {"'a\\0b'", str("a\x00b")}}},
		{"c_l1", "varchar(10) CHARACTER SET latin1", L(K(ordering.KindString, "varchar(10)"), 10), []tyItValue{
			{"'é'", str("é")}, {"'€ŠÿÀ'", str("€ŠÿÀ")}}},
		{"c_ch", "char(5)", L(K(ordering.KindString, "char(5)"), 5), []tyItValue{{"'ab   '", str("ab")}, {"' 😀'", str(" 😀")}}},
		{"c_ch3", "char(10) CHARACTER SET utf8mb3", L(K(ordering.KindString, "char(10)"), 10), []tyItValue{{"'ü'", str("ü")}}},
		{"c_bin", "binary(4)", L(K(ordering.KindBytes, "binary(4)"), 4), []tyItValue{
			{"'a'", by("a\x00\x00\x00")}, {"x'00ff0001'", by("\x00\xff\x00\x01")}, {"''", by("\x00\x00\x00\x00")}}},
		{"c_vb", "varbinary(10)", L(K(ordering.KindBytes, "varbinary(10)"), 10), []tyItValue{{"x'00ff'", by("\x00\xff")}, {"''", by("")}}},
		{"c_ttx", "tinytext", K(ordering.KindString, "tinytext"), []tyItValue{{"'tiny'", str("tiny")}}},
		{"c_tx", "text", K(ordering.KindString, "text"), []tyItValue{{"'text é'", str("text é")}}},
		{"c_mtx", "mediumtext", K(ordering.KindString, "mediumtext"), []tyItValue{{"REPEAT('x', 70000)", str(strings.Repeat("x", 70000))}}},
		{"c_ltx", "longtext", K(ordering.KindString, "longtext"), []tyItValue{{"'long'", str("long")}}},
		{"c_tblob", "tinyblob", K(ordering.KindBytes, "tinyblob"), []tyItValue{{"x'00'", by("\x00")}}},
		{"c_blob", "blob", K(ordering.KindBytes, "blob"), []tyItValue{{"x'00ff00'", by("\x00\xff\x00")}, {"''", by("")}}},
		{"c_mblob", "mediumblob", K(ordering.KindBytes, "mediumblob"), []tyItValue{{"x'ff'", by("\xff")}}},
		{"c_lblob", "longblob", K(ordering.KindBytes, "longblob"), []tyItValue{{"x'00ff'", by("\x00\xff")}}},
		{"c_enum", "enum('a','b','it''s','x\\\\y')", ordering.Column{Kind: ordering.KindEnum, Type: `enum('a','b','it''s','x\\y')`,
			Enum: []string{"a", "b", "it's", `x\y`}}, []tyItValue{
			{"'b'", ordering.Enum("b")}, {"'nope'", ordering.Enum("")}, {"'it''s'", ordering.Enum("it's")}, {"'x\\\\y'", ordering.Enum(`x\y`)}}},
		{"c_enum_l1", "enum('café','€') CHARACTER SET latin1", ordering.Column{Kind: ordering.KindEnum, Type: "enum('café','€')",
			Enum: []string{"café", "€"}}, []tyItValue{{"'café'", ordering.Enum("café")}, {"'€'", ordering.Enum("€")}}},
		{"c_set", "set('x','y','z')", ordering.Column{Kind: ordering.KindText, Type: "set('x','y','z')", Enum: []string{"x", "y", "z"}},
			[]tyItValue{{"'z,x'", ordering.Text("x,z")}, {"''", ordering.Text("")}, {"'x,y,z'", ordering.Text("x,y,z")}}},
		// MariaDB: JSON is LONGTEXT with a JSON_VALID check.
		{"c_json", "json", K(ordering.KindString, "longtext"), []tyItValue{{`'{"a": [1, 2.5, "x"]}'`, str(`{"a": [1, 2.5, "x"]}`)}}},
		{"c_geom", "point", K(ordering.KindBytes, "point"), []tyItValue{{"POINT(1, 2)", by("\x00\x00\x00\x00" +
			"\x01\x01\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\xf0\x3f" + "\x00\x00\x00\x00\x00\x00\x00\x40")}}},
		{"c_inet6", "inet6", L(K(ordering.KindBytes, "binary(16)"), 16), []tyItValue{{"'::1'", by(strings.Repeat("\x00", 15) + "\x01")}}},
	}
}

func TestBinlogTypesIntegration(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse the DSN: %v", err)
	}
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatalf("source address: %v", err)
	}
	port, _ := strconv.Atoi(portText)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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
		t.Skipf("the expected values are MariaDB's; the source is %s", version)
	}
	schema := fmt.Sprintf("walship_types_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	exec := func(q string) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
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
	exec("SET SESSION sql_mode = ''") // zero dates, invalid enum values
	exec("SET SESSION time_zone = '+02:00'")
	exec("SET NAMES utf8mb4")

	cols := tyItColumns()
	defs, names, nrows := []string{"id int unsigned NOT NULL PRIMARY KEY"}, []string{"id"}, 0
	for _, c := range cols {
		defs, names, nrows = append(defs, c.name+" "+c.typ), append(names, c.name), max(nrows, len(c.values))
	}
	exec(fmt.Sprintf("CREATE TABLE %s.t (%s)", schema, strings.Join(defs, ", ")))
	nrows++ // a last row of NULLs
	for r := range nrows {
		vals := []string{strconv.Itoa(r + 1)}
		for _, c := range cols {
			if r < len(c.values) {
				vals = append(vals, c.values[r].sql)
			} else {
				vals = append(vals, "NULL")
			}
		}
		exec(fmt.Sprintf("INSERT INTO %s.t (%s) VALUES (%s)", schema, strings.Join(names, ", "), strings.Join(vals, ", ")))
	}

	for _, sc := range []struct {
		name string
		cfg  replication.BinlogSyncerConfig
	}{
		{"source settings", replication.BinlogSyncerConfig{ServerID: uint32(50000 + os.Getpid()%1000),
			UseDecimal: true, ParseTime: false, TimestampStringLocation: time.UTC}},
		{"UseDecimal false, ParseTime true", replication.BinlogSyncerConfig{ServerID: uint32(51000 + os.Getpid()%1000),
			UseDecimal: false, ParseTime: true}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			c := sc.cfg
			c.Flavor, c.Host, c.Port, c.User, c.Password = "mariadb", host, uint16(port), cfg.User, cfg.Passwd
			c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			table, rows := tyReadRows(ctx, t, c, pos, schema, nrows)
			tyCheckRows(t, table, rows, cols, nrows)
		})
	}
}

// tyReadRows streams the binlog from pos until nrows rows of schema.t arrived.
func tyReadRows(ctx context.Context, t *testing.T, cfg replication.BinlogSyncerConfig, pos, schema string, nrows int) (*binlogTable, [][]ordering.Value) {
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
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var table *binlogTable
	var rows [][]ordering.Value
	for len(rows) < nrows {
		ev, err := stream.GetEvent(ctx)
		if err != nil {
			t.Fatalf("read the binlog (%d of %d rows): %v", len(rows), nrows, err)
		}
		switch e := ev.Event.(type) {
		case *replication.TableMapEvent:
			if string(e.Schema) == schema {
				if table, err = newBinlogTable(e); err != nil {
					t.Fatalf("newBinlogTable: %v", err)
				}
			}
		case *replication.RowsEvent:
			if string(e.Table.Schema) != schema {
				continue
			}
			for k, vals := range e.Rows {
				row, err := table.row(vals, e.SkippedColumns[k]...)
				if err != nil {
					t.Fatalf("row: %v", err)
				}
				rows = append(rows, row)
			}
		}
	}
	return table, rows
}

func tyCheckRows(t *testing.T, table *binlogTable, rows [][]ordering.Value, cols []tyItColumn, nrows int) {
	t.Helper()
	if table.table.Schema == "" || table.table.Name != "t" || strings.Join(table.table.PrimaryKey, ",") != "id" {
		t.Errorf("table %s, primary key %v", table.table.QualifiedName(), table.table.PrimaryKey)
	}
	if got := table.table.Columns[0]; got.Kind != ordering.KindUint || got.Type != "int unsigned" || got.Nullable {
		t.Errorf("id: %+v", got)
	}
	for i, c := range cols {
		got := table.table.Columns[i+1]
		want := c.col
		want.Name, want.Nullable = c.name, true
		if !reflect.DeepEqual(got, want) {
			t.Errorf("column %s:\n got %+v\nwant %+v", c.name, got, want)
		}
	}
	for r := range nrows {
		if !rows[r][0].Equal(ordering.Uint(uint64(r + 1))) {
			t.Fatalf("row %d: id %v", r, rows[r][0])
		}
		for i, c := range cols {
			want := ordering.Null()
			if r < len(c.values) {
				want = c.values[r].want
			}
			if got := rows[r][i+1]; !got.Equal(want) {
				t.Errorf("%s row %d (%s): got %s %.80v, want %s %.80v", c.name, r+1, c.values[min(r, len(c.values)-1)].sql,
					got.Kind(), got, want.Kind(), want)
			}
		}
	}
}
