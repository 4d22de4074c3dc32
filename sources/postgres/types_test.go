package postgres

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/ordering"
)

// A fake catalog: the pg_type rows of the built-in types the tests use
// (real OIDs), plus an enum, domains, citext and hstore as extensions
// would create them.
const (
	oidMood        = 90001 // enum mood ('sad', 'ok', 'happy')
	oidMoodArray   = 90002
	oidAmount      = 90003 // domain amount AS numeric(10,2)
	oidAmountArray = 90004
	oidCitext      = 90005
	oidHstore      = 90006
	oidIntList     = 90007 // domain int_list AS int4[]
	oidPrice       = 90008 // domain price AS amount
	oidMoodDomain  = 90009 // domain mood_d AS mood
)

func tvBaseRow(oid uint32, name string, cat byte, length int16) *typeRow {
	return &typeRow{OID: oid, Name: name, Type: 'b', Category: cat, Len: length, Delim: ','}
}

func tvArrayRow(oid uint32, name string, elem uint32) *typeRow {
	return &typeRow{OID: oid, Name: name, Type: 'b', Category: 'A', Elem: elem, Len: -1, Delim: ','}
}

func tvDomainRow(oid uint32, name string, base uint32, mod int32) *typeRow {
	return &typeRow{OID: oid, Name: name, Type: 'd', Category: 'N', BaseType: base, BaseTypmod: mod, Len: -1, Delim: ','}
}

var tvRows = func() map[uint32]*typeRow {
	rows := []*typeRow{
		tvBaseRow(oidBool, "bool", 'B', 1), tvBaseRow(oidBytea, "bytea", 'U', -1),
		{OID: 18, Name: "char", Type: 'b', Category: 'Z', Len: 1, Delim: ','},
		{OID: oidName, Name: "name", Type: 'b', Category: 'S', Elem: 18, Len: 64, Delim: ','},
		tvBaseRow(oidInt8, "int8", 'N', 8), tvBaseRow(oidInt2, "int2", 'N', 2), tvBaseRow(oidInt4, "int4", 'N', 4),
		{OID: oidInt2Vector, Name: "int2vector", Type: 'b', Category: 'A', Elem: oidInt2, Len: -1, Delim: ','},
		tvBaseRow(oidText, "text", 'S', -1), tvBaseRow(oidOID, "oid", 'N', 4),
		tvBaseRow(oidJSON, "json", 'U', -1), tvBaseRow(oidJSONB, "jsonb", 'U', -1),
		tvBaseRow(oidFloat4, "float4", 'N', 4), tvBaseRow(oidFloat8, "float8", 'N', 8),
		{OID: 600, Name: "point", Type: 'b', Category: 'G', Elem: oidFloat8, Len: 16, Delim: ','},
		{OID: 603, Name: "box", Type: 'b', Category: 'G', Elem: 600, Len: 32, Delim: ';'},
		tvBaseRow(790, "money", 'N', 8), tvBaseRow(869, "inet", 'I', -1), tvBaseRow(142, "xml", 'U', -1),
		tvBaseRow(3614, "tsvector", 'U', -1),
		{OID: 3904, Name: "int4range", Type: 'r', Category: 'R', Len: -1, Delim: ','},
		tvBaseRow(oidBPChar, "bpchar", 'S', -1), tvBaseRow(oidVarchar, "varchar", 'S', -1),
		tvBaseRow(oidDate, "date", 'D', 4), tvBaseRow(oidTime, "time", 'D', 8), tvBaseRow(oidTimeTZ, "timetz", 'D', 12),
		tvBaseRow(oidTimestamp, "timestamp", 'D', 8), tvBaseRow(oidTimestampTZ, "timestamptz", 'D', 8),
		tvBaseRow(oidInterval, "interval", 'T', 16), tvBaseRow(oidBit, "bit", 'V', -1), tvBaseRow(oidVarbit, "varbit", 'V', -1),
		tvBaseRow(oidNumeric, "numeric", 'N', -1), tvBaseRow(oidUUID, "uuid", 'U', 16),
		tvArrayRow(1000, "_bool", oidBool), tvArrayRow(1001, "_bytea", oidBytea), tvArrayRow(1007, "_int4", oidInt4),
		tvArrayRow(1009, "_text", oidText), tvArrayRow(1015, "_varchar", oidVarchar), tvArrayRow(1231, "_numeric", oidNumeric),
		tvArrayRow(1182, "_date", oidDate), tvArrayRow(199, "_json", oidJSON), tvArrayRow(1020, "_box", 603),
		tvArrayRow(1021, "_float4", oidFloat4), tvArrayRow(1185, "_timestamptz", oidTimestampTZ),
		{OID: oidMood, Name: "mood", Type: 'e', Category: 'E', Len: 4, Delim: ','},
		tvArrayRow(oidMoodArray, "_mood", oidMood),
		tvDomainRow(oidAmount, "amount", oidNumeric, tvNumericMod(10, 2)),
		tvArrayRow(oidAmountArray, "_amount", oidAmount),
		tvBaseRow(oidCitext, "citext", 'S', -1), tvBaseRow(oidHstore, "hstore", 'U', -1),
		tvDomainRow(oidIntList, "int_list", 1007, -1), tvDomainRow(oidPrice, "price", oidAmount, -1),
		tvDomainRow(oidMoodDomain, "mood_d", oidMood, -1),
	}
	m := map[uint32]*typeRow{}
	for _, r := range rows {
		m[r.OID] = r
	}
	return m
}()

