// Command benchtable prints the benchmark table of make bench: for each
// benchmark, the newest results file in bench/results (or -dir), written
// at or after -since, as one Markdown row per figure beside its baseline
// from the same run, the ratio and the target of issue #9.
//
//	go run ./cmd/benchtable [-dir bench/results] [-since 2026-11-26T10:44:00Z]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// result is one results file as benchkit.WriteResult wrote it.
type result map[string]any

func (r result) num(path ...string) float64 {
	var v any = map[string]any(r)
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return 0
		}
		v = m[k]
	}
	f, _ := v.(float64)
	return f
}

func (r result) str(k string) string { s, _ := r[k].(string); return s }

func (r result) list(k string) []result {
	var out []result
	items, _ := r[k].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func main() {
	dir := flag.String("dir", "bench/results", "the results directory")
	since := flag.String("since", "", "only files written at or after this time (RFC 3339)")
	flag.Parse()
	var after time.Time
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchtable: -since: %v\n", err)
			os.Exit(2)
		}
		after = t
	}
	newest, err := load(*dir, after)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		os.Exit(1)
	}
	if len(newest) == 0 {
		fmt.Fprintf(os.Stderr, "benchtable: no results in %s since %s\n", *dir, *since)
		os.Exit(1)
	}
	print(os.Stdout, newest)
}

// load returns the newest result of each benchmark written at or after
// after.
func load(dir string, after time.Time) (map[string]result, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	newest := map[string]result{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		at, _ := time.Parse(time.RFC3339, r.str("date"))
		if at.Before(after) {
			continue
		}
		name := r.str("benchmark")
		if r.num("tables") > 1 {
			name += "/tables" // several tables at once: a figure of its own
		}
		if r.str("envelope") == "rows" {
			// The compact log's figures stand beside the default's.
			name += "/rows"
		}
		if prev, ok := newest[name]; ok && prev.str("date") >= r.str("date") {
			continue
		}
		newest[name] = r
	}
	return newest, nil
}

