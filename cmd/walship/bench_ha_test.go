package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
)

// waitMembers waits until every member lists n members and some live
// member runs each of comps.
func waitMembers(t *testing.T, ms []*clusterMember, n int, comps []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, m := range ms {
		for {
			doc, err := m.status()
			if err == nil && doc.Cluster != nil && len(doc.Cluster.Members) == n && doc.Cluster.Error == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not list %d members:\n%s", m.name, n, m.logTail())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, c := range comps {
		for running(ms, c) == "" {
			if time.Now().After(deadline) {
				t.Fatalf("no member runs %s", c)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestBenchHA measures cluster mode (make bench-ha), with the default
// cluster settings (session_timeout 10s, heartbeat_interval 1s):
//   - the takeover time after kill -9 of the member that runs a component,
//     over WALSHIP_BENCH_HA_FAULTS faults (default 10) under a steady
//     workload, p50 and max (target p99 ≤ 15 s);
//   - the time four sinks take to apply WALSHIP_BENCH_HA_ROWS rows
//     (default 200000) with one member, against two.
func TestBenchHA(t *testing.T) {
	testenv.Integration(t)
	if os.Getenv("WALSHIP_BENCH_HA") != "1" {
		t.Skip("a benchmark: make bench-ha")
	}
	faults := benchkit.EnvInt(t, "WALSHIP_BENCH_HA_FAULTS", 10)
	rows := benchkit.EnvInt(t, "WALSHIP_BENCH_HA_ROWS", 200000)
	var takeovers []float64
	t.Run("takeover", func(t *testing.T) { takeovers = benchTakeover(t, faults) })
	var one, two float64
	t.Run("one member", func(t *testing.T) { one = benchSpread(t, 1, rows) })
	t.Run("two members", func(t *testing.T) { two = benchSpread(t, 2, rows) })
	if len(takeovers) != faults || one == 0 || two == 0 {
		t.Fatalf("%d of %d takeovers measured; throughput %.0f / %.0f", len(takeovers), faults, one, two)
	}
	slices.Sort(takeovers)
	p50, worst := takeovers[(faults-1)/2], takeovers[faults-1]
	fmt.Printf("cluster takeover (%d kill -9, default timing): p50 %.2f s, max %.2f s (target p99 ≤ 15 s)\n", faults, p50, worst)
	fmt.Printf("cluster throughput (4 sinks, %d rows): 1 member %.0f rows/s, 2 members %.0f rows/s, ratio %.2f\n", rows, one, two, two/one)
	benchkit.WriteResult(t, "ha", map[string]any{"benchmark": "TestBenchHA", "faults": faults,
		"takeover_p50_seconds": p50, "takeover_max_seconds": worst, "takeover_seconds": takeovers,
		"rows": rows, "one_member_rows_per_s": one, "two_members_rows_per_s": two, "ratio": two / one,
		"note": "3 members, default cluster timing (session_timeout 10s, heartbeat_interval 1s, rebalance_timeout 10s); a PostgreSQL source and three followers under a steady workload; the owner of the source or a sink killed with SIGKILL, from the kill until another member streams or applies it, then the killed member restarted. Throughput: four sinks (three PostgreSQL databases and a MariaDB one) apply rows inserted in 1000-row transactions, all on this one machine"})
}

// benchTakeover kills the owner of a component n times and returns the
// takeover times in seconds.
func benchTakeover(t *testing.T, n int) []float64 {
	e := newE2E(t, 2)
	ms := newClusterOf(t, e, 3, "", "")
	for _, m := range ms {
		m.start(t)
	}
	comps := []string{"source/src", "sink/pgf", "sink/myf", "sink/lite"}
	waitMembers(t, ms, 3, comps, 90*time.Second)
	e.waitRows("accounts", accounts, 60*time.Second)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var violations atomic.Int64
	wg.Add(2)
	go func() { defer wg.Done(); e.poll(ctx, &violations) }()
	go func() {
		defer wg.Done()
		if _, err := e.workload(ctx, 7, 0); err != nil && ctx.Err() == nil {
			t.Error(err)
		}
	}()
	var out []float64
	for i := range n {
		target := comps[i%len(comps)]
		owner := running(ms, target)
		victim, live := splitOff(ms, owner)
		if victim == nil {
			t.Fatalf("no member runs %s", target)
		}
		victim.kill()
		at := time.Now()
		for running(live, target) == "" {
			if time.Since(at) > 90*time.Second {
				t.Fatalf("%s not taken over in 90 s", target)
			}
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(at).Seconds()
		out = append(out, took)
		t.Logf("fault %d: kill -9 of %s (running %s): taken over after %.2f s", i+1, owner, target, took)
		victim.start(t)
		waitMembers(t, ms, 3, comps, 90*time.Second)
	}
	stop()
	wg.Wait()
	e.converge(120 * time.Second)
	if violations.Load() > 0 {
		t.Errorf("%d invariant violations", violations.Load())
	}
	return out
}

// benchSpread starts members of a cluster with a PostgreSQL source and
// four sinks, inserts rows in 1000-row transactions, and returns the rows
// per second until every follower holds them all.
func benchSpread(t *testing.T, members, rows int) float64 {
	e := newE2E(t, 4)
	// A fourth sink: another database on the PostgreSQL follower server,
	// its tables made by walship.
	pg2 := e.name + "_b"
	pgExec(t, testenv.PGFollower(t), "CREATE DATABASE "+pg2)
	t.Cleanup(func() { pgExec(t, testenv.PGFollower(t), "DROP DATABASE IF EXISTS "+pg2+" WITH (FORCE)") })
	dsn2 := strings.Replace(e.pgDSN, "/"+e.name+"?", "/"+pg2+"?", 1)
	b, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, fmt.Sprintf("  - { name: pgb, from: [src], workers: 4, postgres: { dsn: %q } }\n", dsn2)...)
	if err := os.WriteFile(e.cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db2 := open(t, "pgx", dsn2)
	ms := newClusterOf(t, e, members, "", "")
	for _, m := range ms {
		m.start(t)
	}
	comps := []string{"source/src", "sink/pgf", "sink/myf", "sink/lite", "sink/pgb"}
	waitMembers(t, ms, members, comps, 90*time.Second)
	e.waitRows("accounts", accounts, 60*time.Second)
	start := time.Now()
	for i := 0; i < rows; i += 1000 {
		if _, err := e.src.Exec(`INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series($1::bigint, $2::bigint) g`, i+1, min(i+1000, rows)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	count := func(q func() (int, error)) {
		for {
			if n, err := q(); err == nil && n == rows {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("followers did not get %d rows in time\n%s", rows, ms[0].logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, db := range e.followers {
		count(func() (n int, err error) { err = db.QueryRow("SELECT count(*) FROM customers").Scan(&n); return })
	}
	count(func() (n int, err error) {
		err = db2.QueryRow("SELECT count(*) FROM public.customers").Scan(&n)
		return
	})
	secs := time.Since(start).Seconds()
	t.Logf("%d member(s): %d rows on four followers after %.1f s (%.0f rows/s)", members, rows, secs, float64(rows)/secs)
	return float64(rows) / secs
}
