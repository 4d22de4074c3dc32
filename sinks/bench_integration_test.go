package sinks_test

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/mysql"
	"github.com/walship/walship/sinks/postgres"
	"github.com/walship/walship/sinks/sqlite"
	"github.com/walship/walship/sinks/sqlsink"
)

// BenchmarkSinkParallelApply measures how much the sink's parallel workers
// gain over one worker on the same log of mostly independent transactions.
//
// It publishes one log to a fresh Kafka topic prefix, as a PostgreSQL
// source would: snapshot chunks seeding WALSHIP_BENCH_KEYS rows, then
// WALSHIP_BENCH_TXNS transactions each inserting or updating 1-3 rows of a
// bigint-keyed table, their depends_on computed with ordering.Writeset and
// ordering.Tracker exactly like the source (a few transactions hit a small
// set of hot rows, making real dependency chains). Then, per follower
// engine, a Sink applies that whole log into a fresh follower database with
// Workers=1 and with Workers=WALSHIP_BENCH_WORKERS, timed from Run until
// the sink's Status shows the watermark at the log's last Seq; afterwards
// the follower table must hold exactly the expected rows (count and sums of
// the version and value columns), so a fast wrong run cannot win.
//
// One iteration is a whole measurement: run it with -benchtime=1x
// (make bench-sink).
//
//	WALSHIP_BENCH_TXNS        stream transactions (default 20000)
//	WALSHIP_BENCH_WORKERS     the parallel worker count compared with 1 (default 8)
//	WALSHIP_BENCH_KEYS        rows seeded by the snapshot (default 20000)
//	WALSHIP_BENCH_BATCH       comma-separated BatchTxns settings to measure (default
//	                          100, the sink's default; 1 isolates parallelism from batching)
//	WALSHIP_BENCH_ENGINES     comma-separated engines (default postgres,mysql,sqlite;
//	                          SQLite has one writer by design: measured with 1 worker only;
//	                          diagnostics: null (a follower doing nothing: the reader and
//	                          scheduler's ceiling), sim (a follower transaction sleeps
//	                          WALSHIP_BENCH_SIM_LATENCY, default 100µs, per change: the
//	                          scheduler's parallelism without CPU contention))
//	WALSHIP_BENCH_INDEPENDENT 1: no two stream transactions touch a row (no dependencies
//	                          but on the snapshot), to tell dependency waits from the rest;
//	                          set WALSHIP_BENCH_KEYS to 3x the transactions to keep the mix
//	WALSHIP_BENCH_ORDERS      0: skip the parallel run with commit_order dependencies (by
//	                          default each parallel engine is also measured that way, and
//	                          the line shows source/dependencies)
//	WALSHIP_BENCH_CPUPROFILE  folder: write a CPU profile of each sink run there
//	WALSHIP_BENCH_OUT         results folder (default <repo>/bench/results; "-" = none)
func BenchmarkSinkParallelApply(b *testing.B) {
	broker := testenv.Kafka(b)
	brokers := strings.Split(broker, ",")
	nTxns := benchkit.EnvInt(b, "WALSHIP_BENCH_TXNS", 20000)
	workersN := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 8)
	keys := benchkit.EnvInt(b, "WALSHIP_BENCH_KEYS", 20000)
	batchSettings := benchkit.EnvInts(b, "WALSHIP_BENCH_BATCH", []int{100})
	engines := benchEngines(b)
	profDir := os.Getenv("WALSHIP_BENCH_CPUPROFILE")
	ctx := context.Background()

	independent := os.Getenv("WALSHIP_BENCH_INDEPENDENT") == "1"
	compareOrders := os.Getenv("WALSHIP_BENCH_ORDERS") != "0"
	lg := generateLog(nTxns, keys, independent)
	b.Logf("log: %d snapshot chunks (%d rows), %d stream transactions, %d row changes; depends_on: %d on a stream transaction, %d on one of the previous 8, %d of the previous 100, %d of the previous 1000",
		lg.snapChunks, keys, lg.streamTxns, lg.changes, lg.depStream, lg.depNear, lg.dep100, lg.dep1000)

	prefix := fmt.Sprintf("sinkbench%d", time.Now().UnixNano())
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		benchkit.DeleteTopics(cctx, b, broker, kafka.TransactionTopic(prefix), kafka.TopicName(prefix, benchTable.Schema, benchTable.Name))
	}()
	pubTime := publishLog(b, ctx, brokers, prefix, lg)
	b.Logf("published and durable in %s (%.0f txn/s)", pubTime.Round(time.Millisecond), float64(len(lg.txns))/pubTime.Seconds())
	readTime := readLog(b, ctx, brokers, prefix, lg)
	readerRate := float64(lg.streamTxns) / readTime.Seconds()
	b.Logf("reader alone (kafka.Reader, no follower): whole log in %s, %.0f txn/s", readTime.Round(time.Millisecond), readerRate)

	b.ResetTimer()
	var summaries []*engineSummary
	for i := 0; i < b.N; i++ {
		for _, batch := range batchSettings {
			for _, eng := range engines {
				ws := []int{1, workersN}
				if !eng.parallel {
					ws = []int{1}
				}
				sum := summaryFor(&summaries, eng.name, batch, lg.streamTxns, workersN)
				for _, w := range ws {
					r := runSink(b, ctx, eng, brokers, prefix, lg, w, batch, profDir, sinks.CommitSource)
					sum.Runs = append(sum.Runs, r)
				}
				if eng.parallel && compareOrders {
					// The same parallel run committing by dependencies only
					// (commit_order dependencies): what source order costs.
					r := runSink(b, ctx, eng, brokers, prefix, lg, workersN, batch, profDir, sinks.CommitDependencies)
					sum.Runs = append(sum.Runs, r)
				}
			}
		}
	}
	b.StopTimer()

	b.ReportMetric(0, "ns/op") // one op is a whole measurement: meaningless
	b.ReportMetric(readerRate, "reader_txn/s")
	for _, s := range summaries {
		s.finish()
		tag := s.Engine
		if s.BatchTxns != 100 {
			tag += fmt.Sprintf("_batch%d", s.BatchTxns)
		}
		var line string
		if s.N == 1 {
			line = fmt.Sprintf("sink engine=%s txns=%d workers=1: %.0f txn/s  (one writer by design: no parallel run)", s.Engine, s.Txns, s.Workers1)
			b.ReportMetric(s.Workers1, tag+"_w1_txn/s")
		} else {
			line = fmt.Sprintf("sink engine=%s txns=%d workers=1: %.0f txn/s  workers=%d: %.0f txn/s  ratio=%.2f",
				s.Engine, s.Txns, s.Workers1, s.N, s.WorkersN, s.Ratio)
			if s.DependenciesN > 0 {
				line += fmt.Sprintf("  (commit_order dependencies: %.0f txn/s; source/dependencies=%.2f)", s.DependenciesN, s.OrderRatio)
				b.ReportMetric(s.OrderRatio, tag+"_order_ratio")
			}
			b.ReportMetric(s.Workers1, tag+"_w1_txn/s")
			b.ReportMetric(s.WorkersN, fmt.Sprintf("%s_w%d_txn/s", tag, s.N))
			b.ReportMetric(s.Ratio, tag+"_ratio")
		}
		if s.BatchTxns != 100 {
			// Not the headline figure: the same comparison with the
			// sink's batching set to BatchTxns.
			line = strings.Replace(line, "sink engine=", fmt.Sprintf("sink batch_txns=%d engine=", s.BatchTxns), 1)
		}
		b.Log(line)
		fmt.Println(line)
	}
	writeSinkResult(b, lg, keys, readerRate, summaries)
}

