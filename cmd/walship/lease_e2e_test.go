package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestLockSessionKilledUnderLoad: while a workload runs, the sessions
// holding the PostgreSQL and MariaDB followers' sink locks are killed
// (pg_terminate_backend, KILL). Each sink notices (its next commit is
// fenced, or the periodic check fails), stops, and the supervisor's
// restart takes the lock again on a new session and resumes from the
// follower's recorded position: the followers converge with the source and
// walship verify says equal on all three.
func TestLockSessionKilledUnderLoad(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 2)
	withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	pg, my := e.followers["postgres"], e.followers["mysql"]
	pgHolder := func() int64 {
		var pid sql.NullInt64
		pg.QueryRow(`SELECT max(pid) FROM pg_stat_activity WHERE application_name = 'walship sink pgf' AND datname = current_database()`).Scan(&pid)
		return pid.Int64
	}
	myHolder := func() int64 {
		var id sql.NullInt64
		my.QueryRow(`SELECT IS_USED_LOCK(CONCAT('walship_sink:', DATABASE(), ':myf'))`).Scan(&id)
		return id.Int64
	}
	pgPid, myID := pgHolder(), myHolder()
	if pgPid == 0 || myID == 0 {
		t.Fatalf("lock sessions not found: pid %d, connection id %d", pgPid, myID)
	}

	ctx, stop := context.WithTimeout(context.Background(), 8*time.Second)
	defer stop()
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.workload(ctx, uint64(w+1)*104729, int64(w)*1_000_000_000); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(2 * time.Second)
	if _, err := pg.Exec(`SELECT pg_terminate_backend($1)`, pgPid); err != nil {
		t.Fatal(err)
	}
	if _, err := my.Exec(`KILL ?`, myID); err != nil {
		t.Fatal(err)
	}
	// Each sink takes its lock again, on a new session, while the load runs.
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, m := pgHolder(), myHolder()
		if p != 0 && p != pgPid && m != 0 && m != myID {
			t.Logf("locks taken again: pid %d → %d, connection id %d → %d", pgPid, p, myID, m)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("locks not taken again (pid %d, connection id %d)\nlog tail:\n%s", p, m, e.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	e.converge(90 * time.Second)
	log, _ := os.ReadFile(filepath.Join(e.dir, "walship.log"))
	for _, sink := range []string{"pgf", "myf"} {
		found := false
		for _, line := range strings.Split(string(log), "\n") {
			// The sink's stop, or the position record that found it first.
			if strings.Contains(line, "sink "+sink) && strings.Contains(line, "the sink's lock in the follower was lost") {
				if !found {
					t.Logf("%s", line)
				}
				found = true
			}
		}
		if !found {
			t.Errorf("the log does not say sink %s lost its lock:\n%s", sink, e.logTail())
		}
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
	}
}
