package main

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestFaultMariaDBFailover (issue 24; WALSHIP_PAIRS: it kills the MariaDB
// pair's primary, then rebuilds the pair): a MariaDB source given both servers
// of the pair (addr: primary,replica) into all three followers. Rows are
// written on the primary; once the replica holds them, the primary is
// killed (SIGKILL) and the replica promoted. walship finds the promoted
// replica by itself, checks that it holds every GTID walship shipped, and
// goes on: rows written there reach every follower, and walship verify
// finds each follower equal to the new primary. walship check names the
// leader before and after.
func TestFaultMariaDBFailover(t *testing.T) {
	e, replica, failover := mariadbPair(t, "")
	primaryAddr, replicaAddr := hostPort(os.Getenv("WALSHIP_TEST_MYSQL_HA_PRIMARY")), hostPort(os.Getenv("WALSHIP_TEST_MYSQL_HA_REPLICA"))
	// walship check names the leader among the addresses and checks the
	// replica as one that can take over.
	out, _ := walship(t, "check", "-c", e.cfgPath)
	for _, want := range []string{primaryAddr + " is the leader", "failover: 1 of 1 other addresses ready to lead"} {
		if !strings.Contains(out, want) {
			t.Errorf("walship check before the failover lacks %q:\n%s", want, out)
		}
	}
	write(t, e.src, 1, 200, "before")
	e.waitRows("customers", 200, 60*time.Second)
	waitReplicaCaughtUp(t, e.src, replica)

	failover("promote")
	out, _ = walship(t, "check", "-c", e.cfgPath)
	for _, want := range []string{replicaAddr + " is the leader", primaryAddr + " does not answer"} {
		if !strings.Contains(out, want) {
			t.Errorf("walship check after the failover lacks %q:\n%s", want, out)
		}
	}
	write(t, replica, 201, 300, "after")
	e.waitRows("customers", 300, 120*time.Second)
	verifyAll(t, e)
	if log := mustRead(t, e.dir+"/walship.log"); !strings.Contains(log, "a new leader") {
		t.Errorf("the daemon did not say it followed a new leader; log tail:\n%s", e.logTail())
	}
}

// TestFaultMariaDBFailoverUnderLoad (issue 24; WALSHIP_PAIRS): a writer
// inserts rows on the primary without pause; two seconds in, the primary
// is killed (SIGKILL) and the replica promoted, and the writer goes on on
// the new primary after the rows it holds. Asynchronous replication may
// have lost the primary's last rows, and walship may have shipped some of
// them: either way nothing is silent. Either the new primary holds all
// walship shipped, and every follower ends equal to it (walship verify),
// or the source stops naming the missing GTIDs and the followers ahead of
// it, and no row of the new primary reaches a follower.
func TestFaultMariaDBFailoverUnderLoad(t *testing.T) {
	e, replica, failover := mariadbPair(t, "")
	write(t, e.src, 1, 100, "before")
	e.waitRows("customers", 100, 60*time.Second)
	var written atomic.Int64
	written.Store(100)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for id := 101; ; id++ {
			if _, err := e.src.Exec(`INSERT INTO customers VALUES (?, ?)`, id, "load"); err != nil {
				return // the primary is gone
			}
			written.Store(int64(id))
		}
	}()
	time.Sleep(2 * time.Second)
	failover("promote")
	<-stopped
	var held int
	if err := replica.QueryRow("SELECT COALESCE(MAX(id), 0) FROM customers").Scan(&held); err != nil {
		t.Fatal(err)
	}
	t.Logf("the writer committed up to id %d on the old primary; the promoted replica holds up to %d", written.Load(), held)
	write(t, replica, held+1, held+50, "after")
	var want int
	if err := replica.QueryRow("SELECT count(*) FROM customers").Scan(&want); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if p := e.logProblems(); strings.Contains(p, "lacks transactions walship already shipped") {
			t.Logf("the source stopped: the new primary lacks shipped GTIDs")
			if !strings.Contains(p, "followers ahead of it") {
				t.Errorf("the stop does not name the followers ahead:\n%s", p)
			}
			time.Sleep(2 * time.Second)
			for engine, db := range e.followers {
				var n int
				if err := db.QueryRow(`SELECT count(*) FROM customers WHERE name = 'after'`).Scan(&n); err != nil || n != 0 {
					t.Errorf("the %s follower took %d of the new primary's rows (%v) after the source refused it", engine, n, err)
				}
			}
			return
		}
		done := true
		for _, db := range e.followers {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM customers WHERE name = 'after'`).Scan(&n); err != nil || n < 50 {
				done = false
			}
		}
		if done {
			t.Logf("the source followed the new primary")
			e.waitRows("customers", want, 60*time.Second)
			verifyAll(t, e)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("neither stopped nor followed the new primary; log tail:\n%s", e.logTail())
		}
	}
}

// TestFaultMariaDBDiscardedWrite (issue 24; WALSHIP_PAIRS): the replica's IO
// thread is stopped, a row committed on the primary and shipped by
// walship to every follower; the primary is killed and the replica, which
// never got that row, promoted. The source stops before it streams from
// the new primary, naming the missing GTID: the followers are ahead of
// their new leader, and walship says so instead of going on.
func TestFaultMariaDBDiscardedWrite(t *testing.T) {
	e, replica, failover := mariadbPair(t, "")
	write(t, e.src, 1, 10, "before")
	e.waitRows("customers", 10, 60*time.Second)
	waitReplicaCaughtUp(t, e.src, replica)
	if _, err := replica.Exec("STOP SLAVE IO_THREAD"); err != nil {
		t.Fatal(err)
	}
	write(t, e.src, 11, 11, "lost")
	var lost string
	if err := e.src.QueryRow("SELECT @@last_gtid").Scan(&lost); err != nil {
		t.Fatal(err)
	}
	e.waitRows("customers", 11, 60*time.Second)

	failover("promote")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		p := e.logProblems()
		if strings.Contains(p, "lacks transactions walship already shipped") {
			if !strings.Contains(p, lost) {
				t.Errorf("the stop does not name the lost GTID %s:\n%s", lost, p)
			}
			// Every follower applied the lost row: each is named ahead.
			for _, sink := range []string{"pgf", "myf", "lite"} {
				if !strings.Contains(p, sink+" ("+lost+")") {
					t.Errorf("the stop does not name the follower %s as ahead, holding %s:\n%s", sink, lost, p)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the source did not stop on the promoted replica that lacks %s; log tail:\n%s", lost, e.logTail())
		}
	}
	// Nothing the new primary writes reaches a follower.
	write(t, replica, 12, 12, "after")
	time.Sleep(3 * time.Second)
	for engine, db := range e.followers {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM customers WHERE id = 12`).Scan(&n); err != nil || n != 0 {
			t.Errorf("the %s follower took the new primary's row (%d, %v) after the source refused it", engine, n, err)
		}
	}
}