// BenchmarkConflictCheckCost (issue 20) measures what checking every change
// against the follower's row costs: the same log as
// BenchmarkSinkParallelApply, applied per engine with conflicts: policy
// error (the plain path: folded, multi-row statements) and with policy
// keep_remote (each insert, update and delete after a locking SELECT of
// its row, one by one), WALSHIP_BENCH_WORKERS workers, in one process.
// The follower table is verified after each run. make bench-conflicts.
func BenchmarkConflictCheckCost(b *testing.B) {
	broker := testenv.Kafka(b)
	brokers := strings.Split(broker, ",")
	nTxns := benchkit.EnvInt(b, "WALSHIP_BENCH_TXNS", 20000)
	workersN := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 8)
	keys := benchkit.EnvInt(b, "WALSHIP_BENCH_KEYS", 20000)
	ctx := context.Background()
	lg := generateLog(nTxns, keys, false)
	prefix := fmt.Sprintf("conflictbench%d", time.Now().UnixNano())
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		benchkit.DeleteTopics(cctx, b, broker, kafka.TransactionTopic(prefix), kafka.TopicName(prefix, benchTable.Schema, benchTable.Name))
	}()
	publishLog(b, ctx, brokers, prefix, lg)
	type result struct {
		Engine         string  `json:"engine"`
		Workers        int     `json:"workers"`
		PlainTxnPerS   float64 `json:"plain_txn_per_s"`
		CheckedTxnPerS float64 `json:"checked_txn_per_s"`
		Ratio          float64 `json:"ratio"`
	}
	var results []result
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, eng := range benchEngines(b) {
			if eng.simulated {
				continue
			}
			w := workersN
			if !eng.parallel {
				w = 1
			}
			plain := runSink(b, ctx, eng, brokers, prefix, lg, w, 100, "", sinks.CommitSource)
			checked := eng
			checked.conflicts = sqlsink.Conflicts{Policy: sqlsink.PolicyKeepRemote}
			run := runSink(b, ctx, checked, brokers, prefix, lg, w, 100, "", sinks.CommitSource)
			r := result{Engine: eng.name, Workers: w, PlainTxnPerS: plain.StreamTxnPerS, CheckedTxnPerS: run.StreamTxnPerS}
			if r.PlainTxnPerS > 0 {
				r.Ratio = r.CheckedTxnPerS / r.PlainTxnPerS
			}
			results = append(results, r)
			line := fmt.Sprintf("conflict checks engine=%s txns=%d workers=%d: policy error %.0f txn/s  keep_remote %.0f txn/s  ratio=%.2f",
				eng.name, lg.streamTxns, w, r.PlainTxnPerS, r.CheckedTxnPerS, r.Ratio)
			b.Log(line)
			fmt.Println(line)
			b.ReportMetric(r.Ratio, eng.name+"_ratio")
		}
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	benchkit.WriteResult(b, "conflicts", map[string]any{
		"benchmark": "BenchmarkConflictCheckCost",
		"txns":      lg.streamTxns,
		"changes":   lg.changes,
		"engines":   results,
		"note":      "stream txn/s (snapshot left out) with conflicts: policy error (the plain, folded path) and keep_remote (a locking SELECT per change); the follower table is verified after each run",
	})
}

