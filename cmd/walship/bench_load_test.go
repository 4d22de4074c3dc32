package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
)

// The load benchmarks of issue #9: the initial load of a large table
// against pg_dump | psql, and the highest source write rate the whole
// pipeline sustains with flat lag under a step load.

// BenchmarkInitialLoad: the initial snapshot of one table of
// WALSHIP_BENCH_LOAD_ROWS rows (default 5000000; the bench_rows shape),
// filled before the daemon starts, timed from the daemon's start until the
// PostgreSQL follower holds every row (snapshot → Kafka → sink). The
// baseline, in the same run and after it, is pg_dump -t of the same table
// piped into psql on a fresh database of the follower server (schema and
// data: COPY, then the primary key). It also reports when the source had
// the whole snapshot durable in Kafka, the daemon's peak RSS (VmHWM) and
// its CPU time (user + system). With WALSHIP_BENCH_CPUPROFILE set, the
// daemon's first WALSHIP_BENCH_PROFILE_SECONDS (default 20) are profiled
// into $WALSHIP_BENCH_CPUPROFILE-load.
//
// Then, unless WALSHIP_BENCH_LOAD_PHASES=0, the two halves alone on a
// second copy of the table: a daemon without sinks until the snapshot is
// durable in Kafka, then a daemon reading that log only (external source)
// until the follower holds every row.
//
// WALSHIP_BENCH_LOAD_TABLES=N loads N tables (bench_rows_1 ... _N) of
// WALSHIP_BENCH_LOAD_ROWS rows each (default then 1000000) at once, against
// pg_dump of the same tables.
func BenchmarkInitialLoad(b *testing.B) {
	tables := benchkit.EnvInt(b, "WALSHIP_BENCH_LOAD_TABLES", 1)
	perTable := benchkit.EnvInt(b, "WALSHIP_BENCH_LOAD_ROWS", map[bool]int{true: 5000000, false: 1000000}[tables == 1])
	rows := perTable * tables
	workers := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4)
	p := newLoadPipe(b, perTable, tables)
	start := time.Now()
	p.start(p.config(false, true, workers))
	if os.Getenv("WALSHIP_BENCH_CPUPROFILE") != "" {
		for _, _, ok := p.status(); !ok && time.Since(start) < 30*time.Second; _, _, ok = p.status() {
			time.Sleep(10 * time.Millisecond) // the profile needs the HTTP server up
		}
	}
	waitProfile := p.profile("load", benchkit.EnvInt(b, "WALSHIP_BENCH_PROFILE_SECONDS", 20))
	streamed, loaded := p.waitLoaded(rows, start)
	waitProfile()
	walSecs := loaded.Seconds()
	hwm := procBytes(p.cmd.Process.Pid, "VmHWM")
	cpu := p.stopCPU()
	b.Logf("walship: %d rows in %.1f s (snapshot durable in Kafka at %.1f s), peak RSS %d MiB, CPU %.1f s",
		rows, walSecs, streamed.Seconds(), hwm>>20, cpu.Seconds())

	dumpSecs := dumpRestore(b, p, rows)
	walRate, dumpRate := float64(rows)/walSecs, float64(rows)/dumpSecs
	what := fmt.Sprintf("%d rows", rows)
	if tables > 1 {
		what = fmt.Sprintf("%d tables of %d rows", tables, perTable)
	}
	fmt.Printf("initial load (%s): walship %.0f rows/s (%.1f s; snapshot durable in Kafka at %.1f s), pg_dump|psql %.0f rows/s (%.1f s), ratio %.2f, walship peak RSS %d MiB, CPU %.1f s\n",
		what, walRate, walSecs, streamed.Seconds(), dumpRate, dumpSecs, walRate/dumpRate, hwm>>20, cpu.Seconds())
	b.ReportMetric(walRate/dumpRate, "ratio")
	result := map[string]any{"benchmark": "BenchmarkInitialLoad", "envelope": benchEnvelope(), "rows": rows, "tables": tables, "workers": workers,
		"walship_rows_per_s": walRate, "walship_seconds": walSecs, "snapshot_durable_seconds": streamed.Seconds(),
		"pg_dump_psql_rows_per_s": dumpRate, "pg_dump_psql_seconds": dumpSecs, "ratio": walRate / dumpRate, "peak_rss_bytes": hwm, "walship_cpu_seconds": cpu.Seconds(),
		"note": "walship: daemon start until the follower holds every row (snapshot, Kafka acks=all, PostgreSQL sink); pg_dump -t table | psql into a fresh database of the follower server (COPY, then the primary key); phases: each half alone on a second copy of the table"}

	if os.Getenv("WALSHIP_BENCH_LOAD_PHASES") != "0" {
		q := newLoadPipe(b, perTable, tables)
		start := time.Now()
		q.start(q.config(false, false, 0))
		q.waitStreamingWithin(90 * time.Minute)
		snapSecs := time.Since(start).Seconds()
		snapRSS := procBytes(q.cmd.Process.Pid, "VmHWM")
		snapCPU := q.stopCPU()
		start = time.Now()
		q.start(q.config(true, true, workers))
		if os.Getenv("WALSHIP_BENCH_CPUPROFILE") != "" {
			for _, ok := q.sinkApplied(); !ok && time.Since(start) < 30*time.Second; _, ok = q.sinkApplied() {
				time.Sleep(10 * time.Millisecond) // the profile needs the HTTP server up
			}
		}
		waitSinkProfile := q.profile("sink", benchkit.EnvInt(b, "WALSHIP_BENCH_PROFILE_SECONDS", 20))
		_, loaded := q.waitLoaded(rows, start)
		waitSinkProfile()
		sinkSecs := loaded.Seconds()
		sinkRSS := procBytes(q.cmd.Process.Pid, "VmHWM")
		sinkCPU := q.stopCPU()
		fmt.Printf("initial load phases (%s): snapshot → Kafka alone %.0f rows/s (%.1f s, peak RSS %d MiB, CPU %.1f s), Kafka → follower alone %.0f rows/s (%.1f s, peak RSS %d MiB, CPU %.1f s)\n",
			what, float64(rows)/snapSecs, snapSecs, snapRSS>>20, snapCPU.Seconds(), float64(rows)/sinkSecs, sinkSecs, sinkRSS>>20, sinkCPU.Seconds())
		result["phases"] = map[string]any{
			"snapshot_rows_per_s": float64(rows) / snapSecs, "snapshot_seconds": snapSecs, "snapshot_peak_rss_bytes": snapRSS, "snapshot_cpu_seconds": snapCPU.Seconds(),
			"sink_rows_per_s": float64(rows) / sinkSecs, "sink_seconds": sinkSecs, "sink_peak_rss_bytes": sinkRSS, "sink_cpu_seconds": sinkCPU.Seconds()}
	}
	benchkit.WriteResult(b, "initial-load", result)
}

