package main

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
)

// BenchmarkInitialLoadMariaDB: the initial snapshot of one MariaDB table
// of WALSHIP_BENCH_LOAD_ROWS rows (default 5000000; bench_rows' shape in
// MariaDB types), filled before the daemon starts, timed from the daemon's
// start until the MariaDB follower's sink committed every row (snapshot →
// Kafka → sink; a count(*) then confirms them, untimed). The baseline, in
// the same run and after it, is mariadb-dump of the same table piped into
// the mariadb client on a fresh database of the follower server
// (--single-transaction, extended inserts: what the tool does by default).
func BenchmarkInitialLoadMariaDB(b *testing.B) {
	rows := benchkit.EnvInt(b, "WALSHIP_BENCH_LOAD_ROWS", 5000000)
	workers := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4)
	srcRoot, folRoot := testenv.MySQLSource(b), testenv.MySQLFollower(b)
	p := &benchPipe{b: b, name: fmt.Sprintf("walship_benchmy_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6), dir: b.TempDir()}
	dumpDB := p.name + "_dump"
	src, fol := openB(b, "mysql", srcRoot), openB(b, "mysql", folRoot)
	for _, q := range []struct {
		db   *sql.DB
		stmt string
	}{{src, "CREATE DATABASE " + p.name}, {fol, "CREATE DATABASE " + p.name}, {fol, "CREATE DATABASE " + dumpDB}} {
		if _, err := q.db.Exec(q.stmt); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		p.stop()
		src.Exec("DROP DATABASE IF EXISTS " + p.name)
		fol.Exec("DROP DATABASE IF EXISTS " + p.name)
		fol.Exec("DROP DATABASE IF EXISTS " + dumpDB)
		testenv.DropTopics(b, p.name+".")
	})
	p.src, p.fol = openB(b, "mysql", srcRoot+p.name), openB(b, "mysql", folRoot+p.name)
	p.tables = []string{"bench_rows"} // what waitLoaded counts
	t0 := time.Now()
	if _, err := p.src.Exec(`CREATE TABLE bench_rows (id bigint PRIMARY KEY, a varchar(32) NOT NULL, b bigint NOT NULL, c datetime(6) NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	// The sequence engine's seq_1_to_N fills it in one statement.
	if _, err := p.src.Exec(fmt.Sprintf(`INSERT INTO bench_rows SELECT seq, md5(seq), seq, timestamp '2026-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_%d`, rows)); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d rows in %s", rows, time.Since(t0).Round(time.Millisecond))

	p.http = freePortB(b)
	cfg := filepath.Join(p.dir, "walship.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: %q, pprof: true }
log: { level: %s }
kafka: { brokers: [%q], topic_prefix: %s, partitions: 8, envelope: %s }
sources:
  - name: src
    topic_prefix: %s.src
    mysql: { addr: %q, user: root, server_id: %d, flavor: mariadb, tables: [%s.bench_rows] }
sinks:
  - { name: myf, from: [src], workers: %d, mysql: { dsn: %q } }
`, filepath.Join(p.dir, "state"), p.http, logLevel(), testenv.Kafka(b), p.name, benchEnvelope(), p.name,
		hostPort(srcRoot), 30000+os.Getpid()%20000, p.name, workers, folRoot+p.name)), 0o600)
	start := time.Now()
	p.start(cfg)
	if os.Getenv("WALSHIP_BENCH_CPUPROFILE") != "" {
		for _, ok := p.sinkApplied(); !ok && time.Since(start) < 30*time.Second; _, ok = p.sinkApplied() {
			time.Sleep(10 * time.Millisecond) // the profile needs the HTTP server up
		}
	}
	waitProfile := p.profile("load-mariadb", benchkit.EnvInt(b, "WALSHIP_BENCH_PROFILE_SECONDS", 20))
	streamed, loaded := p.waitLoaded(rows, start)
	waitProfile()
	hwm := procBytes(p.cmd.Process.Pid, "VmHWM")
	cpu := p.stopCPU()
	walSecs := loaded.Seconds()

	dumpSecs := mariadbDumpRestore(b, srcRoot, p.name, dumpDB, "bench_rows")
	var n int
	if err := fol.QueryRow("SELECT count(*) FROM " + dumpDB + ".bench_rows").Scan(&n); err != nil || n != rows {
		b.Fatalf("mariadb-dump|mariadb restored %d rows (%v), want %d", n, err, rows)
	}
	walRate, dumpRate := float64(rows)/walSecs, float64(rows)/dumpSecs
	fmt.Printf("initial load to MariaDB (%d rows): walship %.0f rows/s (%.1f s; snapshot durable in Kafka at %.1f s), mariadb-dump|mariadb %.0f rows/s (%.1f s), ratio %.2f, walship peak RSS %d MiB, CPU %.1f s\n",
		rows, walRate, walSecs, streamed.Seconds(), dumpRate, dumpSecs, walRate/dumpRate, hwm>>20, cpu.Seconds())
	b.ReportMetric(walRate/dumpRate, "ratio")
	benchkit.WriteResult(b, "initial-load-mariadb", map[string]any{"benchmark": "BenchmarkInitialLoadMariaDB", "rows": rows, "workers": workers,
		"envelope": benchEnvelope(), "walship_rows_per_s": walRate, "walship_seconds": walSecs, "snapshot_durable_seconds": streamed.Seconds(),
		"mariadb_dump_rows_per_s": dumpRate, "mariadb_dump_seconds": dumpSecs, "ratio": walRate / dumpRate, "peak_rss_bytes": hwm, "walship_cpu_seconds": cpu.Seconds(),
		"note": "walship: daemon start until the MariaDB sink committed every row (MariaDB source snapshot, Kafka acks=all); mariadb-dump --single-transaction of the table | mariadb into a fresh database of the follower server"})
}

// mariadbDumpRestore pipes mariadb-dump of db.table on the server of
// srcRoot into the mariadb client on database into of the follower server
// and returns the seconds the pipe took.
func mariadbDumpRestore(b *testing.B, srcRoot, db, into, table string) float64 {
	args := func(dsn string) []string {
		host, port, err := net.SplitHostPort(hostPort(dsn))
		if err != nil {
			b.Fatal(err)
		}
		return []string{"-h", host, "-P", port, "-u", "root", "--protocol=TCP"}
	}
	dump := exec.Command("mariadb-dump", append(args(srcRoot), "--single-transaction", "--skip-lock-tables", db, table)...)
	restore := exec.Command("mariadb", append(args(testenv.MySQLFollower(b)), into)...)
	return pipeSeconds(b, dump, restore)
}