// --- the log -------------------------------------------------------------------

var benchTable = &ordering.Table{Schema: "public", Name: "bench_items", Columns: []ordering.Column{
	{Name: "id", Kind: ordering.KindInt, Type: "bigint"},
	{Name: "version", Kind: ordering.KindInt, Type: "bigint"},
	{Name: "val", Kind: ordering.KindInt, Type: "bigint"},
	{Name: "note", Kind: ordering.KindString, Type: "text", Nullable: true},
}, PrimaryKey: []string{"id"}}

// expected is what the follower table must hold after the whole log.
type expected struct {
	rows, sumVersion, sumVal, sumIDVersion int64
}

type benchLog struct {
	txns       []*ordering.Txn
	changes    int
	chs        [][]ordering.Change
	snapChunks int
	streamTxns int
	snapLast   offsets.Seq // the last snapshot chunk
	last       offsets.Seq // the last transaction
	want       expected
	// depStream counts stream transactions depending on another stream
	// transaction (not only on the snapshot); depNear, dep100 and dep1000
	// those whose dependency is among the previous 8 / 100 / 1000.
	depStream, depNear, dep100, dep1000 int
	independent                         bool
}

const (
	snapChunkRows = 1000
	hotKeys       = 8    // rows most transactions never touch, a few hammer
	hotChance     = 0.02 // chance a change picks a hot row
	insertChance  = 0.25 // chance a change inserts a new row
	benchLSN      = offsets.LSN(0x1000_0000)
	lsnStep       = 0x100
)

// generateLog builds the log deterministically: snapshot chunks of keys
// rows, then nTxns transactions of 1-3 changes. Seq, Pos and depends_on
// are those a PostgreSQL source would give (see sources/postgres snapshot.go
// and stream.go).
//
// independent: no hot rows, and each update takes a row no stream
// transaction touched before (inserting once they are used up), so every
// stream transaction depends on the snapshot only.
func generateLog(nTxns, keys int, independent bool) *benchLog {
	rng := rand.New(rand.NewPCG(1, 2))
	lg := &benchLog{independent: independent}
	tracker := ordering.NewTracker(0, offsets.Seq{})
	versions := map[int64]int64{}
	vals := map[int64]int64{}
	row := func(id, version, val int64) []ordering.Value {
		return []ordering.Value{ordering.Int(id), ordering.Int(version), ordering.Int(val),
			ordering.String("item " + strconv.FormatInt(id, 10) + " v" + strconv.FormatInt(version, 10))}
	}
	add := func(txn *ordering.Txn, chs []ordering.Change) {
		var ws ordering.Writeset
		for i := range chs {
			ws.Add(&chs[i])
		}
		txn.DependsOn = tracker.Commit(txn.Seq, &ws)
		txn.Changes = nil
		lg.txns = append(lg.txns, txn)
		lg.chs = append(lg.chs, chs)
		lg.changes += len(chs)
		lg.last = txn.Seq
	}

	// The snapshot: chunk transactions at the consistent point, then the
	// last, empty chunk that marks the end.
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var chunk uint32
	for first := 1; first <= keys; first += snapChunkRows {
		var chs []ordering.Change
		for id := int64(first); id < int64(min(first+snapChunkRows, keys+1)); id++ {
			versions[id], vals[id] = 1, rng.Int64N(1_000_000)
			chs = append(chs, ordering.Change{Table: benchTable, Op: ordering.OpRead, After: row(id, 1, vals[id])})
		}
		add(&ordering.Txn{Source: "pg", Seq: offsets.Seq{Pos: uint64(benchLSN), Sub: chunk},
			Pos: offsets.PGPosition(benchLSN, benchLSN), CommitTime: started, Snapshot: true}, chs)
		chunk++
	}
	add(&ordering.Txn{Source: "pg", Seq: offsets.Seq{Pos: uint64(benchLSN), Sub: chunk},
		Pos: offsets.PGPosition(benchLSN, benchLSN), CommitTime: started, Snapshot: true, LastSnapshot: true}, nil)
	lg.snapChunks = int(chunk) + 1
	lg.snapLast = lg.last

	// The stream.
	next := int64(keys) + 1
	fresh := rng.Perm(keys) // independent: rows not yet touched, shuffled
	for i := 0; i < nTxns; i++ {
		commit := benchLSN + offsets.LSN(lsnStep*(i+1))
		txn := &ordering.Txn{Source: "pg", ID: strconv.Itoa(1000 + i), Seq: offsets.Seq{Pos: uint64(commit), Sub: offsets.StreamSub},
			Pos: offsets.PGPosition(commit, commit+0x40), CommitTime: started.Add(time.Duration(i+1) * time.Millisecond)}
		n := 1 + rng.IntN(3)
		touched := map[int64]bool{}
		var chs []ordering.Change
		for len(chs) < n {
			if rng.Float64() < insertChance || (independent && len(fresh) == 0) {
				id := next
				next++
				versions[id], vals[id] = 1, rng.Int64N(1_000_000)
				touched[id] = true
				chs = append(chs, ordering.Change{Table: benchTable, Op: ordering.OpInsert, After: row(id, 1, vals[id])})
				continue
			}
			var id int64
			if independent {
				id, fresh = int64(fresh[len(fresh)-1]+1), fresh[:len(fresh)-1]
			} else if rng.Float64() < hotChance {
				id = 1 + rng.Int64N(hotKeys)
			} else {
				id = 1 + rng.Int64N(next-1)
			}
			if touched[id] {
				continue
			}
			touched[id] = true
			versions[id]++
			vals[id] = rng.Int64N(1_000_000)
			// An update whose key did not change: no before image, as
			// pgoutput sends it under the default replica identity.
			chs = append(chs, ordering.Change{Table: benchTable, Op: ordering.OpUpdate, After: row(id, versions[id], vals[id])})
		}
		add(txn, chs)
		lg.streamTxns++
		if dep := txn.DependsOn; dep.Sub == offsets.StreamSub {
			lg.depStream++
			dist := i - (int(dep.Pos-uint64(benchLSN))/lsnStep - 1)
			if dist <= 8 {
				lg.depNear++
			}
			if dist <= 100 {
				lg.dep100++
			}
			if dist <= 1000 {
				lg.dep1000++
			}
		}
	}
	for id, v := range versions {
		lg.want.rows++
		lg.want.sumVersion += v
		lg.want.sumVal += vals[id]
		lg.want.sumIDVersion += id * v
	}
	return lg
}

