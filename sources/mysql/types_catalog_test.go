package mysql

import (
	"database/sql"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/walship/walship/ordering"
)

func TestCatalogLabels(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"enum('a','b')", []string{"a", "b"}},
		{"set('x')", []string{"x"}},
		{"enum('')", []string{""}},
		{"enum('','a')", []string{"", "a"}},
		{`enum('it''s','x\\y','''')`, []string{"it's", `x\y`, "'"}},
		{"set('b,c','d)','(e')", []string{"b,c", "d)", "(e"}},
		{`enum('nl\nx','z\0','cr\r','tab` + "\t" + `q','\t\Z\b\q')`, []string{"nl\nx", "z\x00", "cr\r", "tab\tq", "\t\x1a\bq"}},
		{"enum('café','€','?')", []string{"café", "€", "?"}},
		{"ENUM('A',' b')", []string{"A", " b"}},
	} {
		got, err := catalogLabels(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("catalogLabels(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"int(11)", "enum(", "enum('a'", "enum('a' 'b')", "enum('a',)", "enum(a)", "enum('a\\", "enum('a'"} {
		if got, err := catalogLabels(in); err == nil {
			t.Errorf("catalogLabels(%q) = %q, want an error", in, got)
		}
	}
}

// tyCatalogColumns are information_schema rows (MySQL 8 style) of the
// columns of tyTable, by its column index. tm_old (a pre-5.6 TIME) has
// none: the catalog cannot tell it from a TIME.
func tyCatalogColumns() map[int]catalogColumn {
	num := func(name, dt, ct string, p, s int64) catalogColumn {
		return catalogColumn{name: name, dataType: dt, columnType: ct, precision: p, scale: s}
	}
	chr := func(name, dt, ct string, octets int64, coll uint64) catalogColumn {
		return catalogColumn{name: name, dataType: dt, columnType: ct, octets: octets, collation: coll}
	}
	tm := func(name, dt, ct string, fsp int64) catalogColumn {
		return catalogColumn{name: name, dataType: dt, columnType: ct, fsp: fsp}
	}
	tinyU := num("tiny_u", "tinyint", "tinyint(3) unsigned", 3, 0)
	tinyU.nullable = true
	return map[int]catalogColumn{
		tyID:         {name: "id", dataType: "int", columnType: "int(10) unsigned", key: "PRI", precision: 10},
		tyTinyU:      tinyU,
		tyTiny:       num("tiny", "tinyint", "tinyint(4)", 3, 0),
		tySmallU:     num("small_u", "smallint", "smallint unsigned", 5, 0),
		tyMediumU:    num("medium_u", "mediumint", "mediumint(8) unsigned zerofill", 7, 0),
		tyMedium:     num("medium", "mediumint", "mediumint", 7, 0),
		tyIntU:       num("int_u", "int", "int unsigned", 10, 0),
		tyBigU:       num("big_u", "bigint", "bigint(20) unsigned", 20, 0),
		tyBig:        num("big", "bigint", "bigint", 19, 0),
		tyYear:       num("y", "year", "year(4)", 0, 0),
		tyBit64:      num("bit64", "bit", "bit(64)", 64, 0),
		tyBit3:       num("bit3", "bit", "bit(3)", 3, 0),
		tyDec:        num("dec", "decimal", "decimal(10,2)", 10, 2),
		tyDec65:      num("dec65", "decimal", "decimal(65,30) unsigned", 65, 30),
		tyDec0:       num("dec0", "decimal", "decimal(5,0)", 5, 0),
		tyFloat:      num("f", "float", "float", 12, 0),
		tyDouble:     num("d", "double", "double", 22, 0),
		tyDate:       {name: "dt", dataType: "date", columnType: "date"},
		tyTime3:      tm("tm3", "time", "time(3)", 3),
		tyTime0:      tm("tm0", "time", "time", 0),
		tyTime1:      tm("tm1", "time", "time(1)", 1),
		tyDatetime6:  tm("dtm6", "datetime", "datetime(6)", 6),
		tyDatetime2:  tm("dtm2", "datetime", "datetime(2)", 2),
		tyTs3:        tm("ts3", "timestamp", "timestamp(3)", 3),
		tyVarchar:    chr("vc", "varchar", "varchar(40)", 160, 255),
		tyLatin1:     chr("l1", "varchar", "varchar(10)", 10, 8),
		tyCP1251:     chr("cyr", "varchar", "varchar(10)", 10, 51),
		tyUCS2:       chr("ucs", "varchar", "varchar(10)", 20, 35),
		tyChar5:      chr("ch5", "char", "char(5)", 15, 33),
		tyChar255:    chr("ch255", "char", "char(255)", 1020, 2304),
		tyBinary4:    chr("bin4", "binary", "binary(4)", 4, 0),
		tyVarbinary:  chr("vb", "varbinary", "varbinary(10)", 10, 0),
		tyText:       chr("tx", "text", "text", 65535, 1070),
		tyLongtext:   chr("lt", "longtext", "longtext", 4294967295, 46),
		tyTinyblob:   chr("tb", "tinyblob", "tinyblob", 255, 0),
		tyEnum:       chr("e", "enum", `enum('a','b','it''s','x\\y')`, 16, 45),
		tySet:        chr("s", "set", "set('x','y','z')", 20, 45),
		tyEnumLatin1: chr("e1", "enum", "enum('café','€')", 4, 8),
		tyJSON:       {name: "j", dataType: "json", columnType: "json"},
		tyPoint:      {name: "g", dataType: "point", columnType: "point"},
	}
}

// tyCatalogEqual compares two tables, shape and decoders.
func tyCatalogEqual(t *testing.T, got, want *binlogTable) {
	t.Helper()
	if !reflect.DeepEqual(got.table, want.table) {
		t.Errorf("tables differ:\n%s", tyCatalogDiff(got.table, want.table))
	}
	if len(got.cols) != len(want.cols) {
		t.Fatalf("%d decoders, want %d", len(got.cols), len(want.cols))
	}
	for i := range got.cols {
		g, w := got.cols[i], want.cols[i]
		if g.charset != w.charset {
			t.Errorf("column %d (%s): charset %v, want %v", i, want.table.Columns[i].Name, g.charset, w.charset)
		}
		g.charset, w.charset = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("column %d (%s): decoder\n got %+v\nwant %+v", i, want.table.Columns[i].Name, g, w)
		}
	}
}

// tyCatalogDiff describes how two tables differ, column by column.
func tyCatalogDiff(got, want *ordering.Table) string {
	var b strings.Builder
	if got.Schema != want.Schema || got.Name != want.Name {
		fmt.Fprintf(&b, "  name %s, want %s\n", got.QualifiedName(), want.QualifiedName())
	}
	if !reflect.DeepEqual(got.PrimaryKey, want.PrimaryKey) {
		fmt.Fprintf(&b, "  primary key %q, want %q\n", got.PrimaryKey, want.PrimaryKey)
	}
	if !reflect.DeepEqual(got.UniqueKeys, want.UniqueKeys) || !reflect.DeepEqual(got.ForeignKeys, want.ForeignKeys) || got.Serial != want.Serial {
		fmt.Fprintf(&b, "  keys %v %v %v, want %v %v %v\n", got.UniqueKeys, got.ForeignKeys, got.Serial, want.UniqueKeys, want.ForeignKeys, want.Serial)
	}
	for i := range max(len(got.Columns), len(want.Columns)) {
		var g, w ordering.Column
		if i < len(got.Columns) {
			g = got.Columns[i]
		}
		if i < len(want.Columns) {
			w = want.Columns[i]
		}
		if !reflect.DeepEqual(g, w) {
			fmt.Fprintf(&b, "  column %d:\n     got %+v\n    want %+v\n", i, g, w)
		}
	}
	return b.String()
}

// TestCatalogBuild: the catalog rows of tyTable's columns build what its
// TABLE_MAP event builds.
func TestCatalogBuild(t *testing.T) {
	want := tyTable(t)
	rows := tyCatalogColumns()
	var cols []catalogColumn
	keep := []int{}
	for i := range tyCount {
		if i == tyTimeOld {
			continue
		}
		cols = append(cols, rows[i])
		keep = append(keep, i)
	}
	got, err := catalogBuild("db", "t", cols, []catalogIndex{{name: "PRIMARY", columns: []string{"id"}}}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	sub := &binlogTable{table: &ordering.Table{Schema: "db", Name: "t", PrimaryKey: want.table.PrimaryKey}}
	for _, i := range keep {
		sub.table.Columns = append(sub.table.Columns, want.table.Columns[i])
		sub.cols = append(sub.cols, want.cols[i])
	}
	tyCatalogEqual(t, got, sub)
	for i, tx := range got.text {
		if tx != catalogPlain {
			t.Errorf("column %d: text form %d", i, tx)
		}
	}
	// Floats exactly; text that walship decodes itself as its bytes.
	if got := got.selectList(); !strings.Contains(got, "CAST(`f` AS DOUBLE), CAST(`d` AS DOUBLE), `dt`") ||
		!strings.Contains(got, "`vc`, CAST(`l1` AS BINARY), CAST(`cyr` AS BINARY), CAST(`ucs` AS BINARY), `ch5`") || strings.Count(got, "CAST") != 5 {
		t.Errorf("selectList() = %s", got)
	}
}

func TestCatalogBinlogType(t *testing.T) {
	for _, c := range []struct {
		col        catalogColumn
		typ        byte
		meta       uint16
		size       int
		text       catalogText
		errorMatch string
	}{
		{col: catalogColumn{dataType: "char", octets: 0}, typ: mysql.MYSQL_TYPE_STRING, meta: 0xfe00},
		{col: catalogColumn{dataType: "char", octets: 255}, typ: mysql.MYSQL_TYPE_STRING, meta: 0xfeff, size: 255},
		{col: catalogColumn{dataType: "char", octets: 256}, typ: mysql.MYSQL_TYPE_STRING, meta: 0xee00, size: 256},
		{col: catalogColumn{dataType: "char", octets: 765}, typ: mysql.MYSQL_TYPE_STRING, meta: 0xdefd, size: 765},
		{col: catalogColumn{dataType: "char", octets: 1020}, typ: mysql.MYSQL_TYPE_STRING, meta: 0xcefc, size: 1020},
		{col: catalogColumn{dataType: "varchar", octets: 65532}, typ: mysql.MYSQL_TYPE_VARCHAR, meta: 65532},
		{col: catalogColumn{dataType: "bit", precision: 1}, typ: mysql.MYSQL_TYPE_BIT, meta: 1},
		{col: catalogColumn{dataType: "bit", precision: 17}, typ: mysql.MYSQL_TYPE_BIT, meta: 2<<8 | 1},
		{col: catalogColumn{dataType: "decimal", precision: 65, scale: 30}, typ: mysql.MYSQL_TYPE_NEWDECIMAL, meta: 65<<8 | 30},
		{col: catalogColumn{dataType: "double", columnType: "double(10,2)"}, typ: mysql.MYSQL_TYPE_DOUBLE, meta: 8},
		{col: catalogColumn{dataType: "float", columnType: "float(7,2) unsigned"}, typ: mysql.MYSQL_TYPE_FLOAT, meta: 4},
		{col: catalogColumn{dataType: "timestamp", fsp: 6}, typ: mysql.MYSQL_TYPE_TIMESTAMP2, meta: 6},
		{col: catalogColumn{dataType: "mediumblob"}, typ: mysql.MYSQL_TYPE_BLOB, meta: 3},
		{col: catalogColumn{dataType: "longtext", columnType: "longtext"}, typ: mysql.MYSQL_TYPE_BLOB, meta: 4}, // MariaDB JSON
		{col: catalogColumn{dataType: "enum", columnType: "enum('a')"}, typ: mysql.MYSQL_TYPE_ENUM, meta: 0xf701, size: 1},
		{col: catalogColumn{dataType: "enum", columnType: "enum(" + tyQuotedLabels(256) + ")"}, typ: mysql.MYSQL_TYPE_ENUM, meta: 0xf702, size: 2},
		{col: catalogColumn{dataType: "set", columnType: "set(" + tyQuotedLabels(8) + ")"}, typ: mysql.MYSQL_TYPE_SET, meta: 0xf801, size: 1},
		{col: catalogColumn{dataType: "set", columnType: "set(" + tyQuotedLabels(9) + ")"}, typ: mysql.MYSQL_TYPE_SET, meta: 0xf802, size: 2},
		{col: catalogColumn{dataType: "set", columnType: "set(" + tyQuotedLabels(25) + ")"}, typ: mysql.MYSQL_TYPE_SET, meta: 0xf804, size: 4},
		{col: catalogColumn{dataType: "set", columnType: "set(" + tyQuotedLabels(33) + ")"}, typ: mysql.MYSQL_TYPE_SET, meta: 0xf808, size: 8},
		{col: catalogColumn{dataType: "multipolygon"}, typ: mysql.MYSQL_TYPE_GEOMETRY, meta: 4},
		{col: catalogColumn{dataType: "uuid"}, typ: mysql.MYSQL_TYPE_STRING, meta: 0xfe10, size: 16, text: catalogUUID},
		{col: catalogColumn{dataType: "inet6"}, typ: mysql.MYSQL_TYPE_STRING, meta: 0xfe10, size: 16, text: catalogINET6},
		{col: catalogColumn{dataType: "inet4"}, typ: mysql.MYSQL_TYPE_STRING, meta: 0xfe04, size: 4, text: catalogINET4},
		{col: catalogColumn{dataType: "varchar", columnType: "varchar(20) /*M!100301 COMPRESSED*/"}, errorMatch: "compressed"},
		{col: catalogColumn{dataType: "frobnicate"}, errorMatch: "unsupported column type frobnicate"},
	} {
		typ, meta, size, text, err := catalogBinlogType(c.col)
		if c.errorMatch != "" {
			if err == nil || !strings.Contains(err.Error(), c.errorMatch) {
				t.Errorf("%s %s: error %v, want %q", c.col.dataType, c.col.columnType, err, c.errorMatch)
			}
			continue
		}
		if err != nil || typ != c.typ || meta != c.meta || size != c.size || text != c.text {
			t.Errorf("%s %s: %d %#x %d %d %v, want %d %#x %d %d", c.col.dataType, c.col.columnType, typ, meta, size, text, err,
				c.typ, c.meta, c.size, c.text)
		}
	}
	// Every CHAR length round-trips through newBinlogTable's decoding of the metadata.
	for n := 0; n < 1024; n++ {
		meta := catalogStringMeta(mysql.MYSQL_TYPE_STRING, n)
		if meta != tyChar(n) {
			t.Fatalf("char of %d bytes: meta %#x, want %#x", n, meta, tyChar(n))
		}
	}
}

func tyQuotedLabels(n int) string {
	q := make([]string, n)
	for i := range q {
		q[i] = fmt.Sprintf("'l%d'", i)
	}
	return strings.Join(q, ",")
}

func TestCatalogPrimaryKey(t *testing.T) {
	cols := []catalogColumn{{name: "a", key: "PRI"}, {name: "B", key: "PRI"}, {name: "c", key: "UNI"}}
	pk := catalogPrimaryKey(cols, []catalogIndex{{name: "uc", columns: []string{"c"}}, {name: "uba", columns: []string{"b", "a"}}})
	if !reflect.DeepEqual(pk, []string{"b", "a"}) {
		t.Errorf("promoted key: %q", pk)
	}
	pk = catalogPrimaryKey(cols, []catalogIndex{{name: "uc", columns: []string{"c"}}, {name: "PRIMARY", columns: []string{"B", "a"}}})
	if !reflect.DeepEqual(pk, []string{"B", "a"}) {
		t.Errorf("primary key: %q", pk)
	}
	if pk := catalogPrimaryKey(cols[2:], []catalogIndex{{name: "uc", columns: []string{"c"}}}); pk != nil {
		t.Errorf("no primary key: %q", pk)
	}
}

// TestCatalogHashColumns: MariaDB long unique keys add hidden hash columns.
func TestCatalogHashColumns(t *testing.T) {
	cols := []catalogColumn{
		{name: "id", dataType: "int", columnType: "int(11)", key: "PRI"},
		{name: "b1", dataType: "blob", columnType: "blob", nullable: true},
		{name: "b2", dataType: "blob", columnType: "blob"},
		{name: "DB_ROW_HASH_1", dataType: "int", columnType: "int(11)", nullable: true},
	}
	idx := []catalogIndex{{name: "PRIMARY", columns: []string{"id"}}, {name: "kb1", hash: true, columns: []string{"b1"}},
		{name: "kb2", hash: true, columns: []string{"b2"}}}
	got, err := catalogBuild("db", "t", cols, idx, true, true)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got.table.Columns {
		names = append(names, fmt.Sprintf("%s:%s:%v", c.Name, c.Type, c.Nullable))
	}
	want := "id:int:false b1:blob:true b2:blob:false DB_ROW_HASH_1:int:true DB_ROW_HASH_2:bigint unsigned:true DB_ROW_HASH_3:bigint unsigned:false"
	if strings.Join(names, " ") != want {
		t.Errorf("columns %s\nwant    %s", strings.Join(names, " "), want)
	}
	if got.text[4] != catalogHidden || got.text[5] != catalogHidden || got.text[3] != catalogPlain {
		t.Errorf("text forms %v", got.text)
	}
	if s := got.selectList(); s != "`id`, `b1`, `b2`, `DB_ROW_HASH_1`, NULL, NULL" {
		t.Errorf("selectList() = %s", s)
	}
	row, err := got.textRow([]sql.RawBytes{sql.RawBytes("1"), nil, sql.RawBytes("x"), sql.RawBytes("5"), nil, sql.RawBytes("77")})
	if err != nil {
		t.Fatal(err)
	}
	if !row[4].IsNull() || !row[5].IsNull() || !row[3].Equal(ordering.Int(5)) {
		t.Errorf("row %v", row)
	}
	// No hash columns without long unique keys (MySQL, MEMORY tables).
	got, err = catalogBuild("db", "t", cols, idx, false, true)
	if err != nil || len(got.table.Columns) != len(cols) {
		t.Errorf("without long hash: %v, %v", got, err)
	}
}

// TestCatalogTextRow reads SELECT text into the values decode gives.
func TestCatalogTextRow(t *testing.T) {
	rows := tyCatalogColumns()
	var cols []catalogColumn
	for i := range tyCount {
		if i != tyTimeOld {
			cols = append(cols, rows[i])
		}
	}
	cols = append(cols,
		catalogColumn{name: "u", dataType: "uuid", columnType: "uuid"},
		catalogColumn{name: "i6", dataType: "inet6", columnType: "inet6"},
		catalogColumn{name: "i4", dataType: "inet4", columnType: "inet4"},
		catalogColumn{name: "e0", dataType: "enum", columnType: "enum('','a')", collation: 45},
	)
	tb, err := catalogBuild("db", "t", cols, nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	idx := func(name string) int { return tb.table.ColumnIndex(name) }
	f32 := func(f float32) ordering.Value { return ordering.Float(float64(f)) }
	by := func(s string) ordering.Value { return ordering.Bytes([]byte(s)) }
	for _, c := range []struct {
		col  string
		text string
		want ordering.Value
	}{
		{"id", "4294967295", ordering.Uint(math.MaxUint32)},
		{"tiny", "-128", ordering.Int(-128)},
		{"tiny_u", "255", ordering.Uint(255)},
		{"medium", "-8388608", ordering.Int(-8388608)},
		{"big_u", "18446744073709551615", ordering.Uint(math.MaxUint64)},
		{"big", "-9223372036854775808", ordering.Int(math.MinInt64)},
		{"y", "0000", ordering.Int(0)},
		{"y", "2155", ordering.Int(2155)},
		{"bit64", "\xff\xff\xff\xff\xff\xff\xff\xff", ordering.Uint(math.MaxUint64)},
		{"bit3", "\x05", ordering.Uint(5)},
		{"dec", "-0.50", ordering.Decimal("-0.50")},
		{"dec", "3.5", ordering.Decimal("3.50")},
		{"dec65", "12345678901234567890123456789012345.123456789012345678901234567890",
			ordering.Decimal("12345678901234567890123456789012345.123456789012345678901234567890")},
		{"dec0", "-99999", ordering.Decimal("-99999")},
		{"f", "16777216", f32(16777216)},
		{"f", "-0.10000000149011612", f32(-0.1)}, // CAST(f AS DOUBLE)
		{"f", "-0.1", f32(-0.1)},                 // FLOAT's own text
		{"f", "3.4028234663852886e38", f32(math.MaxFloat32)},
		{"f", "1.401298464324817e-45", f32(math.SmallestNonzeroFloat32)},
		{"f", "1.23457", f32(1.23457)}, // 6 digits: the nearest float32 (not the stored 1.2345678)
		{"d", "1e308", ordering.Float(1e308)},
		{"d", "-0", ordering.Float(math.Copysign(0, -1))},
		{"d", "5e-324", ordering.Float(5e-324)},
		{"d", "0.30000000000000004", ordering.Float(0.30000000000000004)},
		{"dt", "0000-00-00", ordering.Special(ordering.KindDate, "0000-00-00")},
		{"dt", "1970-01-02", ordering.Date(1)},
		{"tm3", "-838:59:59.999", ordering.Time(-(838*3600+59*60+59)*1e6 - 999000)},
		{"tm0", "-00:00:01", ordering.Time(-1e6)},
		{"dtm2", "0000-00-00 00:00:00.00", ordering.Special(ordering.KindTimestamp, "0000-00-00 00:00:00.00")},
		{"dtm6", "1970-01-01 00:00:00.000001", ordering.Timestamp(1)},
		{"ts3", "1970-01-01 00:00:01.500", ordering.TimestampTZ(1500000)},
		{"vc", "😀 ✓", ordering.String("😀 ✓")},
		{"l1", "\x80\xe9", ordering.String("€é")}, // the column's latin1 bytes (selectList), decoded as the binlog's
		{"ucs", "\x00\xfc", ordering.String("ü")}, // UCS-2 big-endian
		{"ch5", "", ordering.String("")},
		{"bin4", "a\x00\x00\x00", by("a\x00\x00\x00")},
		{"bin4", "a", by("a\x00\x00\x00")},
		{"vb", "", by("")},
		{"tb", "\x00\xff", by("\x00\xff")},
		{"e", "it's", ordering.Enum("it's")},
		{"e", `x\y`, ordering.Enum(`x\y`)},
		{"e", "", ordering.Enum("")},
		{"e0", "", ordering.Enum("")},
		{"e0", "a", ordering.Enum("a")},
		{"e1", "€", ordering.Enum("€")},
		{"s", "x,z", ordering.Text("x,z")},
		{"s", "", ordering.Text("")},
		{"j", `{"b": [1, 2.5, "x", 1.0, 18446744073709551615, -3, 1e300], "a": {"<": null, "t": true}}`,
			ordering.JSON(`{"a":{"\u003c":null,"t":true},"b":[1,2.5,"x",1,18446744073709551615,-3,1e+300]}`)},
		{"j", `"text"`, ordering.JSON(`"text"`)},
		{"g", "\x00\x00\x00\x00\x01\x01\x00\x00\x00", by("\x00\x00\x00\x00\x01\x01\x00\x00\x00")},
		{"u", "6ccd780c-baba-1026-9564-5b8c656024db", by("\x6c\xcd\x78\x0c\xba\xba\x10\x26\x95\x64\x5b\x8c\x65\x60\x24\xdb")},
		{"i6", "::1", by(strings.Repeat("\x00", 15) + "\x01")},
		{"i6", "::ffff:1.2.3.4", by(strings.Repeat("\x00", 10) + "\xff\xff\x01\x02\x03\x04")},
		{"i6", "2001:db8::1", by("\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x01")},
		{"i4", "255.0.0.1", by("\xff\x00\x00\x01")},
	} {
		i := idx(c.col)
		if i < 0 {
			t.Fatalf("no column %s", c.col)
		}
		vals := make([]sql.RawBytes, len(tb.cols))
		vals[i] = sql.RawBytes(c.text)
		row, err := tb.textRow(vals)
		if err != nil {
			t.Errorf("%s %q: %v", c.col, c.text, err)
			continue
		}
		if !row[i].Equal(c.want) {
			t.Errorf("%s %q: got %s %v, want %s %v", c.col, c.text, row[i].Kind(), row[i], c.want.Kind(), c.want)
		}
		for j, v := range row {
			if j != i && !v.IsNull() {
				t.Errorf("%s %q: column %d is %v, want NULL", c.col, c.text, j, v)
			}
		}
	}
	for _, c := range []struct{ col, text string }{
		{"tiny", "x"}, {"tiny_u", "-1"}, {"big_u", "18446744073709551616"}, {"bit64", "123456789"}, {"dec", "1..2"},
		{"f", "nope"}, {"d", ""}, {"dt", "2024-1-1"}, {"tm3", "1:2"}, {"e", "zzz-secret"}, {"s", "x,secret"},
		{"j", "{"}, {"u", "6ccd780c-baba-1026-9564-5b8c656024"}, {"i4", "::1"}, {"i6", "1.2.3"},
	} {
		i := idx(c.col)
		vals := make([]sql.RawBytes, len(tb.cols))
		vals[i] = sql.RawBytes(c.text)
		_, err := tb.textRow(vals)
		if err == nil {
			t.Errorf("%s %q: no error", c.col, c.text)
			continue
		}
		if !strings.Contains(err.Error(), "column "+c.col+" (") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s %q: error %v (must name the column, not the value)", c.col, c.text, err)
		}
	}
	if _, err := tb.textRow(make([]sql.RawBytes, 3)); err == nil {
		t.Error("a short row: no error")
	}
}
