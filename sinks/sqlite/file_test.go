package sqlite

// Tests against real SQLite files in a temporary directory; they need no
// server, so they always run.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sinks/sqltext"
)

func follower(t *testing.T) (*Dialect, *sql.DB, context.Context) {
	t.Helper()
	ctx := sinktest.Context(t, time.Minute)
	d := New(config.SQLiteSink{Path: filepath.Join(t.TempDir(), "odd ?#% name.db")})
	return d, sinktest.Open(t, ctx, d), ctx
}

func TestFileSettings(t *testing.T) {
	d, db, ctx := follower(t)
	var mode string
	var sync, fk, timeout int
	if err := db.QueryRowContext(ctx, "SELECT journal_mode, synchronous, foreign_keys, timeout FROM pragma_journal_mode, "+
		"pragma_synchronous, pragma_foreign_keys, pragma_busy_timeout").Scan(&mode, &sync, &fk, &timeout); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 || fk != 1 || timeout != 10000 {
		t.Errorf("journal_mode %s synchronous %d foreign_keys %d busy_timeout %d", mode, sync, fk, timeout)
	}
	if _, err := os.Stat(d.cfg.Path); err != nil {
		t.Errorf("the database file has not the configured name: %v", err)
	}
}

func TestFileLock(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.LockOnce(t, ctx, d, db, "s1", "other", true, "pid ")
}

func TestFileMetaTables(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db, d.MetaTables()...)
	sinktest.Exec(t, ctx, db, d.MetaTables()...)
	sinktest.Exec(t, ctx, db, `INSERT INTO _walship_applied VALUES ('k', 's', '0001', 'p', 't')`)
	_, err := db.ExecContext(ctx, `INSERT INTO _walship_applied VALUES ('k', 's', '0001', 'p', 't')`)
	if d.Code(err) != "1555" || d.Retryable(err) { // SQLITE_CONSTRAINT_PRIMARYKEY
		t.Errorf("duplicate applied row: %v (code %s)", err, d.Code(err))
	}
}

func TestFileEvolve(t *testing.T) {
	d, db, ctx := follower(t)
	n := sqlsink.Name{Table: `odd "name"`}
	sinktest.EvolveTable(t, ctx, d, db, sinktest.Evolve{Name: n, Lookup: sqlsink.Name{Table: `ODD "name"`},
		Create: []sqlsink.ColumnDef{{Name: "id", Type: "INTEGER", NotNull: true}, {Name: "a", Type: "TEXT", NotNull: true},
			{Name: "b", Type: "REAL"}},
		Again:   []sqlsink.ColumnDef{{Name: "id", Type: "TEXT"}},
		Created: "id:integer:true a:text:true b:real:true",
		Evolve:  []string{d.AddColumn(n, sqlsink.ColumnDef{Name: "c", Type: "BLOB"}), d.DropNotNull(n, sqlsink.ColumnDef{Name: "a"}), d.DropColumn(n, "b")},
		Evolved: "id:integer:true a:text:true c:blob:true",
		Insert:  "INSERT INTO " + d.QuoteName(n) + " (id, a) VALUES (1, NULL)",
		Missing: []sqlsink.Name{{Table: "missing"}}})
}

func TestFileRetryable(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db, `CREATE TABLE u (id INTEGER PRIMARY KEY, s TEXT UNIQUE)`, `INSERT INTO u VALUES (1, 'a')`)
	_, err := db.ExecContext(ctx, `INSERT INTO u VALUES (2, 'a')`)
	if err == nil || d.Retryable(err) || d.Code(err) != "2067" {
		t.Errorf("unique violation: %v, Retryable %v, Code %q", err, d.Retryable(err), d.Code(err))
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite3", "file:"+uriEscaper.Replace(d.cfg.Path)+"?_busy_timeout=0&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.ExecContext(ctx, `INSERT INTO u VALUES (3, 'c')`)
	if err == nil || !d.Retryable(err) {
		t.Errorf("write while another connection holds the lock: %v, Retryable %v", err, d.Retryable(err))
	}
}

