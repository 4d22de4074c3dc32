package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

// txnShapes renders each transaction of the log as its changes in order,
// "table op id[=v]", one line per transaction.
func txnShapes(l *logread.Log) []string {
	var out []string
	for _, txn := range l.Txns {
		if txn.End.Snapshot {
			continue
		}
		var evs []string
		for _, e := range txn.Events {
			ch := e.Change
			row := ch.After
			if row == nil {
				row = ch.Before
			}
			s := fmt.Sprintf("%s %s %s", ch.Table.Name, ch.Op, row[0])
			if len(row) > 1 && ch.Op != ordering.OpDelete {
				s += "=" + row[1].String()
			}
			evs = append(evs, s)
		}
		out = append(out, strings.Join(evs, ", "))
	}
	return out
}

func sameShapes(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transactions in the log:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestSavepointsInBinlogTxns: savepoints, nested, released and rolled back
// to, inside multi-table transactions (what Django's nested atomic and
// Rails' requires_new write), reach the log as whole transactions holding
// exactly the changes that committed, in order; the source streams on
// after each.
//
// With InnoDB tables only, MariaDB writes SAVEPOINT into the binlog but
// not ROLLBACK TO (it cuts the rolled-back rows from the transaction
// cache). Once the transaction has changed a non-transactional (MyISAM)
// table, it writes the rolled-back rows and then ROLLBACK TO, and the
// source must drop them; a ROLLBACK TO a savepoint set before the first
// logged change makes it write the group so far ending in ROLLBACK.
func TestSavepointsInBinlogTxns(t *testing.T) {
	h := newHarness(t,
		`CREATE TABLE a (id int PRIMARY KEY, v varchar(10))`,
		`CREATE TABLE b (id int PRIMARY KEY, v varchar(10))`,
		`CREATE TABLE c (id int PRIMARY KEY, v varchar(10))`,
		`CREATE TABLE m (id int PRIMARY KEY, v varchar(10)) ENGINE=MyISAM`)
	h.start(h.config())
	waitStreaming(t, h)

	// The case of issue 27.
	h.Exec("BEGIN; INSERT INTO a VALUES (1, 'x'); SAVEPOINT s1; INSERT INTO b VALUES (1, 'x'); COMMIT")
	// Nested savepoints, a rollback to the inner one, a release of the
	// outer one (InnoDB only: the rolled-back row is not in the binlog).
	h.Exec("BEGIN; INSERT INTO a VALUES (2, 'x'); SAVEPOINT s1; INSERT INTO b VALUES (2, 'x'); SAVEPOINT s2; INSERT INTO c VALUES (2, 'gone');" +
		" ROLLBACK TO SAVEPOINT s2; INSERT INTO c VALUES (3, 'x'); RELEASE SAVEPOINT s1; UPDATE a SET v = 'y' WHERE id = 2; COMMIT")
	// A non-transactional table in the transaction: the rolled-back rows
	// (b 4 and b 5) are in the binlog, followed by ROLLBACK TO. The MyISAM
	// row is a group of its own, written when its statement ended.
	h.Exec("BEGIN; INSERT INTO a VALUES (4, 'x'); SAVEPOINT s1; INSERT INTO b VALUES (4, 'gone'); INSERT INTO m VALUES (4, 'x');" +
		" INSERT INTO b VALUES (5, 'gone'); ROLLBACK TO s1; INSERT INTO c VALUES (4, 'x'); COMMIT")
	// The same with nested savepoints, a rollback to the outer one and a
	// name that needs quoting; then a second rollback to the same one.
	h.Exec("BEGIN; INSERT INTO a VALUES (6, 'x'); SAVEPOINT `we``ird name`; INSERT INTO m VALUES (6, 'x'); INSERT INTO b VALUES (6, 'gone');" +
		" SAVEPOINT inner_sp; UPDATE a SET v = 'gone' WHERE id = 6; ROLLBACK TO `we``ird name`; INSERT INTO c VALUES (6, 'x');" +
		" DELETE FROM a WHERE id = 1; ROLLBACK TO `we``ird name`; INSERT INTO c VALUES (7, 'x'); COMMIT")
	// A savepoint before the first logged change, rolled back to after a
	// non-transactional change: MariaDB writes the group so far ending in
	// ROLLBACK, and the rest as a transaction of its own.
	h.Exec("BEGIN; SAVEPOINT s0; INSERT INTO a VALUES (8, 'gone'); INSERT INTO m VALUES (8, 'x'); ROLLBACK TO s0; INSERT INTO b VALUES (8, 'x'); COMMIT")
	// A plain ROLLBACK after a non-transactional change.
	h.Exec("BEGIN; INSERT INTO a VALUES (9, 'gone'); INSERT INTO m VALUES (9, 'x'); ROLLBACK")
	// CREATE TABLE ... SELECT: MariaDB writes the CREATE TABLE inside the
	// transaction that holds the copied rows.
	h.Exec("CREATE TABLE d (id int PRIMARY KEY, v varchar(10)) SELECT id, v FROM a WHERE id <= 2")
	// The source is still streaming.
	h.Exec("INSERT INTO c VALUES (100, 'x')")
	h.CaughtUp()
	l := h.Read()
	sameShapes(t, txnShapes(l), []string{
		"a c 1=x, b c 1=x",
		"a c 2=x, b c 2=x, c c 3=x, a u 2=y",
		"m c 4=x",
		"a c 4=x, c c 4=x",
		"m c 6=x",
		"a c 6=x, c c 7=x",
		"m c 8=x",
		"b c 8=x",
		"m c 9=x",
		"d c 1=x, d c 2=y",
		"c c 100=x",
	})
	converged(t, fold(t, l), h.sourceState("a", "b", "c", "m", "d"))
	if st := h.src.Status(); st.LastError != "" {
		t.Errorf("source error: %s", st.LastError)
	}
}

// TestXAInBinlog: an XA transaction committed in one phase is an ordinary
// transaction and arrives whole; a two-phase one (XA PREPARE, then XA
// COMMIT in a later event group) on tables walship does not capture only
// moves the position; one that changed a captured table stops the source
// permanently at its XA PREPARE, naming the position, with nothing of it
// published, every time the source starts. A statement-format DML inside
// a transaction stops it the same way, instead of ending the transaction.
func TestXAInBinlog(t *testing.T) {
	h := newHarness(t,
		`CREATE TABLE a (id int PRIMARY KEY, v varchar(10))`,
		`CREATE TABLE b (id int PRIMARY KEY, v varchar(10))`,
		`CREATE TABLE u (id int PRIMARY KEY, v varchar(10))`)
	cfg := h.config()
	cfg.Tables = []string{h.Name + ".a", h.Name + ".b"}
	// XIDs are server-wide: each is named after the harness, and a branch
	// a failed run leaves prepared is rolled back.
	xid := func(n string) string { return "'" + h.Name + "_" + n + "'" }
	t.Cleanup(func() { h.db.Exec("XA ROLLBACK " + xid("w4")) })
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec(strings.NewReplacer("{x}", xid("w1")).Replace("XA START {x}; INSERT INTO a VALUES (1, 'x'); SAVEPOINT s1; INSERT INTO b VALUES (1, 'x'); XA END {x}; XA COMMIT {x} ONE PHASE"))
	h.Exec(strings.NewReplacer("{x}", xid("w2")).Replace("XA START {x}; INSERT INTO u VALUES (1, 'x'); XA END {x}; XA PREPARE {x}; XA COMMIT {x}"))
	h.Exec(strings.NewReplacer("{x}", xid("w3")+", 'branch', 7").Replace("XA START {x}; INSERT INTO u VALUES (2, 'x'); XA END {x}; XA PREPARE {x}; XA ROLLBACK {x}"))
	h.Exec("INSERT INTO a VALUES (2, 'x')")
	h.CaughtUp()
	sameShapes(t, txnShapes(h.Read()), []string{"a c 1=x, b c 1=x", "a c 2=x"})
	h.Stop()

	run := func() error {
		t.Helper()
		src := New(cfg, h.src.newLog, h.Store, h.Logger())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return src.Run(ctx, func() {})
	}
	// Prepared on a connection of its own, closed after the prepare (the
	// prepared branch outlives it), so the other statements can go on.
	xa, err := sql.Open("mysql", testenv.MySQLSource(t)+h.Name+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xa.Exec(strings.NewReplacer("{x}", xid("w4")).Replace("XA START {x}; INSERT INTO a VALUES (3, 'x'); INSERT INTO u VALUES (3, 'x'); XA END {x}; XA PREPARE {x}")); err != nil {
		t.Fatal(err)
	}
	xa.Close()
	h.Exec("INSERT INTO b VALUES (3, 'x')")
	h.Exec("XA COMMIT " + xid("w4"))
	for i := 0; i < 2; i++ {
		err := run()
		if !errors.Is(err, ErrXA) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), "binlog ") || !strings.Contains(err.Error(), h.Name+".a") {
			t.Fatalf("run %d: err = %v", i, err)
		}
		t.Logf("run %d: %v", i, err)
	}
	// Nothing of w4, and nothing after it.
	sameShapes(t, txnShapes(h.Read()), []string{"a c 1=x, b c 1=x", "a c 2=x"})
}