func changesOf(chs []ordering.Change) iter.Seq2[*ordering.Change, error] {
	return func(yield func(*ordering.Change, error) bool) {
		for i := range chs {
			if !yield(&chs[i], nil) {
				return
			}
		}
	}
}

// publishLog publishes the log and waits until all of it is durable.
func publishLog(b *testing.B, ctx context.Context, brokers []string, prefix string, lg *benchLog) time.Duration {
	enc := envelope.NewEncoder(envelope.Source{Name: "pg", Connector: "postgresql", Logical: prefix, Database: "bench"}, envelope.Options{})
	p := kafka.NewPublisher(kafka.Config{Brokers: brokers, TopicPrefix: prefix, Rows: os.Getenv("WALSHIP_BENCH_ENVELOPE") == "rows"}, enc)
	defer p.Close(context.Background())
	t0 := time.Now()
	for i, txn := range lg.txns {
		if err := p.Publish(ctx, txn, len(lg.chs[i]), changesOf(lg.chs[i])); err != nil {
			b.Fatalf("publish transaction %d: %v", i, err)
		}
	}
	deadline := time.After(5 * time.Minute)
	for {
		if s, _ := p.Durable(); !s.Less(lg.last) {
			break
		}
		if err := p.Err(); err != nil {
			b.Fatalf("publish: %v", err)
		}
		select {
		case <-p.Notify():
		case <-deadline:
			b.Fatalf("the log is not durable after 5 minutes: %s", p.Describe())
		}
	}
	return time.Since(t0)
}

// readLog reads the whole log with a bare kafka.Reader: the rate no sink
// can beat on this machine.
func readLog(b *testing.B, ctx context.Context, brokers []string, prefix string, lg *benchLog) time.Duration {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Prefix: prefix})
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	for n := 0; n < len(lg.txns); n++ {
		txn, err := r.Next(rctx)
		if err != nil {
			b.Fatalf("read transaction %d of %d: %v", n, len(lg.txns), err)
		}
		if txn.Stream != nil {
			for _, err := range txn.Stream {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		if n == len(lg.txns)-1 && txn.End.Seq != lg.last {
			b.Fatalf("last transaction read is %v, want %v", txn.End.Seq, lg.last)
		}
	}
	return time.Since(t0)
}

// --- the follower engines --------------------------------------------------------

type benchEngine struct {
	name     string
	parallel bool
	// fresh creates an empty follower database and returns its dialect and
	// a function dropping it. Diagnostic engines have sim instead.
	fresh func(b *testing.B, ctx context.Context) (sqlsink.Dialect, func())
	// sim is the latency of one change on a simulated follower (0: none).
	sim       time.Duration
	simulated bool
	// conflicts is the sink's conflict handling (BenchmarkConflictCheckCost).
	conflicts sqlsink.Conflicts
}

var benchDBSeq atomic.Int64

func benchDBName() string {
	return fmt.Sprintf("walship_sinkbench_%d_%d", os.Getpid(), benchDBSeq.Add(1))
}

func benchEngines(b *testing.B) []benchEngine {
	want := os.Getenv("WALSHIP_BENCH_ENGINES")
	if want == "" {
		want = "postgres,mysql,sqlite"
	}
	var out []benchEngine
	for _, name := range strings.Split(want, ",") {
		switch strings.TrimSpace(name) {
		case "postgres":
			out = append(out, benchEngine{name: "postgres", parallel: true, fresh: freshPG(testenv.PGFollower(b))})
		case "mysql", "mariadb":
			out = append(out, benchEngine{name: "mariadb", parallel: true, fresh: freshMySQL(testenv.MySQLFollower(b))})
		case "sqlite":
			out = append(out, benchEngine{name: "sqlite", parallel: false, fresh: freshSQLite})
		case "null":
			// Diagnostic: the reader and scheduler with a follower that
			// does nothing: the ceiling of the sink on this machine.
			out = append(out, benchEngine{name: "null", parallel: true, simulated: true})
		case "sim":
			// Diagnostic: a follower whose transactions wait (not use
			// CPU) WALSHIP_BENCH_SIM_LATENCY (default 100µs) per change
			// plus twice that: the scheduler's parallelism without CPU
			// contention with a database server.
			lat := 100 * time.Microsecond
			if v := os.Getenv("WALSHIP_BENCH_SIM_LATENCY"); v != "" {
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 {
					b.Fatalf("WALSHIP_BENCH_SIM_LATENCY=%q: want a positive duration", v)
				}
				lat = d
			}
			out = append(out, benchEngine{name: "sim", parallel: true, simulated: true, sim: lat})
		case "":
		default:
			b.Fatalf("WALSHIP_BENCH_ENGINES: unknown engine %q (postgres, mysql, sqlite; diagnostics: null, sim)", name)
		}
	}
	return out
}

func freshPG(base string) func(*testing.B, context.Context) (sqlsink.Dialect, func()) {
	return func(b *testing.B, ctx context.Context) (sqlsink.Dialect, func()) {
		name := benchDBName()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			b.Fatalf("connect to the PostgreSQL follower: %v", err)
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			admin.Close(ctx)
			b.Fatalf("create database: %v", err)
		}
		u, err := url.Parse(base)
		if err != nil {
			b.Fatalf("%s is not a URL: %v", testenv.EnvPGFollower, err)
		}
		u.Path = "/" + name
		return postgres.New(config.PostgresSink{DSN: config.Secret(u.String())}), func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.Exec(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				b.Logf("drop database %s: %v", name, err)
			}
			admin.Close(cctx)
		}
	}
}

