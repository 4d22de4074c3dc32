package postgres

import (
	"context"
	"database/sql"
	"fmt"
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
)

// pgCells are columns as the PostgreSQL source describes them, with values
// as it decodes them; want is the source's own output text.
var pgCells = []cell{
	c("smallint", ordering.KindInt, ordering.Int(-32768), "-32768"),
	c("integer", ordering.KindInt, ordering.Int(math.MaxInt32), "2147483647"),
	c("bigint", ordering.KindInt, ordering.Int(math.MinInt64), "-9223372036854775808"),
	c("oid", ordering.KindInt, ordering.Int(math.MaxUint32), "4294967295"),
	with(c("numeric(12,2)", ordering.KindDecimal, ordering.Decimal("-1234567890.12"), "-1234567890.12"), func(c *ordering.Column) { c.Precision, c.Scale = 12, 2 }),
	c("numeric", ordering.KindDecimal, ordering.Decimal("0.000000000000000000000000000000000001000"), "0.000000000000000000000000000000000001000"),
	c("numeric", ordering.KindDecimal, ordering.Decimal("NaN"), "NaN"),
	c("numeric", ordering.KindDecimal, ordering.Decimal("-Infinity"), "-Infinity"),
	c("real", ordering.KindFloat, ordering.Float(float64(float32(0.1))), "0.1"),
	c("real", ordering.KindFloat, ordering.Float(float64(float32(math.MaxFloat32))), "3.4028235e+38"),
	c("double precision", ordering.KindFloat, ordering.Float(math.NaN()), "NaN"),
	c("double precision", ordering.KindFloat, ordering.Float(math.Inf(-1)), "-Infinity"),
	c("double precision", ordering.KindFloat, ordering.Float(math.Copysign(0, -1)), "-0"),
	c("double precision", ordering.KindFloat, ordering.Float(1e308), "1e+308"),
	c("double precision", ordering.KindFloat, ordering.Float(5e-324), "5e-324"),
	c("double precision", ordering.KindFloat, ordering.Float(0.1), "0.1"),
	c("boolean", ordering.KindBool, ordering.Bool(true), "t"),
	c("text", ordering.KindString, ordering.String("it's a \\ \"q\" ünï 😀 {x,y}\n$1"), "it's a \\ \"q\" ünï 😀 {x,y}\n$1"),
	c("character varying(40)", ordering.KindString, ordering.String(""), ""),
	c("character(5)", ordering.KindString, ordering.String("ab   "), "ab   "),
	c("name", ordering.KindString, ordering.String("pg_class"), "pg_class"),
	c("bytea", ordering.KindBytes, ordering.Bytes([]byte{0, 0xff, '\\', '\''}), `\x00ff5c27`),
	c("bytea", ordering.KindBytes, ordering.Bytes(nil), `\x`),
	c("date", ordering.KindDate, ordering.Date(daysOf(-43, 3, 15)), "0044-03-15 BC"),
	c("date", ordering.KindDate, ordering.Date(daysOf(5874897, 12, 31)), "5874897-12-31"),
	c("date", ordering.KindDate, ordering.Special(ordering.KindDate, "infinity"), "infinity"),
	c("time without time zone", ordering.KindTime, ordering.Time(86_400_000_000), "24:00:00"),
	c("time(3) without time zone", ordering.KindTime, ordering.Time(45_296_789_000), "12:34:56.789"),
	c("time with time zone", ordering.KindText, ordering.Text("13:45:00+02"), "13:45:00+02"),
	c("timestamp without time zone", ordering.KindTimestamp, ordering.Timestamp(usOf(-43, 3, 15, 10, 0, 0, 500_000)), "0044-03-15 10:00:00.5 BC"),
	c("timestamp without time zone", ordering.KindTimestamp, ordering.Special(ordering.KindTimestamp, "-infinity"), "-infinity"),
	c("timestamp(3) with time zone", ordering.KindTimestampTZ, ordering.TimestampTZ(usOf(2024, 2, 29, 23, 59, 59, 123_000)), "2024-02-29 23:59:59.123+00"),
	c("timestamp with time zone", ordering.KindTimestampTZ, ordering.TimestampTZ(usOf(-4713, 11, 24, 0, 0, 0, 0)), "4714-11-24 00:00:00+00 BC"),
	c("timestamp with time zone", ordering.KindTimestampTZ, ordering.Special(ordering.KindTimestampTZ, "294270-01-01 00:00:00+00"), "294270-01-01 00:00:00+00"),
	c("interval", ordering.KindInterval, ordering.Interval("P1Y2M3DT4H5M6.78S"), "P1Y2M3DT4H5M6.78S"),
	c("interval", ordering.KindInterval, ordering.Interval("P-1Y-2M3D"), "P-1Y-2M3D"),
	c("interval", ordering.KindInterval, ordering.Interval("PT0S"), "PT0S"),
	c("interval day to second(3)", ordering.KindInterval, ordering.Interval("P1DT0.123S"), "P1DT0.123S"),
	c("uuid", ordering.KindUUID, ordering.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
	c("json", ordering.KindJSON, ordering.JSON(`{"b": 1,  "a": [1, 2], "b": 2}`), `{"b": 1,  "a": [1, 2], "b": 2}`),
	c("jsonb", ordering.KindJSON, ordering.JSON(`{"a": [1, 2.50], "b": "\u00e9"}`), `{"a": [1, 2.50], "b": "é"}`),
	with(c("mood", ordering.KindEnum, ordering.Enum("happy"), "happy"), func(c *ordering.Column) { c.Enum = []string{"sad", "happy"} }),
	arr("text[]", ordering.KindString, ordering.Array(ordering.String("a"), ordering.String("b,c"), ordering.Null(), ordering.String("NULL"),
		ordering.String(`q"\`), ordering.String(""), ordering.String(" sp ")), `{a,"b,c",NULL,"NULL","q\"\\",""," sp "}`),
	arr("integer[]", ordering.KindInt, ordering.Array(ordering.Array(ordering.Int(1), ordering.Int(2)), ordering.Array(ordering.Int(3), ordering.Null())), "{{1,2},{3,NULL}}"),
	arr("integer[]", ordering.KindInt, ordering.Array(), "{}"),
	arr("bytea[]", ordering.KindBytes, ordering.Array(ordering.Bytes([]byte{1}), ordering.Null()), `{"\\x01",NULL}`),
	arr("numeric(5,2)[]", ordering.KindDecimal, ordering.Array(ordering.Decimal("1.50"), ordering.Decimal("NaN")), "{1.50,NaN}"),
	arr("timestamp with time zone[]", ordering.KindTimestampTZ, ordering.Array(ordering.TimestampTZ(0), ordering.Special(ordering.KindTimestampTZ, "infinity")),
		`{"1970-01-01 00:00:00+00",infinity}`),
	arr("date[]", ordering.KindDate, ordering.Array(ordering.Date(daysOf(0, 1, 1))), `{"0001-01-01 BC"}`),
	arr("mood[]", ordering.KindEnum, ordering.Array(ordering.Enum("sad"), ordering.Null()), "{sad,NULL}"),
	arr("box[]", ordering.KindText, ordering.Array(ordering.Text("(1,1),(0,0)"), ordering.Text("(3,3),(2,2)")), "{(1,1),(0,0);(3,3),(2,2)}"),
	arr("interval[]", ordering.KindInterval, ordering.Array(ordering.Interval("P1D")), "{P1D}"),
	c("inet", ordering.KindText, ordering.Text("192.168.0.1/24"), "192.168.0.1/24"),
	c("cidr", ordering.KindText, ordering.Text("10.0.0.0/8"), "10.0.0.0/8"),
	c("macaddr", ordering.KindText, ordering.Text("08:00:2b:01:02:03"), "08:00:2b:01:02:03"),
	c("money", ordering.KindText, ordering.Text("$1,234.56"), "$1,234.56"),
	c("bit(4)", ordering.KindText, ordering.Text("0101"), "0101"),
	c("bit varying(8)", ordering.KindText, ordering.Text("101"), "101"),
	c("point", ordering.KindText, ordering.Text("(1,2.5)"), "(1,2.5)"),
	c("xml", ordering.KindText, ordering.Text("<a>x</a>"), "<a>x</a>"),
	c("tsvector", ordering.KindText, ordering.Text("'a' 'b'"), "'a' 'b'"),
	c("tstzrange", ordering.KindText, ordering.Text(`["2024-01-01 00:00:00+00",infinity)`), `["2024-01-01 00:00:00+00",infinity)`),
	c(`"char"`, ordering.KindText, ordering.Text("x"), "x"),
	with(c("positive_amount", ordering.KindDecimal, ordering.Decimal("12.30"), "12.30"), func(c *ordering.Column) { c.Precision, c.Scale = 10, 2 }),
	with(c("short_code", ordering.KindString, ordering.String("abc"), "abc"), func(c *ordering.Column) { c.Length = 10 }),
	c("pair", ordering.KindText, ordering.Text(`(1,"a b")`), `(1,"a b")`),
	c("citext", ordering.KindString, ordering.String("MiXed"), "MiXed"),
}

// myCells are columns as a MySQL source describes them; want is what the
// PostgreSQL follower prints for the stored value.
var myCells = []cell{
	c("tinyint(1)", ordering.KindInt, ordering.Int(-128), "-128"),
	c("tinyint(1)", ordering.KindBool, ordering.Bool(true), "t"),
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
	c("bit(8)", ordering.KindUint, ordering.Uint(5), "00000101"),
	c("char(3)", ordering.KindString, ordering.String("abc"), "abc"),
	c("varchar(40)", ordering.KindString, ordering.String(`x'y\z`), `x'y\z`),
	c("longtext", ordering.KindString, ordering.String("long"), "long"),
	c("binary(4)", ordering.KindBytes, ordering.Bytes([]byte{1, 0, 0, 0}), `\x01000000`),
	c("blob", ordering.KindBytes, ordering.Bytes([]byte{}), `\x`),
	c("date", ordering.KindDate, ordering.Date(daysOf(1000, 1, 1)), "1000-01-01"),
	c("time(6)", ordering.KindTime, ordering.Time(-(838*3600+59*60+59)*sqltext.UsPerSec), "PT-838H-59M-59S"),
	c("time", ordering.KindTime, ordering.Time(25*3600*sqltext.UsPerSec+1), "PT25H0.000001S"),
	c("datetime(6)", ordering.KindTimestamp, ordering.Timestamp(usOf(9999, 12, 31, 23, 59, 59, 999_999)), "9999-12-31 23:59:59.999999"),
	c("datetime", ordering.KindTimestamp, ordering.Timestamp(usOf(1000, 1, 1, 0, 0, 0, 0)), "1000-01-01 00:00:00"),
	c("timestamp(3)", ordering.KindTimestampTZ, ordering.TimestampTZ(usOf(2038, 1, 19, 3, 14, 7, 123_000)), "2038-01-19 03:14:07.123+00"),
	c("year(4)", ordering.KindInt, ordering.Int(2024), "2024"),
	c("json", ordering.KindJSON, ordering.JSON(`{"k": [1, "two", null]}`), `{"k": [1, "two", null]}`),
	c("enum('a','b')", ordering.KindEnum, ordering.Enum("b"), "b"),
	c("set('x','y')", ordering.KindString, ordering.String("x,y"), "x,y"),
}

// roundTrip creates a table of cells with CreateTable, writes the values
// with a plain INSERT (row 1) and two Upserts (rows 2 and 3: NULLs then
// values, and values then NULLs), then the same through BulkLoad's COPY
// (row 4 inserted, rows 5 and 6 upserted twice), and compares what the
// follower stored, as text (concat) of the key's text.
func roundTrip(t *testing.T, d *Dialect, db *sql.DB, ctx context.Context, src string, cells []cell) {
	key := ordering.Column{Name: "id", Type: "bigint", Kind: ordering.KindInt}
	if src == "mysql" {
		key.Type = "bigint(20)"
	}
	ct := sinktest.CreateCells(t, ctx, d, db, sqlsink.Name{Schema: "rt_" + src, Table: "types"}, key, src, cells)
	row := func(id int64, null bool) []any { return ct.Row(t, d, fmt.Sprint(id), null) }
	if _, err := db.ExecContext(ctx, ct.Insert(d), row(1, false)...); err != nil {
		t.Fatalf("INSERT: %v", err)
	}
	upsert := d.Upsert(ct.Name, ct.Names, []string{"id"}, 2)
	for _, args := range [][]any{append(row(2, true), row(3, false)...), append(row(2, false), row(3, true)...)} {
		if _, err := db.ExecContext(ctx, upsert, args...); err != nil {
			t.Fatalf("Upsert: %v", err)
		}
	}
	bulk := func(key []string, rows ...[]any) {
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
		if err := d.BulkLoad(ctx, conn, ct.Name, ct.Names, key, rows); err != nil {
			t.Fatalf("BulkLoad(key %v): %v", key, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	bulk(nil, row(4, false))
	bulk([]string{"id"}, row(5, true), row(6, false))
	bulk([]string{"id"}, row(5, false), row(6, true))
	ct.Check(t, ctx, d, db, map[int64]bool{1: false, 2: false, 3: true, 4: false, 5: false, 6: true},
		func(q string, _ sinktest.Cell) string {
			return "CASE WHEN " + q + " IS NULL THEN NULL ELSE concat(" + q + ") END"
		},
		func(id int64) any { return fmt.Sprint(id) })
}

func TestIntegrationRoundTripFromPostgres(t *testing.T) {
	d, db, ctx := follower(t)
	roundTrip(t, d, db, ctx, "postgres", pgCells)
}

func TestIntegrationRoundTripFromMySQL(t *testing.T) {
	d, db, ctx := follower(t)
	roundTrip(t, d, db, ctx, "mysql", myCells)
}
