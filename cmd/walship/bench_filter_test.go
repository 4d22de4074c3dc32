package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/benchkit"
)

// BenchmarkFilterCost (issue 18): what the columns: and where: rules cost.
// Two source databases get the same rows (WALSHIP_BENCH_ROWS, default
// 200k, in 1000-row transactions) with their daemons stopped; then
//   - source → Kafka: each daemon catches up (start → every change durable
//     in Kafka), one plain, one with a hashed column and a where rule that
//     keeps half of the rows;
//   - Kafka → follower: the plain log is applied twice, into an empty
//     follower each time, plainly and with a sink where rule (half the
//     rows) and an excluded column.
//
// Rates count the rows read; the figures are the ratios filtered / plain
// of the same run.
func BenchmarkFilterCost(b *testing.B) {
	rows := benchkit.EnvInt(b, "WALSHIP_BENCH_ROWS", 200000)
	per := 1000
	workers := benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4)
	plain := newBenchPipe(b, []string{benchRowsDDL}, nil)
	filtered := newBenchPipe(b, []string{benchRowsDDL}, nil)
	for _, p := range []*benchPipe{plain, filtered} {
		p.start(p.config(false, false, 0))
		p.waitStreaming()
		p.stop()
		for lo := 1; lo <= rows; lo += per {
			if _, err := p.src.Exec(`INSERT INTO bench_rows SELECT g, md5(g::text), g, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series($1::bigint, $2::bigint) g`, lo, min(lo+per-1, rows)); err != nil {
				b.Fatal(err)
			}
		}
	}
	edit := func(path, old, new string) string {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		text := strings.Replace(string(raw), old, new, 1)
		if text == string(raw) {
			b.Fatalf("config %s: %q not found", path, old)
		}
		out := strings.TrimSuffix(path, ".yaml") + "-filtered.yaml"
		if err := os.WriteFile(out, []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
		return out
	}
	source := func(p *benchPipe, cfg string) float64 {
		start := time.Now()
		p.start(cfg)
		p.waitDurable(10 * time.Minute)
		secs := time.Since(start).Seconds()
		p.stop()
		return float64(rows) / secs
	}
	plainSrc := source(plain, plain.config(false, false, 0))
	srcRules := fmt.Sprintf("    topic_prefix: %s.src\n    hash_key: bench\n    columns: { public.bench_rows: { hash: [a] } }\n    where: { public.bench_rows: \"b %% 2 == 0\" }\n", filtered.name)
	filteredSrc := source(filtered, edit(filtered.config(false, false, 0), fmt.Sprintf("    topic_prefix: %s.src\n", filtered.name), srcRules))

	// The sinks read the plain log (external source), into the plain
	// follower, then into the other follower with the sink's rules.
	sink := func(p *benchPipe, cfg, table string, want int) float64 {
		start := time.Now()
		p.start(cfg)
		for p.count(table) < want {
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("the sink never applied %d rows\n%s", want, p.logTail())
			}
			time.Sleep(50 * time.Millisecond)
		}
		secs := time.Since(start).Seconds()
		p.stop()
		return float64(rows) / secs
	}
	plainSink := sink(plain, plain.config(true, true, workers), "bench_rows", rows)
	cfg := plain.config(true, true, workers)
	cfg = edit(cfg, plain.folDSN, filtered.folDSN)
	cfg = edit(cfg, "from: [src], ", `from: [src], where: { public.bench_rows: "b % 2 == 0" }, columns: { public.bench_rows: { exclude: [c] } }, `)
	filtered.fol.Exec(`DROP TABLE IF EXISTS bench_rows`)
	filtered.http = plain.http
	filteredSink := sink(filtered, cfg, "bench_rows", rows/2)

	fmt.Printf("filter cost: source→kafka %d rows plain %.0f rows/s, hash + where %.0f rows/s, ratio %.2f; kafka→PostgreSQL follower plain %.0f rows/s, where + exclude %.0f rows/s, ratio %.2f\n",
		rows, plainSrc, filteredSrc, filteredSrc/plainSrc, plainSink, filteredSink, filteredSink/plainSink)
	b.ReportMetric(filteredSrc/plainSrc, "source_ratio")
	b.ReportMetric(filteredSink/plainSink, "sink_ratio")
	benchkit.WriteResult(b, "filter-cost", map[string]any{"benchmark": "BenchmarkFilterCost", "envelope": benchEnvelope(), "rows": rows, "txn_rows": per, "workers": workers,
		"source_plain_rows_per_s": plainSrc, "source_filtered_rows_per_s": filteredSrc, "source_ratio": filteredSrc / plainSrc,
		"sink_plain_rows_per_s": plainSink, "sink_filtered_rows_per_s": filteredSink, "sink_ratio": filteredSink / plainSink,
		"note": "source: hash [a] + where b % 2 == 0 (keeps half) against none, catch-up from stopped; sink: where b % 2 == 0 + exclude [c] against none, same log, empty follower; rates count rows read"})
}
