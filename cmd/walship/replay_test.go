package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/testenv"
)

// runWorkload runs the e2e workload on n connections for d and returns the
// number of account updates made.
func (e *e2e) runWorkload(n int, d time.Duration, idBase int64) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := e.workload(ctx, uint64(time.Now().UnixNano())+uint64(w), idBase+int64(w)*1_000_000_000)
			if err != nil && ctx.Err() == nil {
				e.t.Error(err)
			}
			mu.Lock()
			total += u
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total
}

// snapshotRows reads the compared tables of db.
func snapshotRows(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, q := range compareQueries {
		r, err := rows(db, q)
		if err != nil {
			t.Fatal(err)
		}
		out[q] = r
	}
	return out
}

// sameRows fails unless db holds want, and checks the follower trigger
// counted exactly updates account updates (no transaction applied twice).
func sameRows(t *testing.T, what string, db *sql.DB, want map[string][]string, updates int64) {
	t.Helper()
	got := snapshotRows(t, db)
	for _, q := range compareQueries {
		if strings.Join(want[q], "\n") != strings.Join(got[q], "\n") {
			missing, extra := diff(want[q], got[q])
			t.Errorf("%s: %q: %d rows expected, %d rebuilt; first missing %v, first extra %v", what, q, len(want[q]), len(got[q]), missing, extra)
		}
	}
	var n int64
	if err := db.QueryRow("SELECT n FROM update_count").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != updates {
		t.Errorf("%s: the trigger counted %d account updates, the source made %d", what, n, updates)
	}
}

// withSchema opens a follower database and creates the e2e follower schema.
func withSchema(t *testing.T, engine, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range followerSchema[engine] {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %s: %v", engine, q, err)
		}
	}
	return db
}

// freshPG creates an empty PostgreSQL follower database with the schema.
func freshPG(t *testing.T, e *e2e, suffix string) (string, *sql.DB) {
	t.Helper()
	name := e.name + "_" + suffix
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.PGFollower(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, testenv.PGFollower(t)); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	dsn := strings.Replace(testenv.PGFollower(t), "/postgres?", "/"+name+"?", 1)
	return dsn, withSchema(t, "postgres", "pgx", dsn)
}

// freshMy creates an empty MariaDB follower database with the schema.
func freshMy(t *testing.T, e *e2e, suffix string) (string, *sql.DB) {
	t.Helper()
	name := e.name + "_" + suffix
	root, err := sql.Open("mysql", testenv.MySQLFollower(t))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("mysql", testenv.MySQLFollower(t)); err == nil {
			db.Exec("DROP DATABASE IF EXISTS " + name)
			db.Close()
		}
	})
	dsn := testenv.MySQLFollower(t) + name
	return dsn, withSchema(t, "mysql", "mysql", dsn)
}

func freshLite(t *testing.T, e *e2e, suffix string) (string, *sql.DB) {
	path := filepath.Join(e.dir, suffix+".db")
	return path, withSchema(t, "sqlite", "sqlite3", "file:"+path+"?_foreign_keys=on&_busy_timeout=10000&_journal_mode=WAL")
}

// replayOK runs walship replay and fails unless it exits 0.
func replayOK(t *testing.T, e *e2e, args ...string) string {
	t.Helper()
	out, code := walship(t, append([]string{"replay", "-c", e.cfgPath}, args...)...)
	if code != 0 {
		t.Fatalf("replay %v: exit %d\n%s", args, code, out)
	}
	return out
}

// pipeline runs the daemon and a workload, waits for the followers and
// stops the daemon; it returns the account updates made.
func pipeline(t *testing.T, e *e2e, workers int, d time.Duration) int64 {
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	updates := e.runWorkload(workers, d, 0)
	e.converge(60 * time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("daemon exit: %v", err)
	}
	return updates
}

