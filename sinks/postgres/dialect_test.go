package postgres

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sinks/sqltext"
)

var dia = New(config.PostgresSink{})

func TestQuotingAndPlaceholders(t *testing.T) {
	if got := dia.QuoteIdent(`a"b`); got != `"a""b"` {
		t.Errorf("QuoteIdent = %s", got)
	}
	if got := dia.QuoteName(sqlsink.Name{Schema: "s", Table: `t"x`}); got != `"s"."t""x"` {
		t.Errorf("QuoteName = %s", got)
	}
	if got := dia.QuoteName(sqlsink.Name{Table: "t"}); got != `"t"` {
		t.Errorf("QuoteName without schema = %s", got)
	}
	if dia.Placeholder(0) != "$1" || dia.Placeholder(9) != "$10" {
		t.Errorf("Placeholder(0), (9) = %s, %s", dia.Placeholder(0), dia.Placeholder(9))
	}
	if got := dia.NullSafeEqual(`"c"`, "$3"); got != `"c" IS NOT DISTINCT FROM $3` {
		t.Errorf("NullSafeEqual = %s", got)
	}
	if got := dia.Target("public", "t"); got != (sqlsink.Name{Schema: "public", Table: "t"}) {
		t.Errorf("Target = %v", got)
	}
	if dia.Engine() != "postgres" {
		t.Errorf("Engine = %s", dia.Engine())
	}
}

func TestDDL(t *testing.T) {
	n := sqlsink.Name{Schema: "s", Table: "t"}
	got := dia.CreateTable(n, []sqlsink.ColumnDef{{Name: "id", Type: "bigint", NotNull: true}, {Name: "v", Type: "text"}}, []string{"id"})
	want := []string{`CREATE SCHEMA IF NOT EXISTS "s"`, `CREATE TABLE IF NOT EXISTS "s"."t" ("id" bigint NOT NULL, "v" text, PRIMARY KEY ("id"))`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CreateTable =\n%q\nwant\n%q", got, want)
	}
	for _, c := range []struct{ got, want string }{
		{dia.Upsert(n, []string{"id", "a", "b"}, []string{"id"}, 2),
			`INSERT INTO "s"."t" ("id", "a", "b") VALUES ($1, $2, $3), ($4, $5, $6) ON CONFLICT ("id") DO UPDATE SET "a" = EXCLUDED."a", "b" = EXCLUDED."b"`},
		{dia.Upsert(n, []string{"k1", "k2"}, []string{"k1", "k2"}, 1),
			`INSERT INTO "s"."t" ("k1", "k2") VALUES ($1, $2) ON CONFLICT ("k1", "k2") DO NOTHING`},
		{dia.Upsert(n, []string{"a"}, nil, 1), `INSERT INTO "s"."t" ("a") VALUES ($1)`},
		{dia.AddColumn(n, sqlsink.ColumnDef{Name: "c", Type: "integer"}), `ALTER TABLE "s"."t" ADD COLUMN IF NOT EXISTS "c" integer`},
		{dia.DropNotNull(n, sqlsink.ColumnDef{Name: "c", Type: "integer"}), `ALTER TABLE "s"."t" ALTER COLUMN "c" DROP NOT NULL`},
		{dia.DropColumn(n, "c"), `ALTER TABLE "s"."t" DROP COLUMN IF EXISTS "c"`},
		{dia.Truncate(n), `TRUNCATE TABLE "s"."t"`},
		{dia.TruncateTables([]sqlsink.Name{{Schema: "s", Table: "child"}, n}), `TRUNCATE TABLE "s"."child", "s"."t"`},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
	if m := dia.MetaTables(); len(m) != 3 || m[0] != `CREATE SCHEMA IF NOT EXISTS "walship"` {
		t.Errorf("MetaTables: %d statements", len(m))
	}
}

func TestTypeCompatible(t *testing.T) {
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"integer", "integer", true},
		{"int4", "integer", true},
		{"bigint", "integer", true},
		{"integer", "bigint", false},
		{"character varying(40)", "varchar(40)", true},
		{"character varying(20)", "character varying(10)", true},
		{"character varying(10)", "character varying(20)", false},
		{"text", "character varying(10)", true},
		{"character varying(10)", "text", false},
		{"timestamp with time zone", "timestamptz(6)", true},
		{"timestamp(6) with time zone", "timestamp(3) with time zone", true},
		{"timestamp(3) with time zone", "timestamp with time zone", false},
		{"timestamp without time zone", "timestamp with time zone", false},
		{"numeric", "numeric(12,2)", true},
		{"numeric(14,4)", "numeric(12,2)", true},
		{"numeric(12,2)", "numeric(12,4)", false},
		{"numeric(12,2)", "numeric", false},
		{"double precision", "real", true},
		{"real", "double precision", false},
		{"text[]", "text[]", true},
		{"text", "text[]", false},
		{"jsonb", "json", false},
		{"json", "jsonb", false},
		{"bpchar", "character(5)", false},
		{"character(1)", "char", true},
		{`"Mood"`, `"Mood"`, true},
		{`"Mood"`, `"mood"`, false},
	} {
		if got := dia.TypeCompatible(c.have, c.want); got != c.ok {
			t.Errorf("TypeCompatible(%q, %q) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
}

func TestRetryable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("apply: %w", err) }
	for _, c := range []struct {
		err  error
		want bool
		code string
	}{
		{wrap(&pgconn.PgError{Code: "40P01"}), true, "40P01"},
		{wrap(&pgconn.PgError{Code: "40001"}), true, "40001"},
		{wrap(&pgconn.PgError{Code: "57P01"}), true, "57P01"},
		{wrap(&pgconn.PgError{Code: "08006"}), true, "08006"},
		{wrap(&pgconn.PgError{Code: "55P03"}), true, "55P03"},
		{wrap(&pgconn.PgError{Code: "53300"}), true, "53300"},
		{wrap(&pgconn.PgError{Code: "23505"}), false, "23505"},
		{wrap(&pgconn.PgError{Code: "22003"}), false, "22003"},
		{wrap(&pgconn.PgError{Code: "42P01"}), false, "42P01"},
		{wrap(&pgconn.PgError{Code: "28P01"}), false, "28P01"},
		{wrap(io.EOF), true, ""},
		{wrap(io.ErrUnexpectedEOF), true, ""},
		{wrap(driver.ErrBadConn), true, ""},
		{wrap(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), true, ""},
		{wrap(context.DeadlineExceeded), true, ""},
		{wrap(context.Canceled), false, ""},
		{errors.New("duplicate key"), false, ""},
		{nil, false, ""},
	} {
		if got := dia.Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
		if got := dia.Code(c.err); got != c.code {
			t.Errorf("Code(%v) = %q, want %q", c.err, got, c.code)
		}
	}
}

