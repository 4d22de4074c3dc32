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
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "| 1 rows/s") {
		t.Errorf("an older result was used:\n%s", out)
	}
}
