package mysql

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/walship/walship/ordering"
)

// tyCol describes one column of a hand-built TABLE_MAP event.
type tyCol struct {
	name      string
	typ       byte
	meta      uint16
	unsigned  bool
	collation uint64   // character, enum and set columns
	labels    []string // enum/set labels, in the column's charset
	nullable  bool
}

// tyEvent builds the TABLE_MAP event MySQL 8 writes with
// binlog_row_metadata=FULL (charsets per column: COLUMN_CHARSET).
func tyEvent(pk []uint64, cols ...tyCol) *replication.TableMapEvent {
	e := &replication.TableMapEvent{Schema: []byte("db"), Table: []byte("t"), ColumnCount: uint64(len(cols)),
		NullBitmap: make([]byte, (len(cols)+7)/8), PrimaryKey: pk}
	var signBits []bool
	for i, c := range cols {
		e.ColumnType = append(e.ColumnType, c.typ)
		e.ColumnMeta = append(e.ColumnMeta, c.meta)
		e.ColumnName = append(e.ColumnName, []byte(c.name))
		if c.nullable {
			e.NullBitmap[i/8] |= 1 << (i % 8)
		}
		real := c.typ
		if c.typ == mysql.MYSQL_TYPE_STRING && (byte(c.meta>>8) == mysql.MYSQL_TYPE_ENUM || byte(c.meta>>8) == mysql.MYSQL_TYPE_SET) {
			real = byte(c.meta >> 8)
		}
		var labels [][]byte
		for _, l := range c.labels {
			labels = append(labels, []byte(l))
		}
		switch real {
		case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
			mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE,
			mysql.MYSQL_TYPE_YEAR:
			signBits = append(signBits, c.unsigned)
		case mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_BLOB:
			e.ColumnCharset = append(e.ColumnCharset, c.collation)
		case mysql.MYSQL_TYPE_ENUM:
			e.EnumSetColumnCharset = append(e.EnumSetColumnCharset, c.collation)
			e.EnumStrValue = append(e.EnumStrValue, labels)
		case mysql.MYSQL_TYPE_SET:
			e.EnumSetColumnCharset = append(e.EnumSetColumnCharset, c.collation)
			e.SetStrValue = append(e.SetStrValue, labels)
		case mysql.MYSQL_TYPE_GEOMETRY:
			e.GeometryType = append(e.GeometryType, uint64(c.collation))
		}
	}
	if len(signBits) > 0 {
		e.SignednessBitmap = make([]byte, (len(signBits)+7)/8)
		for i, u := range signBits {
			if u {
				e.SignednessBitmap[i/8] |= 0x80 >> (i % 8)
			}
		}
	}
	return e
}

// tyChar is the metadata of a CHAR/BINARY column of n bytes.
func tyChar(n int) uint16 {
	return uint16(mysql.MYSQL_TYPE_STRING^byte((n&0x300)>>4))<<8 | uint16(n&0xff)
}

// The columns of tyTable, in order.
const (
	tyID = iota
	tyTinyU
	tyTiny
	tySmallU
	tyMediumU
	tyMedium
	tyIntU
	tyBigU
	tyBig
	tyYear
	tyBit64
	tyBit3
	tyDec
	tyDec65
	tyDec0
	tyFloat
	tyDouble
	tyDate
	tyTime3
	tyTime0
	tyTime1
	tyTimeOld
	tyDatetime6
	tyDatetime2
	tyTs3
	tyVarchar
	tyLatin1
	tyCP1251
	tyUCS2
	tyChar5
	tyChar255
	tyBinary4
	tyVarbinary
	tyText
	tyLongtext
	tyTinyblob
	tyEnum
	tySet
	tyEnumLatin1
	tyJSON
	tyPoint
	tyCount
)

