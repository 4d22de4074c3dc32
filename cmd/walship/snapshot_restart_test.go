package main

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/internal/testenv"
)

// TestMariaDBSnapshotKilledMidway (issue 27): the daemon is killed by
// SIGKILL in the middle of a MariaDB source's initial snapshot, once every
// follower applied the part of it that holds a keyless table. Between the
// two attempts the source deletes rows the first attempt sent (customers
// and their orders, under the followers' foreign keys), updates others,
// and changes the keyless table: deletes rows, and inserts copies of rows
// it already holds. The restarted daemon redoes the snapshot, clearing the
// captured tables on every follower first (children before parents: one
// TRUNCATE on PostgreSQL, DELETEs on MariaDB and SQLite), then streams a
// workload. walship verify finds all three followers equal to the source,
// the keyless table compared as a multiset, and the keyless table's row
// counts match the source's.
func TestMariaDBSnapshotKilledMidway(t *testing.T) { snapshotKilledMidway(t, "mariadb", 0) }

// TestPostgresSnapshotKilledMidway: the same from a PostgreSQL source,
// whose redo drops the slot and snapshots with a new one.
func TestPostgresSnapshotKilledMidway(t *testing.T) { snapshotKilledMidway(t, "postgres", 0) }

// TestMariaDBParallelSnapshotKilledMidway (issue 16): the same with four
// snapshot workers, so the kill lands while several key ranges of
// customers and orders are being read at once.
func TestMariaDBParallelSnapshotKilledMidway(t *testing.T) { snapshotKilledMidway(t, "mariadb", 4) }

// TestPostgresParallelSnapshotKilledMidway: the same from PostgreSQL,
// whose four workers import the slot's exported snapshot and read page
// ranges.
func TestPostgresParallelSnapshotKilledMidway(t *testing.T) { snapshotKilledMidway(t, "postgres", 4) }