// TestFaultMariaDBSemiSyncReplica (issue 24; WALSHIP_PAIRS): the
// discarded-write sequence of TestFaultMariaDBDiscardedWrite, with the
// pair in semi-synchronous replication and the source streaming from the
// replica (stream_from: replica). The replica's IO thread is stopped and
// a row committed on the primary (semi-sync times out to asynchronous):
// walship, reading the replica, never ships it. The primary is killed and
// the replica promoted: nothing is missing, walship goes on without a
// stop, the new primary's rows reach every follower, and each equals it.
func TestFaultMariaDBSemiSyncReplica(t *testing.T) {
	e, replica, failover := mariadbPair(t, ", stream_from: replica")
	replicaAddr := hostPort(os.Getenv("WALSHIP_TEST_MYSQL_HA_REPLICA"))
	out, _ := walship(t, "check", "-c", e.cfgPath)
	if want := replicaAddr + " is the replica the source streams from"; !strings.Contains(out, want) {
		t.Errorf("walship check lacks %q:\n%s", want, out)
	}
	for _, q := range []string{"SET GLOBAL rpl_semi_sync_master_enabled = ON", "SET GLOBAL rpl_semi_sync_master_timeout = 2000",
		"SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC"} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, q := range []string{"SET GLOBAL rpl_semi_sync_slave_enabled = ON", "STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD"} {
		if _, err := replica.Exec(q); err != nil {
			t.Fatalf("replica: %s: %v", q, err)
		}
	}
	semiSyncTx := func() int {
		var name string
		var n int
		if err := e.src.QueryRow("SHOW STATUS LIKE 'Rpl_semi_sync_master_yes_tx'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var name string
		var clients int
		if err := e.src.QueryRow("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'").Scan(&name, &clients); err != nil {
			t.Fatal(err)
		}
		if clients > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica never connected as a semi-synchronous replica")
		}
	}
	before := semiSyncTx()
	write(t, e.src, 1, 10, "before")
	if n := semiSyncTx() - before; n != 10 {
		t.Fatalf("%d of 10 commits were acknowledged by the semi-synchronous replica", n)
	}
	e.waitRows("customers", 10, 60*time.Second)

	if _, err := replica.Exec("STOP SLAVE IO_THREAD"); err != nil {
		t.Fatal(err)
	}
	write(t, e.src, 11, 11, "lost") // waits rpl_semi_sync_master_timeout, then commits asynchronously
	time.Sleep(3 * time.Second)
	for engine, db := range e.followers {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM customers WHERE id = 11`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("the %s follower took the row the replica lacks (%d, %v)", engine, n, err)
		}
	}

	failover("promote")
	write(t, replica, 12, 20, "after")
	e.waitRows("customers", 19, 120*time.Second)
	if p := e.logProblems(); strings.Contains(p, "lacks transactions walship already shipped") {
		t.Fatalf("the source stopped on the promoted replica:\n%s", p)
	}
	verifyAll(t, e)
}

// mariadbPair is the end-to-end pipeline from the MariaDB pair (addr:
// primary,replica, then extra, flow-style keys of the source's mysql
// block), running; replica is a connection to the replica's copy of the
// test database; failover runs failover.sh mariadb (the pair is rebuilt
// when the test ends). Alone on the pair only.
func mariadbPair(t *testing.T, extra string) (*e2e, *sql.DB, func(string)) {
	t.Helper()
	testenv.Integration(t)
	if os.Getenv("WALSHIP_PAIRS") != "1" {
		t.Skip("kills the MariaDB pair's primary: make test runs it beside its first phase, on the pair alone (WALSHIP_PAIRS=1)")
	}
	primary, replicaDSN := os.Getenv("WALSHIP_TEST_MYSQL_HA_PRIMARY"), os.Getenv("WALSHIP_TEST_MYSQL_HA_REPLICA")
	if primary == "" || replicaDSN == "" {
		t.Fatal("WALSHIP_TEST_MYSQL_HA_PRIMARY and WALSHIP_TEST_MYSQL_HA_REPLICA are not set (source deploy/local/env.sh, or run make test)")
	}
	failover := func(action string) {
		if out, err := exec.Command("bash", filepath.Join("..", "..", "deploy", "local", "failover.sh"), "mariadb", action).CombinedOutput(); err != nil {
			t.Fatalf("failover.sh mariadb %s: %v\n%s", action, err, out)
		}
	}
	t.Cleanup(func() { failover("reset") })
	t.Setenv("WALSHIP_TEST_MYSQL_SOURCE", primary)
	e := newE2EFrom(t, "mariadb", 2)
	// Cleanups run last first: the harness's then drops the database on
	// the promoted replica (t.Setenv restores the variable after).
	t.Cleanup(func() { os.Setenv("WALSHIP_TEST_MYSQL_SOURCE", replicaDSN) })
	addr := func(dsn string) string { return dsn[strings.Index(dsn, "(")+1 : strings.Index(dsn, ")")] }
	cfg := mustRead(t, e.cfgPath)
	both := strings.Replace(cfg, `addr: "`+addr(primary)+`"`, `addr: "`+addr(primary)+`,`+addr(replicaDSN)+`"`+extra, 1)
	if both == cfg {
		t.Fatalf("no source addr in\n%s", cfg)
	}
	if err := os.WriteFile(e.cfgPath, []byte(both), 0o600); err != nil {
		t.Fatal(err)
	}
	replica, err := sql.Open("mysql", replicaDSN+e.name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replica.Close() })
	// The replica holds the test tables before the source starts (it may
	// stream from it).
	waitReplicaCaughtUp(t, e.src, replica)
	withHTTP(t, e)
	e.start()
	return e, replica, failover
}

// write inserts customers from..to with name.
func write(t *testing.T, db *sql.DB, from, to int, name string) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := db.Exec(`INSERT INTO customers VALUES (?, ?)`, i, name); err != nil {
			t.Fatal(err)
		}
	}
}

// waitReplicaCaughtUp waits until the replica has applied everything the
// primary's binlog holds.
func waitReplicaCaughtUp(t *testing.T, primary, replica *sql.DB) {
	t.Helper()
	var want string
	if err := primary.QueryRow("SELECT @@gtid_binlog_pos").Scan(&want); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var ok sql.NullInt64
		if err := replica.QueryRow("SELECT MASTER_GTID_WAIT(?, 1)", want).Scan(&ok); err == nil && ok.Valid && ok.Int64 == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica never reached %s", want)
		}
	}
}

// verifyAll runs walship verify for every sink of the e2e pipeline.
func verifyAll(t *testing.T, e *e2e) {
	t.Helper()
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--timeout", "120s")
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s\nwarnings and errors:\n%s", sink, code, out, problems(e))
		}
	}
}