// cells: a column of every kind as a PostgreSQL or MySQL source describes
// it, its value, and "typeof:value" of what SQLite stored.
var cells = []struct {
	col  ordering.Column
	val  ordering.Value
	want string
}{
	{ordering.Column{Type: "boolean", Kind: ordering.KindBool}, ordering.Bool(true), "integer:1"},
	{ordering.Column{Type: "bigint", Kind: ordering.KindInt}, ordering.Int(math.MinInt64), "integer:-9223372036854775808"},
	{ordering.Column{Type: "bigint(20) unsigned", Kind: ordering.KindUint}, ordering.Uint(math.MaxInt64), "integer:9223372036854775807"},
	{ordering.Column{Type: "bit(8)", Kind: ordering.KindUint}, ordering.Uint(5), "integer:5"},
	{ordering.Column{Type: "double precision", Kind: ordering.KindFloat}, ordering.Float(math.Inf(-1)), "real:-Inf"},
	{ordering.Column{Type: "double precision", Kind: ordering.KindFloat}, ordering.Float(0.30000000000000004), "real:0.30000000000000004"},
	{ordering.Column{Type: "real", Kind: ordering.KindFloat}, ordering.Float(float64(float32(0.1))), "real:0.10000000149011612"},
	{ordering.Column{Type: "double precision", Kind: ordering.KindFloat}, ordering.Float(5e-324), "real:5e-324"},
	{ordering.Column{Type: "numeric", Kind: ordering.KindDecimal}, ordering.Decimal("-12.3400"), "text:-12.3400"},
	{ordering.Column{Type: "numeric", Kind: ordering.KindDecimal}, ordering.Decimal("NaN"), "text:NaN"},
	{ordering.Column{Type: "decimal(65,30)", Kind: ordering.KindDecimal}, ordering.Decimal("123456789012345678901234567890.5"), "text:123456789012345678901234567890.5"},
	{ordering.Column{Type: "text", Kind: ordering.KindString}, ordering.String("it's \"q\" ünï 😀 \x00 end"), "text:it's \"q\" ünï 😀 \x00 end"},
	{ordering.Column{Type: "character(5)", Kind: ordering.KindString}, ordering.String("ab   "), "text:ab   "},
	{ordering.Column{Type: "bytea", Kind: ordering.KindBytes}, ordering.Bytes([]byte{0, 0xff}), "blob:00ff"},
	{ordering.Column{Type: "blob", Kind: ordering.KindBytes}, ordering.Bytes(nil), "blob:"},
	{ordering.Column{Type: "date", Kind: ordering.KindDate}, ordering.Date(daysOf(-43, 3, 15)), "text:-0043-03-15"},
	{ordering.Column{Type: "date", Kind: ordering.KindDate}, ordering.Date(daysOf(2024, 2, 29)), "text:2024-02-29"},
	{ordering.Column{Type: "date", Kind: ordering.KindDate}, ordering.Special(ordering.KindDate, "infinity"), "text:infinity"},
	{ordering.Column{Type: "date", Kind: ordering.KindDate}, ordering.Special(ordering.KindDate, "0000-00-00"), "text:0000-00-00"},
	{ordering.Column{Type: "time without time zone", Kind: ordering.KindTime}, ordering.Time(86_400_000_000), "text:24:00:00.000000"},
	{ordering.Column{Type: "time(6)", Kind: ordering.KindTime}, ordering.Time(-(838*3600 + 59*60 + 59) * sqltext.UsPerSec), "text:-838:59:59.000000"},
	{ordering.Column{Type: "timestamp without time zone", Kind: ordering.KindTimestamp}, ordering.Timestamp(usOf(2024, 2, 29, 23, 59, 59, 123_456)), "text:2024-02-29 23:59:59.123456"},
	{ordering.Column{Type: "timestamp with time zone", Kind: ordering.KindTimestampTZ}, ordering.TimestampTZ(usOf(1970, 1, 1, 0, 0, 0, 1)), "text:1970-01-01 00:00:00.000001+00:00"},
	{ordering.Column{Type: "datetime", Kind: ordering.KindTimestamp}, ordering.Special(ordering.KindTimestamp, "0000-00-00 00:00:00"), "text:0000-00-00 00:00:00"},
	{ordering.Column{Type: "interval", Kind: ordering.KindInterval}, ordering.Interval("P-1Y-2M3D"), "text:P-1Y-2M3D"},
	{ordering.Column{Type: "uuid", Kind: ordering.KindUUID}, ordering.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "text:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{ordering.Column{Type: "jsonb", Kind: ordering.KindJSON}, ordering.JSON(`{"a": [1, 2.50]}`), `text:{"a": [1, 2.50]}`},
	{ordering.Column{Type: "mood", Kind: ordering.KindEnum}, ordering.Enum("happy"), "text:happy"},
	{ordering.Column{Type: "inet", Kind: ordering.KindText}, ordering.Text("10.0.0.0/8"), "text:10.0.0.0/8"},
	{ordering.Column{Type: "text[]", Kind: ordering.KindArray, Elem: ordering.KindString},
		ordering.Array(ordering.String(`q"`), ordering.Null(), ordering.Array()), `text:["q\"",null,[]]`},
	{ordering.Column{Type: "double precision[]", Kind: ordering.KindArray, Elem: ordering.KindFloat},
		ordering.Array(ordering.Float(math.NaN()), ordering.Float(-0.5)), `text:["NaN",-0.5]`},
}

// TestFileAddedWithDefaults adds a column of each cell with the cell's
// value as its default (Literal) to a table holding a row: the row reads
// what a bound value stores, storage class included.
func TestFileAddedWithDefaults(t *testing.T) {
	for _, src := range []string{"postgres", "mysql"} {
		d, db, ctx := follower(t)
		n := d.Target("public", "defaults")
		sinktest.Exec(t, ctx, db, d.CreateTable(n, []sqlsink.ColumnDef{{Name: "id", Type: "INTEGER"}}, []string{"id"})...)
		sinktest.Exec(t, ctx, db, "INSERT INTO "+d.QuoteName(n)+" VALUES (1)")
		for i, x := range cells {
			typ, err := d.ColumnType(x.col, src)
			if err != nil {
				t.Fatal(err)
			}
			lit, err := d.Literal(x.col, x.val)
			if errors.Is(err, sqlsink.ErrUnsupported) && strings.Contains(x.val.Text(), "\x00") {
				continue
			}
			if err != nil {
				t.Fatalf("Literal(%s, %v): %v", x.col.Type, x.val, err)
			}
			col := fmt.Sprintf("d%02d", i)
			sinktest.Exec(t, ctx, db, d.AddColumn(n, sqlsink.ColumnDef{Name: col, Type: typ, Default: lit}))
			var styp string
			var v any
			if err := db.QueryRowContext(ctx, `SELECT typeof(`+col+`), `+col+` FROM `+d.QuoteName(n)).Scan(&styp, &v); err != nil {
				t.Fatal(err)
			}
			if got := styp + ":" + show(v); got != x.want {
				t.Errorf("%s: column %s added with default %s: existing row reads %q, want %q", src, x.col.Type, lit, got, x.want)
			}
		}
	}
}

func TestFileRoundTrip(t *testing.T) {
	for _, src := range []string{"postgres", "mysql"} {
		d, db, ctx := follower(t)
		n := d.Target("public", "types")
		defs := []sqlsink.ColumnDef{{Name: "id", Type: "INTEGER"}}
		names := []string{"id"}
		for i, x := range cells {
			typ, err := d.ColumnType(x.col, src)
			if err != nil {
				t.Fatal(err)
			}
			defs, names = append(defs, sqlsink.ColumnDef{Name: fmt.Sprintf("c%02d", i), Type: typ}), append(names, fmt.Sprintf("c%02d", i))
		}
		sinktest.Exec(t, ctx, db, d.CreateTable(n, defs, []string{"id"})...)
		row := func(id int64, null bool) []any {
			args := []any{id}
			for _, x := range cells {
				v := x.val
				if null {
					v = ordering.Null()
				}
				p, err := d.Param(x.col, v)
				if err != nil {
					t.Fatalf("Param(%s, %v): %v", x.col.Type, v, err)
				}
				args = append(args, p)
			}
			return args
		}
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
		if _, err := db.ExecContext(ctx, "INSERT INTO "+d.QuoteName(n)+" ("+d.identList(names)+") VALUES ("+ph+")", row(1, false)...); err != nil {
			t.Fatalf("INSERT: %v", err)
		}
		upsert := d.Upsert(n, names, []string{"id"}, 2)
		for _, args := range [][]any{append(row(2, true), row(3, false)...), append(row(2, false), row(3, true)...)} {
			if _, err := db.ExecContext(ctx, upsert, args...); err != nil {
				t.Fatalf("Upsert: %v", err)
			}
		}
		for id, null := range map[int64]bool{1: false, 2: false, 3: true} {
			for i, x := range cells {
				var typ string
				var v any
				q := fmt.Sprintf(`SELECT typeof(c%02d), c%02d FROM %s WHERE id = ?`, i, i, d.QuoteName(n))
				if err := db.QueryRowContext(ctx, q, id).Scan(&typ, &v); err != nil {
					t.Fatal(err)
				}
				got := typ + ":" + show(v)
				if null && typ != "null" || !null && got != x.want {
					t.Errorf("%s row %d c%02d (%s): got %q, want %q (null %v)", src, id, i, x.col.Type, got, x.want, null)
				}
			}
		}
	}
}

func show(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return v
	case []byte:
		return fmt.Sprintf("%x", v)
	case nil:
		return ""
	}
	return fmt.Sprintf("%T", v)
}
