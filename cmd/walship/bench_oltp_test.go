package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/internal/validate"
)

// The OLTP apply benchmark of issue 15 (make bench-oltp): a TPC-B-like
// hot-row workload at the source's full rate, with one sink per follower
// engine running together, then the same log applied by each sink alone.

// hotRowEngines are the follower engines, in the order figures are printed.
var hotRowEngines = []string{"postgres", "mysql", "sqlite"}

// BenchmarkHotRow: validate.HotRow (5 branches, 50 tellers,
// WALSHIP_BENCH_ACCOUNTS accounts, default 100000; foreign keys on source
// and followers) written by WALSHIP_BENCH_CLIENTS clients (default 8) as
// fast as the source takes them, for WALSHIP_BENCH_DURATION (a Go duration
// or seconds; default 60s), on a WALSHIP_BENCH_SOURCE source (postgres, the
// default, or mariadb), into a PostgreSQL, a MariaDB and a SQLite follower
// (sinks pgf, myf, lite; WALSHIP_BENCH_WORKERS workers each, default 4)
// of one daemon. The source captures with snapshot: never; each follower
// starts from the same filled tables.
//
// During the run: the source's txn/s; every 250 ms each sink's lag_seconds
// from the status API (max and p99 reported); every
// WALSHIP_BENCH_POLL_MS (default 500) the invariant on every follower
// (validate.HotRowPoller: branch, teller and account balances and history
// deltas have one sum), a violation failing the benchmark. After it: the
// time until each follower holds every history row (catch-up), the history
// counts and sums against the source (validate.CheckHotRow) and `walship
// verify` on each sink.
//
// Then the apply-only phase, one sink at a time: a fresh follower database
// (filled the same way) and a fresh sink name, in a daemon reading the
// recorded log from its start (external source), timed from its first
// applied transaction to its last. Per sink: apply txn/s and its ratio to
// the source's txn/s; the daemon's CPU time (utime + stime of
// /proc/<pid>/stat, over the same span) per applied source transaction;
// and the statements the daemon sent per source transaction, counted on
// the wire by a proxy between the daemon and the follower
// (benchkit.StatementCounter: PostgreSQL Execute and Query messages,
// MariaDB COM_QUERY and COM_STMT_EXECUTE; SQLite runs in the daemon and
// has none to count). For PostgreSQL it also reports the follower
// database's pg_stat_database deltas per source transaction (commits and
// rows written), and its tables' (pg_stat_all_tables) row writes. With WALSHIP_BENCH_CPUPROFILE set, each apply-only daemon
// is profiled for WALSHIP_BENCH_PROFILE_SECONDS (default 10) into
// $WALSHIP_BENCH_CPUPROFILE-hotrow-<sink>, and the run's daemon (source
// and sinks) into $WALSHIP_BENCH_CPUPROFILE-hotrow-run.
func BenchmarkHotRow(b *testing.B) {
	dur := benchDuration(b, "WALSHIP_BENCH_DURATION", 60*time.Second)
	clients := benchkit.EnvInt(b, "WALSHIP_BENCH_CLIENTS", 8)
	workers := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4)
	poll := time.Duration(benchkit.EnvInt(b, "WALSHIP_BENCH_POLL_MS", 500)) * time.Millisecond
	engine := os.Getenv("WALSHIP_BENCH_SOURCE")
	if engine == "" {
		engine = "postgres"
	}
	h := newHotRowPipe(b, engine, benchkit.EnvInt(b, "WALSHIP_BENCH_ACCOUNTS", 100000))
	ctx := context.Background()

	// The run: all three sinks in one daemon.
	fols := map[string]*validate.Follower{}
	var sinks strings.Builder
	for _, e := range hotRowEngines {
		f, block := h.follower(e, "")
		fols[e] = f
		fmt.Fprintf(&sinks, "  - { name: %s, from: [src], workers: %d, %s }\n", f.Sink, workers, block)
	}
	cfg, addr := h.config("run", false, sinks.String())
	d := h.start(cfg, addr)
	d.waitSource()
	// Warm-up: the tables' topics are created on their first events and
	// the sinks find them then; that is not lag.
	wctx, wstop := context.WithCancel(ctx)
	warmed := make(chan error, 1)
	go func() { _, err := h.w.Run(wctx, 99, 1); warmed <- err }()
	for h.w.Committed.Load() < 50 {
		time.Sleep(10 * time.Millisecond)
	}
	wstop()
	if err := <-warmed; err != nil {
		b.Fatal(err)
	}
	h.catchUp(d, fols, 2*time.Minute)
	warm := h.w.Committed.Load()

	var v validate.Violations
	pctx, pstop := context.WithCancel(ctx)
	var pollers []*validate.HotRowPoller
	var pwg sync.WaitGroup
	for _, e := range hotRowEngines {
		p := &validate.HotRowPoller{F: fols[e], V: &v, Interval: poll}
		pollers = append(pollers, p)
		pwg.Add(1)
		go func() { defer pwg.Done(); p.Run(pctx) }()
	}
	lags := map[string][]float64{}
	lctx, lstop := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			for name, lag := range d.lags() {
				lags[name] = append(lags[name], lag)
			}
		}
	}()
	cpu0 := d.cpu()
	rctx, rstop := context.WithTimeout(ctx, dur)
	began := time.Now()
	// The daemon's profile during the run (all three sinks and the
	// source), over most of it.
	waitRunProfile := d.profile("hotrow-run", max(1, int(dur.Seconds())-2))
	defer waitRunProfile()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.w.Run(rctx, c, uint64(began.UnixNano())); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	rstop()
	lstop()
	<-lagDone
	close(errs)
	for err := range errs {
		b.Fatalf("source: %v", err)
	}
	txns := h.w.Committed.Load() - warm
	srcRate := float64(txns) / elapsed.Seconds()
	b.Logf("source: %d transactions in %.1f s (%.0f txn/s), %d retried", txns, elapsed.Seconds(), srcRate, h.w.Retries.Load())

	catchUp := h.catchUp(d, fols, 15*time.Minute)
	runCPU := d.cpu() - cpu0
	// Source transactions per follower transaction over the run.
	batch := map[string]float64{}
	if doc, ok := d.status(); ok {
		for _, s := range doc.Sinks {
			if s.FollowerTxns > 0 {
				batch[s.Name] = float64(s.Applied) / float64(s.FollowerTxns)
			}
		}
	}
	pstop()
	pwg.Wait()
	type sinkFigures struct {
		Engine        string    `json:"engine"`
		Sink          string    `json:"sink"`
		LagMax        float64   `json:"lag_max_seconds"`
		LagP99        float64   `json:"lag_p99_seconds"`
		CatchUp       float64   `json:"catch_up_seconds"`
		Polls         int       `json:"invariant_polls"`
		ApplyRate     float64   `json:"apply_only_txn_per_s,omitempty"`
		ApplyRatio    float64   `json:"apply_only_ratio,omitempty"`
		ApplySeconds  float64   `json:"apply_only_seconds,omitempty"`
		CPUMicros     float64   `json:"cpu_us_per_txn,omitempty"`
		Statements    float64   `json:"statements_per_txn,omitempty"`
		FollowerStats any       `json:"follower_stats_per_txn,omitempty"`
		LagSamples    []float64 `json:"lag_samples_seconds"`
		// Batch is the mean source transactions per follower transaction
		// during the run and catch-up.
		Batch float64 `json:"run_txns_per_follower_txn"`
	}
	var figs []*sinkFigures
	for i, e := range hotRowEngines {
		f := fols[e]
		s := &sinkFigures{Engine: e, Sink: f.Sink, CatchUp: catchUp[f.Sink].Seconds(), Polls: pollers[i].Polls(), LagSamples: lags[f.Sink], Batch: batch[f.Sink]}
		s.LagMax, s.LagP99 = maxP99(lags[f.Sink])
		figs = append(figs, s)
		if pollers[i].Polls() == 0 {
			b.Errorf("%s: the invariant was never polled (%d polls failed)", f.Name, pollers[i].Failed())
		}
		if err := validate.CheckHotRow(ctx, h.srcFollower(), f, &v); err != nil {
			b.Error(err)
		}
		out, err := exec.Command(binary, "verify", "-c", cfg, "--sink", f.Sink, "--no-wait").CombinedOutput()
		if err != nil {
			b.Errorf("walship verify --sink %s: %v\n%s", f.Sink, err, out)
		}
	}
	d.stop()
	if v.Count() > 0 {
		b.Fatalf("%d violations:\n%s", v.Count(), strings.Join(v.First(), "\n"))
	}
	total, err := validate.CountRows(ctx, h.srcFollower(), "history")
	if err != nil {
		b.Fatal(err)
	}

	// Apply-only: each sink alone on the recorded log.
	for _, s := range figs {
		a := h.applyOnly(s.Engine, workers, total)
		s.ApplySeconds, s.ApplyRate = a.seconds, float64(total)/a.seconds
		s.ApplyRatio = s.ApplyRate / srcRate
		s.CPUMicros = float64(a.cpu.Microseconds()) / float64(total)
		if a.statements >= 0 {
			s.Statements = float64(a.statements) / float64(total)
		}
		if a.pgStats != nil {
			per := map[string]float64{}
			for k, n := range a.pgStats {
				per[k] = float64(n) / float64(total)
			}
			s.FollowerStats = per
		}
	}

	var parts []string
	for _, s := range figs {
		stmts := "statements n/a"
		if s.Statements > 0 {
			stmts = fmt.Sprintf("%.2f statements/txn", s.Statements)
		}
		parts = append(parts, fmt.Sprintf("%s: lag max %.1f s, p99 %.1f s, caught up %.1f s after, %.1f txns per follower txn; apply-only %.0f txn/s (%.2f× source), %.0f CPU-µs/txn, %s",
			s.Sink, s.LagMax, s.LagP99, s.CatchUp, s.Batch, s.ApplyRate, s.ApplyRatio, s.CPUMicros, stmts))
	}
	fmt.Printf("hot-row OLTP (TPC-B-like, %s source, 5 branches, %d accounts, %d clients, %.0f s, 3 sinks of %d workers): source %.0f txn/s (%d txns), daemon %.0f CPU-µs/txn over run and catch-up, invariant held (%d polls); %s\n",
		engine, h.accounts, clients, elapsed.Seconds(), workers, srcRate, txns, float64(runCPU.Microseconds())/float64(txns), pollCount(pollers), strings.Join(parts, "; "))
	benchkit.WriteResult(b, "hotrow", map[string]any{"benchmark": "BenchmarkHotRow", "source_engine": engine, "clients": clients, "accounts": h.accounts,
		"branches": 5, "tellers": 50, "workers": workers, "seconds": elapsed.Seconds(), "source_txns": txns, "source_txn_per_s": srcRate,
		"log_txns": total, "retries": h.w.Retries.Load(), "run_daemon_cpu_us_per_txn": float64(runCPU.Microseconds()) / float64(txns), "sinks": figs,
		"note": "lag: the status API's sink lag_seconds every 250 ms during the run; catch-up: from the writers' stop until the follower holds every history row; " +
			"apply-only: each sink alone in a fresh daemon on a fresh follower, reading the recorded log from its start, first to last applied transaction; " +
			"CPU: the daemon's utime+stime over that span per log transaction; statements: counted on the wire between daemon and follower " +
			"(PostgreSQL Execute+Query messages, MariaDB COM_QUERY+COM_STMT_EXECUTE) per log transaction; follower_stats: pg_stat_database deltas of the follower database"})
}

