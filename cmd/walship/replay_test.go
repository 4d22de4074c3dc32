package main

import (
	"context"
	"database/sql"
	"fmt"
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

// TestReplayRebuildsFollowers: after a pipeline ran, the PostgreSQL
// follower's database is dropped and recreated and rebuilt in place, and
// the MariaDB and SQLite sinks are rebuilt --into fresh databases; each
// equals the source, every update applied once.
func TestReplayRebuildsFollowers(t *testing.T) {
	e := newE2E(t, 2)
	updates := pipeline(t, e, 2, 2*time.Second)
	want := snapshotRows(t, e.src)
	t.Logf("%d account updates, %d orders", updates, len(want[compareQueries[2]]))

	plan := replayOK(t, e, "--sink", "pgf", "--dry-run")
	if !strings.Contains(plan, "transactions (END markers)") || !strings.Contains(plan, "events") {
		t.Errorf("dry run plan:\n%s", plan)
	}
	t.Logf("plan:\n%s", plan)

	// PostgreSQL: drop and recreate the configured follower.
	e.followers["postgres"].Close()
	delete(e.followers, "postgres")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.PGFollower(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP DATABASE " + e.name + " WITH (FORCE)", "CREATE DATABASE " + e.name} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	pg := withSchema(t, "postgres", "pgx", e.pgDSN)
	out := replayOK(t, e, "--sink", "pgf")
	t.Logf("pgf:\n%s", out)
	sameRows(t, "pgf rebuilt in place", pg, want, updates)
	// A second replay finds everything applied and applies nothing.
	if out := replayOK(t, e, "--sink", "pgf"); !strings.Contains(out, ": 0 transactions") {
		t.Errorf("second replay applied something:\n%s", out)
	}
	sameRows(t, "pgf after a second replay", pg, want, updates)
	// --from earliest refuses a follower that recorded positions.
	if out, code := walship(t, "replay", "-c", e.cfgPath, "--sink", "pgf", "--from", "earliest"); code == 0 || !strings.Contains(out, "already recorded positions") {
		t.Errorf("--from earliest over a built follower: exit %d\n%s", code, out)
	}

	dsn, my := freshMy(t, e, "r")
	replayOK(t, e, "--sink", "myf", "--into", dsn, "--from", "earliest")
	sameRows(t, "myf --into", my, want, updates)

	path, lite := freshLite(t, e, "rebuilt")
	replayOK(t, e, "--sink", "lite", "--into", path)
	sameRows(t, "lite --into", lite, want, updates)
}

// TestReplayToPosition: a replay --to an LSN (or a commit time) taken
// between two workloads rebuilds the source as it was then.
func TestReplayToPosition(t *testing.T) {
	e := newE2E(t, 2)
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