// TestStatementInBinlogTxnStops: a statement-format change inside a
// binlog transaction (a session that set binlog_format=STATEMENT) stops
// the source at it, naming the position, instead of ending the
// transaction there and dropping the statement.
func TestStatementInBinlogTxnStops(t *testing.T) {
	h := newHarness(t, `CREATE TABLE a (id int PRIMARY KEY, v varchar(10))`)
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO a VALUES (1, 'x')")
	h.CaughtUp()
	h.Stop()
	h.Exec("SET SESSION binlog_format = 'STATEMENT'; BEGIN; INSERT INTO a VALUES (2, 'x'); UPDATE a SET v = 'y' WHERE id = 1; COMMIT; SET SESSION binlog_format = 'ROW'")
	src := New(cfg, h.src.newLog, h.Store, h.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := src.Run(ctx, func() {})
	if !errors.Is(err, ErrStatement) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), "binlog ") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("error: %v", err)
	sameShapes(t, txnShapes(h.Read()), []string{"a c 1=x"})
}

// TestSnapshotWaitsForPreparedXA: an XA transaction prepared before the
// snapshot and committed after it would be in neither the snapshot nor
// the stream (its rows are in the binlog before the snapshot's position,
// its XA COMMIT after). The snapshot refuses to start while one is
// prepared (a retryable ErrXAPending), and once it is committed the
// follower gets its rows.
func TestSnapshotWaitsForPreparedXA(t *testing.T) {
	h := newHarness(t, `CREATE TABLE a (id int PRIMARY KEY, v varchar(10))`, `INSERT INTO a VALUES (1, 'x')`)
	xid := "'" + h.Name + "_p'"
	t.Cleanup(func() { h.db.Exec("XA ROLLBACK " + xid) })
	xa, err := sql.Open("mysql", testenv.MySQLSource(t)+h.Name+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xa.Exec("XA START " + xid + "; INSERT INTO a VALUES (2, 'x'); XA END " + xid + "; XA PREPARE " + xid); err != nil {
		t.Fatal(err)
	}
	xa.Close()
	cfg := h.config()
	src := New(cfg, h.logFor(cfg), h.Store, h.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = src.Run(ctx, func() {})
	if !errors.Is(err, ErrXAPending) || supervise.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	t.Logf("error: %v", err)
	h.Exec("XA COMMIT " + xid)
	h.start(cfg)
	waitStreaming(t, h)
	h.CaughtUp()
	converged(t, fold(t, h.Read()), h.sourceState("a"))
}

// TestUndefinedCharsetBytesStop (issue 28): a greek column holding bytes
// ISO 8859-7 does not define stops the source permanently, naming the
// table, the column and the transaction; nothing of it is published (it
// used to reach the followers with U+FFFD in place of three bytes).
func TestUndefinedCharsetBytesStop(t *testing.T) {
	h := newHarness(t, `CREATE TABLE g (id int PRIMARY KEY, v varchar(10) CHARACTER SET greek)`)
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO g VALUES (1, 'Αβ')")
	h.CaughtUp()
	h.Stop()
	h.Exec("INSERT INTO g VALUES (2, unhex('C1E2D2AEFF'))")
	src := New(cfg, h.src.newLog, h.Store, h.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := src.Run(ctx, func() {})
	if !errors.Is(err, ErrUndefinedBytes) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{h.Name + ".g", "column v", "transaction "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	t.Logf("error: %v", err)
	sameShapes(t, txnShapes(h.Read()), []string{"g c 1=Αβ"})
}

// TestOtherDatabaseStatementsSkipped: a statement-format transaction of a
// database walship does not capture (another application on the server)
// does not stop the source; the captured changes after it arrive.
func TestOtherDatabaseStatementsSkipped(t *testing.T) {
	h := newHarness(t, `CREATE TABLE a (id int PRIMARY KEY, v varchar(10))`)
	other := h.Name + "_other"
	h.Exec("CREATE DATABASE " + other)
	t.Cleanup(func() { h.Exec("DROP DATABASE IF EXISTS " + other) })
	h.Exec("CREATE TABLE " + other + ".t (id int PRIMARY KEY)")
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("USE " + other + "; SET SESSION binlog_format = 'STATEMENT'; BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); COMMIT; " +
		"SET SESSION binlog_format = 'ROW'; USE " + h.Name)
	h.Exec("INSERT INTO a VALUES (1, 'x')")
	h.CaughtUp()
	h.Stop()
	sameShapes(t, txnShapes(h.Read()), []string{"a c 1=x"})
}

// TestUndefinedCharsetBytesInSnapshot (issue 28): the snapshot reads text in
// single-byte charsets as the column's bytes and decodes them as the binlog
// decoding does. The server's conversion would give '?' for bytes the charset
// does not define: a changed value. Defined text comes through exact; a value
// with undefined bytes stops the source, naming the table and column.
func TestUndefinedCharsetBytesInSnapshot(t *testing.T) {
	h := newHarness(t, `CREATE TABLE g (id int PRIMARY KEY, v varchar(10) CHARACTER SET greek, c char(4) CHARACTER SET koi8r, t text CHARACTER SET cp1251)`)
	h.Exec("INSERT INTO g VALUES (1, 'Αβγ', 'Щи', 'Жж ')")
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	h.CaughtUp()
	h.Stop()
	var got []string
	for _, txn := range h.Read().Txns {
		for _, e := range txn.Events {
			if e.Change.Table != nil && e.Change.Table.Name == "g" {
				var vals []string
				for _, v := range e.Change.After {
					vals = append(vals, v.String())
				}
				got = append(got, strings.Join(vals, "|"))
			}
		}
	}
	if strings.Join(got, "\n") != "1|Αβγ|Щи|Жж " {
		t.Errorf("snapshot rows %q", got)
	}

	bad := newHarness(t, `CREATE TABLE g (id int PRIMARY KEY, v varchar(10) CHARACTER SET greek)`)
	bad.Exec("INSERT INTO g VALUES (2, unhex('C1E2D2AEFF'))")
	src := New(bad.config(), bad.logFor(bad.config()), bad.Store, bad.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := src.Run(ctx, func() {})
	if !errors.Is(err, ErrUndefinedBytes) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{bad.Name + ".g", "column v"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	t.Logf("error: %v", err)
}
