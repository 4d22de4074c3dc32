package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// bulkRows is the keyless table's size in the bulk-load fault tests: large
// enough that its row batches take several follower transactions.
const bulkRows = 200000

// TestKilledDuringChunkApply (issue 16): a MariaDB source's initial load
// in row batches (kafka.envelope: rows) of a keyless table and a keyed one,
// into all three followers, with the daemon killed (SIGKILL) once the
// snapshot is in Kafka and a follower holds part of the keyless table,
// while its row batches are being applied. The restarted daemon goes on;
// every follower ends equal to the source (walship verify), and the
// keyless table, compared as a multiset, shows that no row was applied
// twice or lost.
func TestKilledDuringChunkApply(t *testing.T) { bulkFault(t, true, killRestart) }

// TestKilledDuringLoad: the same, killed while the source may still be
// snapshotting (it redoes the snapshot, clearing the followers' tables).
func TestKilledDuringLoad(t *testing.T) { bulkFault(t, false, killRestart) }

func killRestart(e *e2e) {
	{
		if err := e.stop(syscall.SIGKILL); err == nil {
			e.t.Fatal("the daemon was not killed")
		}
		e.start()
	}
}

// TestFaultBrokerRestartDuringLoad (issue 16; serial: it restarts the
// Kafka broker): the same load, with the broker killed (SIGKILL) and
// started again while the followers apply it. The daemon rides it out.
func TestFaultBrokerRestartDuringLoad(t *testing.T) {
	testenv.Integration(t)
	if os.Getenv("WALSHIP_SERIAL") != "1" {
		t.Skip("restarts the Kafka broker: runs in make test's serial phase (WALSHIP_SERIAL=1)")
	}
	bulkFault(t, false, func(e *e2e) {
		pidfile := filepath.Join(os.Getenv("WALSHIP_TEST_ENV_DIR"), "kafka", "kafka.pid")
		b, err := os.ReadFile(pidfile)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid == 0 {
			t.Fatalf("kafka pid file %s: %v", pidfile, err)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		for syscall.Kill(pid, 0) == nil {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		if out, err := exec.Command("bash", filepath.Join("..", "..", "deploy", "local", "kafka.sh"), "start").CombinedOutput(); err != nil {
			t.Fatalf("kafka.sh start: %v\n%s", err, out)
		}
	})
}

// bulkFault loads the tables with fault fired midway through the apply;
// inKafka: once the source has written the whole snapshot.
func bulkFault(t *testing.T, inKafka bool, fault func(*e2e)) {
	testenv.Integration(t)
	e := newE2EFrom(t, "mariadb", 2)
	withHTTP(t, e)
	cfg := mustRead(t, e.cfgPath)
	if err := os.WriteFile(e.cfgPath, []byte(strings.Replace(cfg, "partitions: 4 }", "partitions: 4, envelope: rows }", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE bulk (n int, msg varchar(20))`,
		fmt.Sprintf(`INSERT INTO bulk SELECT seq %% 5000, concat('m', seq %% 7) FROM seq_1_to_%d`, bulkRows),
		`INSERT INTO customers SELECT seq, concat('customer ', seq) FROM seq_1_to_50000`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	status := "http://" + regexp.MustCompile(`listen: "([^"]+)"`).FindStringSubmatch(mustRead(t, e.cfgPath))[1] + "/api/v1/status"
	e.start()
	deadline := time.Now().Add(180 * time.Second)
	for fired := false; !fired; {
		if st, ok := sourceStatus(status); inKafka && (!ok || st.State != "streaming") {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		for engine, db := range e.followers {
			var n int
			if db.QueryRow("SELECT count(*) FROM bulk").Scan(&n) == nil && n > 0 && n < bulkRows {
				t.Logf("fault with %d of %d rows on the %s follower", n, bulkRows, engine)
				fault(e)
				fired = true
				break
			}
		}
		if !fired && followersHave(e, "bulk", bulkRows) {
			t.Skip("the load finished before the fault; nothing to test")
		}
		if time.Now().After(deadline) {
			t.Fatalf("the load did not reach the followers\nlog tail:\n%s", e.logTail())
		}
		time.Sleep(2 * time.Millisecond)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok := sourceStatus(status); ok {
			break // the daemon answers again
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not answer after the fault\nlog tail:\n%s", e.logTail())
		}
	}
	// Rows streamed after the load, into the same tables.
	for _, q := range []string{`INSERT INTO bulk VALUES (1, 'm1'), (70000, 'streamed')`, `DELETE FROM customers WHERE id <= 10`} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--timeout", "300s")
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s\nwarnings and errors:\n%s", sink, code, out, problems(e))
		}
	}
	const multiset = "SELECT n, msg, count(*) FROM bulk GROUP BY n, msg ORDER BY n, msg"
	want, err := rows(e.src, multiset)
	if err != nil {
		t.Fatal(err)
	}
	for engine, db := range e.followers {
		got, err := rows(db, multiset)
		if err != nil {
			t.Fatalf("%s follower: %v", engine, err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			missing, extra := diff(want, got)
			t.Errorf("%s follower: keyless bulk differs by count: first missing %v, first extra %v", engine, missing, extra)
		}
	}
}