func pollCount(ps []*validate.HotRowPoller) int {
	n := 0
	for _, p := range ps {
		n += p.Polls()
	}
	return n
}

// benchDuration is $name as a Go duration or whole seconds, or def.
func benchDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a duration (60s) or seconds", name, v)
	}
	return d
}

// maxP99 is the largest and the 99th percentile of xs.
func maxP99(xs []float64) (mx, p99 float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)-1], s[min(len(s)-1, int(0.99*float64(len(s))))]
}

// hotRowPipe is the source database of the hot-row workload, its
// followers and the daemons between.
type hotRowPipe struct {
	b        testing.TB
	name     string
	dir      string
	engine   string // source: postgres or mariadb
	schema   string // the source tables' schema (PostgreSQL) or database (MariaDB)
	srcBlock string
	srcDB    *sql.DB
	w        *validate.HotRow
	accounts int
}

func newHotRowPipe(b testing.TB, engine string, accounts int) *hotRowPipe {
	h := &hotRowPipe{b: b, name: fmt.Sprintf("walship_hot_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6), dir: b.TempDir(), engine: engine, accounts: accounts}
	ctx := context.Background()
	switch engine {
	case "postgres":
		src := testenv.PGSource(b)
		pgExecB(b, src, "CREATE DATABASE "+h.name)
		b.Cleanup(func() {
			if conn, err := pgx.Connect(ctx, src); err == nil {
				conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", h.name)
				conn.Exec(ctx, "DROP DATABASE IF EXISTS "+h.name+" WITH (FORCE)")
				conn.Close(ctx)
			}
		})
		dsn := strings.Replace(src, "/postgres?", "/"+h.name+"?", 1)
		h.srcDB = openB(b, "pgx", dsn)
		h.schema = "public"
		h.srcBlock = fmt.Sprintf("postgres: { dsn: %q, slot: %s, publication: %s, tables: [public.*], snapshot: never, heartbeat_interval: 200ms }", dsn, h.name, h.name)
	case "mariadb":
		src := testenv.MySQLSource(b)
		root := openB(b, "mysql", src)
		if _, err := root.Exec("CREATE DATABASE " + h.name); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if db, err := sql.Open("mysql", src); err == nil {
				db.Exec("DROP DATABASE IF EXISTS " + h.name)
				db.Close()
			}
		})
		h.srcDB = openB(b, "mysql", src+h.name)
		h.schema = h.name
		h.srcBlock = fmt.Sprintf("mysql: { addr: %q, user: root, server_id: %d, flavor: mariadb, tables: [%s.*], snapshot: never }",
			hostPort(src), 30000+os.Getpid()%20000, h.name)
	default:
		b.Fatalf("WALSHIP_BENCH_SOURCE=%q: want postgres or mariadb", engine)
	}
	b.Cleanup(func() { testenv.DropTopics(b, h.name+".") })
	h.srcDB.SetMaxOpenConns(64)
	h.w = &validate.HotRow{Engine: engine, DB: h.srcDB, Accounts: accounts}
	t0 := time.Now()
	if err := h.w.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("source filled (%d accounts) in %s", accounts, time.Since(t0).Round(time.Millisecond))
	return h
}

