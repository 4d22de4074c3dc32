package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// follower opens the dialect on a database of the test's own
// ([sinktest.Follower]).
func follower(t *testing.T) (*Dialect, *sql.DB, context.Context) {
	t.Helper()
	ctx, cfg := sinktest.PostgresSink(t)
	d := New(cfg)
	return d, sinktest.Open(t, ctx, d), ctx
}

func TestIntegrationSessionSettings(t *testing.T) {
	_, db, ctx := follower(t)
	var tz, ds, is, app string
	err := db.QueryRowContext(ctx, "SELECT current_setting('TimeZone'), current_setting('DateStyle'), "+
		"current_setting('IntervalStyle'), current_setting('application_name')").Scan(&tz, &ds, &is, &app)
	if err != nil {
		t.Fatal(err)
	}
	if tz != "UTC" || ds != "ISO, MDY" || is != "iso_8601" || app != "walship sink" {
		t.Errorf("session: TimeZone %q DateStyle %q IntervalStyle %q application_name %q", tz, ds, is, app)
	}
}

func TestIntegrationLock(t *testing.T) {
	d, db, ctx := follower(t)
	// hashtext('walship_sink:s1') is positive, that of 'walship_sink:b' negative:
	// both halves of the bigint key must match pg_locks' classid/objid.
	for _, sink := range []string{"s1", "b"} {
		sinktest.LockOnce(t, ctx, d, db, sink, sink+"-other", false, `"walship sink `+sink+`"`, "pid ")
	}
}

func TestIntegrationMetaTables(t *testing.T) {
	d, db, ctx := follower(t)
	for i := 0; i < 2; i++ {
		sinktest.Exec(t, ctx, db, d.MetaTables()...)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	pos, app := sqlsink.MetaNames("postgres")
	for table, want := range map[sqlsink.Name]string{
		pos: "sink source seq position commit_ts offsets applied_at",
		app: "sink source seq position commit_ts",
	} {
		cols, ok, err := d.Columns(ctx, tx, table)
		if err != nil || !ok {
			t.Fatalf("Columns(%s) = %v, %v", table, ok, err)
		}
		var names []string
		for _, c := range cols {
			names = append(names, c.Name)
		}
		if strings.Join(names, " ") != want {
			t.Errorf("%s columns %v, want %s", table, names, want)
		}
	}
	sinktest.Exec(t, ctx, db, `INSERT INTO walship.applied VALUES ('k', 's', '0001', 'p', 't')`)
	if _, err := db.ExecContext(ctx, `INSERT INTO walship.applied VALUES ('k', 's', '0001', 'p', 't')`); err == nil {
		t.Error("walship.applied has no primary key (sink, source, seq)")
	}
}

func TestIntegrationEvolve(t *testing.T) {
	d, db, ctx := follower(t)
	n := sqlsink.Name{Schema: "Sch", Table: `odd "name"`}
	sinktest.EvolveTable(t, ctx, d, db, sinktest.Evolve{Name: n,
		Create: []sqlsink.ColumnDef{
			{Name: "id", Type: "bigint", NotNull: true}, {Name: "a", Type: "text", NotNull: true}, {Name: "b", Type: "integer"}},
		Again:   []sqlsink.ColumnDef{{Name: "id", Type: "bigint"}}, // exists: no-op
		Created: "id:bigint:false a:text:false b:integer:true",
		Evolve: []string{d.AddColumn(n, sqlsink.ColumnDef{Name: "c", Type: "numeric(5,1)[]"}), d.AddColumn(n, sqlsink.ColumnDef{Name: "c", Type: "numeric(5,1)[]"}),
			d.DropNotNull(n, sqlsink.ColumnDef{Name: "a", Type: "text"}), d.DropColumn(n, "b"), d.DropColumn(n, "b")},
		Evolved: "id:bigint:false a:text:true c:numeric(5,1)[]:true",
		Insert:  "INSERT INTO " + d.QuoteName(n) + ` (id, a) VALUES (1, NULL)`,
		Missing: []sqlsink.Name{{Schema: "Sch", Table: "missing"}, {Schema: "nosuchschema", Table: "t"}}})
}

// TestIntegrationTruncateReferenced: a table a foreign key references
// cannot be truncated alone, even once the referencing table is empty;
// TruncateTables empties both in one statement.
func TestIntegrationTruncateReferenced(t *testing.T) {
	d, db, ctx := follower(t)
	parent, child := sqlsink.Name{Schema: "public", Table: "p"}, sqlsink.Name{Schema: "public", Table: "c"}
	sinktest.Exec(t, ctx, db, `CREATE TABLE p (id int PRIMARY KEY)`, `CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`,
		`INSERT INTO p VALUES (1)`, `INSERT INTO c VALUES (1, 1)`, d.Truncate(child))
	if _, err := db.ExecContext(ctx, d.Truncate(parent)); err == nil {
		t.Fatal("TRUNCATE of the referenced table alone succeeded: the dialect needs no TruncateTables")
	}
	sinktest.Exec(t, ctx, db, `INSERT INTO c VALUES (1, 1)`, d.TruncateTables([]sqlsink.Name{child, parent}))
	var n int
	if err := db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM c)").Scan(&n); err != nil || n != 0 {
		t.Errorf("after TruncateTables: %d rows, %v", n, err)
	}
}

func TestIntegrationRetryable(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db, `CREATE TABLE u (id int PRIMARY KEY)`, `INSERT INTO u VALUES (1)`)
	_, err := db.ExecContext(ctx, `INSERT INTO u VALUES ($1)`, "1")
	if err == nil || d.Retryable(err) || d.Code(err) != "23505" {
		t.Errorf("unique violation: err %v, Retryable %v, Code %q", err, d.Retryable(err), d.Code(err))
	}
	_, err = db.ExecContext(ctx, `INSERT INTO u VALUES ($1)`, "x")
	if err == nil || d.Retryable(err) || d.Code(err) != "22P02" {
		t.Errorf("bad integer: err %v, Retryable %v, Code %q", err, d.Retryable(err), d.Code(err))
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	sinktest.Exec(t, ctx, db, fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid))
	_, err = conn.ExecContext(ctx, "SELECT 1")
	if err == nil || !d.Retryable(err) {
		t.Errorf("statement on a terminated session: err %v, Retryable %v", err, d.Retryable(err))
	}
}

// Folded changes on a PostgreSQL follower with foreign keys and a trigger.
func TestIntegrationFold(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Fold(t, ctx, d, db, func(br, trig string) []string {
		return []string{
			"CREATE FUNCTION public.br_upd() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO " + trig + " VALUES (NEW.id, NEW.bal); RETURN NEW; END$$",
			"CREATE TRIGGER br_upd AFTER UPDATE ON " + br + " FOR EACH ROW EXECUTE FUNCTION public.br_upd()",
		}
	})
}
