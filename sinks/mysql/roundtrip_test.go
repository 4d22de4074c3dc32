package mysql

import (
	"context"
	"database/sql"
	"math"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sinks/sqltext"
)

type cell = sinktest.Cell

var (
	c    = sinktest.C
	arr  = sinktest.Arr
	with = sinktest.With
	read = sinktest.Read
)

var pgCells = []cell{
	c("smallint", ordering.KindInt, ordering.Int(-32768), "-32768"),
	c("integer", ordering.KindInt, ordering.Int(math.MaxInt32), "2147483647"),
	c("bigint", ordering.KindInt, ordering.Int(math.MinInt64), "-9223372036854775808"),
	c("oid", ordering.KindInt, ordering.Int(math.MaxUint32), "4294967295"),
	with(c("numeric(12,2)", ordering.KindDecimal, ordering.Decimal("-1234567890.12"), "-1234567890.12"), func(c *ordering.Column) { c.Precision, c.Scale = 12, 2 }),
	c("numeric", ordering.KindDecimal, ordering.Decimal("0.000000000000000000000000000001"), "0.000000000000000000000000000001"),
	c("numeric", ordering.KindDecimal, ordering.Decimal("-12345678901234567890123456789012345.5"), "-12345678901234567890123456789012345.500000000000000000000000000000"),
	with(c("numeric(3,-2)", ordering.KindDecimal, ordering.Decimal("99900"), "99900"), func(c *ordering.Column) { c.Precision, c.Scale = 3, -2 }),
	with(c("numeric(2,5)", ordering.KindDecimal, ordering.Decimal("0.00099"), "0.00099"), func(c *ordering.Column) { c.Precision, c.Scale = 2, 5 }),
	read(c("real", ordering.KindFloat, ordering.Float(float64(float32(0.1))), "0.10000000149011612"), "CAST(%s AS DOUBLE)"),
	c("double precision", ordering.KindFloat, ordering.Float(0.30000000000000004), "0.30000000000000004"),
	c("double precision", ordering.KindFloat, ordering.Float(1e308), "1e+308"),
	c("double precision", ordering.KindFloat, ordering.Float(5e-324), "5e-324"),
	c("boolean", ordering.KindBool, ordering.Bool(true), "1"),
	c("text", ordering.KindString, ordering.String("it's a \\ \"q\" ünï 😀 \x00 %_?"), "it's a \\ \"q\" ünï 😀 \x00 %_?"),
	with(c("character varying(40)", ordering.KindString, ordering.String(""), ""), func(c *ordering.Column) { c.Length = 40 }),
	with(c("character(5)", ordering.KindString, ordering.String("ab   "), "ab   "), func(c *ordering.Column) { c.Length = 5 }),
	read(c("bytea", ordering.KindBytes, ordering.Bytes([]byte{0, 0xff, '\\', '\''}), "00FF5C27"), "HEX(%s)"),
	read(c("bytea", ordering.KindBytes, ordering.Bytes(nil), ""), "HEX(%s)"),
	c("date", ordering.KindDate, ordering.Date(daysOf(1, 1, 1)), "0001-01-01"),
	c("date", ordering.KindDate, ordering.Date(daysOf(9999, 12, 31)), "9999-12-31"),
	c("time without time zone", ordering.KindTime, ordering.Time(86_400_000_000), "24:00:00.000000"),
	c("time(3) without time zone", ordering.KindTime, ordering.Time(45_296_789_000), "12:34:56.789"),
	c("time with time zone", ordering.KindText, ordering.Text("13:45:00+02"), "13:45:00+02"),
	c("timestamp without time zone", ordering.KindTimestamp, ordering.Timestamp(usOf(1, 1, 1, 0, 0, 0, 1)), "0001-01-01 00:00:00.000001"),
	c("timestamp(3) with time zone", ordering.KindTimestampTZ, ordering.TimestampTZ(usOf(2024, 2, 29, 23, 59, 59, 123_000)), "2024-02-29 23:59:59.123"),
	c("timestamp with time zone", ordering.KindTimestampTZ, ordering.TimestampTZ(usOf(2038, 1, 19, 3, 14, 8, 0)), "2038-01-19 03:14:08.000000"),
	c("interval", ordering.KindInterval, ordering.Interval("P1Y2M3DT4H5M6.78S"), "P1Y2M3DT4H5M6.78S"),
	c("uuid", ordering.KindUUID, ordering.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
	c("json", ordering.KindJSON, ordering.JSON(`{"b": 1,  "a": [1, 2], "b": 2}`), `{"b": 1,  "a": [1, 2], "b": 2}`),
	c("jsonb", ordering.KindJSON, ordering.JSON(`{"a": [1, 2.50], "b": "é"}`), `{"a": [1, 2.50], "b": "é"}`),
	with(c("mood", ordering.KindEnum, ordering.Enum("Happy"), "Happy"), func(c *ordering.Column) { c.Enum = []string{"sad", "happy", "Happy", "it's"} }),
	c("mood", ordering.KindEnum, ordering.Enum("new label"), "new label"),
	arr("text[]", ordering.KindString, ordering.Array(ordering.String("a"), ordering.String("b,c"), ordering.Null(), ordering.String("NULL"),
		ordering.String(`q"\`), ordering.String("")), `["a","b,c",null,"NULL","q\"\\",""]`),
	arr("integer[]", ordering.KindInt, ordering.Array(ordering.Array(ordering.Int(1), ordering.Int(2)), ordering.Array(ordering.Int(3), ordering.Null())), "[[1,2],[3,null]]"),
	arr("bytea[]", ordering.KindBytes, ordering.Array(ordering.Bytes([]byte{1}), ordering.Null()), `["\\x01",null]`),
	arr("numeric[]", ordering.KindDecimal, ordering.Array(ordering.Decimal("1.50"), ordering.Decimal("NaN")), `[1.50,"NaN"]`),
	arr("double precision[]", ordering.KindFloat, ordering.Array(ordering.Float(math.NaN()), ordering.Float(1.5)), `["NaN",1.5]`),
	arr("timestamp with time zone[]", ordering.KindTimestampTZ, ordering.Array(ordering.TimestampTZ(0), ordering.Special(ordering.KindTimestampTZ, "infinity")),
		`["1970-01-01T00:00:00.000000+00:00","infinity"]`),
	c("inet", ordering.KindText, ordering.Text("192.168.0.1/24"), "192.168.0.1/24"),
	with(c("positive_amount", ordering.KindDecimal, ordering.Decimal("12.30"), "12.30"), func(c *ordering.Column) { c.Precision, c.Scale = 10, 2 }),
	with(c("short_code", ordering.KindString, ordering.String("abc"), "abc"), func(c *ordering.Column) { c.Length = 10 }),
}

var myCells = []cell{
	c("tinyint(1)", ordering.KindInt, ordering.Int(-128), "-128"),
	c("tinyint(1)", ordering.KindBool, ordering.Bool(true), "1"),
	c("tinyint(3) unsigned", ordering.KindUint, ordering.Uint(255), "255"),
	c("smallint(5) unsigned", ordering.KindUint, ordering.Uint(65535), "65535"),
	c("mediumint(8) unsigned", ordering.KindUint, ordering.Uint(16777215), "16777215"),
	c("int(11)", ordering.KindInt, ordering.Int(math.MinInt32), "-2147483648"),
	c("int(10) unsigned", ordering.KindUint, ordering.Uint(math.MaxUint32), "4294967295"),
	c("bigint(20)", ordering.KindInt, ordering.Int(math.MaxInt64), "9223372036854775807"),
	c("bigint(20) unsigned", ordering.KindUint, ordering.Uint(math.MaxUint64), "18446744073709551615"),
	c("decimal(10,2)", ordering.KindDecimal, ordering.Decimal("-12345678.90"), "-12345678.90"),
	c("decimal(65,30)", ordering.KindDecimal, ordering.Decimal("1.500000000000000000000000000000"), "1.500000000000000000000000000000"),
	c("float", ordering.KindFloat, ordering.Float(float64(float32(3.14))), "3.14"),
	c("double", ordering.KindFloat, ordering.Float(-1.5e-300), "-1.5e-300"),
	read(c("bit(8)", ordering.KindUint, ordering.Uint(5), "101"), "BIN(%s)"),
	c("char(3)", ordering.KindString, ordering.String("abc"), "abc"),
	c("varchar(40)", ordering.KindString, ordering.String(`x'y\z`), `x'y\z`),
	c("varchar(20000)", ordering.KindString, ordering.String("wide"), "wide"),
	c("longtext", ordering.KindString, ordering.String("long"), "long"),
	read(c("binary(4)", ordering.KindBytes, ordering.Bytes([]byte{1, 0, 0, 0}), "01000000"), "HEX(%s)"),
	read(c("blob", ordering.KindBytes, ordering.Bytes([]byte{}), ""), "HEX(%s)"),
	c("date", ordering.KindDate, ordering.Date(daysOf(1000, 1, 1)), "1000-01-01"),
	c("date", ordering.KindDate, ordering.Special(ordering.KindDate, "0000-00-00"), "0000-00-00"),
	c("time(6)", ordering.KindTime, ordering.Time(-(838*3600+59*60+59)*sqltext.UsPerSec), "-838:59:59.000000"),
	c("time", ordering.KindTime, ordering.Time(25*3600*sqltext.UsPerSec), "25:00:00"),
	c("datetime(6)", ordering.KindTimestamp, ordering.Timestamp(usOf(9999, 12, 31, 23, 59, 59, 999_999)), "9999-12-31 23:59:59.999999"),
	c("datetime", ordering.KindTimestamp, ordering.Special(ordering.KindTimestamp, "0000-00-00 00:00:00"), "0000-00-00 00:00:00"),
	c("timestamp(3)", ordering.KindTimestampTZ, ordering.TimestampTZ(usOf(2038, 1, 19, 3, 14, 7, 123_000)), "2038-01-19 03:14:07.123"),
	c("year(4)", ordering.KindInt, ordering.Int(2024), "2024"),
	c("json", ordering.KindJSON, ordering.JSON(`{"k": [1, "two", null]}`), `{"k": [1, "two", null]}`),
	c("enum('a','b')", ordering.KindEnum, ordering.Enum("b"), "b"),
	c("set('x','y')", ordering.KindString, ordering.String("x,y"), "x,y"),
}

// roundTrip creates a table of cells with CreateTable, writes the values
// with a plain INSERT (row 1) and two Upserts (rows 2 and 3: NULLs then
// values, and values then NULLs), and compares what the follower stored.
func roundTrip(t *testing.T, d *Dialect, db *sql.DB, ctx context.Context, src string, cells []cell) {
	ct := sinktest.CreateCells(t, ctx, d, db, sqlsink.Name{Table: "types_" + src},
		ordering.Column{Name: "id", Type: "bigint", Kind: ordering.KindInt}, src, cells)
	// One session, so that @@warning_count is that of the statement before:
	// strict mode turns truncation into errors, but rounding is only a note.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	write := func(stmt string, args []any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, stmt, args...); err != nil {
			t.Fatalf("%.40s…: %v", stmt, err)
		}
		var warnings int
		if err := conn.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil || warnings != 0 {
			t.Errorf("%.40s… left %d warnings (%v)", stmt, warnings, err)
		}
	}
	write(ct.Insert(d), ct.Row(t, d, int64(1), false))
	upsert := d.Upsert(ct.Name, ct.Names, []string{"id"}, 2)
	write(upsert, append(ct.Row(t, d, int64(2), true), ct.Row(t, d, int64(3), false)...))
	write(upsert, append(ct.Row(t, d, int64(2), false), ct.Row(t, d, int64(3), true)...))
	ct.Check(t, ctx, d, db, map[int64]bool{1: false, 2: false, 3: true}, nil, nil)
}

func TestIntegrationRoundTripFromPostgres(t *testing.T) {
	d, db, ctx := follower(t)
	roundTrip(t, d, db, ctx, "postgres", pgCells)
}

func TestIntegrationRoundTripFromMySQL(t *testing.T) {
	d, db, ctx := follower(t)
	roundTrip(t, d, db, ctx, "mysql", myCells)
}