func (h *hotRowPipe) srcFollower() *validate.Follower {
	return &validate.Follower{Name: "source", Engine: h.engine, DB: h.srcDB, Schema: h.schema}
}

// follower creates a fresh follower database of engine (postgres, mysql,
// sqlite), its tables filled as the source's started, and returns it with
// the sink's engine block. suffix tells followers of one engine apart.
func (h *hotRowPipe) follower(engine, suffix string) (*validate.Follower, string) {
	b := h.b
	db := h.name + suffix
	f := &validate.Follower{Engine: engine, Schema: h.schema}
	var block string
	switch engine {
	case "postgres":
		fol := testenv.PGFollower(b)
		pgExecB(b, fol, "CREATE DATABASE "+db)
		b.Cleanup(func() { pgExecB(b, fol, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
		dsn := strings.Replace(fol, "/postgres?", "/"+db+"?", 1)
		f.DB, f.Sink = openB(b, "pgx", dsn), "pgf"+suffix
		block = fmt.Sprintf("postgres: { dsn: %q }", dsn)
	case "mysql":
		fol := testenv.MySQLFollower(b)
		root := openB(b, "mysql", fol)
		if _, err := root.Exec("CREATE DATABASE " + db); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { root.Exec("DROP DATABASE IF EXISTS " + db) })
		f.DB, f.Sink = openB(b, "mysql", fol+db), "myf"+suffix
		block = fmt.Sprintf("mysql: { dsn: %q }", fol+db)
	case "sqlite":
		path := filepath.Join(h.dir, "lite"+suffix+".db")
		f.DB, f.Sink = openB(b, "sqlite3", "file:"+path+"?_foreign_keys=on&_busy_timeout=10000&_journal_mode=WAL"), "lite"+suffix
		block = fmt.Sprintf("sqlite: { path: %q }", path)
	}
	f.Name = f.Sink
	schema := ""
	if engine == "postgres" {
		schema = h.schema
	}
	ddl, err := validate.HotRowDDL(engine, schema)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range append(ddl, h.w.FillSQL(engine, schema)...) {
		if _, err := f.DB.Exec(q); err != nil {
			b.Fatalf("%s follower: %s: %v", engine, q, err)
		}
	}
	return f, block
}

// config writes a daemon's config: the source captured (or, external,
// read from its log only) and the sinks given as YAML list items.
func (h *hotRowPipe) config(what string, external bool, sinks string) (path, httpAddr string) {
	src := h.srcBlock
	if external {
		src = "external: " + h.engine
	}
	path, httpAddr = filepath.Join(h.dir, what+".yaml"), freePortB(h.b)
	err := os.WriteFile(path, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: %q, pprof: true }
log: { level: %s }
shutdown_timeout: 30s
kafka: { brokers: [%q], topic_prefix: %s, partitions: 4, envelope: %s }
sources:
  - name: src
    %s
sinks:
%s`, filepath.Join(h.dir, "state-"+what), httpAddr, logLevel(), testenv.Kafka(h.b), h.name, benchEnvelope(), src, sinks)), 0o600)
	if err != nil {
		h.b.Fatal(err)
	}
	return path, httpAddr
}

// hotRowDaemon is one running daemon of the benchmark.
type hotRowDaemon struct {
	b    testing.TB
	cmd  *exec.Cmd
	http string
	logf string
}

func (h *hotRowPipe) start(cfg, addr string) *hotRowDaemon {
	d := &hotRowDaemon{b: h.b, http: addr, logf: strings.TrimSuffix(cfg, ".yaml") + ".log"}
	logf, err := os.OpenFile(d.logf, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		h.b.Fatal(err)
	}
	d.cmd = exec.Command(binary, "run", "-c", cfg)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		h.b.Fatal(err)
	}
	logf.Close()
	h.b.Cleanup(d.stop)
	return d
}

func (d *hotRowDaemon) stop() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	d.cmd = nil
}

func (d *hotRowDaemon) logTail() string {
	b, _ := os.ReadFile(d.logf)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// statusDoc is the part of the status API the benchmark reads.
type statusDoc struct {
	Sources []struct {
		State        string `json:"state"`
		Transactions int64  `json:"transactions"`
		LagBytes     uint64 `json:"lag_bytes"`
	} `json:"sources"`
	Sinks []struct {
		Name      string `json:"name"`
		State     string `json:"state"`
		LastError string `json:"last_error"`
		Applied   int64  `json:"applied_transactions"`
		// FollowerTxns counts follower transactions (since the start).
		FollowerTxns int64   `json:"follower_transactions"`
		LagSeconds   float64 `json:"lag_seconds"`
		Sources      []struct {
			Queued   int              `json:"lag_transactions"`
			KafkaLag map[string]int64 `json:"kafka_lag"`
		} `json:"sources"`
	} `json:"sinks"`
}

func (d *hotRowDaemon) status() (statusDoc, bool) {
	var doc statusDoc
	_, body, err := get("http://" + d.http + "/api/v1/status")
	return doc, err == nil && json.Unmarshal([]byte(body), &doc) == nil
}

// lags is each sink's lag_seconds now.
func (d *hotRowDaemon) lags() map[string]float64 {
	doc, ok := d.status()
	if !ok {
		return nil
	}
	out := map[string]float64{}
	if os.Getenv("WALSHIP_BENCH_TRACE") != "" && len(doc.Sources) > 0 {
		fmt.Fprintf(os.Stderr, "trace %s source transactions %d lag-bytes %d\n", time.Now().Format("15:04:05.0"),
			doc.Sources[0].Transactions, doc.Sources[0].LagBytes)
	}
	for _, s := range doc.Sinks {
		out[s.Name] = s.LagSeconds
		if os.Getenv("WALSHIP_BENCH_TRACE") != "" && len(s.Sources) > 0 {
			var kl int64
			for _, n := range s.Sources[0].KafkaLag {
				kl += n
			}
			fmt.Fprintf(os.Stderr, "trace %s %s lag %.1f s queued %d kafka-lag %d applied %d follower-txns %d\n", time.Now().Format("15:04:05.0"),
				s.Name, s.LagSeconds, s.Sources[0].Queued, kl, s.Applied, s.FollowerTxns)
		}
	}
	return out
}

// waitSource waits until the source streams (its slot or binlog position
// taken: what is written from then on is captured).
func (d *hotRowDaemon) waitSource() {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if doc, ok := d.status(); ok && len(doc.Sources) > 0 && doc.Sources[0].State == "streaming" {
			return
		}
		if time.Now().After(deadline) {
			d.b.Fatalf("the source never streamed\n%s", d.logTail())
		}
	}
}

// cpu is the daemon's CPU time so far (utime + stime of /proc/<pid>/stat).
func (d *hotRowDaemon) cpu() time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		d.b.Fatal(err)
	}
	// Fields after the command name, which ends at the last ')': state is
	// field 3, utime 14 and stime 15.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

// profile takes a CPU profile of the daemon for secs seconds into
// $WALSHIP_BENCH_CPUPROFILE-<what> when that is set; the returned func
// waits for it.
func (d *hotRowDaemon) profile(what string, secs int) (wait func()) {
	out := os.Getenv("WALSHIP_BENCH_CPUPROFILE")
	if out == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", d.http, secs))
		if err != nil {
			d.b.Logf("cpu profile: %v", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(out + "-" + what)
		if err != nil {
			d.b.Logf("cpu profile: %v", err)
			return
		}
		defer f.Close()
		io.Copy(f, resp.Body)
		d.b.Logf("cpu profile: %s", f.Name())
	}()
	return func() { <-done }
}

// catchUp waits until every follower holds the source's history rows and
// returns how long each took.
func (h *hotRowPipe) catchUp(d *hotRowDaemon, fols map[string]*validate.Follower, timeout time.Duration) map[string]time.Duration {
	ctx := context.Background()
	want, err := validate.CountRows(ctx, h.srcFollower(), "history")
	if err != nil {
		h.b.Fatal(err)
	}
	start := time.Now()
	out := map[string]time.Duration{}
	for len(out) < len(fols) {
		for _, f := range fols {
			if _, done := out[f.Sink]; done {
				continue
			}
			if n, err := validate.CountRows(ctx, f, "history"); err == nil && n == want {
				out[f.Sink] = time.Since(start)
			}
		}
		if time.Since(start) > timeout {
			h.b.Fatalf("the followers did not catch up to %d history rows in %s (caught up: %v)\n%s", want, timeout, out, d.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out
}

// applyFigures are one apply-only run's figures.
type applyFigures struct {
	seconds    float64
	cpu        time.Duration
	statements int64            // -1: not counted (SQLite)
	pgStats    map[string]int64 // PostgreSQL follower: pg_stat_database deltas
}

// applyOnly applies the recorded log (total transactions) with one fresh
// sink of engine alone in a fresh daemon, and measures it.
func (h *hotRowPipe) applyOnly(engine string, workers int, total int64) applyFigures {
	b := h.b
	ctx := context.Background()
	f, block := h.follower(engine, "_apply")
	var counter *benchkit.StatementCounter
	if engine != "sqlite" {
		var target string
		if engine == "postgres" {
			target = hostPort(testenv.PGFollower(b))
		} else {
			target = hostPort(testenv.MySQLFollower(b))
		}
		var err error
		if counter, err = benchkit.CountStatements(engine, target); err != nil {
			b.Fatal(err)
		}
		defer counter.Close()
		block = strings.Replace(block, target, counter.Addr(), 1)
	}
	pgStats := func() map[string]int64 {
		if engine != "postgres" {
			return nil
		}
		var commits, ins, upd, del int64
		if err := f.DB.QueryRow("SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = current_database()").Scan(&commits, &ins, &upd, &del); err != nil {
			b.Fatal(err)
		}
		out := map[string]int64{"commits": commits, "rows_inserted": ins, "rows_updated": upd, "rows_deleted": del}
		// Per table, which of the database's row writes are whose.
		rs, err := f.DB.Query("SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")
		if err != nil {
			b.Fatal(err)
		}
		defer rs.Close()
		for rs.Next() {
			var t string
			var i, u, d int64
			if err := rs.Scan(&t, &i, &u, &d); err != nil {
				b.Fatal(err)
			}
			out[t+" inserted"], out[t+" updated"], out[t+" deleted"] = i, u, d
		}
		return out
	}
	if engine == "postgres" {
		// A backend reports its counters at most once a second, and when it
		// ends: end the ones that filled the tables, so their rows are in
		// the counters before the first reading.
		f.DB.SetMaxIdleConns(0)
		time.Sleep(1500 * time.Millisecond)
		f.DB.SetMaxIdleConns(2)
	}
	stats0 := pgStats()
	cfg, addr := h.config("apply-"+f.Sink, true, fmt.Sprintf("  - { name: %s, from: [src], workers: %d, %s }\n", f.Sink, workers, block))
	d := h.start(cfg, addr)
	var t0 time.Time
	var cpu0 time.Duration
	var stmt0 int64
	var waitProfile func()
	lastCount := time.Now()
	for deadline := time.Now().Add(30 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		doc, ok := d.status()
		applied := int64(0)
		if ok && len(doc.Sinks) > 0 {
			applied = doc.Sinks[0].Applied
			if doc.Sinks[0].State == "failed" {
				b.Fatalf("%s failed: %s\n%s", f.Sink, doc.Sinks[0].LastError, d.logTail())
			}
		}
		if t0.IsZero() && applied > 0 {
			t0, cpu0 = time.Now(), d.cpu()
			if counter != nil {
				stmt0 = counter.Statements()
			}
			waitProfile = d.profile("hotrow-"+f.Sink, benchkit.EnvInt(b, "WALSHIP_BENCH_PROFILE_SECONDS", 10))
		}
		// The applied counter says when to look; the follower's history
		// rows say when it is done.
		if !t0.IsZero() && (applied >= total || time.Since(lastCount) > 2*time.Second) {
			lastCount = time.Now()
			if n, err := validate.CountRows(ctx, f, "history"); err == nil && n >= total {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never applied %d transactions\n%s", f.Sink, total, d.logTail())
		}
	}
	a := applyFigures{seconds: time.Since(t0).Seconds(), cpu: d.cpu() - cpu0, statements: -1}
	if counter != nil {
		a.statements = counter.Statements() - stmt0
	}
	waitProfile()
	d.stop()
	if stats0 != nil {
		a.pgStats = map[string]int64{}
		// The backends' counters reach pg_stat_database as they end.
		time.Sleep(time.Second)
		for k, n := range pgStats() {
			if n != stats0[k] {
				a.pgStats[k] = n - stats0[k]
			}
		}
	}
	var v validate.Violations
	if err := validate.CheckHotRow(ctx, h.srcFollower(), f, &v); err != nil {
		b.Fatal(err)
	}
	if v.Count() > 0 {
		b.Fatalf("apply-only %s: %s", f.Sink, strings.Join(v.First(), "\n"))
	}
	b.Logf("apply-only %s: %d transactions in %.1f s, daemon CPU %s, %d statements, pg_stat_database %v", f.Sink, total, a.seconds, a.cpu, a.statements, a.pgStats)
	return a
}

func openB(b testing.TB, driver, dsn string) *sql.DB {
	b.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func pgExecB(b testing.TB, dsn, q string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, q); err != nil {
		b.Fatal(err)
	}
}