var tvLabels = map[uint32][]string{oidMood: {"sad", "ok", "happy"}}

func tvNumericMod(p, s int) int32 { return int32(p<<16|(s&0x7ff)) + 4 }

// fakeType resolves oid/typmod against the fake catalog; names are the
// typnames (format_type is the server's business).
func tvType(t testing.TB, oid uint32, mod int32) *pgType {
	t.Helper()
	ref := typeRef{oid, mod}
	m, err := buildTypes([]typeRef{ref}, tvRows, nil, tvLabels)
	if err != nil {
		t.Fatalf("buildTypes(%d): %v", oid, err)
	}
	return m[ref]
}

func tvF4(f float32) ordering.Value { return ordering.Float(float64(f)) }

// days is the date's day number computed with the time package (astronomical years).
func tvDays(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func tvMicros(y, mo, d, h, mi, s, us int) int64 {
	return time.Date(y, time.Month(mo), d, h, mi, s, us*1000, time.UTC).UnixMicro()
}

func tvArr(v ...ordering.Value) ordering.Value { return ordering.Array(v...) }

func tvInts(v ...int64) ordering.Value {
	out := make([]ordering.Value, len(v))
	for i, n := range v {
		out[i] = ordering.Int(n)
	}
	return ordering.Array(out...)
}

var tvNull = ordering.Null()

type tvDecodeCase struct {
	oid  uint32
	mod  int32
	in   string
	want ordering.Value
	err  bool
}

var tvDecodeCases = []tvDecodeCase{
	// integers
	{oid: oidInt2, in: "-32768", want: ordering.Int(-32768)},
	{oid: oidInt4, in: "0", want: ordering.Int(0)},
	{oid: oidInt8, in: "9223372036854775807", want: ordering.Int(math.MaxInt64)},
	{oid: oidInt8, in: "-9223372036854775808", want: ordering.Int(math.MinInt64)},
	{oid: oidOID, in: "4294967295", want: ordering.Int(4294967295)},
	{oid: oidInt4, in: "1.5", err: true},
	{oid: oidInt4, in: "", err: true},
	// numeric: exact text
	{oid: oidNumeric, in: "NaN", want: ordering.Decimal("NaN")},
	{oid: oidNumeric, in: "Infinity", want: ordering.Decimal("Infinity")},
	{oid: oidNumeric, in: "-Infinity", want: ordering.Decimal("-Infinity")},
	{oid: oidNumeric, in: "-0.00", want: ordering.Decimal("-0.00")},
	{oid: oidNumeric, mod: tvNumericMod(12, 4), in: "12.3400", want: ordering.Decimal("12.3400")},
	{oid: oidNumeric, in: "1234567890123456789012345678901234567890.000000000000000000001",
		want: ordering.Decimal("1234567890123456789012345678901234567890.000000000000000000001")},
	{oid: oidNumeric, in: "-9999999999999999999999999999999999999999", want: ordering.Decimal("-9999999999999999999999999999999999999999")},
	{oid: oidNumeric, in: "1e5", err: true},
	{oid: oidNumeric, in: "-", err: true},
	{oid: oidNumeric, in: "1.2.3", err: true},
	{oid: oidNumeric, in: "nan", err: true},
	// floats
	{oid: oidFloat8, in: "NaN", want: ordering.Float(math.NaN())},
	{oid: oidFloat8, in: "Infinity", want: ordering.Float(math.Inf(1))},
	{oid: oidFloat8, in: "-Infinity", want: ordering.Float(math.Inf(-1))},
	{oid: oidFloat8, in: "-0", want: ordering.Float(math.Copysign(0, -1))},
	{oid: oidFloat8, in: "0", want: ordering.Float(0)},
	{oid: oidFloat8, in: "0.1", want: ordering.Float(0.1)},
	{oid: oidFloat8, in: "1.7976931348623157e+308", want: ordering.Float(math.MaxFloat64)},
	{oid: oidFloat8, in: "5e-324", want: ordering.Float(math.SmallestNonzeroFloat64)},
	{oid: oidFloat8, in: "inf", err: true},
	{oid: oidFloat4, in: "0.1", want: tvF4(0.1)},
	{oid: oidFloat4, in: "0.100000001", want: tvF4(0.1)}, // extra_float_digits=3 on old servers
	{oid: oidFloat4, in: "3.4028235e+38", want: tvF4(math.MaxFloat32)},
	{oid: oidFloat4, in: "1e-45", want: tvF4(math.SmallestNonzeroFloat32)},
	{oid: oidFloat4, in: "-0", want: ordering.Float(math.Copysign(0, -1))},
	{oid: oidFloat4, in: "NaN", want: ordering.Float(math.NaN())},
	{oid: oidFloat4, in: "-Infinity", want: ordering.Float(math.Inf(-1))},
	// bool
	{oid: oidBool, in: "t", want: ordering.Bool(true)},
	{oid: oidBool, in: "f", want: ordering.Bool(false)},
	{oid: oidBool, in: "true", err: true},
	// strings
	{oid: oidText, in: "", want: ordering.String("")},
	{oid: oidText, in: "héllo 👋🏽 世界", want: ordering.String("héllo 👋🏽 世界")},
	{oid: oidVarchar, mod: 44, in: " lead and trail ", want: ordering.String(" lead and trail ")},
	{oid: oidBPChar, mod: 9, in: "ab   ", want: ordering.String("ab   ")},
	{oid: oidName, in: "pg_class", want: ordering.String("pg_class")},
	{oid: oidCitext, in: "MiXeD", want: ordering.String("MiXeD")},
	// bytea
	{oid: oidBytea, in: `\x00ff7f80`, want: ordering.Bytes([]byte{0x00, 0xff, 0x7f, 0x80})},
	{oid: oidBytea, in: `\x`, want: ordering.Bytes([]byte{})},
	{oid: oidBytea, in: `\x0`, err: true},
	{oid: oidBytea, in: `\xzz`, err: true},
	{oid: oidBytea, in: `abc`, err: true},
	// date
	{oid: oidDate, in: "1970-01-01", want: ordering.Date(0)},
	{oid: oidDate, in: "1969-12-31", want: ordering.Date(-1)},
	{oid: oidDate, in: "2000-02-29", want: ordering.Date(tvDays(2000, 2, 29))},
	{oid: oidDate, in: "1900-03-01", want: ordering.Date(tvDays(1900, 3, 1))},
	{oid: oidDate, in: "0001-01-01", want: ordering.Date(tvDays(1, 1, 1))},
	{oid: oidDate, in: "0001-12-31 BC", want: ordering.Date(tvDays(0, 12, 31))},
	{oid: oidDate, in: "0044-03-15 BC", want: ordering.Date(tvDays(-43, 3, 15))},
	{oid: oidDate, in: "0005-02-29 BC", want: ordering.Date(tvDays(-4, 2, 29))}, // 5 BC = year -4, a leap year
	{oid: oidDate, in: "4713-01-01 BC", want: ordering.Date(tvDays(-4712, 1, 1))},
	{oid: oidDate, in: "5874897-12-31", want: ordering.Date(tvDays(5874897, 12, 31))},
	{oid: oidDate, in: "infinity", want: ordering.Special(ordering.KindDate, "infinity")},
	{oid: oidDate, in: "-infinity", want: ordering.Special(ordering.KindDate, "-infinity")},
	{oid: oidDate, in: "0000-01-01", err: true},
	{oid: oidDate, in: "2021-02-29", err: true},
	{oid: oidDate, in: "0006-02-29 BC", err: true},
	{oid: oidDate, in: "2020-13-01", err: true},
	{oid: oidDate, in: "2020-1-01", err: true},
	{oid: oidDate, in: "2020-01-01 00:00:00", err: true},
	{oid: oidDate, in: "2020-01-01 AD", err: true},
	{oid: oidDate, in: "01/02/2020", err: true},
	// time
	{oid: oidTime, in: "00:00:00", want: ordering.Time(0)},
	{oid: oidTime, in: "23:59:59.999999", want: ordering.Time(86400_000_000 - 1)},
	{oid: oidTime, in: "24:00:00", want: ordering.Time(86400_000_000)},
	{oid: oidTime, mod: 1, in: "12:34:56.5", want: ordering.Time(((12*60+34)*60+56)*1_000_000 + 500_000)},
	{oid: oidTime, in: "24:00:00.000001", err: true},
	{oid: oidTime, in: "25:00:00", err: true},
	{oid: oidTime, in: "12:60:00", err: true},
	{oid: oidTime, in: "12:00", err: true},
	{oid: oidTime, in: "12:00:00.1234567", err: true},
	{oid: oidTime, in: "12:00:00+02", err: true},
	// timetz: text
	{oid: oidTimeTZ, in: "13:45:00+02", want: ordering.Text("13:45:00+02")},
	{oid: oidTimeTZ, in: "12:00:00.5+05:30:15", want: ordering.Text("12:00:00.5+05:30:15")},
	// timestamp
	{oid: oidTimestamp, in: "1970-01-01 00:00:00", want: ordering.Timestamp(0)},
	{oid: oidTimestamp, in: "2024-02-29 12:34:56.123456", want: ordering.Timestamp(tvMicros(2024, 2, 29, 12, 34, 56, 123456))},
	{oid: oidTimestamp, in: "1969-12-31 23:59:59.9", want: ordering.Timestamp(-100_000)},
	{oid: oidTimestamp, in: "0044-03-15 12:00:00 BC", want: ordering.Timestamp(tvMicros(-43, 3, 15, 12, 0, 0, 0))},
	{oid: oidTimestamp, in: "4713-01-01 00:00:00 BC", want: ordering.Timestamp(tvMicros(-4712, 1, 1, 0, 0, 0, 0))},
	{oid: oidTimestamp, in: "200000-06-30 23:59:59.999999", want: ordering.Timestamp(tvMicros(200000, 6, 30, 23, 59, 59, 999999))},
	{oid: oidTimestamp, in: "294247-01-10 04:00:54.775807", want: ordering.Timestamp(math.MaxInt64)},
	// Beyond int64 µs since 1970, up to PostgreSQL's own maximum: Special with the text.
	{oid: oidTimestamp, in: "294247-01-10 04:00:54.775808", want: ordering.Special(ordering.KindTimestamp, "294247-01-10 04:00:54.775808")},
	{oid: oidTimestamp, in: "294276-12-31 23:59:59.999999", want: ordering.Special(ordering.KindTimestamp, "294276-12-31 23:59:59.999999")},
	{oid: oidTimestamp, in: "infinity", want: ordering.Special(ordering.KindTimestamp, "infinity")},
	{oid: oidTimestamp, in: "-infinity", want: ordering.Special(ordering.KindTimestamp, "-infinity")},
	{oid: oidTimestamp, in: "2020-01-01 00:00:00+00", err: true},
	{oid: oidTimestamp, in: "2020-01-01", err: true},
	{oid: oidTimestamp, in: "2020-01-01T00:00:00", err: true},
	// timestamptz
	{oid: oidTimestampTZ, in: "1970-01-01 00:00:00+00", want: ordering.TimestampTZ(0)},
	{oid: oidTimestampTZ, in: "2020-01-01 00:00:00+05:30", want: ordering.TimestampTZ(tvMicros(2019, 12, 31, 18, 30, 0, 0))},
	{oid: oidTimestampTZ, in: "2019-12-31 18:30:00+00", want: ordering.TimestampTZ(tvMicros(2019, 12, 31, 18, 30, 0, 0))},
	{oid: oidTimestampTZ, in: "1899-12-31 23:40:28-00:19:32", want: ordering.TimestampTZ(tvMicros(1900, 1, 1, 0, 0, 0, 0))},
	{oid: oidTimestampTZ, in: "2021-06-01 08:00:00.25-07", want: ordering.TimestampTZ(tvMicros(2021, 6, 1, 15, 0, 0, 250000))},
	{oid: oidTimestampTZ, in: "0001-01-01 00:00:00+00 BC", want: ordering.TimestampTZ(tvMicros(0, 1, 1, 0, 0, 0, 0))},
	{oid: oidTimestampTZ, in: "294276-12-31 23:59:59.999999+00", want: ordering.Special(ordering.KindTimestampTZ, "294276-12-31 23:59:59.999999+00")},
	{oid: oidTimestampTZ, in: "infinity", want: ordering.Special(ordering.KindTimestampTZ, "infinity")},
	{oid: oidTimestampTZ, in: "2020-01-01 00:00:00", err: true},
	{oid: oidTimestampTZ, in: "2020-01-01 00:00:00+5", err: true},
	{oid: oidTimestampTZ, in: "2020-01-01 00:00:00+05:60", err: true},
	// interval: ISO 8601 as sent
	{oid: oidInterval, in: "P1Y2M3DT4H5M6.78S", want: ordering.Interval("P1Y2M3DT4H5M6.78S")},
	{oid: oidInterval, in: "PT0S", want: ordering.Interval("PT0S")},
	{oid: oidInterval, in: "P-1Y-2M3D", want: ordering.Interval("P-1Y-2M3D")},
	{oid: oidInterval, in: "P1DT-1S", want: ordering.Interval("P1DT-1S")},
	{oid: oidInterval, in: "PT-0.5S", want: ordering.Interval("PT-0.5S")},
	{oid: oidInterval, in: "1 year 2 mons", err: true},
	{oid: oidInterval, in: "P", err: true},
	{oid: oidInterval, in: "", err: true},
	// uuid, json, enum
	{oid: oidUUID, in: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", want: ordering.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
	{oid: oidUUID, in: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", want: ordering.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
	{oid: oidUUID, in: "a0eebc999c0b4ef8bb6d6bb9bd380a11", err: true},
	{oid: oidJSON, in: `{"b": 1,  "a": [1, "x"]}`, want: ordering.JSON(`{"b": 1,  "a": [1, "x"]}`)},
	{oid: oidJSONB, in: `{"a": [1, "x"], "b": 1}`, want: ordering.JSON(`{"a": [1, "x"], "b": 1}`)},
	{oid: oidJSONB, in: `"\u00e9 😀"`, want: ordering.JSON(`"\u00e9 😀"`)},
	{oid: oidMood, in: "happy", want: ordering.Enum("happy")},
	{oid: oidMoodDomain, in: "sad", want: ordering.Enum("sad")},
	// carried as text
	{oid: oidBit, mod: 4, in: "0101", want: ordering.Text("0101")},
	{oid: oidVarbit, in: "", want: ordering.Text("")},
	{oid: 790, in: "-$1,234.56", want: ordering.Text("-$1,234.56")},
	{oid: 869, in: "192.168.0.1/24", want: ordering.Text("192.168.0.1/24")},
	{oid: 600, in: "(1.5,-2)", want: ordering.Text("(1.5,-2)")},
	{oid: 142, in: "<a>b</a>", want: ordering.Text("<a>b</a>")},
	{oid: 3614, in: "'a' 'b':1", want: ordering.Text("'a' 'b':1")},
	{oid: 3904, in: "[1,5)", want: ordering.Text("[1,5)")},
	{oid: oidHstore, in: `"a"=>"b", "c"=>NULL`, want: ordering.Text(`"a"=>"b", "c"=>NULL`)},
	{oid: oidInt2Vector, in: "1 2 3", want: ordering.Text("1 2 3")},
	{oid: 18, in: `\101`, want: ordering.Text(`\101`)},
	// domains
	{oid: oidAmount, in: "12.50", want: ordering.Decimal("12.50")},
	{oid: oidPrice, in: "-0.01", want: ordering.Decimal("-0.01")},
	{oid: oidAmount, in: "abc", err: true},
	// arrays
	{oid: 1007, in: "{1,2,NULL}", want: tvArr(ordering.Int(1), ordering.Int(2), tvNull)},
	{oid: 1007, in: "{}", want: tvArr()},
	{oid: 1007, in: "{{1,2},{3,4}}", want: tvArr(tvInts(1, 2), tvInts(3, 4))},
	{oid: 1007, in: "{{{1},{2}},{{3},{NULL}}}", want: tvArr(tvArr(tvInts(1), tvInts(2)), tvArr(tvInts(3), tvArr(tvNull)))},
	{oid: 1007, in: "[0:1]={1,2}", want: tvInts(1, 2)},
	{oid: 1007, in: "[2:3][-5:-5]={{1},{2}}", want: tvArr(tvInts(1), tvInts(2))},
	{oid: 1007, in: "{1,x}", err: true},
	{oid: 1007, in: "{1,2", err: true},
	{oid: 1007, in: "{{1},2}", err: true},
	{oid: 1007, in: "1,2", err: true},
	{oid: 1009, in: `{"a b","c\"d",NULL,"NULL",null,"\\",""}`, want: tvArr(ordering.String("a b"), ordering.String(`c"d`), tvNull,
		ordering.String("NULL"), tvNull, ordering.String(`\`), ordering.String(""))},
	{oid: 1009, in: `{"{x}","a,b",é,👋}`, want: tvArr(ordering.String("{x}"), ordering.String("a,b"), ordering.String("é"), ordering.String("👋"))},
	{oid: 1015, mod: 14, in: `{"  padded  ",x}`, want: tvArr(ordering.String("  padded  "), ordering.String("x"))},
	{oid: 1001, in: `{"\\x00ff",NULL,"\\x"}`, want: tvArr(ordering.Bytes([]byte{0, 0xff}), tvNull, ordering.Bytes(nil))},
	{oid: 199, in: `{"{\"a\":1}","[1, 2]",NULL}`, want: tvArr(ordering.JSON(`{"a":1}`), ordering.JSON("[1, 2]"), tvNull)},
	{oid: 1231, in: "{1.50,NaN,-Infinity,-0}", want: tvArr(ordering.Decimal("1.50"), ordering.Decimal("NaN"), ordering.Decimal("-Infinity"), ordering.Decimal("-0"))},
	{oid: 1182, in: `{"0044-03-15 BC",infinity,2000-01-01}`, want: tvArr(ordering.Date(tvDays(-43, 3, 15)),
		ordering.Special(ordering.KindDate, "infinity"), ordering.Date(tvDays(2000, 1, 1)))},
	{oid: 1185, in: `{"2020-01-01 00:00:00+05:30",-infinity}`, want: tvArr(ordering.TimestampTZ(tvMicros(2019, 12, 31, 18, 30, 0, 0)),
		ordering.Special(ordering.KindTimestampTZ, "-infinity"))},
	{oid: 1021, in: "{0.1,NaN,-0}", want: tvArr(tvF4(0.1), ordering.Float(math.NaN()), ordering.Float(math.Copysign(0, -1)))},
	{oid: 1000, in: "{t,f,NULL}", want: tvArr(ordering.Bool(true), ordering.Bool(false), tvNull)},
	{oid: 1020, in: "{(1,1),(0,0);(3,3),(2,2)}", want: tvArr(ordering.Text("(1,1),(0,0)"), ordering.Text("(3,3),(2,2)"))},
	{oid: oidMoodArray, in: "{happy,sad,NULL}", want: tvArr(ordering.Enum("happy"), ordering.Enum("sad"), tvNull)},
	{oid: oidAmountArray, in: "{1.00,NULL}", want: tvArr(ordering.Decimal("1.00"), tvNull)},
	{oid: oidIntList, in: "{7}", want: tvInts(7)},
}

func TestDecodeTypes(t *testing.T) {
	for _, c := range tvDecodeCases {
		mod := c.mod
		if mod == 0 {
			mod = -1
		}
		typ := tvType(t, c.oid, mod)
		got, err := typ.decode([]byte(c.in))
		name := fmt.Sprintf("%s(%q)", typ.Name, c.in)
		switch {
		case c.err && err == nil:
			t.Errorf("%s = %v, want an error", name, got)
		case c.err:
			if strings.Contains(err.Error(), c.in) && len(c.in) > 3 {
				t.Errorf("%s: error %q quotes the value", name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case !got.Equal(c.want):
			t.Errorf("%s = %v (%v), want %v (%v)", name, got, got.Kind(), c.want, c.want.Kind())
		}
	}
}

// Every decoded value has the kind its column announces.
func TestDecodeKindMatchesColumn(t *testing.T) {
	for _, c := range tvDecodeCases {
		if c.err {
			continue
		}
		typ := tvType(t, c.oid, -1)
		col := typ.column("c", true)
		v, err := typ.decode([]byte(c.in))
		if err != nil {
			t.Fatalf("%s(%q): %v", typ.Name, c.in, err)
		}
		if v.Kind() != col.Kind {
			t.Errorf("%s(%q): value kind %v, column kind %v", typ.Name, c.in, v.Kind(), col.Kind)
		}
		var check func(ordering.Value)
		check = func(v ordering.Value) {
			for _, e := range v.Elems() {
				if e.Kind() == ordering.KindArray {
					check(e)
				} else if !e.IsNull() && e.Kind() != col.Elem {
					t.Errorf("%s(%q): element kind %v, column elem %v", typ.Name, c.in, e.Kind(), col.Elem)
				}
			}
		}
		check(v)
	}
}

func TestFloat4StaysFloat32(t *testing.T) {
	for _, s := range []string{"0.1", "0.2", "0.3", "1.1", "3.14159", "16777217", "1e-40", "123456.79"} {
		v, err := tvType(t, oidFloat4, -1).decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if f := v.Float(); float64(float32(f)) != f {
			t.Errorf("float4 %s decoded to %v, not a float32 value", s, f)
		}
	}
	v, _ := tvType(t, oidFloat4, -1).decode([]byte("0.1"))
	if v.Float() != 0.10000000149011612 {
		t.Errorf("float4 0.1 = %v, want 0.10000000149011612", v.Float())
	}
}

func TestTypeColumn(t *testing.T) {
	labels := []string{"sad", "ok", "happy"}
	cases := []struct {
		oid  uint32
		mod  int32
		want ordering.Column
	}{
		{oidInt4, -1, ordering.Column{Kind: ordering.KindInt, Type: "int4"}},
		{oidVarchar, 44, ordering.Column{Kind: ordering.KindString, Type: "varchar", Length: 40}},
		{oidVarchar, -1, ordering.Column{Kind: ordering.KindString, Type: "varchar"}},
		{oidBPChar, 5, ordering.Column{Kind: ordering.KindString, Type: "bpchar", Length: 1}},
		{oidBit, 8, ordering.Column{Kind: ordering.KindText, Type: "bit", Length: 8}},
		{oidVarbit, -1, ordering.Column{Kind: ordering.KindText, Type: "varbit"}},
		{oidNumeric, tvNumericMod(12, 2), ordering.Column{Kind: ordering.KindDecimal, Type: "numeric", Precision: 12, Scale: 2}},
		{oidNumeric, tvNumericMod(5, -2), ordering.Column{Kind: ordering.KindDecimal, Type: "numeric", Precision: 5, Scale: -2}},
		{oidNumeric, tvNumericMod(1000, 1000), ordering.Column{Kind: ordering.KindDecimal, Type: "numeric", Precision: 1000, Scale: 1000}},
		{oidNumeric, -1, ordering.Column{Kind: ordering.KindDecimal, Type: "numeric", Precision: -1, Scale: -1}},
		{oidTimestamp, 3, ordering.Column{Kind: ordering.KindTimestamp, Type: "timestamp", Precision: 3}},
		{oidTimestamp, 0, ordering.Column{Kind: ordering.KindTimestamp, Type: "timestamp", Precision: 0}},
		{oidTimestampTZ, -1, ordering.Column{Kind: ordering.KindTimestampTZ, Type: "timestamptz", Precision: -1}},
		{oidTime, 6, ordering.Column{Kind: ordering.KindTime, Type: "time", Precision: 6}},
		{oidTimeTZ, 2, ordering.Column{Kind: ordering.KindText, Type: "timetz", Precision: 2}},
		{oidInterval, 0x7fff<<16 | 2, ordering.Column{Kind: ordering.KindInterval, Type: "interval", Precision: 2}},
		{oidInterval, 0x7fff<<16 | 0xffff, ordering.Column{Kind: ordering.KindInterval, Type: "interval", Precision: -1}},
		{oidInterval, -1, ordering.Column{Kind: ordering.KindInterval, Type: "interval", Precision: -1}},
		{oidDate, -1, ordering.Column{Kind: ordering.KindDate, Type: "date"}},
		{oidMood, -1, ordering.Column{Kind: ordering.KindEnum, Type: "mood", Enum: labels}},
		{oidMoodDomain, -1, ordering.Column{Kind: ordering.KindEnum, Type: "mood_d", Enum: labels}},
		{oidAmount, -1, ordering.Column{Kind: ordering.KindDecimal, Type: "amount", Precision: 10, Scale: 2}},
		{oidPrice, -1, ordering.Column{Kind: ordering.KindDecimal, Type: "price", Precision: 10, Scale: 2}},
		{1015, 44, ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindString, Type: "_varchar", Length: 40}},
		{1231, tvNumericMod(8, 3), ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindDecimal, Type: "_numeric", Precision: 8, Scale: 3}},
		{oidMoodArray, -1, ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindEnum, Type: "_mood", Enum: labels}},
		{oidAmountArray, -1, ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindDecimal, Type: "_amount", Precision: 10, Scale: 2}},
		{oidIntList, -1, ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindInt, Type: "int_list"}},
		{1020, -1, ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindText, Type: "_box"}},
		{oidCitext, -1, ordering.Column{Kind: ordering.KindString, Type: "citext"}},
		{oidHstore, -1, ordering.Column{Kind: ordering.KindText, Type: "hstore"}},
		{oidInt2Vector, -1, ordering.Column{Kind: ordering.KindText, Type: "int2vector"}},
		{3904, -1, ordering.Column{Kind: ordering.KindText, Type: "int4range"}},
	}
	for _, c := range cases {
		got := tvType(t, c.oid, c.mod).column("c", c.oid == oidInt4)
		c.want.Name, c.want.Nullable = "c", c.oid == oidInt4
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("column(%d, %d) = %+v, want %+v", c.oid, c.mod, got, c.want)
		}
	}
}

func TestBuildTypesStructure(t *testing.T) {
	refs := []typeRef{{oidAmountArray, -1}, {oidPrice, -1}, {1020, -1}, {1015, 44}}
	names := map[typeRef]string{{1015, 44}: "character varying(40)[]", {oidVarchar, 44}: "character varying(40)"}
	m, err := buildTypes(refs, tvRows, names, tvLabels)
	if err != nil {
		t.Fatal(err)
	}
	if a := m[refs[0]]; a.Elem == nil || a.Elem.OID != oidNumeric || a.Elem.Typmod != tvNumericMod(10, 2) || a.Elem.Base != nil {
		t.Errorf("array of domain: Elem = %+v, want numeric(10,2) with domains resolved", a.Elem)
	}
	if p := m[refs[1]]; p.Base == nil || p.Base.OID != oidNumeric || p.Kind != ordering.KindDecimal {
		t.Errorf("domain over domain: Base = %+v, want numeric", p.Base)
	}
	if b := m[refs[2]]; b.Delim != ';' {
		t.Errorf("box[] delimiter %q, want ';'", b.Delim)
	}
	if v := m[refs[3]]; v.Name != "character varying(40)[]" || v.Elem.Name != "character varying(40)" {
		t.Errorf("names: %q / %q", v.Name, v.Elem.Name)
	}
	if _, err := buildTypes([]typeRef{{424242, -1}}, tvRows, nil, nil); err == nil {
		t.Error("unknown OID: want an error")
	}
	loop := map[uint32]*typeRow{1: tvDomainRow(1, "a", 2, -1), 2: tvDomainRow(2, "b", 1, -1)}
	if _, err := buildTypes([]typeRef{{1, -1}}, loop, nil, nil); err == nil {
		t.Error("domain loop: want an error")
	}
}

func TestParseArrayText(t *testing.T) {
	text := func(b []byte) (ordering.Value, error) { return ordering.Text(string(b)), nil }
	s := ordering.Text
	cases := []struct {
		in    string
		delim byte
		want  ordering.Value
		err   bool
	}{
		{in: "{}", want: tvArr()},
		{in: " { } ", want: tvArr()},
		{in: "{a}", want: tvArr(s("a"))},
		{in: "{ a , b c ,\"d\" }", want: tvArr(s("a"), s("b c"), s("d"))},
		{in: `{a\,b,\"q\",x\ }`, want: tvArr(s("a,b"), s(`"q"`), s("x "))},
		{in: `{\NULL,"NULL",NULL,nUlL,NULLx}`, want: tvArr(s("NULL"), s("NULL"), tvNull, tvNull, s("NULLx"))},
		{in: `{"",""}`, want: tvArr(s(""), s(""))},
		{in: `{"\a\\b\"c"}`, want: tvArr(s(`a\b"c`))},
		{in: "{{a,b},{c,d}}", want: tvArr(tvArr(s("a"), s("b")), tvArr(s("c"), s("d")))},
		{in: "{{},{}}", want: tvArr(tvArr(), tvArr())},
		{in: "[1:2]={a,b}", want: tvArr(s("a"), s("b"))},
		{in: "[-3:-2][+1:1]={{a},{b}}", want: tvArr(tvArr(s("a")), tvArr(s("b")))},
		{in: "[5]={a}", want: tvArr(s("a"))},
		{in: "{a;b,c}", delim: ';', want: tvArr(s("a"), s("b,c"))},
		{in: "{{{{{{x}}}}}}", want: tvArr(tvArr(tvArr(tvArr(tvArr(tvArr(s("x")))))))},
		{in: "{{{{{{{x}}}}}}}", err: true}, // 7 dimensions
		{in: "", err: true},
		{in: "{", err: true},
		{in: "{a", err: true},
		{in: "{a,}", err: true},
		{in: "{,a}", err: true},
		{in: "{a,,b}", err: true},
		{in: `{"a}`, err: true},
		{in: `{a"b"}`, err: true},
		{in: `{"a"b}`, err: true},
		{in: `{a\`, err: true},
		{in: "{a}x", err: true},
		{in: "{a},{b}", err: true},
		{in: "{{a},b}", err: true},
		{in: "{a,{b}}", err: true},
		{in: "[1:2]{a}", err: true},
		{in: "[x]={a}", err: true},
		{in: "[1:2={a}", err: true},
	}
	for _, c := range cases {
		got, err := parseArray([]byte(c.in), c.delim, text)
		switch {
		case c.err && err == nil:
			t.Errorf("parseArray(%q) = %v, want an error", c.in, got)
		case !c.err && err != nil:
			t.Errorf("parseArray(%q): %v", c.in, err)
		case !c.err && !got.Equal(c.want):
			t.Errorf("parseArray(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// renderArray writes v in array_out form, quoting every element.
func tvRenderArray(v ordering.Value, delim byte) string {
	var b strings.Builder
	var walk func(ordering.Value)
	walk = func(v ordering.Value) {
		b.WriteByte('{')
		for i, e := range v.Elems() {
			if i > 0 {
				b.WriteByte(delim)
			}
			switch {
			case e.Kind() == ordering.KindArray:
				walk(e)
			case e.IsNull():
				b.WriteString("NULL")
			default:
				b.WriteByte('"')
				for _, c := range []byte(e.Text()) {
					if c == '"' || c == '\\' {
						b.WriteByte('\\')
					}
					b.WriteByte(c)
				}
				b.WriteByte('"')
			}
		}
		b.WriteByte('}')
	}
	walk(v)
	return b.String()
}

func FuzzParseArray(f *testing.F) {
	for _, s := range []string{"{}", "{1,2,NULL}", `{"a b","c\"d",NULL,"NULL"}`, "{{1,2},{3,4}}", "[0:1]={1,2}",
		`{"\\x00ff"}`, "{(1,1),(0,0);(3,3),(2,2)}", `{a\,b, c }`, "[1:1][2:3]={{a,b}}", "{{{{{{x}}}}}}", `{"`, `{\`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	text := func(b []byte) (ordering.Value, error) { return ordering.Text(string(b)), nil }
	f.Fuzz(func(t *testing.T, in []byte, semicolon bool) {
		delim := byte(',')
		if semicolon {
			delim = ';'
		}
		v, err := parseArray(in, delim, text)
		if err != nil {
			return
		}
		if v.Kind() != ordering.KindArray {
			t.Fatalf("parseArray(%q) kind %v", in, v.Kind())
		}
		again, err := parseArray([]byte(tvRenderArray(v, delim)), delim, text)
		if err != nil || !again.Equal(v) {
			t.Fatalf("parseArray(%q) = %v; re-rendered %q parses to %v, %v", in, v, tvRenderArray(v, delim), again, err)
		}
		// The element decoder's errors surface as errors, never panics.
		_, _ = parseArray(in, delim, func([]byte) (ordering.Value, error) { return ordering.Value{}, tvErrFuzz })
		_, _ = tvType(t, 1007, -1).decode(in)
		_, _ = tvType(t, 1185, -1).decode(in)
	})
}

var tvErrFuzz = fmt.Errorf("element rejected")

// pgDateText renders a day number as PostgreSQL's ISO date, using the
// time package (an independent implementation of the calendar).
func tvDateText(tm time.Time) string {
	y, bc := tm.Year(), ""
	if y <= 0 {
		y, bc = 1-y, " BC"
	}
	return fmt.Sprintf("%04d-%02d-%02d%s", y, tm.Month(), tm.Day(), bc)
}

func tvTimestampText(us int64, zone string) string {
	tm := time.UnixMicro(us).UTC()
	y, bc := tm.Year(), ""
	if y <= 0 {
		y, bc = 1-y, " BC"
	}
	s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", y, tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second())
	if frac := tm.Nanosecond() / 1000; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
	}
	return s + zone + bc
}

// Dates and timestamps over PostgreSQL's whole range agree with the time
// package's proleptic Gregorian calendar.
func TestDateTimeAgainstTimePackage(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	minDay, maxDay := tvDays(-4712, 1, 1), tvDays(5874897, 12, 31)
	maxUs := int64(math.MaxInt64)
	minUs := tvMicros(-4712, 1, 1, 0, 0, 0, 0)
	dayCases := []int64{minDay, maxDay, -1, 0, 1, tvDays(0, 2, 29), tvDays(0, 3, 1), tvDays(-1, 12, 31), tvDays(1600, 2, 29), tvDays(1700, 3, 1)}
	for i := 0; i < 20000; i++ {
		dayCases = append(dayCases, minDay+rng.Int63n(maxDay-minDay+1))
	}
	for _, d := range dayCases {
		s := tvDateText(time.Unix(d*86400, 0).UTC())
		got, err := parseDateText(s)
		if err != nil || got != d {
			t.Fatalf("parseDateText(%q) = %d, %v; want %d", s, got, err, d)
		}
	}
	usCases := []int64{minUs, maxUs, -1, 0, 1, 86400_000_000 - 1}
	for i := 0; i < 20000; i++ {
		usCases = append(usCases, minUs+int64(rng.Uint64()%(uint64(maxUs)-uint64(minUs))))
	}
	for _, us := range usCases {
		for _, tz := range []struct {
			text string
			off  int64
		}{{"+00", 0}, {"+05:30", 19800}, {"-11:15:30", -40530}} {
			local := us + tz.off*1_000_000
			if local < us && tz.off > 0 || local > us && tz.off < 0 {
				continue // overflow
			}
			s := tvTimestampText(local, tz.text)
			got, err := parseTimestampText(s, true)
			if err != nil || got != us {
				t.Fatalf("parseTimestampText(%q) = %d, %v; want %d", s, got, err, us)
			}
		}
		s := tvTimestampText(us, "")
		got, err := parseTimestampText(s, false)
		if err != nil || got != us {
			t.Fatalf("parseTimestampText(%q) = %d, %v; want %d", s, got, err, us)
		}
	}
}