// recreate drops and recreates the configured follower database of
// engine, with the e2e schema, as an operator rebuilding a lost follower.
func recreate(t *testing.T, e *e2e, engine string) *sql.DB {
	t.Helper()
	e.followers[engine].Close()
	ctx := context.Background()
	switch engine {
	case "postgres":
		conn, err := pgx.Connect(ctx, testenv.PGFollower(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, q := range []string{"DROP DATABASE " + e.name + " WITH (FORCE)", "CREATE DATABASE " + e.name} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		e.followers[engine] = withSchema(t, "postgres", "pgx", e.pgDSN)
	case "mysql":
		root, err := sql.Open("mysql", testenv.MySQLFollower(t))
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		for _, q := range []string{"DROP DATABASE " + e.name, "CREATE DATABASE " + e.name} {
			if _, err := root.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		e.followers[engine] = withSchema(t, "mysql", "mysql", e.myDSN)
	case "sqlite":
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(e.litePath + suffix)
		}
		e.followers[engine] = withSchema(t, "sqlite", "sqlite3", "file:"+e.litePath+"?_foreign_keys=on&_busy_timeout=10000&_journal_mode=WAL")
	}
	return e.followers[engine]
}

// verifyOK runs walship verify on a stopped pipeline and fails unless it
// reports the follower equal to the source.
func verifyOK(t *testing.T, e *e2e, sink string) {
	t.Helper()
	out, code := walship(t, "verify", "-c", e.cfgPath, "--sink", sink, "--no-wait")
	if code != 0 {
		t.Fatalf("verify %s: exit %d\n%s", sink, code, out)
	}
	t.Logf("verify %s:\n%s", sink, out)
}

// TestReplayRebuildsFollowers: after a pipeline ran, each follower's
// database (PostgreSQL, MariaDB, SQLite) is dropped and recreated and
// rebuilt in place by walship replay; each equals the source, every update
// applied once, and walship verify reports it equal.
func TestReplayRebuildsFollowers(t *testing.T) {
	e := newE2E(t, 2)
	e.sinkOption("fold: false") // the follower trigger counts every update
	updates := pipeline(t, e, 2, 2*time.Second)
	want := snapshotRows(t, e.src)
	t.Logf("%d account updates, %d orders", updates, len(want[compareQueries[2]]))

	plan := replayOK(t, e, "--sink", "pgf", "--dry-run")
	if !strings.Contains(plan, "transactions (END markers)") || !strings.Contains(plan, "events") {
		t.Errorf("dry run plan:\n%s", plan)
	}
	t.Logf("plan:\n%s", plan)

	for _, c := range []struct{ sink, engine string }{{"pgf", "postgres"}, {"myf", "mysql"}, {"lite", "sqlite"}} {
		db := recreate(t, e, c.engine)
		out := replayOK(t, e, "--sink", c.sink)
		t.Logf("%s:\n%s", c.sink, out)
		sameRows(t, c.sink+" rebuilt in place", db, want, updates)
		verifyOK(t, e, c.sink)
	}
	// A second replay finds everything applied and applies nothing, with
	// any --from: a follower with positions resumes after them.
	for _, from := range []string{"earliest", "snapshot"} {
		out := replayOK(t, e, "--sink", "pgf", "--from", from)
		if !strings.Contains(out, ": 0 transactions") || !strings.Contains(out, "resuming after them") {
			t.Errorf("replay --from %s of a built follower:\n%s", from, out)
		}
	}
	sameRows(t, "pgf after second replays", e.followers["postgres"], want, updates)
}

// TestReplayTables: --tables on the sink's own follower rebuilds an
// emptied table up to the sink's positions, then the daemon goes on with
// every table; --tables into another database builds only those tables.
func TestReplayTables(t *testing.T) {
	e := newE2E(t, 2)
	e.sinkOption("fold: false") // the follower trigger counts every update
	updates := pipeline(t, e, 2, 2*time.Second)
	want := snapshotRows(t, e.src)
	pg := e.followers["postgres"]
	if _, err := pg.Exec("TRUNCATE orders"); err != nil {
		t.Fatal(err)
	}
	out := replayOK(t, e, "--sink", "pgf", "--tables", "public.orders")
	t.Logf("replay --tables:\n%s", out)
	if !strings.Contains(out, "the daemon goes on with every table") {
		t.Errorf("no catch-up note:\n%s", out)
	}
	sameRows(t, "pgf orders rebuilt", pg, want, updates)
	var n int
	pg.QueryRow("SELECT count(*) FROM walship.positions WHERE sink LIKE 'pgf/tables-%'").Scan(&n)
	if n != 0 {
		t.Errorf("%d positions rows of the --tables replay left behind", n)
	}
	// --to with --tables on the sink's own follower is refused.
	if out, code := walship(t, "replay", "-c", e.cfgPath, "--sink", "pgf", "--tables", "public.orders", "--to", "0/1"); code == 0 || !strings.Contains(out, "--into another database") {
		t.Errorf("--tables --to on the sink's follower: exit %d\n%s", code, out)
	}

	// The daemon goes on with every table.
	e.start()
	more := e.runWorkload(2, time.Second, 300_000_000)
	e.converge(60 * time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sameRows(t, "pgf after the daemon went on", pg, snapshotRows(t, e.src), updates+more)

	// Into another database, only the chosen tables.
	dsn, other := freshPG(t, e, "subset")
	replayOK(t, e, "--sink", "pgf", "--into", dsn, "--tables", "public.cust*")
	got, err := rows(other, compareQueries[1])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(snapshotRows(t, e.src)[compareQueries[1]], "\n") {
		t.Errorf("--tables public.cust* --into: customers differ")
	}
	other.QueryRow("SELECT count(*) FROM orders").Scan(&n)
	var a int
	other.QueryRow("SELECT count(*) FROM accounts").Scan(&a)
	if n != 0 || a != 0 {
		t.Errorf("--tables public.cust* wrote %d orders and %d accounts", n, a)
	}
}

// TestReplayFromPosition: a follower restored from a copy of the source
// at an LSN (here: a replay --to it, with its positions removed) is
// brought up to date with replay --from that LSN.
func TestReplayFromPosition(t *testing.T) {
	e := newE2E(t, 2)
	e.sinkOption("fold: false") // the follower trigger counts every update
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	before := e.runWorkload(2, time.Second, 0)
	var lsn string
	if err := e.src.QueryRow("SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	after := e.runWorkload(2, time.Second, 100_000_000)
	e.converge(60 * time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	dsn, pg := freshPG(t, e, "restored")
	replayOK(t, e, "--sink", "pgf", "--into", dsn, "--to", lsn)
	for _, q := range []string{"DELETE FROM walship.positions", "DELETE FROM walship.applied"} {
		if _, err := pg.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	out := replayOK(t, e, "--sink", "pgf", "--into", dsn, "--from", lsn)
	t.Logf("replay --from %s:\n%s", lsn, out)
	sameRows(t, "pgf --from LSN", pg, snapshotRows(t, e.src), before+after)
	if _, code := walship(t, "replay", "-c", e.cfgPath, "--sink", "pgf", "--from", "not-a-position"); code != 2 {
		t.Errorf("--from not-a-position: exit %d, want 2", code)
	}
}

// TestReplayResnapshot: after the source's slot was lost (dropped while
// the daemon was stopped, and changes made meanwhile that no slot kept),
// replay --resnapshot takes a new snapshot into the log and rebuilds an
// emptied follower from it; the daemon then streams on from the new slot.
func TestReplayResnapshot(t *testing.T) {
	e := newE2E(t, 2)
	e.sinkOption("fold: false") // the follower trigger counts every update
	pipeline(t, e, 2, 2*time.Second)
	if _, err := e.src.Exec("SELECT pg_drop_replication_slot($1)", e.name); err != nil {
		t.Fatal(err)
	}
	e.runWorkload(2, time.Second, 500_000_000) // lost: no slot holds these
	if out, code := walship(t, "replay", "-c", e.cfgPath, "--sink", "pgf", "--resnapshot"); code == 0 || !strings.Contains(out, "recorded positions") {
		t.Fatalf("--resnapshot into a follower with positions: exit %d\n%s", code, out)
	}
	pg := recreate(t, e, "postgres")
	out := replayOK(t, e, "--sink", "pgf", "--resnapshot")
	t.Logf("replay --resnapshot:\n%s", out)
	sameRows(t, "pgf after --resnapshot", pg, snapshotRows(t, e.src), 0)
	verifyOK(t, e, "pgf")

	// The daemon streams on from the new slot (the other followers missed
	// the lost changes and are left out here).
	delete(e.followers, "mysql")
	delete(e.followers, "sqlite")
	e.start()
	more := e.runWorkload(2, time.Second, 700_000_000)
	e.converge(60 * time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sameRows(t, "pgf streaming after --resnapshot", pg, snapshotRows(t, e.src), more)
}

// TestReplayToPosition: a replay --to an LSN (or a commit time) taken
// between two workloads rebuilds the source as it was then.
func TestReplayToPosition(t *testing.T) {
	e := newE2E(t, 2)
	e.sinkOption("fold: false") // the follower trigger counts every update
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	before := e.runWorkload(2, time.Second, 0)
	var lsn string
	if err := e.src.QueryRow("SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	then := snapshotRows(t, e.src)
	time.Sleep(100 * time.Millisecond)
	after := e.runWorkload(2, time.Second, 100_000_000)
	e.converge(60 * time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if after == 0 || strings.Join(then[compareQueries[0]], "\n") == strings.Join(snapshotRows(t, e.src)[compareQueries[0]], "\n") {
		t.Fatal("the second workload changed nothing")
	}
	t.Logf("LSN %s, time %s: %d updates before, %d after", lsn, at.Format(time.RFC3339Nano), before, after)

	plan := replayOK(t, e, "--sink", "pgf", "--dry-run", "--to", lsn)
	t.Logf("plan:\n%s", plan)
	dsn, pg := freshPG(t, e, "pit")
	out := replayOK(t, e, "--sink", "pgf", "--into", dsn, "--to", lsn)
	t.Logf("replay --to %s:\n%s", lsn, out)
	sameRows(t, "pgf --to LSN", pg, then, before)

	path, lite := freshLite(t, e, "pit")
	replayOK(t, e, "--sink", "lite", "--into", path, "--to", at.Format(time.RFC3339Nano))
	sameRows(t, "lite --to time", lite, then, before)

	// Replaying on past the bound, to the end, catches up with the source.
	replayOK(t, e, "--sink", "pgf", "--into", dsn)
	sameRows(t, "pgf after the bound", pg, snapshotRows(t, e.src), before+after)
}

// TestReplayKilledResumes: a replay killed by SIGKILL midway resumes when
// run again and completes with no duplicate and no gap.
func TestReplayKilledResumes(t *testing.T) {
	e := newE2E(t, 2)
	e.sinkOption("fold: false") // the follower trigger counts every update
	updates := pipeline(t, e, 3, 4*time.Second)
	want := snapshotRows(t, e.src)
	dsn, pg := freshPG(t, e, "kill")
	// One source transaction per follower transaction: slow enough to be
	// killed midway.
	args := []string{"replay", "-c", e.cfgPath, "--sink", "pgf", "--into", dsn, "--workers", "1", "--batch-txns", "1"}
	cmd := exec.Command(binary, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var n int64
	deadline := time.Now().Add(30 * time.Second)
	for n < updates/4 && time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("replay finished (%v) before it could be killed; %d of %d updates:\n%s", err, n, updates, out.String())
		default:
		}
		pg.QueryRow("SELECT n FROM update_count").Scan(&n)
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	pg.QueryRow("SELECT n FROM update_count").Scan(&n)
	t.Logf("killed after %d of %d account updates", n, updates)
	if n >= updates {
		t.Fatalf("the replay finished before the kill:\n%s", out.String())
	}
	res := replayOK(t, e, "--sink", "pgf", "--into", dsn)
	t.Logf("resumed:\n%s", res)
	sameRows(t, "pgf after a killed replay", pg, want, updates)
	if !strings.Contains(out.String(), "transactions") {
		t.Logf("no progress line before the kill:\n%s", out.String())
	}
}

var _ = fmt.Sprint