// newLoadPipe is a bench pipe whose source table bench_rows holds rows
// rows, or, with tables > 1, whose tables bench_rows_1 ... _tables hold
// rows rows each.
func newLoadPipe(b *testing.B, rows, tables int) *benchPipe {
	names := []string{"bench_rows"}
	if tables > 1 {
		names = names[:0]
		for i := 1; i <= tables; i++ {
			names = append(names, fmt.Sprintf("bench_rows_%d", i))
		}
	}
	var ddl []string
	for _, n := range names {
		ddl = append(ddl, strings.Replace(benchRowsDDL, "bench_rows", n, 1))
	}
	p := newBenchPipe(b, ddl, ddl)
	p.tables = names
	t0 := time.Now()
	for _, n := range names {
		if _, err := p.src.Exec(`INSERT INTO `+n+` SELECT g, md5(g::text), g, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, $1::bigint) g`, rows); err != nil {
			b.Fatal(err)
		}
		// Every reader then finds the same settled heap (hint bits set).
		if _, err := p.src.Exec("VACUUM (ANALYZE) " + n); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %d rows in %s", rows*len(names), time.Since(t0).Round(time.Millisecond))
	return p
}

// countLoaded is the rows of the follower's load tables.
func (p *benchPipe) countLoaded() int {
	n := 0
	for _, t := range p.tables {
		n += p.count(t)
	}
	return n
}

// waitLoaded waits until the follower's bench_rows holds rows rows, and
// returns when, after start, the source reported streaming (its snapshot
// durable in Kafka), or 0 if it never did, and when the rows were there:
// when the sink first reported them applied (committed), or else when the
// count(*) that found them began. The confirming count is not timed: the
// first scan of a freshly loaded table sets every tuple's hint bits, which
// took up to a second of a million rows here, and pg_dump | psql's time has
// no such scan either.
func (p *benchPipe) waitLoaded(rows int, start time.Time) (streamed, loaded time.Duration) {
	var lastCount, lastSeries time.Time
	series := os.Getenv("WALSHIP_BENCH_LOAD_SERIES") != "" // the sink's progress, every 250 ms
	for {
		if streamed == 0 {
			if st, _, ok := p.status(); ok && st == "streaming" {
				streamed = time.Since(start)
			}
		}
		// A count of millions of rows is not free: ask the sink first.
		applied, ok := p.sinkApplied()
		if series && time.Since(lastSeries) >= 250*time.Millisecond {
			lastSeries = time.Now()
			p.b.Logf("%6.2f s: sink applied %d", time.Since(start).Seconds(), applied)
		}
		if (ok && applied >= int64(rows)) || time.Since(lastCount) > 2*time.Second {
			lastCount = time.Now()
			at := time.Since(start)
			if p.countLoaded() >= rows {
				return streamed, at
			}
		}
		if time.Since(start) > 90*time.Minute {
			p.b.Fatalf("the follower never held %d rows\n%s", rows, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopCPU stops the daemon and returns its CPU time (user + system):
// steadier than rates on a shared machine.
func (p *benchPipe) stopCPU() time.Duration {
	cmd := p.cmd
	p.stop()
	if cmd == nil || cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// dumpRestore pipes pg_dump -t of the load tables of the source into psql
// on a fresh database of the follower server, checks the row count and
// returns the seconds the pipe took.
func dumpRestore(b *testing.B, p *benchPipe, rows int) float64 {
	ctx := context.Background()
	pgFol := testenv.PGFollower(b)
	db := p.name + "_dump"
	conn, err := pgx.Connect(ctx, pgFol)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if c, err := pgx.Connect(ctx, pgFol); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	dumpDSN := strings.Replace(pgFol, "/postgres?", "/"+db+"?", 1)
	args := []string{"--no-owner", "--no-privileges", "-d", p.srcDSN}
	for _, t := range p.tables {
		args = append(args, "-t", "public."+t)
	}
	dump := exec.Command(pgProgram(b, "pg_dump"), args...)
	restore := exec.Command(pgProgram(b, "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", dumpDSN)
	secs := pipeSeconds(b, dump, restore)
	dc, err := pgx.Connect(ctx, dumpDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer dc.Close(ctx)
	n := 0
	for _, t := range p.tables {
		var c int
		if err := dc.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&c); err != nil {
			b.Fatal(err)
		}
		n += c
	}
	if n != rows {
		b.Fatalf("pg_dump|psql restored %d rows, want %d", n, rows)
	}
	return secs
}

// pgProgram finds a PostgreSQL client program: $WALSHIP_PG_BIN, the
// Debian layout for PostgreSQL 15, then PATH.
func pgProgram(b *testing.B, prog string) string {
	for _, dir := range []string{os.Getenv("WALSHIP_PG_BIN"), "/usr/lib/postgresql/15/bin"} {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, prog); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath(prog)
	if err != nil {
		b.Fatalf("%s not found: set WALSHIP_PG_BIN (deploy/local/env.sh does)", prog)
	}
	return p
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// sinkStatus is the first sink of the status API.
type sinkStatus struct {
	Changes    int64   `json:"applied_changes"`
	LagSeconds float64 `json:"lag_seconds"`
}

func (p *benchPipe) sink() (sinkStatus, bool) {
	_, body, err := get("http://" + p.http + "/api/v1/status")
	if err != nil {
		return sinkStatus{}, false
	}
	var doc struct {
		Sinks []sinkStatus `json:"sinks"`
	}
	if json.Unmarshal([]byte(body), &doc) != nil || len(doc.Sinks) == 0 {
		return sinkStatus{}, false
	}
	return doc.Sinks[0], true
}

// BenchmarkStepLoad: the highest source write rate at which lag stays
// flat. WALSHIP_BENCH_STEP_WRITERS connections (default 32) insert
// single-row transactions at fixed rates (WALSHIP_BENCH_STEP_RATES,
// default 500,1000,2000,3000,4000,5000,6000,7000,8000,10000,12000
// txn/s), each for WALSHIP_BENCH_STEP_SECONDS (default 10), on an open
// schedule (a late writer catches up). Every row carries the source's clock_timestamp();
// four times a second a sampler reads the newest row on the follower and
// takes lag = now − its timestamp (one host, one clock: source, Kafka and
// sink together), beside the sink's own lag_seconds from the status API.
// A step is flat when the source wrote ≥ 90% of its target and the mean
// lag of the window's last third is at most the first third's plus
// WALSHIP_BENCH_STEP_SLACK_MS (default 1000). The load stops at the first
// step that is not flat; the pipeline catches up between steps. With
// WALSHIP_BENCH_CPUPROFILE set, each step is profiled into
// $WALSHIP_BENCH_CPUPROFILE-step-<rate>.
func BenchmarkStepLoad(b *testing.B) {
	rates := benchkit.EnvInts(b, "WALSHIP_BENCH_STEP_RATES", []int{500, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000})
	secs := benchkit.EnvInt(b, "WALSHIP_BENCH_STEP_SECONDS", 10)
	slack := time.Duration(benchkit.EnvInt(b, "WALSHIP_BENCH_STEP_SLACK_MS", 1000)) * time.Millisecond
	writers := benchkit.EnvInt(b, "WALSHIP_BENCH_STEP_WRITERS", 32)
	workers := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4)
	ddl := `CREATE TABLE step (id bigint PRIMARY KEY, t timestamptz NOT NULL)`
	p := newBenchPipe(b, []string{ddl}, []string{ddl})
	p.start(p.config(false, true, workers))
	p.waitStreaming()
	var next atomic.Int64
	insert := func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "INSERT INTO step VALUES ($1, clock_timestamp())", next.Add(1))
		return err
	}
	ctx := context.Background()
	conns := make([]*pgx.Conn, writers)
	for i := range conns {
		c, err := pgx.Connect(ctx, p.srcDSN)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(ctx)
		conns[i] = c
	}
	// Warm up: the table's topic is created on its first event and the
	// sink finds it then.
	for i := 0; i < 200; i++ {
		if err := insert(ctx, conns[0]); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.catchUp(int(next.Load()), 2*time.Minute)

	type step struct {
		Target      int       `json:"target_rate"`
		Achieved    float64   `json:"achieved_rate"`
		FirstLag    float64   `json:"first_third_lag_seconds"`
		LastLag     float64   `json:"last_third_lag_seconds"`
		MaxLag      float64   `json:"max_lag_seconds"`
		SinkLastLag float64   `json:"sink_status_last_third_lag_seconds"`
		CatchUp     float64   `json:"catch_up_seconds"`
		Flat        bool      `json:"flat"`
		LagGrew     bool      `json:"lag_grew"`
		Why         string    `json:"why,omitempty"`
		Lags        []float64 `json:"lag_samples_seconds"`
		SinkLags    []float64 `json:"sink_status_lag_samples_seconds"`
	}
	var steps []step
	best, bestAchieved := 0, 0.0
	for _, rate := range rates {
		wctx, stop := context.WithTimeout(ctx, time.Duration(secs)*time.Second)
		waitProfile := p.profile(fmt.Sprintf("step-%d", rate), secs)
		began := time.Now()
		var scheduled atomic.Int64
		var done atomic.Int64
		var werr atomic.Value
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := scheduled.Add(1) - 1
					due := began.Add(time.Duration(float64(i) * float64(time.Second) / float64(rate)))
					if d := time.Until(due); d > 0 {
						select {
						case <-wctx.Done():
							return
						case <-time.After(d):
						}
					}
					if wctx.Err() != nil {
						return
					}
					if err := insert(ctx, c); err != nil {
						werr.Store(err)
						return
					}
					done.Add(1)
				}
			}()
		}
		var lags, sinkLags []float64
		tick := time.NewTicker(250 * time.Millisecond)
	sample:
		for {
			select {
			case <-wctx.Done():
				break sample
			case <-tick.C:
				var newest time.Time
				if err := p.fol.QueryRow("SELECT t FROM step ORDER BY id DESC LIMIT 1").Scan(&newest); err == nil {
					lags = append(lags, time.Since(newest).Seconds())
				}
				if s, ok := p.sink(); ok {
					sinkLags = append(sinkLags, s.LagSeconds)
				}
			}
		}
		tick.Stop()
		stop()
		wg.Wait()
		waitProfile()
		if err, _ := werr.Load().(error); err != nil {
			b.Fatalf("rate %d: writer: %v", rate, err)
		}
		s := step{Target: rate, Achieved: float64(done.Load()) / time.Since(began).Seconds(), Lags: lags, SinkLags: sinkLags}
		if len(lags) == 0 {
			b.Fatalf("rate %d: no lag sample: the follower showed no row\n%s", rate, p.logTail())
		}
		third := max(1, len(lags)/3)
		s.FirstLag, s.LastLag = mean(lags[:third]), mean(lags[len(lags)-third:])
		for _, l := range lags {
			s.MaxLag = max(s.MaxLag, l)
		}
		if len(sinkLags) > 0 {
			st := max(1, len(sinkLags)/3)
			s.SinkLastLag = mean(sinkLags[len(sinkLags)-st:])
		}
		var why []string
		if s.Achieved < 0.9*float64(rate) {
			why = append(why, fmt.Sprintf("the source took only %.0f%% of the target", 100*s.Achieved/float64(rate)))
		}
		if s.LastLag > s.FirstLag+slack.Seconds() {
			s.LagGrew = true
			why = append(why, fmt.Sprintf("lag grew from %.2f s to %.2f s", s.FirstLag, s.LastLag))
		}
		t0 := time.Now()
		if !p.catchUp(int(next.Load()), 3*time.Minute) {
			s.LagGrew = true
			why = append(why, "the follower did not catch up within 3 minutes after the step")
		}
		s.CatchUp = time.Since(t0).Seconds()
		s.Flat, s.Why = len(why) == 0, strings.Join(why, "; ")
		steps = append(steps, s)
		flat := "flat"
		if !s.Flat {
			flat = "not flat: " + s.Why
		}
		b.Logf("step %d txn/s: achieved %.0f/s, lag first third %.3f s, last third %.3f s, max %.3f s, sink status lag %.3f s, caught up in %.1f s: %s",
			rate, s.Achieved, s.FirstLag, s.LastLag, s.MaxLag, s.SinkLastLag, s.CatchUp, flat)
		if !s.Flat {
			break
		}
		best, bestAchieved = rate, s.Achieved
	}
	var parts []string
	for _, s := range steps {
		verdict := "flat"
		if !s.Flat {
			verdict = "not flat (" + s.Why + ")"
		}
		parts = append(parts, fmt.Sprintf("%d→%.0f/s lag %.2f→%.2f s %s", s.Target, s.Achieved, s.FirstLag, s.LastLag, verdict))
	}
	// What ended the load: lag that grew, a source that could not take the
	// target (the figure is then a lower bound for the pipeline), or none.
	limit := "none: every step was flat"
	if last := steps[len(steps)-1]; last.LagGrew {
		limit = "lag"
	} else if !last.Flat {
		limit = "source writes (a lower bound: the writers could not reach the next step)"
	}
	fmt.Printf("step load (%d s steps, %d writers, %d sink workers): highest flat-lag rate %.0f txn/s (target %d), limited by %s; steps: %s\n",
		secs, writers, workers, bestAchieved, best, limit, strings.Join(parts, "; "))
	b.ReportMetric(bestAchieved, "txn/s")
	benchkit.WriteResult(b, "step-load", map[string]any{"benchmark": "BenchmarkStepLoad", "seconds_per_step": secs, "writers": writers,
		"sink_workers": workers, "slack_seconds": slack.Seconds(), "highest_flat_target": best, "highest_flat_achieved_rate": bestAchieved, "limited_by": limit, "steps": steps,
		"note": "lag: now minus the source clock_timestamp() of the newest row on the follower, sampled every 250 ms; flat: achieved >= 90% of target and last-third mean lag <= first-third mean + slack"})
}

// catchUp waits until the follower holds n rows of step, and says whether
// it did within timeout.
func (p *benchPipe) catchUp(n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for p.count("step") < n {
		if time.Now().After(deadline) {
			p.b.Logf("the follower did not catch up to %d rows in %s\n%s", n, timeout, p.logTail())
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// BenchmarkReplayVsCopy: the rebuild of a follower from the log. A daemon
// without sinks snapshots a table of WALSHIP_BENCH_LOAD_ROWS rows (default
// 5000000) into Kafka; then `walship replay --sink pgf` applies that log
// to an empty follower table and exits, timed from its start to its exit.
// The baseline, in the same run, is COPY (pgx, binary) of the same values
// into a fresh table of the same follower database, generated as they are
// sent: the follower's own bulk load with nothing to read.
func BenchmarkReplayVsCopy(b *testing.B) {
	rows := benchkit.EnvInt(b, "WALSHIP_BENCH_LOAD_ROWS", 5000000)
	workers := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4)
	p := newLoadPipe(b, rows, 1)
	start := time.Now()
	p.start(p.config(false, false, 0))
	p.waitStreamingWithin(30 * time.Minute)
	p.stopCPU()
	b.Logf("snapshot in Kafka in %.1f s", time.Since(start).Seconds())

	cfg := p.config(true, true, workers)
	var out bytes.Buffer
	replay := exec.Command(binary, "replay", "-c", cfg, "--sink", "pgf")
	replay.Stdout, replay.Stderr = &out, &out
	t0 := time.Now()
	if err := replay.Run(); err != nil {
		b.Fatalf("walship replay: %v\n%s", err, out.String())
	}
	replaySecs := time.Since(t0).Seconds()
	cpu := replay.ProcessState.UserTime() + replay.ProcessState.SystemTime()
	if n := p.countLoaded(); n != rows {
		b.Fatalf("the replayed follower holds %d rows, want %d\n%s", n, rows, out.String())
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.folDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, strings.Replace(benchRowsDDL, "bench_rows", "copy_rows", 1)); err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := int64(0)
	t0 = time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"copy_rows"}, []string{"id", "a", "b", "c"}, pgx.CopyFromFunc(func() ([]any, error) {
		if g == int64(rows) {
			return nil, nil
		}
		g++
		sum := md5.Sum([]byte(strconv.FormatInt(g, 10)))
		return []any{g, hex.EncodeToString(sum[:]), g, base.Add(time.Duration(g) * time.Second)}, nil
	})); err != nil {
		b.Fatal(err)
	}
	copySecs := time.Since(t0).Seconds()
	replayRate, copyRate := float64(rows)/replaySecs, float64(rows)/copySecs
	fmt.Printf("replay vs COPY (%d rows, %d workers): walship replay %.0f rows/s (%.1f s, CPU %.1f s), COPY %.0f rows/s (%.1f s), ratio %.2f\n",
		rows, workers, replayRate, replaySecs, cpu.Seconds(), copyRate, copySecs, replayRate/copyRate)
	b.ReportMetric(replayRate/copyRate, "ratio")
	benchkit.WriteResult(b, "replay-vs-copy", map[string]any{"benchmark": "BenchmarkReplayVsCopy", "envelope": benchEnvelope(), "rows": rows, "workers": workers,
		"replay_rows_per_s": replayRate, "replay_seconds": replaySecs, "replay_cpu_seconds": cpu.Seconds(), "copy_rows_per_s": copyRate, "copy_seconds": copySecs,
		"ratio": replayRate / copyRate,
		"note":  "walship replay --sink pgf of a snapshot in Kafka into an empty follower table, process start to exit; COPY (pgx) of the same values, generated as sent, into a fresh table of the same database"})
}

// pipeSeconds runs dump | restore (a dump tool into its client) and
// returns the seconds the pipe took; a failure of either ends the
// benchmark with its stderr.
func pipeSeconds(b *testing.B, dump, restore *exec.Cmd) float64 {
	var dumpErr, restoreErr bytes.Buffer
	dump.Stderr, restore.Stderr, restore.Stdout = &dumpErr, &restoreErr, io.Discard
	pipe, err := dump.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	restore.Stdin = pipe
	t0 := time.Now()
	if err := restore.Start(); err != nil {
		b.Fatal(err)
	}
	if err := dump.Start(); err != nil {
		b.Fatal(err)
	}
	if err := dump.Wait(); err != nil {
		b.Fatalf("%s: %v: %s", filepath.Base(dump.Path), err, dumpErr.String())
	}
	if err := restore.Wait(); err != nil {
		b.Fatalf("%s: %v: %s", filepath.Base(restore.Path), err, restoreErr.String())
	}
	return time.Since(t0).Seconds()
}
