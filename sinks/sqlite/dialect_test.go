package sqlite

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sinks/sqltext"
)

var dia = New(config.SQLiteSink{Path: "unused.db"})

func TestQuotingAndPlaceholders(t *testing.T) {
	if got := dia.QuoteIdent(`a"b`); got != `"a""b"` {
		t.Errorf("QuoteIdent = %s", got)
	}
	if got := dia.QuoteName(sqlsink.Name{Table: "t"}); got != `"t"` {
		t.Errorf("QuoteName = %s", got)
	}
	if dia.Placeholder(0) != "?" || dia.Placeholder(3) != "?" {
		t.Error("Placeholder is not ?")
	}
	if got := dia.NullSafeEqual(`"c"`, "?"); got != `"c" IS ?` {
		t.Errorf("NullSafeEqual = %s", got)
	}
	if got := dia.Target("public", "t"); got != (sqlsink.Name{Table: "t"}) {
		t.Errorf("Target = %v", got)
	}
}

func TestDDL(t *testing.T) {
	n := sqlsink.Name{Table: "t"}
	got := dia.CreateTable(n, []sqlsink.ColumnDef{{Name: "id", Type: "INTEGER", NotNull: true}, {Name: "v", Type: "TEXT"}}, []string{"id"})
	if want := `CREATE TABLE IF NOT EXISTS "t" ("id" INTEGER, "v" TEXT, PRIMARY KEY ("id"))`; len(got) != 1 || got[0] != want {
		t.Errorf("CreateTable = %q", got)
	}
	for _, c := range []struct{ got, want string }{
		{dia.Upsert(n, []string{"id", "a"}, []string{"id"}, 2), `INSERT INTO "t" ("id", "a") VALUES (?, ?), (?, ?) ON CONFLICT ("id") DO UPDATE SET "a" = excluded."a"`},
		{dia.Upsert(n, []string{"k"}, []string{"k"}, 1), `INSERT INTO "t" ("k") VALUES (?) ON CONFLICT ("k") DO NOTHING`},
		{dia.Upsert(n, []string{"a", "b"}, nil, 1), `INSERT INTO "t" ("a", "b") VALUES (?, ?)`},
		{dia.AddColumn(n, sqlsink.ColumnDef{Name: "c", Type: "TEXT", NotNull: true}), `ALTER TABLE "t" ADD COLUMN "c" TEXT`},
		{dia.DropColumn(n, "c"), `ALTER TABLE "t" DROP COLUMN "c"`},
		{dia.Truncate(n), `DELETE FROM "t"`},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

func TestColumnType(t *testing.T) {
	for _, src := range []string{"postgres", "mysql"} {
		for k, want := range map[ordering.Kind]string{
			ordering.KindBool: "INTEGER", ordering.KindInt: "INTEGER", ordering.KindUint: "INTEGER", ordering.KindFloat: "REAL",
			ordering.KindDecimal: "TEXT", ordering.KindString: "TEXT", ordering.KindBytes: "BLOB", ordering.KindDate: "TEXT",
			ordering.KindTime: "TEXT", ordering.KindTimestamp: "TEXT", ordering.KindTimestampTZ: "TEXT", ordering.KindInterval: "TEXT",
			ordering.KindUUID: "TEXT", ordering.KindJSON: "TEXT", ordering.KindEnum: "TEXT", ordering.KindText: "TEXT",
		} {
			if got, err := dia.ColumnType(ordering.Column{Name: "c", Kind: k}, src); err != nil || got != want {
				t.Errorf("ColumnType(%s, %s) = %q, %v; want %s", k, src, got, err, want)
			}
		}
		if got, err := dia.ColumnType(ordering.Column{Name: "c", Kind: ordering.KindArray, Elem: ordering.KindInt}, src); err != nil || got != "TEXT" {
			t.Errorf("ColumnType(array, %s) = %q, %v", src, got, err)
		}
	}
	if _, err := dia.ColumnType(ordering.Column{Name: "c", Kind: ordering.KindNull}, "postgres"); !errors.Is(err, sqlsink.ErrUnsupported) {
		t.Errorf("KindNull column: %v", err)
	}
	if _, err := dia.ColumnType(ordering.Column{Name: "c", Kind: ordering.KindInt}, "oracle"); err == nil {
		t.Error("unknown source engine accepted")
	}
}

func TestTypeCompatible(t *testing.T) {
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"integer", "INTEGER", true},
		{"bigint", "INTEGER", true},
		{"text", "TEXT", true},
		{"varchar(10)", "TEXT", true},
		{"", "TEXT", true},
		{"blob", "REAL", true},
		{"real", "REAL", true},
		{"double", "REAL", true},
		{"numeric", "TEXT", false},
		{"decimal(10,2)", "TEXT", false},
		{"integer", "TEXT", false},
		{"text", "INTEGER", false},
		{"real", "INTEGER", false},
	} {
		if got := dia.TypeCompatible(c.have, c.want); got != c.ok {
			t.Errorf("TypeCompatible(%q, %q) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
		code string
	}{
		{fmt.Errorf("x: %w", sqlite3.Error{Code: sqlite3.ErrBusy, ExtendedCode: sqlite3.ErrBusySnapshot}), true, "517"},
		{sqlite3.Error{Code: sqlite3.ErrLocked, ExtendedCode: sqlite3.ErrLockedSharedCache}, true, "262"},
		{sqlite3.Error{Code: sqlite3.ErrConstraint, ExtendedCode: sqlite3.ErrConstraintUnique}, false, "2067"},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, ExtendedCode: sqlite3.ErrIoErrFsync}, false, "1034"},
		{errors.New("x"), false, ""},
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

func usOf(y int64, m, d, h, mi, s int, frac int64) int64 {
	return daysOf(y, m, d)*sqltext.UsPerDay + int64(h*3600+mi*60+s)*sqltext.UsPerSec + frac
}

func TestParam(t *testing.T) {
	col := func(k ordering.Kind) ordering.Column { return ordering.Column{Name: "c", Kind: k} }
	for _, c := range []struct {
		col  ordering.Column
		v    ordering.Value
		want any
	}{
		{col(ordering.KindInt), ordering.Null(), nil},
		{col(ordering.KindBool), ordering.Bool(false), int64(0)},
		{col(ordering.KindInt), ordering.Int(math.MinInt64), int64(math.MinInt64)},
		{col(ordering.KindUint), ordering.Uint(math.MaxInt64), int64(math.MaxInt64)},
		{col(ordering.KindFloat), ordering.Float(math.Inf(-1)), math.Inf(-1)},
		{col(ordering.KindDecimal), ordering.Decimal("-12.3400"), "-12.3400"},
		{col(ordering.KindBytes), ordering.Bytes(nil), []byte{}},
		{col(ordering.KindDate), ordering.Date(daysOf(-43, 3, 15)), "-0043-03-15"},
		{col(ordering.KindDate), ordering.Date(daysOf(0, 1, 1)), "0000-01-01"},
		{col(ordering.KindDate), ordering.Date(daysOf(12345, 1, 1)), "+12345-01-01"},
		{col(ordering.KindDate), ordering.Special(ordering.KindDate, "0000-00-00"), "0000-00-00"},
		{col(ordering.KindTime), ordering.Time(-(838*3600 + 59*60 + 59) * sqltext.UsPerSec), "-838:59:59.000000"},
		{col(ordering.KindTime), ordering.Time(86_400_000_000), "24:00:00.000000"},
		{col(ordering.KindTimestamp), ordering.Timestamp(usOf(2024, 2, 29, 1, 2, 3, 4)), "2024-02-29 01:02:03.000004"},
		{col(ordering.KindTimestampTZ), ordering.TimestampTZ(-1), "1969-12-31 23:59:59.999999+00:00"},
		{col(ordering.KindTimestampTZ), ordering.Special(ordering.KindTimestampTZ, "infinity"), "infinity"},
		{col(ordering.KindArray), ordering.Array(ordering.Int(1), ordering.Null(), ordering.Array(ordering.String("x"))), `[1,null,["x"]]`},
		{col(ordering.KindJSON), ordering.JSON(`{"a":1}`), `{"a":1}`},
	} {
		got, err := dia.Param(c.col, c.v)
		if err != nil {
			t.Errorf("Param(%s, %v): %v", c.col.Kind, c.v, err)
			continue
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.want) {
			t.Errorf("Param(%s, %v) = %#v, want %#v", c.col.Kind, c.v, got, c.want)
		}
	}
	for _, v := range []ordering.Value{ordering.Float(math.NaN()), ordering.Uint(math.MaxInt64 + 1), ordering.Array(ordering.String("\xff"))} {
		if _, err := dia.Param(ordering.Column{Name: "c"}, v); !errors.Is(err, sqlsink.ErrUnsupported) {
			t.Errorf("Param(%v) = %v, want ErrUnsupported", v, err)
		}
	}
	if _, err := dia.Param(ordering.Column{Name: "c"}, ordering.Unchanged()); err == nil {
		t.Error("Param(unchanged) succeeded")
	}
}
