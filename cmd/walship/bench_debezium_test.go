package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
)

// make bench-debezium: walship beside Debezium on the same servers and the
// same workload. Debezium runs as its published jars (resolved by
// deploy/bench/debezium/fetch.sh; nothing of it is in the repository) in
// Kafka Connect standalone: the PostgreSQL connector (pgoutput) into Kafka,
// and the Debezium JDBC sink from Kafka into the PostgreSQL follower.
//
// Debezium settings, for judging fairness (everything not listed is the
// default of Debezium 3.5 / Connect 4.1; WALSHIP_BENCH_DBZ_SOURCE_PROPS and
// WALSHIP_BENCH_DBZ_SINK_PROPS add key=value,... settings to try others):
//   - source: tasks.max=1 (the PG connector has one task), plugin.name=pgoutput,
//     snapshot.mode=no_data (the table is empty at start), max.batch.size 2048,
//     max.queue.size 8192, poll.interval.ms 500: a batch is handed to Connect
//     when it is full or 500 ms have passed, which sets Debezium's latency at
//     moderate rates (poll.interval.ms=10 shows it tuned for latency);
//     Connect's producer defaults (acks=all, linger.ms 0). The topic is made
//     beforehand with 1 partition (walship's log has 8: its sink orders by key).
//   - sink: tasks.max=1, insert.mode=upsert, primary.key.mode=record_key,
//     delete.enabled=true, schema.evolution=none (the follower table exists),
//     batch.size 500 and the consumer's max.poll.records 500, the c3p0 pool.
//   - JsonConverter with schemas for keys and values (the JDBC sink needs
//     them); offset.flush.interval.ms=1000; a 1 GiB heap.
//
// walship runs as in BenchmarkLatency: 8 partitions, 4 sink workers. The
// walship side runs first, then Debezium's, with nothing else of either
// running; both get the same warm-up before anything is measured.

// debeziumLibsDefault is fetch.sh's default folder of jars: keep the two in step.
const debeziumLibsDefault = "walship/debezium-3.5.0.Final-connect-4.1.1/libs"

// debeziumLibs is the folder of jars ($WALSHIP_DEBEZIUM_LIBS, or fetch.sh's
// default); it fails the benchmark, naming the fix, when they are missing.
func debeziumLibs(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("WALSHIP_DEBEZIUM_LIBS")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, debeziumLibsDefault)
	}
	for _, jar := range []string{"connect-runtime-*.jar", "debezium-connector-postgres-*.jar", "debezium-connector-jdbc-*.jar", "postgresql-*.jar"} {
		if m, _ := filepath.Glob(filepath.Join(dir, jar)); len(m) == 0 {
			b.Fatalf("Debezium jars missing: no %s in %s; run deploy/bench/debezium/fetch.sh (or make bench-debezium), "+
				"or point WALSHIP_DEBEZIUM_LIBS at the folder it prints", jar, dir)
		}
	}
	if _, err := exec.LookPath("java"); err != nil {
		b.Fatalf("java is not on PATH: Kafka Connect needs a JDK 17 (make env-up installs it)")
	}
	return dir
}

// jarVersion is the version in the name of artifact's jar in libs.
func jarVersion(libs, artifact string) string {
	m, _ := filepath.Glob(filepath.Join(libs, artifact+"-*.jar"))
	if len(m) == 0 {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m[0]), artifact+"-"), ".jar")
}

// connectStandalone is one Kafka Connect standalone worker running a
// Debezium PostgreSQL source connector and a Debezium JDBC sink connector
// between a benchPipe's source and follower databases.
type connectStandalone struct {
	b            *testing.B
	dir, rest    string
	source, sink string
	cmd          *exec.Cmd
	exited       chan struct{}
}

const debeziumTable = "bench_rows"