// daysOf is days_from_civil for astronomical year y.
func daysOf(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	doy := (153*int64((m+9)%12)+2)/5 + int64(d) - 1
	return era*146097 + yoe*365 + yoe/4 - yoe/100 + doy - 719468
}

// usOf is microseconds since 1970 of y-m-d h:mi:s + frac µs.
func usOf(y int64, m, d, h, mi, s int, frac int64) int64 {
	return daysOf(y, m, d)*sqltext.UsPerDay + int64(h*3600+mi*60+s)*sqltext.UsPerSec + frac
}

func TestCivilRoundTrip(t *testing.T) {
	for _, d := range []int64{-sqltext.MaxDays, -2_000_000_000, -719468, -719469, -1, 0, 1, 59, 60, 365, 11016, 2_147_483_000, sqltext.MaxDays} {
		y, m, dd := sqltext.CivilFromDays(d)
		if back := daysOf(y, m, dd); back != d {
			t.Errorf("civilFromDays(%d) = %d-%d-%d → %d", d, y, m, dd, back)
		}
	}
	for d := int64(-800_000); d < 800_000; d += 37 {
		y, m, dd := sqltext.CivilFromDays(d)
		if daysOf(y, m, dd) != d {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d", d, y, m, dd)
		}
	}
}

func TestParam(t *testing.T) {
	col := func(typ string, k ordering.Kind) ordering.Column {
		return ordering.Column{Name: "c", Type: typ, Kind: k}
	}
	for _, c := range []struct {
		col  ordering.Column
		v    ordering.Value
		want any
	}{
		{col("integer", ordering.KindInt), ordering.Null(), nil},
		{col("boolean", ordering.KindBool), ordering.Bool(true), "t"},
		{col("bigint", ordering.KindInt), ordering.Int(math.MinInt64), "-9223372036854775808"},
		{col("bigint(20) unsigned", ordering.KindUint), ordering.Uint(math.MaxUint64), "18446744073709551615"},
		{col("bit(8)", ordering.KindUint), ordering.Uint(5), "00000101"},
		{col("double precision", ordering.KindFloat), ordering.Float(math.NaN()), "NaN"},
		{col("double precision", ordering.KindFloat), ordering.Float(math.Inf(1)), "Infinity"},
		{col("double precision", ordering.KindFloat), ordering.Float(math.Inf(-1)), "-Infinity"},
		{col("double precision", ordering.KindFloat), ordering.Float(math.Copysign(0, -1)), "-0"},
		{col("real", ordering.KindFloat), ordering.Float(float64(float32(0.1))), "0.10000000149011612"},
		{col("numeric", ordering.KindDecimal), ordering.Decimal("-12.3400"), "-12.3400"},
		{col("bytea", ordering.KindBytes), ordering.Bytes(nil), []byte{}},
		{col("bytea", ordering.KindBytes), ordering.Bytes([]byte{1, 2}), []byte{1, 2}},
		{col("date", ordering.KindDate), ordering.Date(0), "1970-01-01"},
		{col("date", ordering.KindDate), ordering.Date(daysOf(-43, 3, 15)), "0044-03-15 BC"},
		{col("date", ordering.KindDate), ordering.Date(daysOf(0, 12, 31)), "0001-12-31 BC"},
		{col("date", ordering.KindDate), ordering.Date(daysOf(5874897, 12, 31)), "5874897-12-31"},
		{col("date", ordering.KindDate), ordering.Special(ordering.KindDate, "infinity"), "infinity"},
		{col("time without time zone", ordering.KindTime), ordering.Time(86_400_000_000), "24:00:00.000000"},
		{col("time(6)", ordering.KindTime), ordering.Time(-(838*3600 + 59*60 + 59) * sqltext.UsPerSec), "-838:59:59.000000"},
		{col("timestamp without time zone", ordering.KindTimestamp), ordering.Timestamp(usOf(-43, 3, 15, 10, 0, 0, 500_000)), "0044-03-15 10:00:00.500000 BC"},
		{col("timestamp with time zone", ordering.KindTimestampTZ), ordering.TimestampTZ(-1), "1969-12-31 23:59:59.999999+00"},
		{col("timestamp with time zone", ordering.KindTimestampTZ), ordering.Special(ordering.KindTimestampTZ, "-infinity"), "-infinity"},
		{col("interval", ordering.KindInterval), ordering.Interval("P-1Y-2M3D"), "P-1Y-2M3D"},
		{col("text[]", ordering.KindArray), ordering.Array(ordering.String("a"), ordering.String(`b"c\d`), ordering.Null(),
			ordering.String("NULL"), ordering.String(""), ordering.String("x,y {z}")), `{"a","b\"c\\d",NULL,"NULL","","x,y {z}"}`},
		{col("integer[]", ordering.KindArray), ordering.Array(ordering.Array(ordering.Int(1), ordering.Int(2)), ordering.Array()), `{{"1","2"},{}}`},
		{col("bytea[]", ordering.KindArray), ordering.Array(ordering.Bytes([]byte{0xab})), `{"\\xab"}`},
		{col("box[]", ordering.KindArray), ordering.Array(ordering.Text("(1,1),(0,0)"), ordering.Text("(2,2),(1,1)")), `{"(1,1),(0,0)";"(2,2),(1,1)"}`},
		{col("timestamp with time zone[]", ordering.KindArray), ordering.Array(ordering.TimestampTZ(0), ordering.Special(ordering.KindTimestampTZ, "infinity")),
			`{"1970-01-01 00:00:00.000000+00","infinity"}`},
	} {
		got, err := dia.Param(c.col, c.v)
		if err != nil {
			t.Errorf("Param(%s, %v): %v", c.col.Type, c.v, err)
			continue
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.want) {
			t.Errorf("Param(%s, %v) = %#v, want %#v", c.col.Type, c.v, got, c.want)
		}
	}
}

