package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/internal/benchkit"
)

// BenchmarkIncrementalSnapshot (issue 17): a table of
// WALSHIP_BENCH_LOAD_ROWS rows (default 1000000; the bench_rows shape) is
// loaded into a PG follower by the initial snapshot (timed, daemon start
// until the follower holds every row), then read again by an incremental
// snapshot (timed, request until the source reports it done and the
// follower applied it), in the same run: the incremental rate against the
// initial-load rate.
func BenchmarkIncrementalSnapshot(b *testing.B) {
	rows := benchkit.EnvInt(b, "WALSHIP_BENCH_LOAD_ROWS", 1000000)
	rate, secs := benchkit.EnvInt(b, "WALSHIP_BENCH_RATE", 1000), benchkit.EnvInt(b, "WALSHIP_BENCH_SECONDS", 5)
	p := newLoadPipe(b, rows, 1)
	lat := `CREATE TABLE lat (id bigint PRIMARY KEY, v bigint NOT NULL)`
	for _, db := range []*sql.DB{p.src, p.fol} {
		if _, err := db.Exec(lat); err != nil {
			b.Fatal(err)
		}
	}
	path := p.config(false, true, benchkit.EnvInt(b, "WALSHIP_BENCH_WORKERS", 4))
	cfg, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(cfg), "http: { listen:", `http: { token: "bench", listen:`, 1)), 0o600); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	p.start(path)
	_, loaded := p.waitLoaded(rows, start)
	initial := loaded.Seconds()
	// The streaming workload's latency without the snapshot, then during.
	var next atomic.Int64
	for i := 0; i < 200; i++ {
		if _, err := p.src.Exec("INSERT INTO lat VALUES ($1, $1)", next.Add(1)); err != nil {
			b.Fatal(err)
		}
	}
	for p.count("lat") < int(next.Load()) {
		time.Sleep(20 * time.Millisecond)
	}
	quiet := latencyAtRate(b, p.src, p.fol, "INSERT INTO lat VALUES ($1, $1)", "lat", &next, rate, secs, p.logTail)

	req, _ := http.NewRequest(http.MethodPost, "http://"+p.http+"/api/v1/sources/src/snapshots", strings.NewReader(`{"tables":["public.bench_rows"]}`))
	req.Header.Set("Authorization", "Bearer bench")
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Fatalf("snapshot request: %s", resp.Status)
	}
	during := latencyAtRate(b, p.src, p.fol, "INSERT INTO lat VALUES ($1, $1)", "lat", &next, rate, secs, p.logTail)
	for {
		_, body, err := get("http://" + p.http + "/api/v1/status")
		var doc httpapi.StatusDoc
		if err == nil && json.Unmarshal([]byte(body), &doc) == nil && len(doc.Sources) == 1 && len(doc.Sources[0].Snapshots) == 0 && time.Since(t0) > time.Second {
			break
		}
		if time.Since(t0) > 60*time.Minute {
			b.Fatalf("the incremental snapshot never finished\n%s", p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Done at the source once its last chunk is durable; the follower
	// applies it right after: wait until nothing is queued.
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body, err := get("http://" + p.http + "/api/v1/status")
		var doc httpapi.StatusDoc
		if err == nil && json.Unmarshal([]byte(body), &doc) == nil && len(doc.Sinks) == 1 && len(doc.Sinks[0].Sources) == 1 &&
			doc.Sinks[0].Sources[0].LagTxns == 0 {
			break
		}
	}
	incr := time.Since(t0).Seconds()
	p.stop()
	ratio := initial / incr
	fmt.Printf("incremental snapshot (%d rows): %.0f rows/s (%.1f s), initial load %.0f rows/s (%.1f s), ratio %.2f; streaming at %d txn/s: p99 %.1f ms during it, %.1f ms without (p50 %.1f / %.1f ms)\n",
		rows, float64(rows)/incr, incr, float64(rows)/initial, initial, ratio, rate, during.p99, quiet.p99, during.p50, quiet.p50)
	b.ReportMetric(ratio, "ratio")
	benchkit.WriteResult(b, "incremental-snapshot", map[string]any{"benchmark": "BenchmarkIncrementalSnapshot", "envelope": benchEnvelope(), "rows": rows,
		"incremental_rows_per_s": float64(rows) / incr, "incremental_seconds": incr, "initial_rows_per_s": float64(rows) / initial, "initial_seconds": initial, "ratio": ratio,
		"latency_during": during.fields(rate), "latency_without": quiet.fields(rate),
		"note": "initial: daemon start until the PG follower holds every row; incremental: request until the snapshot is done and the follower caught up, the same table, same run"})
}