func freshMySQL(base string) func(*testing.B, context.Context) (sqlsink.Dialect, func()) {
	return func(b *testing.B, ctx context.Context) (sqlsink.Dialect, func()) {
		name := benchDBName()
		admin, err := sql.Open("mysql", base)
		if err != nil {
			b.Fatalf("open the MariaDB follower: %v", err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			admin.Close()
			b.Fatalf("create database: %v", err)
		}
		mc, err := mysqldrv.ParseDSN(base)
		if err != nil {
			b.Fatalf("%s: %v", testenv.EnvMySQLFollower, err)
		}
		mc.DBName = name
		return mysql.New(config.MySQLSink{DSN: config.Secret(mc.FormatDSN())}), func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(cctx, "DROP DATABASE IF EXISTS "+name); err != nil {
				b.Logf("drop database %s: %v", name, err)
			}
			admin.Close()
		}
	}
}

func freshSQLite(b *testing.B, _ context.Context) (sqlsink.Dialect, func()) {
	dir, err := os.MkdirTemp("", "walship-sinkbench-")
	if err != nil {
		b.Fatal(err)
	}
	return sqlite.New(config.SQLiteSink{Path: filepath.Join(dir, "follower.db")}), func() { os.RemoveAll(dir) }
}

// --- one run -------------------------------------------------------------------

// countingFollower counts and times the follower transactions the
// scheduler opens: how many (so the average batch), how long they stay
// open in total (so the average number open at once) and their commits.
type countingFollower struct {
	sinks.Follower
	begins, commits       atomic.Int64
	openNanos, commitNano atomic.Int64
	open, maxOpen         atomic.Int64
}

func (f *countingFollower) Begin(ctx context.Context) (sinks.FollowerTx, error) {
	t0 := time.Now()
	tx, err := f.Follower.Begin(ctx)
	if err != nil {
		return nil, err
	}
	f.begins.Add(1)
	n := f.open.Add(1)
	for m := f.maxOpen.Load(); n > m && !f.maxOpen.CompareAndSwap(m, n); m = f.maxOpen.Load() {
	}
	return &countingTx{FollowerTx: tx, f: f, t0: t0}, nil
}

type countingTx struct {
	sinks.FollowerTx
	f     *countingFollower
	t0    time.Time
	ended atomic.Bool
}

func (t *countingTx) end() {
	if t.ended.CompareAndSwap(false, true) {
		t.f.open.Add(-1)
		t.f.openNanos.Add(int64(time.Since(t.t0)))
	}
}

func (t *countingTx) Commit() error {
	c0 := time.Now()
	err := t.FollowerTx.Commit()
	t.f.commitNano.Add(int64(time.Since(c0)))
	if err == nil {
		t.f.commits.Add(1)
	}
	t.end()
	return err
}

// BlocksOthers passes the lock probe through (sinks.LockProber).
func (t *countingTx) BlocksOthers(ctx context.Context) (bool, error) {
	if p, ok := t.FollowerTx.(sinks.LockProber); ok {
		return p.BlocksOthers(ctx)
	}
	return false, nil
}