func TestParamUnsupported(t *testing.T) {
	for _, c := range []struct {
		col ordering.Column
		v   ordering.Value
	}{
		{ordering.Column{Name: "d", Type: "date", Kind: ordering.KindDate}, ordering.Special(ordering.KindDate, "0000-00-00")},
		{ordering.Column{Name: "d", Type: "datetime", Kind: ordering.KindTimestamp}, ordering.Special(ordering.KindTimestamp, "2024-00-00 00:00:00")},
		{ordering.Column{Name: "s", Type: "varchar(4)", Kind: ordering.KindString}, ordering.String("a\x00b")},
		{ordering.Column{Name: "a", Type: "text[]", Kind: ordering.KindArray}, ordering.Array(ordering.String("\x00"))},
		{ordering.Column{Name: "b", Type: "bit(2)", Kind: ordering.KindUint}, ordering.Uint(4)},
	} {
		if _, err := dia.Param(c.col, c.v); !errors.Is(err, sqlsink.ErrUnsupported) {
			t.Errorf("Param(%s, %v) = %v, want ErrUnsupported", c.col.Type, c.v, err)
		}
	}
	if _, err := dia.Param(ordering.Column{Name: "u"}, ordering.Unchanged()); err == nil {
		t.Error("Param(unchanged) succeeded")
	}
}