// snapshotKilledMidway runs with snapshot_workers workers (0: the default).
func snapshotKilledMidway(t *testing.T, engine string, workers int) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	withHTTP(t, e)
	if workers > 0 {
		setSnapshotWorkers(t, e, workers)
	}
	setup := []string{
		`CREATE TABLE a_notes (n int, msg varchar(20))`,
		`INSERT INTO a_notes SELECT seq % 1000, 'm' FROM seq_1_to_3000`,
		`INSERT INTO customers SELECT seq, concat('customer ', seq, ' ', repeat('n', 40)) FROM seq_1_to_100000`,
		`INSERT INTO orders SELECT seq * 10, seq, (seq % 1000) + 0.25, 0 FROM seq_1_to_100000`,
	}
	if engine == "postgres" {
		setup = []string{
			`CREATE TABLE a_notes (n int, msg varchar(20))`,
			`ALTER TABLE a_notes REPLICA IDENTITY FULL`, // keyless, and its deletes published
			`INSERT INTO a_notes SELECT g % 1000, 'm' FROM generate_series(1, 3000) g`,
			`INSERT INTO customers SELECT g, 'customer ' || g || ' ' || repeat('n', 40) FROM generate_series(1, 100000) g`,
			`INSERT INTO orders SELECT g * 10, g, (g % 1000) + 0.25, 0 FROM generate_series(1, 100000) g`,
		}
	}
	for _, q := range setup {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	status := "http://" + regexp.MustCompile(`listen: "([^"]+)"`).FindStringSubmatch(mustRead(t, e.cfgPath))[1] + "/api/v1/status"

	// Attempt one: killed once every follower holds the keyless table
	// (the snapshot reads a_notes, accounts, customers, then orders, in
	// chunks of 10,000 rows), with the source still snapshotting.
	e.start()
	deadline := time.Now().Add(120 * time.Second)
	for {
		st, ok := sourceStatus(status)
		if ok && st.State == "streaming" {
			t.Skip("the snapshot finished before the kill; nothing to redo")
		}
		if ok && st.State == "snapshotting" && followersHave(e, "a_notes", 3000) {
			t.Logf("killed with %d snapshot rows published, a_notes on every follower", st.SnapshotRows)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot did not progress: %+v\nlog tail:\n%s", st, e.logTail())
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.stop(syscall.SIGKILL)
	if strings.Contains(mustRead(t, e.dir+"/walship.log"), `msg="snapshot done"`) {
		// The status lags the source by a moment: it had finished.
		t.Skip("the snapshot finished before the kill; nothing to redo")
	}

	for _, q := range []string{
		`DELETE FROM orders WHERE customer_id <= 5000`,
		`DELETE FROM customers WHERE id <= 5000`,
		`UPDATE customers SET name = 'renamed' WHERE id % 10 = 0`,
		`DELETE FROM a_notes WHERE n % 3 = 0`,
		`INSERT INTO a_notes VALUES (1, 'm'), (1, 'm'), (9999, 'new')`,
		`UPDATE accounts SET balance = balance - 5, version = version + 1 WHERE id = 1`,
		`UPDATE accounts SET balance = balance + 5, version = version + 1 WHERE id = 2`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// Attempt two, then a workload streamed after the snapshot's position.
	e.start()
	deadline = time.Now().Add(120 * time.Second)
	for {
		if st, ok := sourceStatus(status); ok && st.State == "streaming" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redone snapshot did not finish\nlog tail:\n%s", e.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	if _, err := e.workload(ctx, 27, 1_000_000); err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	stop()
	if _, err := e.src.Exec(`INSERT INTO a_notes VALUES (1, 'm'), (7000, 'streamed')`); err != nil {
		t.Fatal(err)
	}

	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--timeout", "420s")
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal: 4 tables") {
			_, st, _ := get(status)
			t.Fatalf("verify %s: exit %d:\n%s\nstatus: %s\nwarnings and errors:\n%s", sink, code, out, st, problems(e))
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
	const notes = "SELECT n, msg, count(*) FROM a_notes GROUP BY n, msg ORDER BY n, msg"
	want, err := rows(e.src, notes)
	if err != nil {
		t.Fatal(err)
	}
	for engine, db := range e.followers {
		got, err := rows(db, notes)
		if err != nil {
			t.Fatalf("%s follower: %v", engine, err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			missing, extra := diff(want, got)
			t.Errorf("%s follower: keyless a_notes differs by count: first missing %v, first extra %v", engine, missing, extra)
		}
	}
	if log := mustRead(t, e.dir+"/walship.log"); !strings.Contains(log, "snapshot did not finish before the last stop") {
		t.Errorf("the restarted daemon did not say it redoes the snapshot; log tail:\n%s", e.logTail())
	}
}

// problems is the daemon log's last warnings and errors.
func problems(e *e2e) string {
	b, _ := os.ReadFile(e.dir + "/walship.log")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-30):], "\n")
}

// followersHave reports whether table has n rows on every follower.
func followersHave(e *e2e, table string, n int) bool {
	for _, db := range e.followers {
		var got int
		if db.QueryRow("SELECT count(*) FROM "+table).Scan(&got) != nil || got != n {
			return false
		}
	}
	return true
}

// sourceStatus reads the daemon's one source from its status API.
func sourceStatus(url string) (httpapi.SourceStatus, bool) {
	code, body, err := get(url)
	if err != nil || code != 200 {
		return httpapi.SourceStatus{}, false
	}
	var doc httpapi.StatusDoc
	if json.Unmarshal([]byte(body), &doc) != nil || len(doc.Sources) != 1 {
		return httpapi.SourceStatus{}, false
	}
	return doc.Sources[0], true
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPostgresTruncateParentAndChild: a streamed TRUNCATE of a parent and
// its child (one pgoutput Truncate message) reaches followers that enforce
// the foreign key: one TRUNCATE of both on PostgreSQL, which refuses the
// parent alone, and DELETEs child first on MariaDB and SQLite. New rows
// after it arrive too, and verify finds every follower equal.
func TestPostgresTruncateParentAndChild(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 2)
	withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	for _, q := range []string{
		`INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 100) g`,
		`INSERT INTO orders SELECT g * 10, g, 1.50, 0 FROM generate_series(1, 100) g`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.waitRows("orders", 100, 60*time.Second)
	for _, q := range []string{
		`TRUNCATE customers, orders`,
		`INSERT INTO customers VALUES (500, 'after')`,
		`INSERT INTO orders VALUES (5000, 500, 2.50, 0)`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal: 3 tables") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
	}
}