// Flush passes sinks.Flusher through.
func (t *countingTx) Flush(ctx context.Context) error {
	if f, ok := t.FollowerTx.(sinks.Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}

// Fence passes sinks.Fencer through.
func (t *countingTx) Fence(ctx context.Context) error {
	if f, ok := t.FollowerTx.(sinks.Fencer); ok {
		return f.Fence(ctx)
	}
	return nil
}

// RecordsInTurn passes sinks.RecorderInTurn through.
func (f *countingFollower) RecordsInTurn() bool {
	rt, ok := f.Follower.(sinks.RecorderInTurn)
	return ok && rt.RecordsInTurn()
}

// SerialWrites passes sinks.SerialWriter through.
func (f *countingFollower) SerialWrites() bool {
	sw, ok := f.Follower.(sinks.SerialWriter)
	return ok && sw.SerialWrites()
}

func (t *countingTx) Rollback() error {
	err := t.FollowerTx.Rollback()
	t.end()
	return err
}

// sinkRun is one measurement: one engine, one worker count, one batch size.
type sinkRun struct {
	Engine  string `json:"engine"`
	Workers int    `json:"workers"`
	// Order is the sink's commit_order (source, the default, or
	// dependencies).
	Order string `json:"commit_order"`
	// Yields counts follower transactions that gave way (commit_order
	// source).
	Yields    int64 `json:"commit_yields"`
	BatchTxns int   `json:"batch_txns"`
	Txns      int   `json:"txns"`     // stream transactions
	LogTxns   int   `json:"log_txns"` // with the snapshot chunks
	Changes   int   `json:"changes"`
	// Seconds is Run start → watermark at the last Seq; TxnPerS is Txns
	// over it. StreamTxnPerS leaves the snapshot out: Txns over the time
	// from the watermark passing the last snapshot chunk to the end.
	Seconds         float64 `json:"seconds"`
	ReadySeconds    float64 `json:"ready_seconds"`
	SnapshotSeconds float64 `json:"snapshot_seconds"`
	TxnPerS         float64 `json:"txn_per_s"`
	StreamTxnPerS   float64 `json:"stream_txn_per_s"`
	// FollowerTxns is how many follower transactions the sink committed;
	// AvgBatch is LogTxns over it; AvgOpen the average number open at once.
	FollowerTxns int64   `json:"follower_txns"`
	AvgBatch     float64 `json:"avg_batch_txns"`
	MaxOpen      int64   `json:"max_open_follower_txns"`
	AvgOpen      float64 `json:"avg_open_follower_txns"`
	AvgCommitMs  float64 `json:"avg_commit_ms"`
	// ProcessCPU is this process's CPU time (the sink, plus the benchmark's
	// polling) during the run; MachineBusy the share of all CPUs busy
	// (every process: the follower server, Kafka, others) during the run.
	ProcessCPU  float64 `json:"process_cpu_seconds"`
	MachineBusy float64 `json:"machine_busy"`
	// AvgQueued and MaxQueued sample Status.Queued (read, not yet under
	// the watermark: in flight or waiting); ReadSeconds is when the last
	// transaction reached the scheduler. A queue near empty while workers
	// idle means the reader limits; a long queue with idle workers means
	// the dispatch waits (dependencies, in-order dispatch).
	AvgQueued   float64 `json:"avg_queued"`
	MaxQueued   int     `json:"max_queued"`
	ReadSeconds float64 `json:"read_seconds"`
	Profile     string  `json:"cpu_profile,omitempty"`
}

// sampler polls the sink's status every millisecond while it runs.
type sampler struct {
	quit, done chan struct{}
	n          int
	sumQueued  float64
	maxQueued  int
	readAt     time.Duration
}

func startSampler(s *sinks.Sink, cf *countingFollower, last offsets.Seq, t0 time.Time) *sampler {
	smp := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(smp.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-smp.quit:
				return
			case <-tick.C:
			}
			st := s.Status()
			if len(st.Sources) == 0 {
				continue
			}
			src := st.Sources[0]
			if smp.readAt == 0 && !src.Newest.Seq.Less(last) {
				smp.readAt = time.Since(t0)
			}
			smp.n++
			smp.sumQueued += float64(src.Queued)
			smp.maxQueued = max(smp.maxQueued, src.Queued)
		}
	}()
	return smp
}

func (smp *sampler) stop() {
	close(smp.quit)
	<-smp.done
}

func (smp *sampler) avgQueued() float64 {
	if smp.n == 0 {
		return 0
	}
	return smp.sumQueued / float64(smp.n)
}

// simFollower is a follower without a database, for diagnostics: a
// follower transaction waits lat per change plus 2*lat, at commit. It keeps each row's version and
// checks every update finds the version before it, so a run that broke a
// dependency fails.
type simFollower struct {
	lat      time.Duration
	mu       sync.Mutex
	versions map[int64]int64
	vals     map[int64]int64
	errs     []string
}

func (f *simFollower) Prepare(context.Context) (map[string]sinks.SourceState, func(), error) {
	return map[string]sinks.SourceState{}, func() {}, nil
}
func (f *simFollower) EnsureSchema(context.Context, string, []*ordering.Table) error { return nil }
func (f *simFollower) Begin(context.Context) (sinks.FollowerTx, error)               { return &simTx{f: f}, nil }
func (f *simFollower) Fold(context.Context, string, sinks.Applied, kafka.Offsets) error {
	return nil
}
func (f *simFollower) Retryable(error) bool { return false }
func (f *simFollower) Close() error         { return nil }

type simTx struct {
	f       *simFollower
	changes int
}

func (t *simTx) EnsureSchema(context.Context, string, []*ordering.Table) error { return nil }
func (t *simTx) Apply(_ context.Context, _ string, ch *ordering.Change) error {
	t.changes++
	id, v, val := ch.After[0].Int(), ch.After[1].Int(), ch.After[2].Int()
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	if ch.Op == ordering.OpUpdate && t.f.versions[id] != v-1 && len(t.f.errs) < 10 {
		t.f.errs = append(t.f.errs, fmt.Sprintf("row %d: update to version %d found version %d", id, v, t.f.versions[id]))
	}
	t.f.versions[id], t.f.vals[id] = v, val
	return nil
}
func (t *simTx) Record(context.Context, string, []sinks.Applied) error { return nil }
func (t *simTx) Commit() error {
	// One sleep per follower transaction: timers are coarse (often ~1ms).
	if t.f.lat > 0 {
		time.Sleep(time.Duration(t.changes+2) * t.f.lat)
	}
	return nil
}
func (t *simTx) Rollback() error { return nil }