var _ sqlsink.Redactor = (*Dialect)(nil)

// TestRedact: a data exception's quoted value is dropped; integrity
// errors (whose values PostgreSQL keeps in the detail) are kept whole.
func TestRedact(t *testing.T) {
	d := &Dialect{}
	got := d.Redact(fmt.Errorf("x: %w", &pgconn.PgError{Severity: "ERROR", Code: "22P02", Message: `invalid input syntax for type integer: "ROWSECRET"`}))
	if strings.Contains(got, "ROWSECRET") || !strings.Contains(got, "invalid input syntax for type integer") || !strings.Contains(got, "22P02") {
		t.Errorf("22P02: %q", got)
	}
	got = d.Redact(&pgconn.PgError{Severity: "ERROR", Code: "23505", Message: `duplicate key value violates unique constraint "uv"`, Detail: "Key (v)=(ROWSECRET) already exists."})
	if strings.Contains(got, "ROWSECRET") || !strings.Contains(got, `unique constraint "uv"`) {
		t.Errorf("23505: %q", got)
	}
}

func TestWidenType(t *testing.T) {
	for _, c := range []struct {
		have, want, got string // got "" when it cannot be widened
	}{
		{"numeric(10,2)", "numeric(12,4)", "numeric(12,4)"},
		{"numeric(12,2)", "numeric(10,4)", "numeric(14,4)"},
		{"numeric(10,2)", "numeric", "numeric"},
		{"numeric(10,2)[]", "numeric(12,4)[]", "numeric(12,4)[]"},
		{"integer", "bigint", "bigint"},
		{"smallint", "numeric(12,4)", "numeric(12,4)"},
		{"bigint", "numeric(12,4)", "numeric(23,4)"},
		{"character varying(10)", "character varying(20)", "character varying(20)"},
		{"character varying(10)", "text", "text"},
		{"character varying(10)", "character(20)", "character varying(20)"},
		{"timestamp(0) without time zone", "timestamp(6) without time zone", "timestamp(6) without time zone"},
		{"real", "double precision", "double precision"},
		// Not lossless, or not the same family: no widening.
		{"character(5)", "character(10)", ""},
		{"character(5)", "text", ""},
		{"timestamp without time zone", "timestamp with time zone", ""},
		{"integer", "text", ""},
		{"numeric(10,2)", "double precision", ""},
		{"double precision", "numeric(10,2)", ""},
		{"jsonb", "json", ""},
		{"text", "text[]", ""},
		{"numeric(10,2)", "integer", ""},
	} {
		got, ok := dia.WidenType(c.have, c.want)
		if ok != (c.got != "") || got != c.got {
			t.Errorf("WidenType(%q, %q) = %q, %v; want %q", c.have, c.want, got, ok, c.got)
		}
		if ok && !dia.TypeCompatible(got, c.want) {
			t.Errorf("WidenType(%q, %q) = %q does not take %s", c.have, c.want, got, c.want)
		}
	}
}

