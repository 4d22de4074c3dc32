package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
)

// TestFaultPostgresFailover (issue 24; serial: it kills the PostgreSQL 18
// pair's primary, then rebuilds the pair): a PostgreSQL 18 source behind a
// multi-host DSN (the primary, then its standby; target_session_attrs=
// primary) with a failover slot (failover_slot: auto), into all three
// followers. Rows are written and replicated; the standby's WAL receiver
// is stopped and a row committed on the primary, which no follower then
// receives (synchronized_standby_slots); the primary is killed (SIGKILL)
// and its standby promoted, without that row, which no follower ever
// shows. walship finds the new primary by
// itself, follows its new timeline from the synced slot, and the rows
// written there reach every follower; walship verify finds each follower
// equal to the new primary, and the status names its timeline. Then the
// old primary comes back as a primary, first in the DSN, and takes a
// write: the restarted source refuses it, naming both timelines, and the
// write reaches no follower.
func TestFaultPostgresFailover(t *testing.T) {
	testenv.Integration(t)
	if os.Getenv("WALSHIP_SERIAL") != "1" {
		t.Skip("kills the PostgreSQL 18 primary: runs in make test's serial phase (WALSHIP_SERIAL=1)")
	}
	e, primary, standby, failover := pg18Pipeline(t)
	su := mustURL(t, standby)
	for i := 1; i <= 200; i++ {
		if _, err := e.src.Exec(`INSERT INTO customers VALUES ($1, 'before')`, i); err != nil {
			t.Fatal(err)
		}
	}
	e.waitRows("customers", 200, 60*time.Second)
	ctx := context.Background()
	sconn := waitSlotSynced(t, e, standby)
	// The standby's WAL receiver stopped: a commit on the primary now
	// reaches no follower (synchronized_standby_slots holds it back from
	// walship), and after the promotion never does.
	for _, q := range []string{`ALTER SYSTEM SET primary_conninfo = ''`, `SELECT pg_reload_conf()`} {
		if _, err := sconn.Exec(ctx, q); err != nil {
			t.Fatalf("standby: %s: %v", q, err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var receivers int
		if err := sconn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_wal_receiver`).Scan(&receivers); err == nil && receivers == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby's WAL receiver did not stop")
		}
	}
	sconn.Close(ctx)
	if _, err := e.src.Exec(`INSERT INTO customers VALUES (9999, 'discarded')`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	discarded := func(when string) {
		for engine, db := range e.followers {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM customers WHERE id = 9999`).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s: the %s follower holds the commit its new leader never had (%d rows, %v)", when, engine, n, err)
			}
		}
	}
	discarded("before the failover")

	failover("promote")
	promoted := time.Now()
	// New connections find the promoted standby; writes retry until then.
	for i := 201; i <= 300; i++ {
		for attempt := 0; ; attempt++ {
			_, err := e.src.Exec(`INSERT INTO customers VALUES ($1, 'after') ON CONFLICT (id) DO NOTHING`, i)
			if err == nil {
				break
			}
			if attempt > 100 {
				t.Fatalf("write to the new primary: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	e.waitRows("customers", 300, 120*time.Second)
	discarded("after the failover")
	t.Logf("the new primary's rows on every follower %.1f s after the promotion", time.Since(promoted).Seconds())

	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--timeout", "120s")
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s\nwarnings and errors:\n%s", sink, code, out, problems(e))
		}
	}
	status := "http://" + regexp.MustCompile(`listen: "([^"]+)"`).FindStringSubmatch(mustRead(t, e.cfgPath))[1] + "/api/v1/status"
	st, ok := sourceStatus(status)
	if !ok || !strings.Contains(st.Leader, su.Host) || !strings.Contains(st.Leader, "timeline 2") || !st.FailoverSlot ||
		st.Failovers != 1 || st.LastFailover == nil {
		t.Errorf("status after the failover: leader %q, failover slot %v, failovers %d at %v", st.Leader, st.FailoverSlot, st.Failovers, st.LastFailover)
	}
	if log := mustRead(t, e.dir+"/walship.log"); !strings.Contains(log, "following its new timeline") {
		t.Errorf("the daemon did not say it followed the new timeline; log tail:\n%s", e.logTail())
	}

	// Split brain: the old primary comes back as a primary (timeline 1),
	// first in the DSN, and takes a write. The restarted source refuses
	// it, naming both timelines; its write reaches no follower.
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v", err)
	}
	pgdata := filepath.Join(os.Getenv("WALSHIP_TEST_ENV_DIR"), "pg18-primary")
	args := []string{filepath.Join(os.Getenv("WALSHIP_PG18_BIN"), "pg_ctl"), "start", "-D", pgdata, "-l", filepath.Join(pgdata, "server.log"), "-w", "-t", "60"}
	if os.Getuid() == 0 { // as deploy/local does: PostgreSQL refuses root
		args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
	}
	start := exec.Command(args[0], args[1:]...)
	start.Dir = "/"
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("start the old primary: %v\n%s", err, out)
	}
	old, err := pgx.Connect(ctx, strings.Replace(primary, "/postgres?", "/"+e.name+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(ctx, `INSERT INTO customers VALUES (7777, 'split brain')`); err != nil {
		t.Fatalf("write on the old primary: %v", err)
	}
	old.Close(ctx)
	e.start()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if strings.Contains(e.logProblems(), "older timeline than one walship followed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the source did not refuse the old primary; log tail:\n%s", e.logTail())
		}
	}
	if p := e.logProblems(); !strings.Contains(p, "timeline 1") || !strings.Contains(p, "up to timeline 2") {
		t.Errorf("the refusal does not name both timelines:\n%s", p)
	}
	for engine, db := range e.followers {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM customers WHERE id = 7777`).Scan(&n); err != nil || n != 0 {
			t.Errorf("the %s follower holds the old primary's write (%d rows, %v)", engine, n, err)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// pg18Pipeline is the end-to-end pipeline from the PostgreSQL 18 pair,
// behind a multi-host DSN (the primary, then the standby;
// target_session_attrs=primary), running; failover runs failover.sh pg
// (the pair is rebuilt when the test ends). Serial only.
func pg18Pipeline(t *testing.T) (e *e2e, primary, standby string, failover func(action string)) {
	t.Helper()
	primary, standby = os.Getenv("WALSHIP_TEST_PG18_PRIMARY"), os.Getenv("WALSHIP_TEST_PG18_STANDBY")
	if primary == "" || standby == "" {
		t.Fatal("WALSHIP_TEST_PG18_PRIMARY and WALSHIP_TEST_PG18_STANDBY are not set (source deploy/local/env.sh, or run make test)")
	}
	failover = func(action string) {
		if out, err := exec.Command("bash", filepath.Join("..", "..", "deploy", "local", "failover.sh"), "pg", action).CombinedOutput(); err != nil {
			t.Fatalf("failover.sh pg %s: %v\n%s", action, err, out)
		}
	}
	t.Cleanup(func() { failover("reset") })
	pu, su := mustURL(t, primary), mustURL(t, standby)
	t.Setenv("WALSHIP_TEST_PG_SOURCE", fmt.Sprintf("postgres://postgres@%s,%s/postgres?sslmode=disable&target_session_attrs=primary", pu.Host, su.Host))
	e = newE2E(t, 2)
	// Cleanups run last first: the harness's then drops the database
	// and slot on the new primary (t.Setenv restores the variable after).
	t.Cleanup(func() { os.Setenv("WALSHIP_TEST_PG_SOURCE", standby) })
	withHTTP(t, e)
	e.start()
	return e, primary, standby, failover
}

// waitSlotSynced waits until the standby holds the pipeline's slot,
// synced and persistent, and returns a connection to the standby.
func waitSlotSynced(t *testing.T, e *e2e, standby string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	sconn, err := pgx.Connect(ctx, standby)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var synced bool
		err := sconn.QueryRow(ctx, `SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = $1`, e.name).Scan(&synced)
		if err == nil && synced {
			return sconn
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %s never synced to the standby (last: %v)", e.name, err)
		}
	}
}

// TestBenchFailover is make bench-failover (it runs only with
// WALSHIP_BENCH_FAILOVER=1 and WALSHIP_SERIAL=1): WALSHIP_BENCH_FAILOVERS
// failovers (default 5) of the PostgreSQL 18 pair, each on a fresh
// pipeline with the pair rebuilt, timed from the promotion's end to the
// first change written on the new primary visible on the PostgreSQL
// follower; also from the promotion to the new primary's first accepted
// write. It prints p50 and max and writes bench/results/failover-*.json.
func TestBenchFailover(t *testing.T) {
	testenv.Integration(t)
	if os.Getenv("WALSHIP_BENCH_FAILOVER") != "1" || os.Getenv("WALSHIP_SERIAL") != "1" {
		t.Skip("a benchmark: make bench-failover")
	}
	n := benchkit.EnvInt(t, "WALSHIP_BENCH_FAILOVERS", 5)
	var visible, writable []float64
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprint("failover", i+1), func(t *testing.T) {
			e, _, _, failover := pg18Pipeline(t)
			for id := 1; id <= 100; id++ {
				if _, err := e.src.Exec(`INSERT INTO customers VALUES ($1, 'before')`, id); err != nil {
					t.Fatal(err)
				}
			}
			e.waitRows("customers", 100, 60*time.Second)
			waitSlotSynced(t, e, os.Getenv("WALSHIP_TEST_PG18_STANDBY")).Close(context.Background())
			failover("promote")
			promoted := time.Now()
			for attempt := 0; ; attempt++ {
				if _, err := e.src.Exec(`INSERT INTO customers VALUES (1000, 'after')`); err == nil {
					break
				} else if attempt > 600 {
					t.Fatalf("write to the new primary: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			wrote := time.Since(promoted)
			pg := e.followers["postgres"]
			for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				var n int
				if pg.QueryRow(`SELECT count(*) FROM customers WHERE id = 1000`).Scan(&n) == nil && n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the new primary's row never reached the follower\n%s", e.logTail())
				}
			}
			took := time.Since(promoted)
			t.Logf("failover %d: new primary writable after %.2f s, its first row on the follower after %.2f s", i+1, wrote.Seconds(), took.Seconds())
			visible, writable = append(visible, took.Seconds()), append(writable, wrote.Seconds())
		})
	}
	if len(visible) != n {
		t.Fatalf("%d of %d failovers measured", len(visible), n)
	}
	sort.Float64s(visible)
	sort.Float64s(writable)
	p50, worst := visible[(n-1)/2], visible[n-1]
	fmt.Printf("failover (PostgreSQL 18, %d failovers): promotion to the new primary's first change on a follower p50 %.2f s, max %.2f s (goal ≤ 10 s); new primary writable p50 %.2f s\n",
		n, p50, worst, writable[(n-1)/2])
	benchkit.WriteResult(t, "failover", map[string]any{"benchmark": "TestBenchFailover", "failovers": n,
		"visible_p50_seconds": p50, "visible_max_seconds": worst, "visible_seconds": visible, "writable_seconds": writable,
		"note": "PostgreSQL 18 primary killed with SIGKILL, its standby promoted (pg_ctl promote -w); from the promotion's end until a row written on the new primary is on the PostgreSQL follower; walship reconnects through a multi-host DSN with the supervisor's backoff"})
}
