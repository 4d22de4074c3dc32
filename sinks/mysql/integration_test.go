package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/walship/walship/config"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// follower opens the dialect on a database of the test's own
// ([sinktest.Follower]).
func follower(t testing.TB) (*Dialect, *sql.DB, context.Context) {
	t.Helper()
	ctx, cfg := sinktest.MySQLSink(t)
	d := New(cfg)
	return d, sinktest.Open(t, ctx, d), ctx
}

func TestOpenNeedsDatabase(t *testing.T) {
	_, err := New(config.MySQLSink{DSN: "u:secret@tcp(127.0.0.1:1)/"}).Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "names no database") || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open without a database: %v", err)
	}
}

func TestIntegrationSessionSettings(t *testing.T) {
	_, db, ctx := follower(t)
	var tz, mode, cs string
	if err := db.QueryRowContext(ctx, "SELECT @@time_zone, @@sql_mode, @@character_set_client").Scan(&tz, &mode, &cs); err != nil {
		t.Fatal(err)
	}
	modes := strings.Split(mode, ",")
	slices.Sort(modes)
	want := strings.Split(sqlMode, ",")
	slices.Sort(want)
	if tz != "+00:00" || !slices.Equal(modes, want) || cs != "utf8mb4" {
		t.Errorf("session: time_zone %q sql_mode %q charset %q", tz, mode, cs)
	}
}

func TestIntegrationLock(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.LockOnce(t, ctx, d, db, "s1", "s2", false, "connection id ")
}

func TestIntegrationMetaTables(t *testing.T) {
	d, db, ctx := follower(t)
	for i := 0; i < 2; i++ {
		sinktest.Exec(t, ctx, db, d.MetaTables()...)
	}
	sinktest.Exec(t, ctx, db, "INSERT INTO _walship_positions VALUES ('k', 's', '0001', 'p', 't', '{}', 'now')",
		"INSERT INTO _walship_applied VALUES ('k', 's', '0001', 'p', 't')")
	if _, err := db.ExecContext(ctx, "INSERT INTO _walship_applied VALUES ('k', 's', '0001', 'p', 't')"); d.Code(err) != "1062" {
		t.Errorf("_walship_applied has no primary key (sink, source, seq): %v", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO _walship_positions (sink, source, seq) VALUES ('K', 's', '0002')"); err != nil {
		t.Errorf("sink keys are not case-sensitive: %v", err)
	}
}

func TestIntegrationEvolve(t *testing.T) {
	d, db, ctx := follower(t)
	n := sqlsink.Name{Table: "odd `name`"}
	sinktest.EvolveTable(t, ctx, d, db, sinktest.Evolve{Name: n,
		Create: []sqlsink.ColumnDef{
			{Name: "id", Type: "LONGTEXT", NotNull: true}, {Name: "a", Type: "LONGTEXT", NotNull: true}, {Name: "b", Type: "INT"}},
		Again:   []sqlsink.ColumnDef{{Name: "id", Type: "BIGINT"}},
		Created: "id:varchar(255):false a:longtext:false b:int(11):true",
		Evolve: []string{d.AddColumn(n, sqlsink.ColumnDef{Name: "c", Type: "ENUM('x','X')"}), d.AddColumn(n, sqlsink.ColumnDef{Name: "c", Type: "ENUM('x','X')"}),
			d.DropNotNull(n, sqlsink.ColumnDef{Name: "a", Type: "LONGTEXT", NotNull: true}), d.DropColumn(n, "b"), d.DropColumn(n, "b")},
		Evolved: "id:varchar(255):false a:longtext:true c:enum('x','X'):true",
		// Keys compare exactly: case and trailing spaces make different rows.
		Insert: "INSERT INTO " + d.QuoteName(n) + " (id, a, c) VALUES ('k', NULL, 'x'), ('K', NULL, 'X'), ('k ', NULL, NULL)",
		BeforeTruncate: func() {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, d.Truncate(n)); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if count := sinktest.Count(t, ctx, d, db, n); count != 3 {
				t.Errorf("Truncate is not transactional: %d rows after rollback", count)
			}
		},
		Missing: []sqlsink.Name{{Table: "missing"}}})
	if !d.TypeCompatible("varchar(255)", "LONGTEXT") {
		t.Error("the key column CreateTable made is not compatible with its type")
	}
}

func TestIntegrationWideRow(t *testing.T) {
	d, db, ctx := follower(t)
	cols := []sqlsink.ColumnDef{{Name: "id", Type: "BIGINT", NotNull: true}}
	for i := 0; i < 20; i++ {
		cols = append(cols, sqlsink.ColumnDef{Name: fmt.Sprint("v", i), Type: "VARCHAR(1000)"})
	}
	cols = append(cols, sqlsink.ColumnDef{Name: "w", Type: "VARCHAR(16383)"}, sqlsink.ColumnDef{Name: "b", Type: "VARBINARY(30000)"})
	sinktest.Exec(t, ctx, db, d.CreateTable(sqlsink.Name{Table: "wide"}, cols, []string{"id"})...)
}

func TestIntegrationRetryable(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db, "CREATE TABLE u (id int PRIMARY KEY, s varchar(2))", "INSERT INTO u VALUES (1, 'a')")
	for stmt, code := range map[string]string{
		"INSERT INTO u VALUES (1, 'b')":   "1062",
		"INSERT INTO u VALUES (2, 'abc')": "1406",
		"INSERT INTO u VALUES ('x', 'a')": "1366",
	} {
		_, err := db.ExecContext(ctx, stmt)
		if err == nil || d.Retryable(err) || d.Code(err) != code {
			t.Errorf("%s: err %v, Retryable %v, Code %q (want %s)", stmt, err, d.Retryable(err), d.Code(err), code)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	sinktest.Exec(t, ctx, db, fmt.Sprintf("KILL %d", id))
	_, err = conn.ExecContext(ctx, "DO 1")
	if err == nil || !d.Retryable(err) {
		t.Errorf("statement on a killed connection: err %v, Retryable %v", err, d.Retryable(err))
	}
}

// Folded changes on a MariaDB follower with foreign keys and a trigger.
func TestIntegrationFold(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Fold(t, ctx, d, db, func(br, trig string) []string {
		return []string{"CREATE TRIGGER br_upd AFTER UPDATE ON " + br + " FOR EACH ROW INSERT INTO " + trig + " VALUES (NEW.id, NEW.bal)"}
	})
}