func tyTable(t *testing.T) *binlogTable {
	t.Helper()
	S, E, Set := mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_ENUM)<<8, uint16(mysql.MYSQL_TYPE_SET)<<8
	cols := []tyCol{
		tyID:        {name: "id", typ: mysql.MYSQL_TYPE_LONG, unsigned: true},
		tyTinyU:     {name: "tiny_u", typ: mysql.MYSQL_TYPE_TINY, unsigned: true, nullable: true},
		tyTiny:      {name: "tiny", typ: mysql.MYSQL_TYPE_TINY},
		tySmallU:    {name: "small_u", typ: mysql.MYSQL_TYPE_SHORT, unsigned: true},
		tyMediumU:   {name: "medium_u", typ: mysql.MYSQL_TYPE_INT24, unsigned: true},
		tyMedium:    {name: "medium", typ: mysql.MYSQL_TYPE_INT24},
		tyIntU:      {name: "int_u", typ: mysql.MYSQL_TYPE_LONG, unsigned: true},
		tyBigU:      {name: "big_u", typ: mysql.MYSQL_TYPE_LONGLONG, unsigned: true},
		tyBig:       {name: "big", typ: mysql.MYSQL_TYPE_LONGLONG},
		tyYear:      {name: "y", typ: mysql.MYSQL_TYPE_YEAR, unsigned: true},
		tyBit64:     {name: "bit64", typ: mysql.MYSQL_TYPE_BIT, meta: 8 << 8},
		tyBit3:      {name: "bit3", typ: mysql.MYSQL_TYPE_BIT, meta: 3},
		tyDec:       {name: "dec", typ: mysql.MYSQL_TYPE_NEWDECIMAL, meta: 10<<8 | 2},
		tyDec65:     {name: "dec65", typ: mysql.MYSQL_TYPE_NEWDECIMAL, meta: 65<<8 | 30, unsigned: true},
		tyDec0:      {name: "dec0", typ: mysql.MYSQL_TYPE_NEWDECIMAL, meta: 5 << 8},
		tyFloat:     {name: "f", typ: mysql.MYSQL_TYPE_FLOAT, meta: 4},
		tyDouble:    {name: "d", typ: mysql.MYSQL_TYPE_DOUBLE, meta: 8},
		tyDate:      {name: "dt", typ: mysql.MYSQL_TYPE_DATE},
		tyTime3:     {name: "tm3", typ: mysql.MYSQL_TYPE_TIME2, meta: 3},
		tyTime0:     {name: "tm0", typ: mysql.MYSQL_TYPE_TIME2},
		tyTime1:     {name: "tm1", typ: mysql.MYSQL_TYPE_TIME2, meta: 1},
		tyTimeOld:   {name: "tm_old", typ: mysql.MYSQL_TYPE_TIME},
		tyDatetime6: {name: "dtm6", typ: mysql.MYSQL_TYPE_DATETIME2, meta: 6},
		tyDatetime2: {name: "dtm2", typ: mysql.MYSQL_TYPE_DATETIME2, meta: 2},
		tyTs3:       {name: "ts3", typ: mysql.MYSQL_TYPE_TIMESTAMP2, meta: 3},
		tyVarchar:   {name: "vc", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 160, collation: 255},
		tyLatin1:    {name: "l1", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 10, collation: 8},
		tyCP1251:    {name: "cyr", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 10, collation: 51},
		tyUCS2:      {name: "ucs", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 20, collation: 35},
		tyChar5:     {name: "ch5", typ: S, meta: tyChar(15), collation: 33},
		tyChar255:   {name: "ch255", typ: S, meta: tyChar(1020), collation: 2304},
		tyBinary4:   {name: "bin4", typ: S, meta: tyChar(4), collation: binaryCollation},
		tyVarbinary: {name: "vb", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 10, collation: binaryCollation},
		tyText:      {name: "tx", typ: mysql.MYSQL_TYPE_BLOB, meta: 2, collation: 1070},
		tyLongtext:  {name: "lt", typ: mysql.MYSQL_TYPE_BLOB, meta: 4, collation: 46},
		tyTinyblob:  {name: "tb", typ: mysql.MYSQL_TYPE_BLOB, meta: 1, collation: binaryCollation},
		tyEnum:      {name: "e", typ: S, meta: E | 1, collation: 45, labels: []string{"a", "b", "it's", `x\y`}},
		tySet:       {name: "s", typ: S, meta: Set | 1, collation: 45, labels: []string{"x", "y", "z"}},
		tyEnumLatin1: {name: "e1", typ: S, meta: E | 1, collation: 8,
			labels: []string{"caf\xe9", "\x80"}},
		tyJSON:  {name: "j", typ: mysql.MYSQL_TYPE_JSON, meta: 4},
		tyPoint: {name: "g", typ: mysql.MYSQL_TYPE_GEOMETRY, meta: 4, collation: 1}, // geometry type 1: point
	}
	if len(cols) != tyCount {
		t.Fatalf("%d columns, want %d", len(cols), tyCount)
	}
	bt, err := newBinlogTable(tyEvent([]uint64{tyID}, cols...))
	if err != nil {
		t.Fatal(err)
	}
	return bt
}