func (f *simFollower) verify(b *testing.B, engine string, workers int, want expected) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		b.Fatalf("%s workers=%d: dependencies broken: %s", engine, workers, strings.Join(f.errs, "; "))
	}
	var got expected
	for id, v := range f.versions {
		got.rows++
		got.sumVersion += v
		got.sumVal += f.vals[id]
		got.sumIDVersion += id * v
	}
	if got != want {
		b.Fatalf("%s workers=%d: simulated follower holds %+v, want %+v", engine, workers, got, want)
	}
}

func runSink(b *testing.B, ctx context.Context, eng benchEngine, brokers []string, prefix string, lg *benchLog,
	workers, batch int, profDir string, order sinks.CommitOrder) sinkRun {
	log := benchkit.Logger(slog.LevelWarn)
	var d sqlsink.Dialect
	var sim *simFollower
	cf := &countingFollower{}
	if eng.simulated {
		sim = &simFollower{lat: eng.sim, versions: map[int64]int64{}, vals: map[int64]int64{}}
		cf.Follower = sim
	} else {
		var drop func()
		d, drop = eng.fresh(b, ctx)
		defer drop()
		cf.Follower = sqlsink.New(sqlsink.Config{Sink: "bench", SourceEngines: map[string]string{"pg": "postgres"}, Conflicts: eng.conflicts}, d, log)
	}
	s := sinks.New(sinks.Config{Name: "bench", Sources: []sinks.SourceLog{{Name: "pg", Prefix: prefix}}, Brokers: brokers,
		Workers: workers, BatchTxns: batch, CommitOrder: order}, cf, log)

	var prof string
	if profDir != "" {
		if err := os.MkdirAll(profDir, 0o755); err != nil {
			b.Fatal(err)
		}
		prof = filepath.Join(profDir, fmt.Sprintf("sink-%s-w%d-b%d.pprof", eng.name, workers, batch))
		f, err := os.Create(prof)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Logf("no CPU profile (is -cpuprofile set?): %v", err)
			prof = ""
		} else {
			defer pprof.StopCPUProfile()
		}
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	var readyAt atomic.Int64
	cpu0 := benchkit.ProcessCPU().Seconds()
	busy0, total0 := benchkit.MachineCPU()
	t0 := time.Now()
	go func() { done <- s.Run(rctx, func() { readyAt.Store(int64(time.Since(t0))) }) }()
	smp := startSampler(s, cf, lg.last, t0)
	var snapAt time.Duration
	deadline := time.NewTimer(15 * time.Minute)
	defer deadline.Stop()
	for {
		changed := s.Changed()
		st := s.Status()
		w := st.Sources[0].Applied.Seq
		if snapAt == 0 && !w.Less(lg.snapLast) {
			snapAt = time.Since(t0)
		}
		if !w.Less(lg.last) {
			break
		}
		select {
		case <-changed:
		case err := <-done:
			b.Fatalf("%s workers=%d: the sink stopped before the end of the log: %v; status %+v", eng.name, workers, err, s.Status())
		case <-deadline.C:
			cancel()
			b.Fatalf("%s workers=%d: the watermark did not reach %v in 15 minutes; status %+v", eng.name, workers, lg.last, s.Status())
		}
	}
	elapsed := time.Since(t0)
	smp.stop()
	if smp.readAt == 0 { // read and applied between two samples
		smp.readAt = elapsed
	}
	cpu1 := benchkit.ProcessCPU().Seconds()
	busy1, total1 := benchkit.MachineCPU()
	if prof != "" {
		pprof.StopCPUProfile()
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatalf("%s workers=%d: Run returned %v", eng.name, workers, err)
	}
	st := s.Status()
	if st.AppliedTxns != int64(len(lg.txns)) || st.AppliedChanges != int64(lg.changes) {
		b.Fatalf("%s workers=%d: the sink applied %d transactions and %d changes, want %d and %d",
			eng.name, workers, st.AppliedTxns, st.AppliedChanges, len(lg.txns), lg.changes)
	}
	if sim != nil {
		sim.verify(b, eng.name, workers, lg.want)
	} else {
		verifyFollower(b, ctx, eng.name, workers, d, lg.want)
	}

	r := sinkRun{Engine: eng.name, Workers: workers, Order: string(order), BatchTxns: batch, Txns: lg.streamTxns, LogTxns: len(lg.txns), Changes: lg.changes,
		Seconds: elapsed.Seconds(), ReadySeconds: time.Duration(readyAt.Load()).Seconds(), SnapshotSeconds: snapAt.Seconds(),
		TxnPerS:       float64(lg.streamTxns) / elapsed.Seconds(),
		StreamTxnPerS: float64(lg.streamTxns) / (elapsed - snapAt).Seconds(),
		FollowerTxns:  cf.commits.Load(), MaxOpen: cf.maxOpen.Load(),
		AvgOpen:    float64(cf.openNanos.Load()) / float64(elapsed),
		ProcessCPU: cpu1 - cpu0, Profile: prof,
		AvgQueued: smp.avgQueued(), MaxQueued: smp.maxQueued, ReadSeconds: smp.readAt.Seconds(), Yields: s.Status().CommitYields}
	if total1 > total0 {
		r.MachineBusy = (busy1 - busy0) / (total1 - total0)
	}
	if r.FollowerTxns > 0 {
		r.AvgBatch = float64(r.LogTxns) / float64(r.FollowerTxns)
		r.AvgCommitMs = float64(cf.commitNano.Load()) / float64(r.FollowerTxns) / 1e6
	}
	b.Logf("%s workers=%d commit_order=%s (%d gave way) batch_txns=%d: %.2fs (ready %.3fs, snapshot applied %.3fs, whole log read %.2fs) %.0f txn/s, stream alone %.0f txn/s; "+
		"%d follower txns (avg %.1f source txns each, commit %.2fms), open at once avg %.2f max %d; queued avg %.0f max %d; process CPU %.2fs, machine busy %.0f%%",
		r.Engine, r.Workers, r.Order, r.Yields, r.BatchTxns, r.Seconds, r.ReadySeconds, r.SnapshotSeconds, r.ReadSeconds, r.TxnPerS, r.StreamTxnPerS,
		r.FollowerTxns, r.AvgBatch, r.AvgCommitMs, r.AvgOpen, r.MaxOpen, r.AvgQueued, r.MaxQueued, r.ProcessCPU, 100*r.MachineBusy)
	return r
}

