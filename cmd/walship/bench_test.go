package main

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
)

// The pipeline benchmarks of make bench: the real binary between a fresh
// PostgreSQL source database and a fresh PostgreSQL follower database,
// each figure beside a baseline measured in the same run. One iteration
// is a whole measurement (-benchtime=1x).

// benchPipe is one source database, one follower database and the daemon.
type benchPipe struct {
	b              *testing.B
	name, dir      string
	srcDSN, folDSN string
	src, fol       *sql.DB
	http           string
	tables         []string // the initial-load benchmarks' tables
	cmd            *exec.Cmd
	logf           *os.File
}

func newBenchPipe(b *testing.B, srcDDL, folDDL []string) *benchPipe {
	p := &benchPipe{b: b, name: fmt.Sprintf("walship_bench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6), dir: b.TempDir()}
	pgSrc, pgFol := testenv.PGSource(b), testenv.PGFollower(b)
	ctx := context.Background()
	for _, dsn := range []string{pgSrc, pgFol} {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+p.name); err != nil {
			b.Fatal(err)
		}
		conn.Close(ctx)
	}
	b.Cleanup(func() {
		p.stop()
		p.src.Close()
		p.fol.Close()
		for _, dsn := range []string{pgSrc, pgFol} {
			if conn, err := pgx.Connect(ctx, dsn); err == nil {
				conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", p.name)
				conn.Exec(ctx, "DROP DATABASE IF EXISTS "+p.name+" WITH (FORCE)")
				conn.Close(ctx)
			}
		}
		testenv.DropTopics(b, p.name+".")
	})
	p.srcDSN = strings.Replace(pgSrc, "/postgres?", "/"+p.name+"?", 1)
	p.folDSN = strings.Replace(pgFol, "/postgres?", "/"+p.name+"?", 1)
	var err error
	if p.src, err = sql.Open("pgx", p.srcDSN); err != nil {
		b.Fatal(err)
	}
	if p.fol, err = sql.Open("pgx", p.folDSN); err != nil {
		b.Fatal(err)
	}
	for _, q := range srcDDL {
		if _, err := p.src.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range folDDL {
		if _, err := p.fol.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// config writes the daemon's config: the source captured here (or read
// from the log only, external), and the PostgreSQL sink or none.
func (p *benchPipe) config(external, sink bool, workers int) string {
	mem := ""
	if v := os.Getenv("WALSHIP_BENCH_DECODING_WORK_MEM"); v != "" {
		mem = ", decoding_work_mem: " + v
	}
	if v := os.Getenv("WALSHIP_BENCH_SNAPSHOT_WORKERS"); v != "" {
		mem += ", snapshot_workers: " + v
	}
	src := fmt.Sprintf("postgres: { dsn: %q, slot: %s, publication: %s, tables: [public.*], heartbeat_interval: 200ms%s }", p.srcDSN, p.name, p.name, mem)
	if external {
		src = "external: postgres"
	}
	sinks := "sinks: []\n"
	if sink {
		order := "source"
		if o := os.Getenv("WALSHIP_BENCH_COMMIT_ORDER"); o != "" {
			order = o // source (the default) or dependencies
		}
		sinks = fmt.Sprintf("sinks:\n  - { name: pgf, from: [src], workers: %d, commit_order: %s, postgres: { dsn: %q } }\n", workers, order, p.folDSN)
	}
	p.http = freePortB(p.b)
	path := filepath.Join(p.dir, fmt.Sprintf("walship-%v-%v.yaml", external, sink))
	os.WriteFile(path, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: %q, pprof: true }
log: { level: %s }
kafka: { brokers: [%q], topic_prefix: %s, partitions: 8, envelope: %s }
sources:
  - name: src
    topic_prefix: %s.src
    %s
%s`, filepath.Join(p.dir, "state"), p.http, logLevel(), testenv.Kafka(p.b), p.name, benchEnvelope(), p.name, src, sinks)), 0o600)
	return path
}

// logLevel is the daemon's log level: $WALSHIP_BENCH_LOG_LEVEL, or warn.
func logLevel() string {
	if v := os.Getenv("WALSHIP_BENCH_LOG_LEVEL"); v != "" {
		return v
	}
	return "warn"
}

func freePortB(b testing.TB) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *benchPipe) start(cfg string) {
	p.logf, _ = os.OpenFile(filepath.Join(p.dir, "walship.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	p.cmd = exec.Command(binary, "run", "-c", cfg)
	p.cmd.Stdout, p.cmd.Stderr = p.logf, p.logf
	if err := p.cmd.Start(); err != nil {
		p.b.Fatal(err)
	}
}

// profile takes a CPU profile of the running daemon for secs seconds
// into $WALSHIP_BENCH_CPUPROFILE-<what> when that is set (go tool pprof
// reads it); it returns at once, and the returned func waits for it.
func (p *benchPipe) profile(what string, secs int) (wait func()) {
	out := os.Getenv("WALSHIP_BENCH_CPUPROFILE")
	if out == "" {
		return func() {}
	}
	done := make(chan struct{})
	kinds := []string{"profile"}
	if os.Getenv("WALSHIP_BENCH_GOTRACE") != "" {
		// The execution trace beside it: where the goroutines wait.
		kinds = append(kinds, "trace")
	}
	var wg sync.WaitGroup
	for _, kind := range kinds[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.fetchProfile(kind, out+"-"+what+"."+kind, secs)
		}()
	}
	go func() {
		defer close(done)
		defer wg.Wait()
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.http, secs))
		if err != nil {
			p.b.Logf("cpu profile: %v", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(out + "-" + what)
		if err != nil {
			p.b.Logf("cpu profile: %v", err)
			return
		}
		defer f.Close()
		io.Copy(f, resp.Body)
	}()
	return func() { <-done }
}

// fetchProfile writes /debug/pprof/<kind>?seconds=secs into path.
func (p *benchPipe) fetchProfile(kind, path string, secs int) {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", p.http, kind, secs))
	if err != nil {
		p.b.Logf("%s: %v", kind, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		p.b.Logf("%s: %v", kind, err)
		return
	}
	defer f.Close()
	io.Copy(f, resp.Body)
}

func (p *benchPipe) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	p.logf.Close()
	p.cmd = nil
	if keep := os.Getenv("WALSHIP_BENCH_KEEP_LOG"); keep != "" {
		// The daemon's log outlives the run (set WALSHIP_BENCH_LOG_LEVEL too).
		if b, err := os.ReadFile(filepath.Join(p.dir, "walship.log")); err == nil {
			os.WriteFile(keep, b, 0o644)
		}
	}
}

func (p *benchPipe) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "walship.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// status reads the daemon's status API.
func (p *benchPipe) status() (srcState, acked string, ok bool) {
	_, body, err := get("http://" + p.http + "/api/v1/status")
	if err != nil {
		return "", "", false
	}
	var doc struct {
		Sources []struct {
			State string `json:"state"`
			Acked string `json:"acked"`
		} `json:"sources"`
	}
	if json.Unmarshal([]byte(body), &doc) != nil || len(doc.Sources) == 0 {
		return "", "", false
	}
	return doc.Sources[0].State, doc.Sources[0].Acked, true
}

// waitStreaming waits for the source to finish its snapshot.
func (p *benchPipe) waitStreaming() { p.waitStreamingWithin(120 * time.Second) }

// waitStreamingWithin waits up to limit for the source to finish its
// snapshot (a large table's takes minutes).
func (p *benchPipe) waitStreamingWithin(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		if st, _, ok := p.status(); ok && st == "streaming" {
			return
		}
		if time.Now().After(deadline) {
			p.b.Fatalf("the source never streamed\n%s", p.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDurable waits until the source acknowledged the source's current
// WAL position: everything written so far is in Kafka.
func (p *benchPipe) waitDurable(timeout time.Duration) {
	var lsn string
	if err := p.src.QueryRow("SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		p.b.Fatal(err)
	}
	want, _ := offsets.ParseLSN(lsn)
	deadline := time.Now().Add(timeout)
	for {
		if _, acked, ok := p.status(); ok {
			if a, err := offsets.ParseLSN(acked); err == nil && a >= want {
				return
			}
		}
		if time.Now().After(deadline) {
			p.b.Fatalf("the source never acknowledged %s\n%s", lsn, p.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sinkApplied is the first sink's applied-changes counter.
func (p *benchPipe) sinkApplied() (int64, bool) {
	_, body, err := get("http://" + p.http + "/api/v1/status")
	if err != nil {
		return 0, false
	}
	var doc struct {
		Sinks []struct {
			Changes int64 `json:"applied_changes"`
		} `json:"sinks"`
	}
	if json.Unmarshal([]byte(body), &doc) != nil || len(doc.Sinks) == 0 {
		return 0, false
	}
	return doc.Sinks[0].Changes, true
}

func (p *benchPipe) count(table string) int {
	var n int
	p.fol.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
	return n
}

const benchRowsDDL = `CREATE TABLE bench_rows (id bigint PRIMARY KEY, a text NOT NULL, b bigint NOT NULL, c timestamptz NOT NULL)`

// BenchmarkSinkVsCopy: Kafka → PostgreSQL follower apply rate for inserts,
// against COPY of the same rows into the same follower. The log is filled
// first by a daemon capturing the source (WALSHIP_BENCH_ROWS rows, default
// 200000, in transactions of WALSHIP_BENCH_TXN_ROWS, default 1000); then a
// second daemon, reading the log only, applies it, timed from its start
// until the follower holds every row. The baseline COPYs the same values
// with pgx.CopyFrom into another table of the follower.
func BenchmarkSinkVsCopy(b *testing.B) {
	rows := benchkit.EnvInt(b, "WALSHIP_BENCH_ROWS", 200000)
	per := benchkit.EnvInt(b, "WALSHIP_BENCH_TXN_ROWS", 1000)
	workers := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4)
	p := newBenchPipe(b, []string{benchRowsDDL}, []string{benchRowsDDL, strings.Replace(benchRowsDDL, "bench_rows", "copy_rows", 1)})
	p.start(p.config(false, false, 0))
	p.waitStreaming()
	for lo := 1; lo <= rows; lo += per {
		if _, err := p.src.Exec(`INSERT INTO bench_rows SELECT g, md5(g::text), g, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series($1::bigint, $2::bigint) g`, lo, min(lo+per-1, rows)); err != nil {
			b.Fatal(err)
		}
	}
	p.waitDurable(5 * time.Minute)
	p.stop()

	start := time.Now()
	p.start(p.config(true, true, workers))
	for _, _, err := get("http://" + p.http + "/healthz"); err != nil && time.Since(start) < time.Minute; _, _, err = get("http://" + p.http + "/healthz") {
		time.Sleep(10 * time.Millisecond)
	}
	waitProfile := p.profile("sink", benchkit.EnvInt(b, "WALSHIP_BENCH_PROFILE_SECONDS", 3))
	defer waitProfile()
	// The sink's applied-changes counter (status API) tells when it is
	// done without querying the follower while it loads.
	var first time.Time
	for {
		n, ok := p.sinkApplied()
		if ok && n > 0 && first.IsZero() {
			first = time.Now()
		}
		if ok && n >= int64(rows) {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("the sink never applied %d rows\n%s", rows, p.logTail())
		}
		time.Sleep(2 * time.Millisecond)
	}
	sinkSecs, steadySecs := time.Since(start).Seconds(), time.Since(first).Seconds()
	cpu := p.stopCPU()
	if n := p.count("bench_rows"); n != rows {
		b.Fatalf("the follower holds %d rows, want %d", n, rows)
	}

	// Baseline: COPY the same values.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.folDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := make([][]any, rows)
	for i := range src {
		g := int64(i + 1)
		sum := md5.Sum([]byte(strconv.FormatInt(g, 10)))
		src[i] = []any{g, hex.EncodeToString(sum[:]), g, base.Add(time.Duration(g) * time.Second)}
	}
	t0 := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"copy_rows"}, []string{"id", "a", "b", "c"}, pgx.CopyFromRows(src)); err != nil {
		b.Fatal(err)
	}
	copySecs := time.Since(t0).Seconds()
	// The rate is the steady one, from the first applied change to the
	// last; the daemon's start (connections, topic metadata) is reported
	// beside it.
	sinkRate, copyRate := float64(rows)/steadySecs, float64(rows)/copySecs
	fmt.Printf("sink vs COPY (PostgreSQL follower, %d rows in %d-row transactions, %d workers): walship %.0f rows/s, COPY %.0f rows/s, ratio %.2f (walship %.2fs from daemon start, %.2fs of it applying, CPU %.2f s)\n",
		rows, per, workers, sinkRate, copyRate, sinkRate/copyRate, sinkSecs, steadySecs, cpu.Seconds())
	b.ReportMetric(sinkRate/copyRate, "ratio")
	benchkit.WriteResult(b, "sink-vs-copy", map[string]any{"benchmark": "BenchmarkSinkVsCopy", "envelope": benchEnvelope(), "rows": rows, "txn_rows": per, "workers": workers,
		"walship_rows_per_s": sinkRate, "copy_rows_per_s": copyRate, "ratio": sinkRate / copyRate, "walship_seconds_from_start": sinkSecs,
		"walship_seconds_applying": steadySecs, "copy_seconds": copySecs, "walship_cpu_seconds": cpu.Seconds()})
}

// BenchmarkLatency: commit → follower-visible latency of single-row
// transactions at fixed rates (WALSHIP_BENCH_RATES, default 1000,5000,10000
// transactions/s, each for WALSHIP_BENCH_SECONDS, default 5), on one host
// and one clock: writers record the time each COMMIT returned; a poller on
// the follower records when it first sees each row. It reports the rate
// the source sustained, and p50, p99 and max latency.
func BenchmarkLatency(b *testing.B) {
	rates := benchkit.EnvInts(b, "WALSHIP_BENCH_RATES", []int{1000, 5000, 10000})
	secs := benchkit.EnvInt(b, "WALSHIP_BENCH_SECONDS", 5)
	ddl := `CREATE TABLE lat (id bigint PRIMARY KEY, v bigint NOT NULL)`
	p := newBenchPipe(b, []string{ddl}, []string{ddl})
	p.start(p.config(false, true, 4))
	p.waitStreaming()
	var results []map[string]any
	var next atomic.Int64
	// Warm up: the table's topic is created on its first event and the sink
	// finds it then; that second is not latency.
	for i := 0; i < 200; i++ {
		id := next.Add(1)
		if _, err := p.src.Exec("INSERT INTO lat VALUES ($1, $1)", id); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for p.count("lat") < int(next.Load()) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, rate := range rates {
		f := latencyAtRate(b, p.src, p.fol, "INSERT INTO lat VALUES ($1, $1)", "lat", &next, rate, secs, p.logTail)
		fmt.Printf("latency at %d txn/s (achieved %.0f/s, %d transactions): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			rate, f.achieved, f.n, f.p50, f.p99, f.max)
		results = append(results, f.fields(rate))
	}
	benchkit.WriteResult(b, "latency", map[string]any{"benchmark": "BenchmarkLatency", "seconds_per_rate": secs, "rates": results})
}

// latencyFigures are one fixed-rate run's figures: the rate the source
// sustained and commit → follower-visible latency in milliseconds.
type latencyFigures struct {
	achieved      float64
	n             int
	p50, p99, max float64
}

func (f latencyFigures) fields(rate int) map[string]any {
	return map[string]any{"target_rate": rate, "achieved_rate": f.achieved, "transactions": f.n,
		"p50_ms": f.p50, "p99_ms": f.p99, "max_ms": f.max}
}

// latencyAtRate runs single-row transactions (insert, whose one parameter
// is the new id taken from next) at rate transactions/s for secs seconds,
// with at least 8 writers, on one host and one clock: writers record the time each
// COMMIT returned; a poller on the follower records when it first sees
// each id in table. tail describes the pipeline when it falls behind.
func latencyAtRate(b *testing.B, src, fol *sql.DB, insert, table string, next *atomic.Int64, rate, secs int, tail func() string) latencyFigures {
	b.Helper()
	// Enough writers that each commits at most 400 times a second (a
	// commit takes about 2 ms here), so the source can reach the rate.
	writers := max(8, rate/400)
	first := next.Load() + 1
	var committed sync.Map
	ctx, stop := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
	var wg sync.WaitGroup
	var done atomic.Int64
	interval := time.Duration(float64(time.Second) * float64(writers) / float64(rate))
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := src.Conn(context.Background())
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for ctx.Err() == nil {
				id := next.Add(1)
				if _, err := conn.ExecContext(context.Background(), insert, id); err != nil {
					b.Error(err)
					return
				}
				committed.Store(id, time.Now())
				done.Add(1)
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		}()
	}
	// The poller: a row's visibility time is the poll that first saw it.
	seen := map[int64]time.Time{}
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		low := first
		for {
			rs, err := fol.Query("SELECT id FROM "+table+" WHERE id >= $1", low)
			now := time.Now()
			if err == nil {
				for rs.Next() {
					var id int64
					rs.Scan(&id)
					if _, ok := seen[id]; !ok {
						seen[id] = now
					}
				}
				rs.Close()
			}
			for {
				if _, ok := seen[low]; !ok {
					break
				}
				low++
			}
			if ctx.Err() != nil && low > next.Load() {
				return // the load is over and every row was seen
			}
			time.Sleep(time.Millisecond)
		}
	}()
	<-ctx.Done()
	stop()
	wg.Wait()
	select {
	case <-pollDone:
	case <-time.After(2 * time.Minute):
		b.Fatalf("rate %d: the follower never showed every row\n%s", rate, tail())
	}
	var lat []time.Duration
	committed.Range(func(k, v any) bool {
		if t, ok := seen[k.(int64)]; ok {
			lat = append(lat, t.Sub(v.(time.Time)))
		}
		return true
	})
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
	}
	achieved := float64(done.Load()) / float64(secs)
	return latencyFigures{achieved: achieved, n: len(lat), p50: q(0.5), p99: q(0.99), max: float64(lat[len(lat)-1].Microseconds()) / 1000}
}

// BenchmarkLargeTransaction: one source transaction inserting
// WALSHIP_BENCH_BIG_ROWS rows (default 1000000). It reports the time from
// its COMMIT to its first event in Kafka, to the whole transaction on the
// follower, and the daemon's peak RSS (VmHWM).
func BenchmarkLargeTransaction(b *testing.B) {
	rows := benchkit.EnvInt(b, "WALSHIP_BENCH_BIG_ROWS", 1000000)
	p := newBenchPipe(b, []string{benchRowsDDL}, []string{benchRowsDDL})
	p.start(p.config(false, true, 4))
	p.waitStreaming()
	// Warm up: one row creates the table's topic (a one-off) and is applied.
	if _, err := p.src.Exec(`INSERT INTO bench_rows VALUES (0, '', 0, now())`); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); p.count("bench_rows") < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the warm-up row was never applied\n%s", p.logTail())
		}
	}
	topic := p.name + ".src.public.bench_rows"
	first := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for part := 0; part < 8; part++ {
		go func() {
			for ctx.Err() == nil {
				r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{testenv.Kafka(b)}, Topic: topic, Partition: part, MaxWait: 10 * time.Millisecond})
				r.SetOffset(kafkago.LastOffset) // past the warm-up row
				if _, err := r.FetchMessage(ctx); err == nil {
					select {
					case first <- time.Now():
					default:
					}
					r.Close()
					return
				}
				r.Close()
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	waitProfile := p.profile("large", benchkit.EnvInt(b, "WALSHIP_BENCH_PROFILE_SECONDS", 5))
	defer waitProfile()
	if _, err := p.src.Exec(`INSERT INTO bench_rows SELECT g, md5(g::text), g, now() FROM generate_series(1, $1::bigint) g`, rows); err != nil {
		b.Fatal(err)
	}
	committed := time.Now()
	var firstAt time.Time
	select {
	case firstAt = <-first:
	case <-time.After(5 * time.Minute):
		b.Fatalf("no event in Kafka\n%s", p.logTail())
	}
	for p.count("bench_rows") < rows+1 {
		if time.Since(committed) > 15*time.Minute {
			b.Fatalf("never applied\n%s", p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	applied := time.Since(committed)
	hwm := procBytes(p.cmd.Process.Pid, "VmHWM")
	if testing.Verbose() {
		b.Logf("daemon log:\n%s", p.logTail())
	}
	fmt.Printf("large transaction (%d rows): first event in Kafka %.2fs after COMMIT, applied on the follower %.1fs after COMMIT, walship peak RSS %d MiB\n",
		rows, firstAt.Sub(committed).Seconds(), applied.Seconds(), hwm>>20)
	benchkit.WriteResult(b, "large-transaction", map[string]any{"benchmark": "BenchmarkLargeTransaction", "rows": rows,
		"first_event_seconds": firstAt.Sub(committed).Seconds(), "applied_seconds": applied.Seconds(), "peak_rss_bytes": hwm})
}

// benchEnvelope is the log format benchmarks write: WALSHIP_BENCH_ENVELOPE
// (json, the default, or rows).
func benchEnvelope() string {
	if e := os.Getenv("WALSHIP_BENCH_ENVELOPE"); e != "" {
		return e
	}
	return "json"
}