// startDebezium writes the worker and connector configs into p.dir, makes
// the change topic, starts the worker and waits until both connectors and
// their tasks run and the replication slot is active. The worker is
// stopped, its slot, topic and consumer group removed, in cleanups.
func startDebezium(b *testing.B, p *benchPipe, libs string) *connectStandalone {
	b.Helper()
	c := &connectStandalone{b: b, dir: p.dir, rest: freePortB(b), source: p.name + "-source", sink: p.name + "-sink", exited: make(chan struct{})}
	src, err := url.Parse(p.srcDSN)
	if err != nil {
		b.Fatal(err)
	}
	fol, err := url.Parse(p.folDSN)
	if err != nil {
		b.Fatal(err)
	}
	srcPass, _ := src.User.Password()
	folPass, _ := fol.User.Password()
	topic := p.name + ".public." + debeziumTable
	brokers := testenv.Kafka(b)
	createTopic(b, brokers, topic, 1)

	write := func(name, text string) string {
		path := filepath.Join(c.dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
		return path
	}
	worker := write("connect-worker.properties", fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=%s
offset.flush.interval.ms=1000
listeners=http://%s
`, brokers, filepath.Join(c.dir, "connect.offsets"), c.rest))
	source := write("debezium-source.properties", fmt.Sprintf(`name=%s
connector.class=io.debezium.connector.postgresql.PostgresConnector
tasks.max=1
database.hostname=%s
database.port=%s
database.user=%s
database.password=%s
database.dbname=%s
topic.prefix=%s
plugin.name=pgoutput
slot.name=%s
publication.name=%s
publication.autocreate.mode=filtered
table.include.list=public.%s
snapshot.mode=no_data
%s`, c.source, src.Hostname(), src.Port(), src.User.Username(), srcPass, p.name, p.name, p.name, p.name, debeziumTable, extraProps(b, "WALSHIP_BENCH_DBZ_SOURCE_PROPS")))
	sink := write("debezium-sink.properties", fmt.Sprintf(`name=%s
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=1
topics=%s
connection.url=jdbc:postgresql://%s:%s/%s
connection.username=%s
connection.password=%s
insert.mode=upsert
primary.key.mode=record_key
delete.enabled=true
schema.evolution=none
collection.name.format=%s
database.time_zone=UTC
%s`, c.sink, topic, fol.Hostname(), fol.Port(), p.name, fol.User.Username(), folPass, debeziumTable, extraProps(b, "WALSHIP_BENCH_DBZ_SINK_PROPS")))
	logCfg := write("connect-log4j2.properties", fmt.Sprintf(`status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = %s
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%%d] %%p %%m (%%c)%%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
`, filepath.Join(c.dir, "connect.log")))

	out, err := os.Create(filepath.Join(c.dir, "connect.stdout.log"))
	if err != nil {
		b.Fatal(err)
	}
	c.cmd = exec.Command("java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile="+logCfg, "-cp", filepath.Join(libs, "*"),
		"org.apache.kafka.connect.cli.ConnectStandalone", worker, source, sink)
	c.cmd.Stdout, c.cmd.Stderr = out, out
	if err := c.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	cmd := c.cmd
	go func() {
		cmd.Wait()
		out.Close()
		close(c.exited)
	}()
	b.Cleanup(func() {
		c.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// The slot's walsender ends shortly after the worker; newBenchPipe's
		// cleanup drops inactive slots only.
		for ctx.Err() == nil {
			var active bool
			if p.src.QueryRowContext(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", p.name).Scan(&active) != nil || !active {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		kc := &kafkago.Client{Addr: kafkago.TCP(strings.Split(brokers, ",")...), Timeout: 20 * time.Second}
		if _, err := kc.DeleteGroups(ctx, &kafkago.DeleteGroupsRequest{GroupIDs: []string{"connect-" + c.sink}}); err != nil {
			b.Logf("delete consumer group connect-%s: %v", c.sink, err)
		}
	})
	c.waitRunning(p)
	return c
}

// extraProps is $name's comma-separated key=value settings as properties
// lines, for trying Debezium settings other than the defaults used here.
func extraProps(b *testing.B, name string) string {
	b.Helper()
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return ""
	}
	var out strings.Builder
	for _, kv := range strings.Split(v, ",") {
		if k, _, ok := strings.Cut(kv, "="); !ok || strings.TrimSpace(k) == "" {
			b.Fatalf("%s=%q: want key=value settings separated by commas", name, v)
		}
		out.WriteString(strings.TrimSpace(kv) + "\n")
	}
	return out.String()
}

// createTopic makes topic with the given partitions (replication factor 1).
func createTopic(b *testing.B, brokers, topic string, partitions int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc := &kafkago.Client{Addr: kafkago.TCP(strings.Split(brokers, ",")...), Timeout: 20 * time.Second}
	res, err := kc.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil {
		b.Fatalf("create topic %s: %v", topic, err)
	}
	if err := res.Errors[topic]; err != nil {
		b.Fatalf("create topic %s: %v", topic, err)
	}
}

// waitRunning waits until the REST API reports both connectors and their
// tasks RUNNING and the source's slot is active (streaming has begun).
func (c *connectStandalone) waitRunning(p *benchPipe) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ok := c.running(c.source) && c.running(c.sink)
		if ok {
			var active bool
			ok = p.src.QueryRow("SELECT active FROM pg_replication_slots WHERE slot_name = $1", p.name).Scan(&active) == nil && active
		}
		if ok {
			return
		}
		select {
		case <-c.exited:
			c.b.Fatalf("Kafka Connect exited before its connectors ran\n%s", c.logTail())
		default:
		}
		if time.Now().After(deadline) {
			c.b.Fatalf("Debezium's connectors never ran (REST %s)\n%s", c.rest, c.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// running reports whether connector name and all its tasks are RUNNING; a
// FAILED one fails the benchmark with its trace.
func (c *connectStandalone) running(name string) bool {
	code, body, err := get("http://" + c.rest + "/connectors/" + name + "/status")
	if err != nil || code != 200 {
		return false
	}
	var st struct {
		Connector struct {
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"connector"`
		Tasks []struct {
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"tasks"`
	}
	if json.Unmarshal([]byte(body), &st) != nil {
		return false
	}
	if st.Connector.State == "FAILED" {
		c.b.Fatalf("Debezium connector %s failed: %s\n%s", name, st.Connector.Trace, c.logTail())
	}
	if st.Connector.State != "RUNNING" || len(st.Tasks) == 0 {
		return false
	}
	for _, t := range st.Tasks {
		if t.State == "FAILED" {
			c.b.Fatalf("Debezium connector %s's task failed: %s\n%s", name, t.Trace, c.logTail())
		}
		if t.State != "RUNNING" {
			return false
		}
	}
	return true
}

// stop ends the worker: SIGTERM, and SIGKILL after 30 s.
func (c *connectStandalone) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

// logTail is the worker log's first ERROR and WARN lines, and the end of its log
// and of its stdout.
func (c *connectStandalone) logTail() string {
	var out strings.Builder
	data, _ := os.ReadFile(filepath.Join(c.dir, "connect.log"))
	n, trace := 0, 0
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case n >= 40:
		case strings.Contains(l, "] ERROR "):
			fmt.Fprintf(&out, "%.1000s\n", l)
			n, trace = n+1, 8 // and the start of its stack trace
		case strings.Contains(l, "] WARN "):
			fmt.Fprintf(&out, "%.1000s\n", l)
			n, trace = n+1, 0
		case trace > 0 && !strings.HasPrefix(l, "["):
			fmt.Fprintf(&out, "%.300s\n", l)
			n, trace = n+1, trace-1
		default:
			trace = 0
		}
	}
	for _, name := range []string{"connect.log", "connect.stdout.log"} {
		data, _ := os.ReadFile(filepath.Join(c.dir, name))
		if len(data) > 6000 {
			data = data[len(data)-6000:]
		}
		fmt.Fprintf(&out, "----- %s (%s) -----\n%s\n", name, filepath.Join(c.dir, name), data)
	}
	return out.String()
}

// sideFigures are one pipeline's figures in the side by side.
type sideFigures struct {
	rowsPerSec, writeRowsPerSec, seconds float64
	latency                              latencyFigures
}

// benchRowsInsert is a one-row transaction of the side by side's table.
const benchRowsInsert = `INSERT INTO bench_rows SELECT g, md5(g::text), g, now() FROM (SELECT $1::bigint AS g) s`

// sideBySideWorkload runs the same workload on one pipeline that already
// streams: a warm-up that is not measured (the first events, then warm
// rows in bulk, so the JVM's JIT and walship's buffers are warm alike), the
// sustained throughput run and the fixed-rate latency run.
func sideBySideWorkload(b *testing.B, side string, src, fol *sql.DB, tail func() string, warm, rows, per, writers, rate, secs int) sideFigures {
	b.Helper()
	var next atomic.Int64
	for i := 0; i < 200; i++ {
		if _, err := src.Exec(benchRowsInsert, next.Add(1)); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitRows(b, side+" warm-up", fol, 0, 200, 3*time.Minute, tail)
	writeRows(b, src, next.Load(), warm, per, writers)
	waitRows(b, side+" warm-up", fol, next.Load(), warm, 5*time.Minute, tail)
	next.Add(int64(warm))

	// Sustained throughput: timed from the start of writing until the
	// follower holds every row.
	base := next.Load()
	start := time.Now()
	writeSecs := writeRows(b, src, base, rows, per, writers)
	waitRows(b, side+" throughput", fol, base, rows, 10*time.Minute, tail)
	f := sideFigures{seconds: time.Since(start).Seconds()}
	f.rowsPerSec = float64(rows) / f.seconds
	f.writeRowsPerSec = float64(rows) / writeSecs
	next.Add(int64(rows))

	f.latency = latencyAtRate(b, src, fol, benchRowsInsert, "bench_rows", &next, rate, secs, tail)
	return f
}

// writeRows inserts ids base+1 … base+rows in transactions of per rows
// from writers connections as fast as they go, and returns the seconds
// it took.
func writeRows(b *testing.B, src *sql.DB, base int64, rows, per, writers int) float64 {
	b.Helper()
	var claim atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := base + (claim.Add(1)-1)*int64(per) + 1
				if lo > base+int64(rows) {
					return
				}
				hi := min(lo+int64(per)-1, base+int64(rows))
				if _, err := src.Exec(`INSERT INTO bench_rows SELECT g, md5(g::text), g, now() FROM generate_series($1::bigint, $2::bigint) g`, lo, hi); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return time.Since(start).Seconds()
}

// waitRows waits until the follower holds n rows of bench_rows above id base.
func waitRows(b *testing.B, what string, fol *sql.DB, base int64, n int, timeout time.Duration, tail func() string) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	var got int
	for {
		if err := fol.QueryRow("SELECT count(*) FROM bench_rows WHERE id > $1", base).Scan(&got); err == nil && got >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: the follower holds %d of %d rows after %s\n%s", what, got, n, timeout, tail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkDebeziumSideBySide: walship (PG source → Kafka → PG follower,
// the daemon) against Debezium (PG connector → Kafka → JDBC sink → PG
// follower, Kafka Connect standalone), one after the other, each on fresh
// databases and started and streaming before the workload: the sustained
// throughput of WALSHIP_BENCH_DBZ_ROWS rows (default 50000) in
// transactions of WALSHIP_BENCH_DBZ_TXN_ROWS (default 10) from
// WALSHIP_BENCH_DBZ_WRITERS writers (default 8), first commit to all rows
// on the follower; then commit → follower-visible latency of single-row
// transactions at WALSHIP_BENCH_DBZ_RATE txn/s (default 500) for
// WALSHIP_BENCH_SECONDS (default 10). It prints both and their ratios.
func BenchmarkDebeziumSideBySide(b *testing.B) {
	testenv.Integration(b)
	libs := debeziumLibs(b)
	rows := benchkit.EnvInt(b, "WALSHIP_BENCH_DBZ_ROWS", 50000)
	warm := benchkit.EnvInt(b, "WALSHIP_BENCH_DBZ_WARMUP_ROWS", 20000)
	per := benchkit.EnvInt(b, "WALSHIP_BENCH_DBZ_TXN_ROWS", 10)
	writers := benchkit.EnvInt(b, "WALSHIP_BENCH_DBZ_WRITERS", 8)
	rate := benchkit.EnvInt(b, "WALSHIP_BENCH_DBZ_RATE", 500)
	secs := benchkit.EnvInt(b, "WALSHIP_BENCH_SECONDS", 10)
	ddl := `CREATE TABLE bench_rows (id bigint PRIMARY KEY, a text NOT NULL, b bigint NOT NULL, c timestamptz NOT NULL)`

	w := newBenchPipe(b, []string{ddl}, []string{ddl})
	w.start(w.config(false, true, 4))
	w.waitStreaming()
	wf := sideBySideWorkload(b, "walship", w.src, w.fol, w.logTail, warm, rows, per, writers, rate, secs)
	w.stop()

	d := newBenchPipe(b, []string{ddl}, []string{ddl})
	c := startDebezium(b, d, libs)
	df := sideBySideWorkload(b, "debezium", d.src, d.fol, c.logTail, warm, rows, per, writers, rate, secs)
	c.stop()

	fmt.Printf("debezium side by side: throughput (%d rows, %d-row transactions, %d writers) walship %.0f rows/s, debezium %.0f rows/s, ratio %.2f (source writes: walship run %.0f rows/s, debezium run %.0f rows/s)\n",
		rows, per, writers, wf.rowsPerSec, df.rowsPerSec, wf.rowsPerSec/df.rowsPerSec, wf.writeRowsPerSec, df.writeRowsPerSec)
	for _, q := range []struct {
		name string
		w, d float64
	}{{"p50", wf.latency.p50, df.latency.p50}, {"p99", wf.latency.p99, df.latency.p99}, {"max", wf.latency.max, df.latency.max}} {
		fmt.Printf("debezium side by side: latency %s at %d txn/s walship %.1f ms, debezium %.1f ms, ratio %.2f\n", q.name, rate, q.w, q.d, q.w/q.d)
	}
	fmt.Printf("debezium side by side: Debezium %s (JDBC sink %s) in Kafka Connect %s; source settings added %q, sink settings added %q\n",
		jarVersion(libs, "debezium-connector-postgres"), jarVersion(libs, "debezium-connector-jdbc"), jarVersion(libs, "connect-runtime"),
		os.Getenv("WALSHIP_BENCH_DBZ_SOURCE_PROPS"), os.Getenv("WALSHIP_BENCH_DBZ_SINK_PROPS"))
	fmt.Printf("debezium side by side: latency runs achieved walship %.0f txn/s (%d transactions), debezium %.0f txn/s (%d transactions)\n",
		wf.latency.achieved, wf.latency.n, df.latency.achieved, df.latency.n)
	b.ReportMetric(wf.rowsPerSec/df.rowsPerSec, "throughput-ratio")
	b.ReportMetric(wf.latency.p99/df.latency.p99, "p99-ratio")
	side := func(f sideFigures) map[string]any {
		return map[string]any{"rows_per_s": f.rowsPerSec, "seconds": f.seconds, "source_write_rows_per_s": f.writeRowsPerSec, "latency": f.latency.fields(rate)}
	}
	benchkit.WriteResult(b, "debezium", map[string]any{"benchmark": "BenchmarkDebeziumSideBySide",
		"rows": rows, "txn_rows": per, "writers": writers, "latency_rate": rate, "latency_seconds": secs,
		"debezium_version": jarVersion(libs, "debezium-connector-postgres"), "debezium_jdbc_version": jarVersion(libs, "debezium-connector-jdbc"),
		"connect_version": jarVersion(libs, "connect-runtime"), "libs": libs,
		"debezium_source_props": os.Getenv("WALSHIP_BENCH_DBZ_SOURCE_PROPS"), "debezium_sink_props": os.Getenv("WALSHIP_BENCH_DBZ_SINK_PROPS"),
		"walship": side(wf), "debezium": side(df),
		"throughput_ratio": wf.rowsPerSec / df.rowsPerSec, "p99_ratio": wf.latency.p99 / df.latency.p99,
		"p50_ratio": wf.latency.p50 / df.latency.p50})
}
