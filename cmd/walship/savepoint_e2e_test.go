package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestSavepointsEndToEndFromMariaDB: transactions with savepoints (issue
// 27: what Django's nested atomic and Rails' requires_new write), nested,
// released and rolled back to, one of them also changing a MyISAM table
// (then MariaDB writes the rolled-back rows and ROLLBACK TO into the
// binlog), go from a MariaDB source into the PostgreSQL, MariaDB and
// SQLite followers whole: the followers converge with the source and
// walship verify finds each equal. The same transactions run on a
// PostgreSQL source (scratch an unlogged table there), plus one whose
// subtransaction fails with an error and is rolled back to.
func TestSavepointsEndToEndFromMariaDB(t *testing.T) { savepointsEndToEnd(t, "mariadb") }

func TestSavepointsEndToEndFromPostgres(t *testing.T) { savepointsEndToEnd(t, "postgres") }

func savepointsEndToEnd(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	scratch := "CREATE TABLE scratch (id int PRIMARY KEY) ENGINE=MyISAM"
	if engine == "postgres" {
		scratch = "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)"
	}
	if _, err := e.src.Exec(scratch); err != nil {
		t.Fatal(err)
	}
	withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)

	ctx := context.Background()
	conn, err := e.src.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, txn := range [][]string{
		// The case of the issue: a transfer split by a savepoint.
		{"UPDATE accounts SET balance = balance - 10, version = version + 1 WHERE id = 1", "SAVEPOINT s1",
			"UPDATE accounts SET balance = balance + 10, version = version + 1 WHERE id = 2"},
		// Nested savepoints, a rollback to the inner one, a release.
		{"INSERT INTO customers VALUES (900, 'nine')", "SAVEPOINT s1", "INSERT INTO orders VALUES (9000, 900, 1.00, 0)",
			"SAVEPOINT s2", "INSERT INTO orders VALUES (9001, 900, 2.00, 0)", "ROLLBACK TO SAVEPOINT s2",
			"UPDATE orders SET amount = 3.00, version = version + 1 WHERE id = 9000", "RELEASE SAVEPOINT s1"},
		// A MyISAM change after the savepoint: the rolled-back rows are in
		// the binlog, then ROLLBACK TO.
		{"UPDATE accounts SET balance = balance - 5, version = version + 1 WHERE id = 3", "SAVEPOINT s1",
			"UPDATE accounts SET balance = balance + 5, version = version + 1 WHERE id = 4", "INSERT INTO scratch VALUES (1)",
			"INSERT INTO orders VALUES (9002, 900, 4.00, 0)", "ROLLBACK TO s1",
			"UPDATE accounts SET balance = balance + 5, version = version + 1 WHERE id = 5"},
	} {
		stmts := append(append([]string{"BEGIN"}, txn...), "COMMIT")
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if engine == "postgres" {
		// An aborted subtransaction: a statement fails inside a savepoint
		// (a duplicate key), the application rolls back to it and goes on.
		for _, q := range []string{"BEGIN", "INSERT INTO customers VALUES (901, 'nine-one')", "SAVEPOINT s1",
			"UPDATE accounts SET balance = balance - 1, version = version + 1 WHERE id = 6",
			"INSERT INTO customers VALUES (900, 'duplicate')"} {
			if _, err := conn.ExecContext(ctx, q); err != nil && !strings.Contains(q, "duplicate") {
				t.Fatalf("%s: %v", q, err)
			} else if err == nil && strings.Contains(q, "duplicate") {
				t.Fatal("the duplicate insert succeeded")
			}
		}
		for _, q := range []string{"ROLLBACK TO SAVEPOINT s1", "INSERT INTO orders VALUES (9010, 901, 5.00, 0)", "COMMIT"} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	e.converge(60 * time.Second)
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
}
