package main

import (
	"strings"
	"testing"
	"time"
)

func TestTableTakesTheNewestResultSince(t *testing.T) {
	res, err := load("testdata", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	print(&b, res)
	out := b.String()
	for _, want := range []string{
		"| Kafka → PG follower, 200000 inserts in 1000-row transactions | 158k rows/s | `COPY` (pgx) 1.06M rows/s | 0.15 | ≥ 0.5: not met |",
		"single-row txns at 5000/s (achieved 3714/s) | p50 26 ms, p99 85 ms, max 168 ms | — | — | p99 ≤ 100 ms: met |",
		"first event in Kafka 1.69 s after COMMIT, applied 13.0 s after, peak RSS 176 MiB | — | — | ≤ 1 s: not met; RSS ≤ 256 MB: met |",
		"Revision d923425dbe11.",
		"| hot-row OLTP (TPC-B-like, 8 clients, 30 s at the postgres source's full rate, 3 sinks together) → PostgreSQL follower | lag max 27.6 s, p99 27.6 s, caught up in 56.3 s; apply-only 845 txn/s, 484 CPU-µs/txn, 4.1 statements/txn | source 747 txn/s | 1.13 | lag ≤ 5 s and caught up ≤ 5 s: not met; apply-only ≥ 3×: not met |",
		"| same → SQLite follower | lag max 28.6 s, p99 28.5 s, caught up in 222.1 s; apply-only 103 txn/s, 9544 CPU-µs/txn, statements n/a | source 747 txn/s | 0.14 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "| 1 rows/s") {
		t.Errorf("an older result was used:\n%s", out)
	}
}