func TestBinaryType(t *testing.T) {
	for typ, want := range map[string]binType{
		"bigint": binInt8, "integer": binInt4, "smallint": binInt2, "boolean": binBool, "double precision": binFloat8,
		"text": binText, "character varying": binText, "character varying(12)": binText, "bytea": binBytea,
		"timestamp with time zone": binTimestampTZ, "timestamp without time zone": binTimestamp, "date": binDate, "uuid": binUUID,
		"character varying(12)[]": binNone, "text[]": binNone, "numeric(10,2)": binNone, "real": binNone, "json": binNone,
		"timestamp(3) with time zone": binNone, "character(3)": binNone, "interval": binNone, "": binNone,
	} {
		if got := binaryType(typ); got != want {
			t.Errorf("binaryType(%q) = %d, want %d", typ, got, want)
		}
	}
}

func TestAppendBinary(t *testing.T) {
	ok := func(bt binType, v ordering.Value, want string) {
		t.Helper()
		b, fits := appendBinary(nil, bt, v)
		if !fits || fmt.Sprintf("%x", b) != want {
			t.Errorf("appendBinary(%d, %v) = %x, %v; want %s", bt, v, b, fits, want)
		}
	}
	no := func(bt binType, v ordering.Value) {
		t.Helper()
		if b, fits := appendBinary(nil, bt, v); fits {
			t.Errorf("appendBinary(%d, %v) = %x; want text only", bt, v, b)
		}
	}
	ok(binInt8, ordering.Null(), "ffffffff")
	ok(binInt8, ordering.Int(-2), "00000008fffffffffffffffe")
	ok(binInt4, ordering.Uint(7), "0000000400000007")
	ok(binInt2, ordering.Int(-1), "00000002ffff")
	no(binInt2, ordering.Int(1<<15))
	no(binInt4, ordering.Int(-1<<31-1))
	no(binInt8, ordering.Uint(1<<63))
	no(binInt8, ordering.String("1"))
	ok(binBool, ordering.Bool(true), "0000000101")
	ok(binFloat8, ordering.Float(math.Copysign(0, -1)), "000000088000000000000000")
	no(binFloat8, ordering.Float(math.NaN()))
	ok(binText, ordering.String("é"), "00000002c3a9")
	no(binText, ordering.String("a\x00"))
	ok(binBytea, ordering.Bytes([]byte{0, 0xff}), "0000000200ff")
	ok(binTimestampTZ, ordering.TimestampTZ(pgEpochMicros+1), "000000080000000000000001")
	no(binTimestampTZ, ordering.Timestamp(pgEpochMicros))
	no(binTimestamp, ordering.Special(ordering.KindTimestamp, "infinity"))
	no(binTimestamp, ordering.Timestamp(math.MinInt64))
	ok(binDate, ordering.Date(pgEpochDays-1), "00000004ffffffff")
	no(binDate, ordering.Date(math.MaxInt64))
	ok(binUUID, ordering.UUID("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11")
	no(binUUID, ordering.UUID("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"))
}

func TestEncodeText(t *testing.T) {
	cols := []ordering.Column{{Name: "a", Type: "text", Kind: ordering.KindString}, {Name: "b", Type: "bytea", Kind: ordering.KindBytes},
		{Name: "c", Type: "bigint", Kind: ordering.KindInt}, {Name: "d", Type: "timestamptz", Kind: ordering.KindTimestampTZ}}
	var buf bytes.Buffer
	rows := [][]ordering.Value{{ordering.String("x\ty\\z\n"), ordering.Bytes([]byte{1, 0xab}), ordering.Int(-3), ordering.TimestampTZ(0)},
		{ordering.Null(), ordering.Null(), ordering.Null(), ordering.Special(ordering.KindTimestampTZ, "infinity")}}
	if err := encodeText(&buf, cols, rows); err != nil {
		t.Fatal(err)
	}
	want := "x\\ty\\\\z\\n\t\\\\x01ab\t-3\t1970-01-01 00:00:00.000000+00\n\\N\t\\N\t\\N\tinfinity\n"
	if buf.String() != want {
		t.Errorf("encodeText = %q, want %q", buf.String(), want)
	}
	if err := encodeText(&buf, cols[:1], [][]ordering.Value{{ordering.String("\x00")}}); !errors.Is(err, sqlsink.ErrUnsupported) {
		t.Errorf("NUL: %v, want ErrUnsupported", err)
	}
}