func TestBinlogTableColumns(t *testing.T) {
	bt := tyTable(t)
	if bt.table.Schema != "db" || bt.table.Name != "t" || !reflect.DeepEqual(bt.table.PrimaryKey, []string{"id"}) {
		t.Fatalf("table %s pk %v", bt.table.QualifiedName(), bt.table.PrimaryKey)
	}
	K := func(k ordering.Kind, typ string) ordering.Column { return ordering.Column{Kind: k, Type: typ} }
	L := func(c ordering.Column, n int) ordering.Column { c.Length = n; return c }
	P := func(c ordering.Column, p, s int) ordering.Column { c.Precision, c.Scale = p, s; return c }
	En := func(c ordering.Column, labels ...string) ordering.Column { c.Enum = labels; return c }
	want := map[int]ordering.Column{
		tyID:         K(ordering.KindUint, "int unsigned"),
		tyTinyU:      K(ordering.KindUint, "tinyint unsigned"),
		tyTiny:       K(ordering.KindInt, "tinyint"),
		tySmallU:     K(ordering.KindUint, "smallint unsigned"),
		tyMediumU:    K(ordering.KindUint, "mediumint unsigned"),
		tyMedium:     K(ordering.KindInt, "mediumint"),
		tyIntU:       K(ordering.KindUint, "int unsigned"),
		tyBigU:       K(ordering.KindUint, "bigint unsigned"),
		tyBig:        K(ordering.KindInt, "bigint"),
		tyYear:       K(ordering.KindInt, "year"),
		tyBit64:      L(K(ordering.KindUint, "bit(64)"), 64),
		tyBit3:       L(K(ordering.KindUint, "bit(3)"), 3),
		tyDec:        P(K(ordering.KindDecimal, "decimal(10,2)"), 10, 2),
		tyDec65:      P(K(ordering.KindDecimal, "decimal(65,30) unsigned"), 65, 30),
		tyDec0:       P(K(ordering.KindDecimal, "decimal(5,0)"), 5, 0),
		tyFloat:      K(ordering.KindFloat, "float"),
		tyDouble:     K(ordering.KindFloat, "double"),
		tyDate:       K(ordering.KindDate, "date"),
		tyTime3:      P(K(ordering.KindTime, "time(3)"), 3, 0),
		tyTime0:      K(ordering.KindTime, "time"),
		tyTime1:      P(K(ordering.KindTime, "time(1)"), 1, 0),
		tyTimeOld:    K(ordering.KindTime, "time"),
		tyDatetime6:  P(K(ordering.KindTimestamp, "datetime(6)"), 6, 0),
		tyDatetime2:  P(K(ordering.KindTimestamp, "datetime(2)"), 2, 0),
		tyTs3:        P(K(ordering.KindTimestampTZ, "timestamp(3)"), 3, 0),
		tyVarchar:    L(K(ordering.KindString, "varchar(40)"), 40),
		tyLatin1:     L(K(ordering.KindString, "varchar(10)"), 10),
		tyCP1251:     L(K(ordering.KindString, "varchar(10)"), 10),
		tyUCS2:       L(K(ordering.KindString, "varchar(10)"), 10),
		tyChar5:      L(K(ordering.KindString, "char(5)"), 5),
		tyChar255:    L(K(ordering.KindString, "char(255)"), 255),
		tyBinary4:    L(K(ordering.KindBytes, "binary(4)"), 4),
		tyVarbinary:  L(K(ordering.KindBytes, "varbinary(10)"), 10),
		tyText:       K(ordering.KindString, "text"),
		tyLongtext:   K(ordering.KindString, "longtext"),
		tyTinyblob:   K(ordering.KindBytes, "tinyblob"),
		tyEnum:       En(K(ordering.KindEnum, `enum('a','b','it''s','x\\y')`), "a", "b", "it's", `x\y`),
		tySet:        En(K(ordering.KindText, "set('x','y','z')"), "x", "y", "z"),
		tyEnumLatin1: En(K(ordering.KindEnum, "enum('café','€')"), "café", "€"),
		tyJSON:       K(ordering.KindJSON, "json"),
		tyPoint:      K(ordering.KindBytes, "point"),
	}
	for i, got := range bt.table.Columns {
		w := want[i]
		w.Name, w.Nullable = got.Name, i == tyTinyU
		if !reflect.DeepEqual(got, w) {
			t.Errorf("column %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
}

func TestBinlogTableDecode(t *testing.T) {
	bt := tyTable(t)
	dec := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	day := func(s string) int64 {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Unix() / 86400
	}
	us := func(s string) int64 {
		d, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			t.Fatal(err)
		}
		return d.UnixMicro()
	}
	clock := func(h, m, s, micro int64) int64 { return ((h*60+m)*60+s)*1e6 + micro }
	sp := ordering.Special
	cases := []struct {
		col  int
		in   any
		want ordering.Value
	}{
		{tyTinyU, nil, ordering.Null()},
		{tyTinyU, uint8(255), ordering.Uint(255)},
		{tyTinyU, int8(-1), ordering.Uint(255)}, // no signedness applied by go-mysql
		{tyTiny, int8(-128), ordering.Int(-128)},
		{tyTiny, uint8(0x80), ordering.Int(-128)},
		{tySmallU, int16(-1), ordering.Uint(65535)},
		{tyMediumU, uint32(16777215), ordering.Uint(16777215)},
		{tyMediumU, int32(-1), ordering.Uint(16777215)}, // sign-extended 24-bit
		{tyMedium, int32(-8388608), ordering.Int(-8388608)},
		{tyIntU, int32(-1), ordering.Uint(math.MaxUint32)},
		{tyIntU, uint32(math.MaxUint32), ordering.Uint(math.MaxUint32)},
		{tyBigU, int64(-1), ordering.Uint(math.MaxUint64)},
		{tyBigU, uint64(math.MaxUint64), ordering.Uint(math.MaxUint64)},
		{tyBig, int64(math.MinInt64), ordering.Int(math.MinInt64)},
		{tyYear, 2155, ordering.Int(2155)},
		{tyYear, 0, ordering.Int(0)},
		{tyBit64, int64(-1), ordering.Uint(math.MaxUint64)},
		{tyBit3, int64(5), ordering.Uint(5)},
		{tyDec, dec("3.5"), ordering.Decimal("3.50")},
		{tyDec, dec("-0.5"), ordering.Decimal("-0.50")},
		{tyDec, dec("0"), ordering.Decimal("0.00")},
		{tyDec, dec("-12345678.90"), ordering.Decimal("-12345678.90")},
		{tyDec, "3.50", ordering.Decimal("3.50")}, // UseDecimal false
		{tyDec65, dec("12345678901234567890123456789012345.100000000000000000000000000000"),
			ordering.Decimal("12345678901234567890123456789012345.100000000000000000000000000000")},
		{tyDec65, dec("0.000000000000000000000000000001"), ordering.Decimal("0.000000000000000000000000000001")},
		{tyDec0, dec("-99999"), ordering.Decimal("-99999")},
		{tyFloat, float32(0.1), ordering.Float(float64(float32(0.1)))},
		{tyFloat, float32(math.Inf(-1)), ordering.Float(math.Inf(-1))},
		{tyDouble, 0.1, ordering.Float(0.1)},
		{tyDate, "2024-01-15", ordering.Date(day("2024-01-15"))},
		{tyDate, "1969-12-31", ordering.Date(-1)},
		{tyDate, "0001-01-01", ordering.Date(day("0001-01-01"))},
		{tyDate, "2024-02-29", ordering.Date(day("2024-02-29"))},
		{tyDate, "0000-00-00", sp(ordering.KindDate, "0000-00-00")},
		{tyDate, "2024-00-15", sp(ordering.KindDate, "2024-00-15")},
		{tyDate, "2024-05-00", sp(ordering.KindDate, "2024-05-00")},
		{tyDate, "2023-02-29", sp(ordering.KindDate, "2023-02-29")}, // ALLOW_INVALID_DATES
		{tyTime3, "-838:59:59.999", ordering.Time(-clock(838, 59, 59, 999000))},
		{tyTime3, "838:59:59.000", ordering.Time(clock(838, 59, 59, 0))},
		{tyTime3, "-00:00:00.001", ordering.Time(-1000)},
		{tyTime3, "00:00:00", ordering.Time(0)},
		{tyTime0, "-00:00:01", ordering.Time(-1e6)},
		{tyTime0, "100:00:00", ordering.Time(clock(100, 0, 0, 0))},
		{tyTime1, "00:00:00.5", ordering.Time(500000)},
		{tyTime1, "-12:34:56.9", ordering.Time(-clock(12, 34, 56, 900000))},
		{tyTimeOld, "1677:72:15", ordering.Time(-1e6)}, // pre-5.6 TIME -00:00:01 read unsigned
		{tyTimeOld, "839:12:57", ordering.Time(-clock(838, 59, 59, 0))},
		{tyTimeOld, "838:59:59", ordering.Time(clock(838, 59, 59, 0))},
		{tyDatetime6, "2024-01-15 10:20:30.000001", ordering.Timestamp(us("2024-01-15 10:20:30.000001"))},
		{tyDatetime6, "1000-01-01 00:00:00.000000", ordering.Timestamp(us("1000-01-01 00:00:00"))},
		{tyDatetime6, "9999-12-31 23:59:59.999999", ordering.Timestamp(us("9999-12-31 23:59:59.999999"))},
		{tyDatetime6, "0000-00-00 00:00:00.000000", sp(ordering.KindTimestamp, "0000-00-00 00:00:00.000000")},
		{tyDatetime6, "2024-00-15 10:00:00.500000", sp(ordering.KindTimestamp, "2024-00-15 10:00:00.500000")},
		{tyDatetime6, time.Date(2024, 1, 15, 10, 20, 30, 123456000, time.UTC), ordering.Timestamp(us("2024-01-15 10:20:30.123456"))},
		{tyDatetime2, "2024-01-15 10:20:30.05", ordering.Timestamp(us("2024-01-15 10:20:30.05"))},
		{tyTs3, "2038-01-19 03:14:07.999", ordering.TimestampTZ(us("2038-01-19 03:14:07.999"))},
		{tyTs3, "1970-01-01 00:00:01.000", ordering.TimestampTZ(1e6)},
		{tyTs3, "0000-00-00 00:00:00.000", sp(ordering.KindTimestampTZ, "0000-00-00 00:00:00.000")},
		{tyTs3, time.Unix(1, 5e8).In(time.FixedZone("x", 7200)), ordering.TimestampTZ(1500000)}, // ParseTime: any zone
		{tyVarchar, "😀 ok", ordering.String("😀 ok")},
		{tyVarchar, "", ordering.String("")},
		{tyLatin1, "caf\xe9", ordering.String("café")},
		{tyLatin1, "\x80\x81\x9d\xff", ordering.String("€\u0081\u009dÿ")},
		{tyCP1251, "\xcf\xf0\xe8", ordering.String("При")},
		{tyUCS2, "\x00A\x00\xe9", ordering.String("Aé")},
		{tyChar5, "ab", ordering.String("ab")},
		{tyChar255, strings.Repeat("é", 255), ordering.String(strings.Repeat("é", 255))},
		{tyBinary4, "a", ordering.Bytes([]byte("a\x00\x00\x00"))}, // the binlog strips the 0x00 padding
		{tyBinary4, "\x00\xff\x00\x01", ordering.Bytes([]byte("\x00\xff\x00\x01"))},
		{tyBinary4, "", ordering.Bytes([]byte{0, 0, 0, 0})},
		{tyVarbinary, "\x00\xff", ordering.Bytes([]byte{0, 0xff})},
		{tyText, []byte("text"), ordering.String("text")},
		{tyLongtext, []byte(`{"a": 1}`), ordering.String(`{"a": 1}`)},
		{tyTinyblob, []byte{0, 0xff}, ordering.Bytes([]byte{0, 0xff})},
		{tyEnum, int64(0), ordering.Enum("")},
		{tyEnum, int64(3), ordering.Enum("it's")},
		{tySet, int64(0), ordering.Text("")},
		{tySet, int64(5), ordering.Text("x,z")},
		{tySet, int64(7), ordering.Text("x,y,z")},
		{tyEnumLatin1, int64(1), ordering.Enum("café")},
		{tyJSON, `{"a":[1,2.5,"x"]}`, ordering.JSON(`{"a":[1,2.5,"x"]}`)},
		{tyJSON, []byte{}, ordering.JSON("null")},
		{tyPoint, []byte{0, 0, 0, 0, 1, 1, 0, 0, 0}, ordering.Bytes([]byte{0, 0, 0, 0, 1, 1, 0, 0, 0})},
	}
	for _, c := range cases {
		got, err := bt.decode(c.col, c.in)
		if err != nil {
			t.Errorf("%s %#v: %v", bt.table.Columns[c.col].Name, c.in, err)
			continue
		}
		if !got.Equal(c.want) {
			t.Errorf("%s %#v: got %v (%s), want %v (%s)", bt.table.Columns[c.col].Name, c.in, got, got.Kind(), c.want, c.want.Kind())
		}
	}
}

func TestBinlogTableDecodeErrors(t *testing.T) {
	bt := tyTable(t)
	cases := []struct {
		col int
		in  any
	}{
		{tyTinyU, "255"},
		{tyDec, 3.5},
		{tyEnum, int64(5)},
		{tySet, int64(8)},
		{tyJSON, &replication.JsonDiff{}},
		{tyDate, "2024-1-15"},
		{tyDatetime6, "2024-01-15"},
		{tyDatetime6, "2024-01-15 24:00:00.000000"},
		{tyTime3, "839:00:00.000"},
		{tyTime3, "12:60:00"},
		{tyTime3, "12:00:00.1234567"},
		{tyVarchar, 42},
	}
	for _, c := range cases {
		_, err := bt.decode(c.col, c.in)
		name := bt.table.Columns[c.col].Name
		if err == nil {
			t.Errorf("%s %#v: no error", name, c.in)
			continue
		}
		if !strings.Contains(err.Error(), "db.t column "+name+" ("+bt.table.Columns[c.col].Type+")") {
			t.Errorf("%s: error does not name the column: %v", name, err)
		}
		if s, ok := c.in.(string); ok && strings.Contains(err.Error(), s) {
			t.Errorf("%s: error shows the value: %v", name, err)
		}
	}
}

func TestBinlogTableRow(t *testing.T) {
	bt, err := newBinlogTable(tyEvent(nil,
		tyCol{name: "a", typ: mysql.MYSQL_TYPE_LONG, nullable: true},
		tyCol{name: "b", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 40, collation: 45, nullable: true}))
	if err != nil {
		t.Fatal(err)
	}
	if bt.table.PrimaryKey != nil || !bt.table.Columns[0].Nullable {
		t.Fatalf("pk %v, nullable %v", bt.table.PrimaryKey, bt.table.Columns[0].Nullable)
	}
	got, err := bt.row([]any{int32(-7), nil})
	if err != nil || len(got) != 2 || !got[0].Equal(ordering.Int(-7)) || !got[1].IsNull() {
		t.Fatalf("row = %v, %v", got, err)
	}
	for _, bad := range []func() error{
		func() error { _, err := bt.row([]any{int32(1)}); return err },
		func() error { _, err := bt.row([]any{int32(1), nil}, 1); return err },
	} {
		if err := bad(); err == nil || !strings.Contains(err.Error(), "binlog_row_image=FULL") {
			t.Errorf("short image: %v", err)
		}
	}
	if _, err := bt.row([]any{"x", nil}); err == nil || !strings.Contains(err.Error(), "column a") {
		t.Errorf("bad value: %v", err)
	}
}

func TestNewBinlogTableErrors(t *testing.T) {
	cases := []struct {
		name string
		e    *replication.TableMapEvent
		want string
	}{
		{"minimal metadata", func() *replication.TableMapEvent {
			e := tyEvent(nil, tyCol{name: "a", typ: mysql.MYSQL_TYPE_LONG})
			e.ColumnName = nil
			return e
		}(), "table db.t: the binlog's TABLE_MAP event has no column names: set binlog_row_metadata=FULL"},
		{"no signedness", func() *replication.TableMapEvent {
			e := tyEvent(nil, tyCol{name: "a", typ: mysql.MYSQL_TYPE_LONG})
			e.SignednessBitmap = nil
			return e
		}(), "column a: no signedness"},
		{"no collation", func() *replication.TableMapEvent {
			e := tyEvent(nil, tyCol{name: "a", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 4, collation: 45})
			e.ColumnCharset = nil
			return e
		}(), "column a (binlog type 15): no collation"},
		{"no labels", func() *replication.TableMapEvent {
			e := tyEvent(nil, tyCol{name: "e", typ: mysql.MYSQL_TYPE_STRING, meta: uint16(mysql.MYSQL_TYPE_ENUM)<<8 | 1,
				collation: 45, labels: []string{"a"}})
			e.EnumStrValue = nil
			return e
		}(), "no enum/set labels"},
		{"unknown collation", tyEvent(nil, tyCol{name: "a", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 4, collation: 4000}),
			"unknown collation id 4000"},
		{"unsupported charset", tyEvent(nil, tyCol{name: "a", typ: mysql.MYSQL_TYPE_VARCHAR, meta: 4, collation: 10}),
			"character set swe7 (collation id 10) is not supported"},
		{"old decimal", tyEvent(nil, tyCol{name: "a", typ: mysql.MYSQL_TYPE_DECIMAL}), "unsupported column type"},
		{"bad primary key", tyEvent([]uint64{3}, tyCol{name: "a", typ: mysql.MYSQL_TYPE_DATE}), "primary key column 3 of 1"},
	}
	for _, c := range cases {
		_, err := newBinlogTable(c.e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCollationCharsets(t *testing.T) {
	for id, want := range map[uint64]string{
		63: "binary", 8: "latin1", 33: "utf8mb3", 45: "utf8mb4", 46: "utf8mb4", 76: "utf8mb3", 224: "utf8mb4",
		255: "utf8mb4", 309: "utf8mb4", 248: "gb18030", 1070: "utf8mb4", 1032: "latin1", 1107: "utf8mb3",
		2048: "utf8mb3", 2304: "utf8mb4", 2503: "utf8mb4", 2560: "ucs2", 3271: "utf32", 35: "ucs2", 56: "utf16le",
	} {
		cs, err := typesCollationCharset(id)
		if err != nil || cs.name != want {
			t.Errorf("collation %d: %v %v, want %s", id, cs, err, want)
		}
	}
	for _, id := range []uint64{0, 250 + 1024 + 2048*2, 5000} {
		if cs, err := typesCollationCharset(id); err == nil {
			t.Errorf("collation %d: %s, want an error", id, cs.name)
		}
	}
	// Every byte of MySQL's latin1 maps to one character.
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	s, _ := typesLatin1(b)
	if n := len([]rune(s)); n != 256 || strings.ContainsRune(s, '\ufffd') {
		t.Errorf("latin1: %d runes, %q", n, s)
	}
}

// TestCharsetUndefinedBytes (issue 28): bytes a single-byte charset does
// not define are an error, never U+FFFD; a real U+FFFD in a charset that
// encodes it, and defined bytes, decode.
func TestCharsetUndefinedBytes(t *testing.T) {
	greek := typesCharsets["greek"]
	if _, err := greek.decode([]byte{0xC1, 0xE2, 0xD2, 0xAE, 0xFF}); !errors.Is(err, ErrUndefinedBytes) {
		t.Errorf("greek with undefined bytes: %v", err)
	}
	if s, err := greek.decode([]byte{0xC1, 0xE2}); err != nil || s != "Αβ" {
		t.Errorf("greek: %q %v", s, err)
	}
	fffd := []byte{0x84, 0x31, 0xA4, 0x37} // GB18030 of U+FFFD
	if s, err := typesCharsets["gb18030"].decode(fffd); err != nil || s != "\uFFFD" {
		t.Errorf("gb18030 U+FFFD: %q %v", s, err)
	}
}

// TestEveryCharsetRefusesUndefinedBytes: for every supported single-byte
// character set, each byte its table does not define is refused, and
// every byte it defines decodes.
func TestEveryCharsetRefusesUndefinedBytes(t *testing.T) {
	undefined := 0
	for name, cs := range typesCharsets {
		if cs.maxLen != 1 || cs.decode == nil || name == "latin1" {
			continue
		}
		for b := 0; b < 256; b++ {
			s, err := cs.decode([]byte{byte(b)})
			switch {
			case errors.Is(err, ErrUndefinedBytes):
				undefined++
			case err != nil:
				t.Errorf("%s byte %#x: %v", name, b, err)
			case strings.ContainsRune(s, '\uFFFD'):
				t.Errorf("%s byte %#x became U+FFFD", name, b)
			}
		}
	}
	if undefined == 0 {
		t.Error("no charset has an undefined byte: the test checks nothing")
	}
	t.Logf("%d undefined bytes refused across the single-byte charsets", undefined)
}

func TestTypesFixedMatchesStringFixed(t *testing.T) {
	for _, c := range []struct {
		text  string
		scale int
	}{
		{"0", 0}, {"7", 0}, {"-7", 0}, {"0.00", 2}, {"0.05", 2}, {"-0.05", 2}, {"123.45", 2}, {"-123.45", 2},
		{"999999999999999999", 0}, {"-999999999999999999", 0}, {"0.999999999999999999", 18},
		{"-0.000000000000000001", 18}, {"12345678.9012345678", 10}, {"100.000", 3},
	} {
		d, err := decimal.NewFromString(c.text)
		if err != nil {
			t.Fatal(err)
		}
		if d.Exponent() != -int32(c.scale) {
			t.Fatalf("%s: exponent %d, want %d", c.text, d.Exponent(), -c.scale)
		}
		if got, want := typesFixed(d.CoefficientInt64(), c.scale), d.StringFixed(int32(c.scale)); got != want {
			t.Errorf("typesFixed(%s) = %q, StringFixed %q", c.text, got, want)
		}
	}
}