// verifyFollower checks the follower table holds exactly the log's rows.
func verifyFollower(b *testing.B, ctx context.Context, engine string, workers int, d sqlsink.Dialect, want expected) {
	db, err := d.Open(ctx)
	if err != nil {
		b.Fatalf("%s: open the follower to verify: %v", engine, err)
	}
	defer db.Close()
	q := "SELECT COUNT(*), COALESCE(SUM(version), 0), COALESCE(SUM(val), 0), COALESCE(SUM(id * version), 0) FROM " +
		d.QuoteName(d.Target(benchTable.Schema, benchTable.Name))
	var got [4]string
	if err := db.QueryRowContext(ctx, q).Scan(&got[0], &got[1], &got[2], &got[3]); err != nil {
		b.Fatalf("%s: verify: %v", engine, err)
	}
	w := [4]string{strconv.FormatInt(want.rows, 10), strconv.FormatInt(want.sumVersion, 10),
		strconv.FormatInt(want.sumVal, 10), strconv.FormatInt(want.sumIDVersion, 10)}
	if got != w {
		b.Fatalf("%s workers=%d: follower holds rows/sum(version)/sum(val)/sum(id*version) = %v, want %v", engine, workers, got, w)
	}
}

// --- summary and results ---------------------------------------------------------

type engineSummary struct {
	Engine    string  `json:"engine"`
	Txns      int     `json:"txns"`
	BatchTxns int     `json:"batch_txns"`
	Workers1  float64 `json:"workers_1_txn_per_s"`
	WorkersN  float64 `json:"workers_n_txn_per_s,omitempty"`
	N         int     `json:"n"`
	Ratio     float64 `json:"ratio,omitempty"`
	// DependenciesN is the parallel run with commit_order dependencies;
	// OrderRatio is WorkersN (commit_order source) over it.
	DependenciesN float64   `json:"workers_n_dependencies_txn_per_s,omitempty"`
	OrderRatio    float64   `json:"commit_order_ratio,omitempty"`
	Runs          []sinkRun `json:"runs"`
	n             int       // the requested parallel worker count
}

func summaryFor(all *[]*engineSummary, engine string, batch, txns, n int) *engineSummary {
	for _, s := range *all {
		if s.Engine == engine && s.BatchTxns == batch {
			return s
		}
	}
	s := &engineSummary{Engine: engine, Txns: txns, BatchTxns: batch, n: n}
	*all = append(*all, s)
	return s
}

// finish averages the runs per worker count.
func (s *engineSummary) finish() {
	var sum1, sumN float64
	var c1, cN int
	var sumD float64
	var cD int
	for _, r := range s.Runs {
		if r.Order == string(sinks.CommitDependencies) {
			sumD += r.TxnPerS
			cD++
			continue
		}
		if r.Workers == 1 {
			sum1 += r.TxnPerS
			c1++
		} else {
			sumN += r.TxnPerS
			cN++
		}
	}
	if c1 > 0 {
		s.Workers1 = sum1 / float64(c1)
	}
	if cD > 0 {
		s.DependenciesN = sumD / float64(cD)
	}
	s.N = 1
	if cN > 0 {
		s.N = s.n
		s.WorkersN = sumN / float64(cN)
		if s.Workers1 > 0 {
			s.Ratio = s.WorkersN / s.Workers1
		}
		if s.DependenciesN > 0 {
			s.OrderRatio = s.WorkersN / s.DependenciesN
		}
	}
}

// writeSinkResult writes bench/results/sink-<date>.json.
func writeSinkResult(b *testing.B, lg *benchLog, keys int, readerRate float64, summaries []*engineSummary) {
	benchkit.WriteResult(b, "sink", map[string]any{
		"benchmark":            "BenchmarkSinkParallelApply",
		"txns":                 lg.streamTxns,
		"changes":              lg.changes,
		"snapshot_rows":        keys,
		"snapshot_chunks":      lg.snapChunks,
		"depends_on_stream":    lg.depStream,
		"depends_on_near_8":    lg.depNear,
		"depends_on_near_100":  lg.dep100,
		"depends_on_near_1000": lg.dep1000,
		"reader_txn_per_s":     readerRate,
		"independent":          lg.independent,
		"engines":              summaries,
		"note": "txn/s counts stream transactions over Run start -> watermark at the log's last Seq (snapshot chunks included in the time); " +
			"stream_txn_per_s leaves the snapshot out; the follower table is verified (count and sums) after every run",
	})
}
