package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/benchkit"
)

// BenchmarkInitialLoadIndexes (issue 26): the initial load of a table of
// WALSHIP_BENCH_LOAD_ROWS rows (default 5000000; the bench_rows shape)
// with three secondary indexes at the source (on a, b and c), into a PG
// follower table walship creates: with indexes: copy (the indexes built
// after the load) against indexes: primary_key_only, in the same run.
// Each is timed from the daemon's start until the follower holds every
// row and, with copy, every index. Goal: copy within 1.3× of
// primary_key_only.
func BenchmarkInitialLoadIndexes(b *testing.B) {
	rows := benchkit.EnvInt(b, "WALSHIP_BENCH_LOAD_ROWS", 5000000)
	workers := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4)
	secs := map[string]float64{}
	for _, mode := range []string{"primary_key_only", "copy"} {
		ddl := []string{benchRowsDDL, `CREATE INDEX bench_rows_a ON bench_rows (a)`, `CREATE INDEX bench_rows_b ON bench_rows (b)`,
			`CREATE INDEX bench_rows_c ON bench_rows (c)`}
		p := newBenchPipe(b, ddl, nil) // walship creates the follower table
		p.tables = []string{"bench_rows"}
		if _, err := p.src.Exec(`INSERT INTO bench_rows SELECT g, md5(g::text), g, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, $1::bigint) g`, rows); err != nil {
			b.Fatal(err)
		}
		if _, err := p.src.Exec("VACUUM (ANALYZE) bench_rows"); err != nil {
			b.Fatal(err)
		}
		path := p.config(false, true, workers)
		cfg, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(cfg), "from: [src],", "from: [src], indexes: "+mode+",", 1)), 0o600); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		p.start(path)
		_, loaded := p.waitLoaded(rows, start)
		if mode == "copy" {
			for {
				var n int
				p.fol.QueryRow(`SELECT count(*) FROM pg_index WHERE indrelid = to_regclass('public.bench_rows') AND NOT indisprimary`).Scan(&n)
				if n == 3 {
					loaded = time.Since(start)
					break
				}
				if time.Since(start) > 90*time.Minute {
					b.Fatalf("the follower has %d of 3 indexes\n%s", n, p.logTail())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		secs[mode] = loaded.Seconds()
		p.stop()
		b.Logf("indexes: %s: %d rows in %.1f s", mode, rows, secs[mode])
	}
	ratio := secs["copy"] / secs["primary_key_only"]
	fmt.Printf("initial load with 3 secondary indexes (%d rows): indexes: copy %.1f s, primary_key_only %.1f s, ratio %.2f\n",
		rows, secs["copy"], secs["primary_key_only"], ratio)
	b.ReportMetric(ratio, "ratio")
	benchkit.WriteResult(b, "initial-load-indexes", map[string]any{"benchmark": "BenchmarkInitialLoadIndexes", "envelope": benchEnvelope(),
		"rows": rows, "workers": workers, "copy_seconds": secs["copy"], "primary_key_only_seconds": secs["primary_key_only"], "ratio": ratio,
		"note": "daemon start until the PG follower holds every row (and, with copy, its 3 secondary indexes), walship creating the follower table"})
}