func rate(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.2fM", f/1e6)
	case f >= 1e4:
		return fmt.Sprintf("%.0fk", f/1e3)
	case f >= 1e3:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func print(w io.Writer, res map[string]result) {
	var machine, revision string
	for _, r := range res {
		if m, ok := r["machine"].(map[string]any); ok && machine == "" {
			machine = fmt.Sprintf("%v, %v vCPUs, kernel %v", m["cpu"], m["nproc"], m["kernel"])
		}
		if d := r.str("git_revision"); d > revision {
			revision = d
		}
	}
	fmt.Fprintf(w, "Machine: %s. Revision %.12s.\n\n", machine, revision)
	fmt.Fprintln(w, "| figure | walship | baseline (same run) | ratio | target |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	// variants: the default envelope's result, then the compact log's.
	variants := []struct{ key, label string }{{"", ""}, {"/rows", " (`rows` envelope)"}}
	suffix := "" // a variant's label, after the figure's
	row := func(figure, walship, baseline, ratio, target string) {
		fmt.Fprintf(w, "| %s%s | %s | %s | %s | %s |\n", figure, suffix, walship, baseline, ratio, target)
	}
	// each renders the results of name, the default envelope's then the
	// compact log's, each figure labelled with its variant.
	each := func(name string, render func(r result)) {
		for _, v := range variants {
			if r, ok := res[name+v.key]; ok {
				suffix = v.label
				render(r)
			}
		}
		suffix = ""
	}
	each("BenchmarkSourceVsRecvlogical", func(r result) {
		row(fmt.Sprintf("PG source → Kafka (acks=all), %.0f row changes", r.num("changes")),
			rate(r.num("walship_rows_per_s"))+" rows/s", "`pg_recvlogical` "+rate(r.num("recvlogical_rows_per_s"))+" rows/s",
			fmt.Sprintf("%.2f", r.num("ratio")), "≥ 0.8: "+mark(r.num("ratio") >= 0.8))
	})
	each("BenchmarkBinlogSourceVsRawSyncer", func(r result) {
		row(fmt.Sprintf("MariaDB binlog → Kafka, %.0f row changes", r.num("changes")),
			rate(r.num("walship_rows_per_s"))+" rows/s", "raw go-mysql `BinlogSyncer` "+rate(r.num("raw_rows_per_s"))+" rows/s",
			fmt.Sprintf("%.2f", r.num("ratio")), "≥ 0.5: "+mark(r.num("ratio") >= 0.5))
	})
	if r, ok := res["BenchmarkSinkParallelApply"]; ok {
		for _, e := range r.list("engines") {
			row(fmt.Sprintf("Kafka → %v follower, %.0f independent transactions", e["engine"], e.num("txns")),
				fmt.Sprintf("%.0f workers: %s txn/s", e.num("n"), rate(e.num("workers_n_txn_per_s"))),
				"1 worker: "+rate(e.num("workers_1_txn_per_s"))+" txn/s", fmt.Sprintf("%.2f", e.num("ratio")), "> 1.5: "+mark(e.num("ratio") > 1.5))
			if d := e.num("workers_n_dependencies_txn_per_s"); d > 0 {
				row(fmt.Sprintf("same, `commit_order: source` (default) vs `dependencies`, %.0f workers", e.num("n")),
					rate(e.num("workers_n_txn_per_s"))+" txn/s", "`dependencies` "+rate(d)+" txn/s",
					fmt.Sprintf("%.2f", e.num("commit_order_ratio")), "≥ 0.8: "+mark(e.num("commit_order_ratio") >= 0.8))
			}
		}
	}
	each("BenchmarkSinkVsCopy", func(r result) {
		row(fmt.Sprintf("Kafka → PG follower, %.0f inserts in %.0f-row transactions", r.num("rows"), r.num("txn_rows")),
			rate(r.num("walship_rows_per_s"))+" rows/s", "`COPY` (pgx) "+rate(r.num("copy_rows_per_s"))+" rows/s",
			fmt.Sprintf("%.2f", r.num("ratio")), "≥ 0.5: "+mark(r.num("ratio") >= 0.5))
	})
	if r, ok := res["BenchmarkLatency"]; ok {
		for _, l := range r.list("rates") {
			target := "—"
			if l.num("target_rate") == 5000 {
				target = "p99 ≤ 100 ms: " + mark(l.num("p99_ms") <= 100)
			}
			row(fmt.Sprintf("commit → follower-visible, single-row txns at %.0f/s (achieved %.0f/s)", l.num("target_rate"), l.num("achieved_rate")),
				fmt.Sprintf("p50 %.0f ms, p99 %.0f ms, max %.0f ms", l.num("p50_ms"), l.num("p99_ms"), l.num("max_ms")), "—", "—", target)
		}
	}
	if r, ok := res["BenchmarkLargeTransaction"]; ok {
		first, rss := r.num("first_event_seconds"), r.num("peak_rss_bytes")
		row(fmt.Sprintf("%.0f-row transaction", r.num("rows")),
			fmt.Sprintf("first event in Kafka %.2f s after COMMIT, applied %.1f s after, peak RSS %.0f MiB", first, r.num("applied_seconds"), rss/(1<<20)),
			"—", "—", fmt.Sprintf("≤ 1 s: %s; RSS ≤ 256 MB: %s", mark(first <= 1), mark(rss <= 256e6)))
	}
	each("BenchmarkInitialLoad", func(r result) {
		row(fmt.Sprintf("initial load, %.0f-row table → PG follower", r.num("rows")),
			fmt.Sprintf("%s rows/s (%.0f s), peak RSS %.0f MiB", rate(r.num("walship_rows_per_s")), r.num("walship_seconds"), r.num("peak_rss_bytes")/(1<<20)),
			"`pg_dump \\| psql` "+rate(r.num("pg_dump_psql_rows_per_s"))+" rows/s", fmt.Sprintf("%.2f", r.num("ratio")), "≥ 0.5: "+mark(r.num("ratio") >= 0.5))
	})
	each("BenchmarkInitialLoad/tables", func(r result) {
		row(fmt.Sprintf("initial load, %.0f tables of %.0f rows at once → PG follower", r.num("tables"), r.num("rows")/r.num("tables")),
			fmt.Sprintf("%s rows/s (%.0f s), peak RSS %.0f MiB", rate(r.num("walship_rows_per_s")), r.num("walship_seconds"), r.num("peak_rss_bytes")/(1<<20)),
			"`pg_dump \\| psql` "+rate(r.num("pg_dump_psql_rows_per_s"))+" rows/s", fmt.Sprintf("%.2f", r.num("ratio")), "—")
	})
	each("BenchmarkInitialLoadMariaDB", func(r result) {
		row(fmt.Sprintf("initial load, %.0f-row table → MariaDB follower", r.num("rows")),
			fmt.Sprintf("%s rows/s (%.0f s), peak RSS %.0f MiB", rate(r.num("walship_rows_per_s")), r.num("walship_seconds"), r.num("peak_rss_bytes")/(1<<20)),
			"`mariadb-dump \\| mariadb` "+rate(r.num("mariadb_dump_rows_per_s"))+" rows/s", fmt.Sprintf("%.2f", r.num("ratio")), "≥ 0.5: "+mark(r.num("ratio") >= 0.5))
	})
	each("BenchmarkInitialLoadIndexes", func(r result) {
		row(fmt.Sprintf("initial load, %.0f-row table with 3 secondary indexes → PG follower, `indexes: copy`", r.num("rows")),
			fmt.Sprintf("%.1f s", r.num("copy_seconds")), fmt.Sprintf("`primary_key_only` %.1f s", r.num("primary_key_only_seconds")),
			fmt.Sprintf("%.2f×", r.num("ratio")), "< 1.3×: "+mark(r.num("ratio") < 1.3))
	})
	each("BenchmarkIncrementalSnapshot", func(r result) {
		row(fmt.Sprintf("incremental snapshot (`walship snapshot`) of a %.0f-row table → PG follower", r.num("rows")),
			fmt.Sprintf("%s rows/s (%.0f s); streaming p99 %.0f ms during it, %.0f ms without", rate(r.num("incremental_rows_per_s")), r.num("incremental_seconds"),
				r.num("latency_during", "p99_ms"), r.num("latency_without", "p99_ms")),
			"initial load "+rate(r.num("initial_rows_per_s"))+" rows/s", fmt.Sprintf("%.2f", r.num("ratio")), "—")
	})
	each("BenchmarkFilterCost", func(r result) {
		row(fmt.Sprintf("source → Kafka with a hashed column and a where rule, %.0f rows", r.num("rows")),
			rate(r.num("source_filtered_rows_per_s"))+" rows/s", "no rules "+rate(r.num("source_plain_rows_per_s"))+" rows/s",
			fmt.Sprintf("%.2f", r.num("source_ratio")), "—")
		row(fmt.Sprintf("Kafka → PG follower with a where rule and an excluded column, %.0f rows", r.num("rows")),
			rate(r.num("sink_filtered_rows_per_s"))+" rows/s", "no rules "+rate(r.num("sink_plain_rows_per_s"))+" rows/s",
			fmt.Sprintf("%.2f", r.num("sink_ratio")), "—")
	})
	each("BenchmarkReplayVsCopy", func(r result) {
		row(fmt.Sprintf("rebuild of a PG follower from the log (`walship replay`), %.0f rows", r.num("rows")),
			fmt.Sprintf("%s rows/s (%.0f s)", rate(r.num("replay_rows_per_s")), r.num("replay_seconds")),
			"`COPY` (pgx) "+rate(r.num("copy_rows_per_s"))+" rows/s", fmt.Sprintf("%.2f", r.num("ratio")), "≥ 0.5: "+mark(r.num("ratio") >= 0.5))
	})
	if r, ok := res["BenchmarkStepLoad"]; ok {
		row("sustained: highest step with flat lag (single-row txns)",
			fmt.Sprintf("%s txn/s (step %s/s; ended by %s)", rate(r.num("highest_flat_achieved_rate")), rate(r.num("highest_flat_target")),
				strings.SplitN(r.str("limited_by"), " ", 2)[0]), "—", "—", "—")
	}
	if r, ok := res["BenchmarkHotRow"]; ok {
		follower := map[string]string{"postgres": "PostgreSQL", "mysql": "MariaDB", "sqlite": "SQLite"}
		for i, s := range r.list("sinks") {
			lagOK := s.num("lag_max_seconds") <= 5 && s.num("catch_up_seconds") <= 5
			stmts := "statements n/a"
			if n := s.num("statements_per_txn"); n > 0 {
				stmts = fmt.Sprintf("%.1f statements/txn", n)
			}
			figure := fmt.Sprintf("hot-row OLTP (TPC-B-like, %.0f clients, %.0f s at the %s source's full rate, 3 sinks together) → %s follower",
				r.num("clients"), r.num("seconds"), r.str("source_engine"), follower[s.str("engine")])
			if i > 0 {
				figure = "same → " + follower[s.str("engine")] + " follower"
			}
			row(figure,
				fmt.Sprintf("lag max %.1f s, p99 %.1f s, caught up in %.1f s; apply-only %s txn/s, %.0f CPU-µs/txn, %s",
					s.num("lag_max_seconds"), s.num("lag_p99_seconds"), s.num("catch_up_seconds"), rate(s.num("apply_only_txn_per_s")), s.num("cpu_us_per_txn"), stmts),
				"source "+rate(r.num("source_txn_per_s"))+" txn/s", fmt.Sprintf("%.2f", s.num("apply_only_ratio")),
				fmt.Sprintf("lag ≤ 5 s and caught up ≤ 5 s: %s; apply-only ≥ 3×: %s", mark(lagOK), mark(s.num("apply_only_ratio") >= 3)))
		}
	}
	if r, ok := res["TestBenchFailover"]; ok {
		row(fmt.Sprintf("PostgreSQL 18 failover (%.0f promotions): promotion → the new leader's first change on a follower", r.num("failovers")),
			fmt.Sprintf("p50 %.2f s, max %.2f s", r.num("visible_p50_seconds"), r.num("visible_max_seconds")), "—", "—",
			"max ≤ 10 s: "+mark(r.num("visible_max_seconds") <= 10))
	}
	if r, ok := res["TestBenchHA"]; ok {
		row(fmt.Sprintf("cluster takeover after kill -9 of a member (%.0f faults, default timing)", r.num("faults")),
			fmt.Sprintf("p50 %.2f s, max %.2f s", r.num("takeover_p50_seconds"), r.num("takeover_max_seconds")), "—", "—",
			"max ≤ 15 s: "+mark(r.num("takeover_max_seconds") <= 15))
		row(fmt.Sprintf("cluster of 2 members vs 1, a source and 4 sinks, %.0f rows", r.num("rows")),
			rate(r.num("two_members_rows_per_s"))+" rows/s", "1 member "+rate(r.num("one_member_rows_per_s"))+" rows/s",
			fmt.Sprintf("%.2f", r.num("ratio")), "—")
	}
	for _, pair := range []string{"postgres", "mariadb"} {
		if r, ok := res["TestMultiLeaderPartition/"+pair]; ok {
			row(fmt.Sprintf("multi-leader PostgreSQL ↔ %s, link cut for %.0f s under writes on both: heal → both equal", pair, r.num("partition_seconds")),
				fmt.Sprintf("%.1f s", r.num("heal_to_equal_seconds")), "—", "—", "—")
		}
	}
	if r, ok := res["BenchmarkConflictCheckCost"]; ok {
		for _, e := range r.list("engines") {
			row(fmt.Sprintf("Kafka → %v follower, %.0f transactions, every change checked against the follower's row (`conflicts: keep_remote`) vs not, %.0f workers", e["engine"], r.num("txns"), e.num("workers")),
				rate(e.num("checked_txn_per_s"))+" txn/s", "`policy: error` "+rate(e.num("plain_txn_per_s"))+" txn/s",
				fmt.Sprintf("%.2f", e.num("ratio")), "—")
		}
	}
	if r, ok := res["BenchmarkDebeziumSideBySide"]; ok {
		row(fmt.Sprintf("end-to-end throughput, %.0f rows in %.0f-row txns, vs Debezium %s + JDBC sink", r.num("rows"), r.num("txn_rows"), r.str("debezium_version")),
			rate(r.num("walship", "rows_per_s"))+" rows/s", "Debezium "+rate(r.num("debezium", "rows_per_s"))+" rows/s",
			fmt.Sprintf("%.2f", r.num("throughput_ratio")), "≥ 3: "+mark(r.num("throughput_ratio") >= 3))
		row(fmt.Sprintf("p99 commit → visible at %.0f txn/s, vs Debezium", r.num("latency_rate")),
			fmt.Sprintf("%.0f ms", r.num("walship", "latency", "p99_ms")), fmt.Sprintf("Debezium %.0f ms", r.num("debezium", "latency", "p99_ms")),
			fmt.Sprintf("%.2f", r.num("p99_ratio")), "≤ 0.5: "+mark(r.num("p99_ratio") <= 0.5))
	}
	var names []string
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "\nFrom: %s.\n", strings.Join(names, ", "))
}
