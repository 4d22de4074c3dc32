package sinktest

import (
	"math"
	"testing"
	"time"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqltext"
)

// SourceCell is a round-trip cell as a source sends it, and what each
// follower engine stores of it.
type SourceCell struct {
	Cell       // the source's column and value
	Want Wants // by follower engine; an engine with none leaves the cell out
}

// Wants are the texts follower engines store, by engine name.
type Wants = map[string]Want

// Want is the text a follower stores, read with Read (a format of the
// quoted column; the plain column when empty).
type Want struct{ Text, Read string }

// CellsFor is the cells of engine: those that have a Want for it.
func CellsFor(engine string, cells []SourceCell) []Cell {
	var out []Cell
	for _, x := range cells {
		if w, ok := x.Want[engine]; ok {
			c := x.Cell
			c.Want, c.Read = w.Text, w.Read
			out = append(out, c)
		}
	}
	return out
}

// Days is the day number of a proleptic Gregorian date (year 0 is 1 BC)
// counted from 1970-01-01.
func Days(y int64, m, d int) int64 {
	return time.Date(int(y), time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// Micros is the microseconds of a proleptic Gregorian date and time since
// 1970-01-01 00:00:00.
func Micros(y int64, m, d, h, mi, s int, frac int64) int64 {
	return time.Date(int(y), time.Month(m), d, h, mi, s, 0, time.UTC).UnixMicro() + frac
}

// FromPostgres are columns as the PostgreSQL source describes them, with
// values as it decodes them. For a PostgreSQL follower the text is the
// source's own output text.
var FromPostgres = []SourceCell{
	{C("smallint", ordering.KindInt, ordering.Int(-32768)), Wants{"mysql": {Text: "-32768"}, "postgres": {Text: "-32768"}}},
	{C("integer", ordering.KindInt, ordering.Int(math.MaxInt32)), Wants{"mysql": {Text: "2147483647"}, "postgres": {Text: "2147483647"}}},
	{C("bigint", ordering.KindInt, ordering.Int(math.MinInt64)), Wants{"mysql": {Text: "-9223372036854775808"}, "postgres": {Text: "-9223372036854775808"}}},
	{C("oid", ordering.KindInt, ordering.Int(math.MaxUint32)), Wants{"mysql": {Text: "4294967295"}, "postgres": {Text: "4294967295"}}},
	{With(C("numeric(12,2)", ordering.KindDecimal, ordering.Decimal("-1234567890.12")), func(c *ordering.Column) { c.Precision, c.Scale = 12, 2 }), Wants{"mysql": {Text: "-1234567890.12"}, "postgres": {Text: "-1234567890.12"}}},
	{C("numeric", ordering.KindDecimal, ordering.Decimal("0.000000000000000000000000000000000001000")), Wants{"postgres": {Text: "0.000000000000000000000000000000000001000"}}},
	{C("numeric", ordering.KindDecimal, ordering.Decimal("NaN")), Wants{"postgres": {Text: "NaN"}}},
	{C("numeric", ordering.KindDecimal, ordering.Decimal("-Infinity")), Wants{"postgres": {Text: "-Infinity"}}},
	{C("numeric", ordering.KindDecimal, ordering.Decimal("0.000000000000000000000000000001")), Wants{"mysql": {Text: "0.000000000000000000000000000001"}}},
	{C("numeric", ordering.KindDecimal, ordering.Decimal("-12345678901234567890123456789012345.5")), Wants{"mysql": {Text: "-12345678901234567890123456789012345.500000000000000000000000000000"}}},
	{With(C("numeric(3,-2)", ordering.KindDecimal, ordering.Decimal("99900")), func(c *ordering.Column) { c.Precision, c.Scale = 3, -2 }), Wants{"mysql": {Text: "99900"}}},
	{With(C("numeric(2,5)", ordering.KindDecimal, ordering.Decimal("0.00099")), func(c *ordering.Column) { c.Precision, c.Scale = 2, 5 }), Wants{"mysql": {Text: "0.00099"}}},
	{C("real", ordering.KindFloat, ordering.Float(float64(float32(0.1)))), Wants{"mysql": {"0.10000000149011612", "CAST(%s AS DOUBLE)"}, "postgres": {Text: "0.1"}}},
	{C("real", ordering.KindFloat, ordering.Float(float64(float32(math.MaxFloat32)))), Wants{"postgres": {Text: "3.4028235e+38"}}},
	{C("double precision", ordering.KindFloat, ordering.Float(math.NaN())), Wants{"postgres": {Text: "NaN"}}},
	{C("double precision", ordering.KindFloat, ordering.Float(math.Inf(-1))), Wants{"postgres": {Text: "-Infinity"}}},
	{C("double precision", ordering.KindFloat, ordering.Float(math.Copysign(0, -1))), Wants{"postgres": {Text: "-0"}}},
	{C("double precision", ordering.KindFloat, ordering.Float(0.30000000000000004)), Wants{"mysql": {Text: "0.30000000000000004"}}},
	{C("double precision", ordering.KindFloat, ordering.Float(1e308)), Wants{"mysql": {Text: "1e+308"}, "postgres": {Text: "1e+308"}}},
	{C("double precision", ordering.KindFloat, ordering.Float(5e-324)), Wants{"mysql": {Text: "5e-324"}, "postgres": {Text: "5e-324"}}},
	{C("double precision", ordering.KindFloat, ordering.Float(0.1)), Wants{"postgres": {Text: "0.1"}}},
	{C("boolean", ordering.KindBool, ordering.Bool(true)), Wants{"mysql": {Text: "1"}, "postgres": {Text: "t"}}},
	{C("text", ordering.KindString, ordering.String("it's a \\ \"q\" ünï 😀 {x,y}\n$1")), Wants{"postgres": {Text: "it's a \\ \"q\" ünï 😀 {x,y}\n$1"}}},
	{C("character varying(40)", ordering.KindString, ordering.String("")), Wants{"postgres": {Text: ""}}},
	{C("character(5)", ordering.KindString, ordering.String("ab   ")), Wants{"postgres": {Text: "ab   "}}},
	{C("name", ordering.KindString, ordering.String("pg_class")), Wants{"postgres": {Text: "pg_class"}}},
	{C("text", ordering.KindString, ordering.String("it's a \\ \"q\" ünï 😀 \x00 %_?")), Wants{"mysql": {Text: "it's a \\ \"q\" ünï 😀 \x00 %_?"}}},
	{With(C("character varying(40)", ordering.KindString, ordering.String("")), func(c *ordering.Column) { c.Length = 40 }), Wants{"mysql": {Text: ""}}},
	{With(C("character(5)", ordering.KindString, ordering.String("ab   ")), func(c *ordering.Column) { c.Length = 5 }), Wants{"mysql": {Text: "ab   "}}},
	{C("bytea", ordering.KindBytes, ordering.Bytes([]byte{0, 0xff, '\\', '\''})), Wants{"mysql": {"00FF5C27", "HEX(%s)"}, "postgres": {Text: `\x00ff5c27`}}},
	{C("bytea", ordering.KindBytes, ordering.Bytes(nil)), Wants{"mysql": {"", "HEX(%s)"}, "postgres": {Text: `\x`}}},
	{C("date", ordering.KindDate, ordering.Date(Days(-43, 3, 15))), Wants{"postgres": {Text: "0044-03-15 BC"}}},
	{C("date", ordering.KindDate, ordering.Date(Days(5874897, 12, 31))), Wants{"postgres": {Text: "5874897-12-31"}}},
	{C("date", ordering.KindDate, ordering.Special(ordering.KindDate, "infinity")), Wants{"postgres": {Text: "infinity"}}},
	{C("date", ordering.KindDate, ordering.Date(Days(1, 1, 1))), Wants{"mysql": {Text: "0001-01-01"}}},
	{C("date", ordering.KindDate, ordering.Date(Days(9999, 12, 31))), Wants{"mysql": {Text: "9999-12-31"}}},
	{C("time without time zone", ordering.KindTime, ordering.Time(86_400_000_000)), Wants{"mysql": {Text: "24:00:00.000000"}, "postgres": {Text: "24:00:00"}}},
	{C("time(3) without time zone", ordering.KindTime, ordering.Time(45_296_789_000)), Wants{"mysql": {Text: "12:34:56.789"}, "postgres": {Text: "12:34:56.789"}}},
	{C("time with time zone", ordering.KindText, ordering.Text("13:45:00+02")), Wants{"mysql": {Text: "13:45:00+02"}, "postgres": {Text: "13:45:00+02"}}},
	{C("timestamp without time zone", ordering.KindTimestamp, ordering.Timestamp(Micros(-43, 3, 15, 10, 0, 0, 500_000))), Wants{"postgres": {Text: "0044-03-15 10:00:00.5 BC"}}},
	{C("timestamp without time zone", ordering.KindTimestamp, ordering.Special(ordering.KindTimestamp, "-infinity")), Wants{"postgres": {Text: "-infinity"}}},
	{C("timestamp without time zone", ordering.KindTimestamp, ordering.Timestamp(Micros(1, 1, 1, 0, 0, 0, 1))), Wants{"mysql": {Text: "0001-01-01 00:00:00.000001"}}},
	{C("timestamp(3) with time zone", ordering.KindTimestampTZ, ordering.TimestampTZ(Micros(2024, 2, 29, 23, 59, 59, 123_000))), Wants{"mysql": {Text: "2024-02-29 23:59:59.123"}, "postgres": {Text: "2024-02-29 23:59:59.123+00"}}},
	{C("timestamp with time zone", ordering.KindTimestampTZ, ordering.TimestampTZ(Micros(-4713, 11, 24, 0, 0, 0, 0))), Wants{"postgres": {Text: "4714-11-24 00:00:00+00 BC"}}},
	{C("timestamp with time zone", ordering.KindTimestampTZ, ordering.Special(ordering.KindTimestampTZ, "294270-01-01 00:00:00+00")), Wants{"postgres": {Text: "294270-01-01 00:00:00+00"}}},
	{C("timestamp with time zone", ordering.KindTimestampTZ, ordering.TimestampTZ(Micros(2038, 1, 19, 3, 14, 8, 0))), Wants{"mysql": {Text: "2038-01-19 03:14:08.000000"}}},
	{C("interval", ordering.KindInterval, ordering.Interval("P1Y2M3DT4H5M6.78S")), Wants{"mysql": {Text: "P1Y2M3DT4H5M6.78S"}, "postgres": {Text: "P1Y2M3DT4H5M6.78S"}}},
	{C("interval", ordering.KindInterval, ordering.Interval("P-1Y-2M3D")), Wants{"postgres": {Text: "P-1Y-2M3D"}}},
	{C("interval", ordering.KindInterval, ordering.Interval("PT0S")), Wants{"postgres": {Text: "PT0S"}}},
	{C("interval day to second(3)", ordering.KindInterval, ordering.Interval("P1DT0.123S")), Wants{"postgres": {Text: "P1DT0.123S"}}},
	{C("uuid", ordering.KindUUID, ordering.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")), Wants{"mysql": {Text: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, "postgres": {Text: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}}},
	{C("json", ordering.KindJSON, ordering.JSON(`{"b": 1,  "a": [1, 2], "b": 2}`)), Wants{"mysql": {Text: `{"b": 1,  "a": [1, 2], "b": 2}`}, "postgres": {Text: `{"b": 1,  "a": [1, 2], "b": 2}`}}},
	{C("jsonb", ordering.KindJSON, ordering.JSON(`{"a": [1, 2.50], "b": "\u00e9"}`)), Wants{"postgres": {Text: `{"a": [1, 2.50], "b": "é"}`}}},
	{With(C("mood", ordering.KindEnum, ordering.Enum("happy")), func(c *ordering.Column) { c.Enum = []string{"sad", "happy"} }), Wants{"postgres": {Text: "happy"}}},
	{Arr("text[]", ordering.KindString, ordering.Array(ordering.String("a"), ordering.String("b,c"), ordering.Null(), ordering.String("NULL"),
		ordering.String(`q"\`), ordering.String(""), ordering.String(" sp "))), Wants{"postgres": {Text: `{a,"b,c",NULL,"NULL","q\"\\",""," sp "}`}}},
	{C("jsonb", ordering.KindJSON, ordering.JSON(`{"a": [1, 2.50], "b": "é"}`)), Wants{"mysql": {Text: `{"a": [1, 2.50], "b": "é"}`}}},
	{With(C("mood", ordering.KindEnum, ordering.Enum("Happy")), func(c *ordering.Column) { c.Enum = []string{"sad", "happy", "Happy", "it's"} }), Wants{"mysql": {Text: "Happy"}}},
	{C("mood", ordering.KindEnum, ordering.Enum("new label")), Wants{"mysql": {Text: "new label"}}},
	{Arr("text[]", ordering.KindString, ordering.Array(ordering.String("a"), ordering.String("b,c"), ordering.Null(), ordering.String("NULL"),
		ordering.String(`q"\`), ordering.String(""))), Wants{"mysql": {Text: `["a","b,c",null,"NULL","q\"\\",""]`}}},
	{Arr("integer[]", ordering.KindInt, ordering.Array(ordering.Array(ordering.Int(1), ordering.Int(2)), ordering.Array(ordering.Int(3), ordering.Null()))), Wants{"mysql": {Text: "[[1,2],[3,null]]"}, "postgres": {Text: "{{1,2},{3,NULL}}"}}},
	{Arr("integer[]", ordering.KindInt, ordering.Array()), Wants{"postgres": {Text: "{}"}}},
	{Arr("bytea[]", ordering.KindBytes, ordering.Array(ordering.Bytes([]byte{1}), ordering.Null())), Wants{"mysql": {Text: `["\\x01",null]`}, "postgres": {Text: `{"\\x01",NULL}`}}},
	{Arr("numeric(5,2)[]", ordering.KindDecimal, ordering.Array(ordering.Decimal("1.50"), ordering.Decimal("NaN"))), Wants{"postgres": {Text: "{1.50,NaN}"}}},
	{Arr("numeric[]", ordering.KindDecimal, ordering.Array(ordering.Decimal("1.50"), ordering.Decimal("NaN"))), Wants{"mysql": {Text: `[1.50,"NaN"]`}}},
	{Arr("double precision[]", ordering.KindFloat, ordering.Array(ordering.Float(math.NaN()), ordering.Float(1.5))), Wants{"mysql": {Text: `["NaN",1.5]`}}},
	{Arr("timestamp with time zone[]", ordering.KindTimestampTZ, ordering.Array(ordering.TimestampTZ(0), ordering.Special(ordering.KindTimestampTZ, "infinity"))), Wants{"mysql": {Text: `["1970-01-01T00:00:00.000000+00:00","infinity"]`}, "postgres": {Text: `{"1970-01-01 00:00:00+00",infinity}`}}},
	{Arr("date[]", ordering.KindDate, ordering.Array(ordering.Date(Days(0, 1, 1)))), Wants{"postgres": {Text: `{"0001-01-01 BC"}`}}},
	{Arr("mood[]", ordering.KindEnum, ordering.Array(ordering.Enum("sad"), ordering.Null())), Wants{"postgres": {Text: "{sad,NULL}"}}},
	{Arr("box[]", ordering.KindText, ordering.Array(ordering.Text("(1,1),(0,0)"), ordering.Text("(3,3),(2,2)"))), Wants{"postgres": {Text: "{(1,1),(0,0);(3,3),(2,2)}"}}},
	{Arr("interval[]", ordering.KindInterval, ordering.Array(ordering.Interval("P1D"))), Wants{"postgres": {Text: "{P1D}"}}},
	{C("inet", ordering.KindText, ordering.Text("192.168.0.1/24")), Wants{"mysql": {Text: "192.168.0.1/24"}, "postgres": {Text: "192.168.0.1/24"}}},
	{C("cidr", ordering.KindText, ordering.Text("10.0.0.0/8")), Wants{"postgres": {Text: "10.0.0.0/8"}}},
	{C("macaddr", ordering.KindText, ordering.Text("08:00:2b:01:02:03")), Wants{"postgres": {Text: "08:00:2b:01:02:03"}}},
	{C("money", ordering.KindText, ordering.Text("$1,234.56")), Wants{"postgres": {Text: "$1,234.56"}}},
	{C("bit(4)", ordering.KindText, ordering.Text("0101")), Wants{"postgres": {Text: "0101"}}},
	{C("bit varying(8)", ordering.KindText, ordering.Text("101")), Wants{"postgres": {Text: "101"}}},
	{C("point", ordering.KindText, ordering.Text("(1,2.5)")), Wants{"postgres": {Text: "(1,2.5)"}}},
	{C("xml", ordering.KindText, ordering.Text("<a>x</a>")), Wants{"postgres": {Text: "<a>x</a>"}}},
	{C("tsvector", ordering.KindText, ordering.Text("'a' 'b'")), Wants{"postgres": {Text: "'a' 'b'"}}},
	{C("tstzrange", ordering.KindText, ordering.Text(`["2024-01-01 00:00:00+00",infinity)`)), Wants{"postgres": {Text: `["2024-01-01 00:00:00+00",infinity)`}}},
	{C(`"char"`, ordering.KindText, ordering.Text("x")), Wants{"postgres": {Text: "x"}}},
	{With(C("positive_amount", ordering.KindDecimal, ordering.Decimal("12.30")), func(c *ordering.Column) { c.Precision, c.Scale = 10, 2 }), Wants{"mysql": {Text: "12.30"}, "postgres": {Text: "12.30"}}},
	{With(C("short_code", ordering.KindString, ordering.String("abc")), func(c *ordering.Column) { c.Length = 10 }), Wants{"mysql": {Text: "abc"}, "postgres": {Text: "abc"}}},
	{C("pair", ordering.KindText, ordering.Text(`(1,"a b")`)), Wants{"postgres": {Text: `(1,"a b")`}}},
	{C("citext", ordering.KindString, ordering.String("MiXed")), Wants{"postgres": {Text: "MiXed"}}},
}

// FromMySQL are columns as a MySQL source describes them, with values as it
// decodes them.
var FromMySQL = []SourceCell{
	{C("tinyint(1)", ordering.KindInt, ordering.Int(-128)), Wants{"mysql": {Text: "-128"}, "postgres": {Text: "-128"}}},
	{C("tinyint(1)", ordering.KindBool, ordering.Bool(true)), Wants{"mysql": {Text: "1"}, "postgres": {Text: "t"}}},
	{C("tinyint(3) unsigned", ordering.KindUint, ordering.Uint(255)), Wants{"mysql": {Text: "255"}, "postgres": {Text: "255"}}},
	{C("smallint(5) unsigned", ordering.KindUint, ordering.Uint(65535)), Wants{"mysql": {Text: "65535"}, "postgres": {Text: "65535"}}},
	{C("mediumint(8) unsigned", ordering.KindUint, ordering.Uint(16777215)), Wants{"mysql": {Text: "16777215"}, "postgres": {Text: "16777215"}}},
	{C("int(11)", ordering.KindInt, ordering.Int(math.MinInt32)), Wants{"mysql": {Text: "-2147483648"}, "postgres": {Text: "-2147483648"}}},
	{C("int(10) unsigned", ordering.KindUint, ordering.Uint(math.MaxUint32)), Wants{"mysql": {Text: "4294967295"}, "postgres": {Text: "4294967295"}}},
	{C("bigint(20)", ordering.KindInt, ordering.Int(math.MaxInt64)), Wants{"mysql": {Text: "9223372036854775807"}, "postgres": {Text: "9223372036854775807"}}},
	{C("bigint(20) unsigned", ordering.KindUint, ordering.Uint(math.MaxUint64)), Wants{"mysql": {Text: "18446744073709551615"}, "postgres": {Text: "18446744073709551615"}}},
	{C("decimal(10,2)", ordering.KindDecimal, ordering.Decimal("-12345678.90")), Wants{"mysql": {Text: "-12345678.90"}, "postgres": {Text: "-12345678.90"}}},
	{C("decimal(65,30)", ordering.KindDecimal, ordering.Decimal("1.500000000000000000000000000000")), Wants{"mysql": {Text: "1.500000000000000000000000000000"}, "postgres": {Text: "1.500000000000000000000000000000"}}},
	{C("float", ordering.KindFloat, ordering.Float(float64(float32(3.14)))), Wants{"mysql": {Text: "3.14"}, "postgres": {Text: "3.14"}}},
	{C("double", ordering.KindFloat, ordering.Float(-1.5e-300)), Wants{"mysql": {Text: "-1.5e-300"}, "postgres": {Text: "-1.5e-300"}}},
	{C("bit(8)", ordering.KindUint, ordering.Uint(5)), Wants{"mysql": {"101", "BIN(%s)"}, "postgres": {Text: "00000101"}}},
	{C("char(3)", ordering.KindString, ordering.String("abc")), Wants{"mysql": {Text: "abc"}, "postgres": {Text: "abc"}}},
	{C("varchar(40)", ordering.KindString, ordering.String(`x'y\z`)), Wants{"mysql": {Text: `x'y\z`}, "postgres": {Text: `x'y\z`}}},
	{C("varchar(20000)", ordering.KindString, ordering.String("wide")), Wants{"mysql": {Text: "wide"}}},
	{C("longtext", ordering.KindString, ordering.String("long")), Wants{"mysql": {Text: "long"}, "postgres": {Text: "long"}}},
	{C("binary(4)", ordering.KindBytes, ordering.Bytes([]byte{1, 0, 0, 0})), Wants{"mysql": {"01000000", "HEX(%s)"}, "postgres": {Text: `\x01000000`}}},
	{C("blob", ordering.KindBytes, ordering.Bytes([]byte{})), Wants{"mysql": {"", "HEX(%s)"}, "postgres": {Text: `\x`}}},
	{C("date", ordering.KindDate, ordering.Date(Days(1000, 1, 1))), Wants{"mysql": {Text: "1000-01-01"}, "postgres": {Text: "1000-01-01"}}},
	{C("date", ordering.KindDate, ordering.Special(ordering.KindDate, "0000-00-00")), Wants{"mysql": {Text: "0000-00-00"}}},
	{C("time(6)", ordering.KindTime, ordering.Time(-(838*3600+59*60+59)*sqltext.UsPerSec)), Wants{"mysql": {Text: "-838:59:59.000000"}, "postgres": {Text: "PT-838H-59M-59S"}}},
	{C("time", ordering.KindTime, ordering.Time(25*3600*sqltext.UsPerSec+1)), Wants{"postgres": {Text: "PT25H0.000001S"}}},
	{C("time", ordering.KindTime, ordering.Time(25*3600*sqltext.UsPerSec)), Wants{"mysql": {Text: "25:00:00"}}},
	{C("datetime(6)", ordering.KindTimestamp, ordering.Timestamp(Micros(9999, 12, 31, 23, 59, 59, 999_999))), Wants{"mysql": {Text: "9999-12-31 23:59:59.999999"}, "postgres": {Text: "9999-12-31 23:59:59.999999"}}},
	{C("datetime", ordering.KindTimestamp, ordering.Timestamp(Micros(1000, 1, 1, 0, 0, 0, 0))), Wants{"postgres": {Text: "1000-01-01 00:00:00"}}},
	{C("datetime", ordering.KindTimestamp, ordering.Special(ordering.KindTimestamp, "0000-00-00 00:00:00")), Wants{"mysql": {Text: "0000-00-00 00:00:00"}}},
	{C("timestamp(3)", ordering.KindTimestampTZ, ordering.TimestampTZ(Micros(2038, 1, 19, 3, 14, 7, 123_000))), Wants{"mysql": {Text: "2038-01-19 03:14:07.123"}, "postgres": {Text: "2038-01-19 03:14:07.123+00"}}},
	{C("year(4)", ordering.KindInt, ordering.Int(2024)), Wants{"mysql": {Text: "2024"}, "postgres": {Text: "2024"}}},
	{C("json", ordering.KindJSON, ordering.JSON(`{"k": [1, "two", null]}`)), Wants{"mysql": {Text: `{"k": [1, "two", null]}`}, "postgres": {Text: `{"k": [1, "two", null]}`}}},
	{C("enum('a','b')", ordering.KindEnum, ordering.Enum("b")), Wants{"mysql": {Text: "b"}, "postgres": {Text: "b"}}},
	{C("set('x','y')", ordering.KindString, ordering.String("x,y")), Wants{"mysql": {Text: "x,y"}, "postgres": {Text: "x,y"}}},
}

// RoundTrips runs run in a subtest From<Engine> for each source engine,
// with the cells of that source that follower (an engine name) stores.
func RoundTrips(t *testing.T, follower string, run func(t *testing.T, src string, cells []Cell)) {
	for _, s := range []struct {
		name, engine string
		cells        []SourceCell
	}{{"FromPostgres", "postgres", FromPostgres}, {"FromMySQL", "mysql", FromMySQL}} {
		t.Run(s.name, func(t *testing.T) { run(t, s.engine, CellsFor(follower, s.cells)) })
	}
}
