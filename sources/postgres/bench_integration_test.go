package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/sources/sourcetest"
)

// BenchmarkSourceVsRecvlogical compares the PostgreSQL source's decode +
// publish rate (pgoutput → Kafka, acks=all, until the slot is acknowledged)
// with pg_recvlogical draining the same WAL to /dev/null: the rate of
// PostgreSQL's own decoder and walsender, the ceiling for any consumer.
//
// Both slots are created before the load is written; each consumer then
// drains the already-written WAL from its slot's start. One iteration is one
// whole measurement: run it with -benchtime=1x (make bench-source).
//
//	WALSHIP_BENCH_ROWS   inserted rows (default 200000)
//	WALSHIP_BENCH_TXN    rows per transaction (default 100)
//	WALSHIP_BENCH_OUT    results folder (default <repo>/bench/results; "-" = none)
//	WALSHIP_PG_BIN       PostgreSQL binaries (deploy/local/env.sh sets it)
//
// Every 10th transaction is followed by one updating its rows again, so the
// stream holds rows + rows/10 row changes; the rates count row changes.
func BenchmarkSourceVsRecvlogical(b *testing.B) {
	base := testenv.PGSource(b)
	recvlogical := pgBinary(b, "pg_recvlogical")
	runs, rl, ws := sourcetest.Bench(b, "recvlogical_rows/s", "walship/recvlogical",
		func(l sourcetest.BenchLoad) benchRun { return runSourceBench(b, base, recvlogical, l) },
		func(r benchRun) (float64, float64) { return r.RecvlogicalRate, r.WalshipRate })
	writeBenchResult(b, runs, rl, ws)
}

// benchRun is one measurement.
type benchRun struct {
	Rows             int     `json:"rows"`
	Changes          int     `json:"changes"`
	RowsPerTxn       int     `json:"rows_per_txn"`
	WALBytes         uint64  `json:"wal_bytes"`
	LoadSeconds      float64 `json:"load_seconds"`
	RecvlogicalSecs  float64 `json:"recvlogical_seconds"`
	WalshipStreaming float64 `json:"walship_streaming_seconds"` // start → replication started
	WalshipPublished float64 `json:"walship_published_seconds"` // start → every change handed to the Kafka writer
	WalshipSecs      float64 `json:"walship_seconds"`           // start → slot acknowledged past the end LSN
	RecvlogicalRate  float64 `json:"recvlogical_rows_per_s"`
	WalshipRate      float64 `json:"walship_rows_per_s"`
	Ratio            float64 `json:"ratio"`
}

func runSourceBench(b *testing.B, base, recvlogical string, l sourcetest.BenchLoad) benchRun {
	broker, rows, perTxn, changes := l.Broker, l.Rows, l.PerTxn, l.Changes
	ctx := context.Background()
	name := fmt.Sprintf("walship_bench_%d_%d", os.Getpid(), sourcetest.NextSeq())
	slotRL, slotWS := name+"_rl", name+"_ws"

	root, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close(ctx)
	if _, err := root.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	// Cleanup runs even after Fatal: the source is stopped first (deferred
	// below), then the slots, the database and the topics go.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, s := range []string{slotRL, slotWS} {
			if _, err := root.Exec(cctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", s); err != nil {
				b.Logf("drop slot %s: %v", s, err)
			}
		}
		if _, err := root.Exec(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			b.Logf("drop database %s: %v", name, err)
		}
		benchkit.DeleteTopics(cctx, b, broker, kafka.TransactionTopic(name), kafka.TopicName(name, "public", "bench"))
	}()
	dsn := strings.Replace(base, "/postgres?", "/"+name+"?", 1)
	if dsn == base {
		b.Fatalf("cannot derive the bench database's DSN from %s: expected a URL naming database postgres", testenv.EnvPGSource)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)

	// 1. Table and publication. 2. Both slots, before any row is written.
	for _, sql := range []string{
		`CREATE TABLE bench (id bigint PRIMARY KEY, a int, b text, c numeric(12,2), d timestamptz)`,
		`CREATE PUBLICATION ` + name + ` FOR TABLE bench`,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	var startLSN offsets.LSN
	for _, s := range []string{slotRL, slotWS} {
		if err := admin.QueryRow(ctx, "SELECT lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", s).Scan(&startLSN); err != nil {
			b.Fatalf("create slot %s: %v", s, err)
		}
	}

	// 3. The load: rows inserts in transactions of perTxn rows; after every
	// 10th, one more transaction updates the rows just inserted. One DO
	// block, one round trip, a COMMIT per transaction.
	load := fmt.Sprintf(`DO $$
DECLARE
  n bigint := %d;
  per bigint := %d;
  i bigint := 0;
BEGIN
  WHILE i < n LOOP
    INSERT INTO bench (id, a, b, c, d)
      SELECT g, mod(g, 1000)::int, md5(g::text), mod(g, 1000000) / 100.0, timestamptz '2024-01-01' + g * interval '1 second'
      FROM generate_series(i + 1, least(i + per, n)) g;
    COMMIT;
    i := i + per;
    IF mod(i, per * 10) = 0 THEN
      UPDATE bench SET a = a + 1, c = c + 1, d = d + interval '1 hour' WHERE id > i - per AND id <= i;
      COMMIT;
    END IF;
  END LOOP;
END $$`, rows, perTxn)
	t0 := time.Now()
	if _, err := admin.PgConn().Exec(ctx, load).ReadAll(); err != nil {
		b.Fatalf("load: %v", err)
	}
	loadTime := time.Since(t0)
	var endLSN offsets.LSN
	if err := admin.QueryRow(ctx, "SELECT pg_current_wal_lsn()").Scan(&endLSN); err != nil {
		b.Fatal(err)
	}
	b.Logf("load: %d rows, %d row changes, %.1f MB of WAL (%s..%s, the whole server's) in %s",
		rows, changes, float64(endLSN-startLSN)/1e6, startLSN, endLSN, loadTime.Round(time.Millisecond))

	// 4. pg_recvlogical drains slot 1 up to the end LSN into /dev/null.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(rctx, recvlogical,
		"-d", dsn, "--slot", slotRL, "--start", "--endpos", endLSN.String(), "--no-loop",
		"-o", "proto_version=1", "-o", "publication_names="+name, "-f", "/dev/null")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 = time.Now()
	err = cmd.Run()
	rlTime := time.Since(t0)
	if err != nil {
		b.Fatalf("pg_recvlogical: %v: %s", err, stderr.String())
	}
	var rlConfirmed offsets.LSN
	if err := root.QueryRow(ctx, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", slotRL).Scan(&rlConfirmed); err != nil {
		b.Fatal(err)
	}
	b.Logf("pg_recvlogical: %s (slot confirmed %s)", rlTime.Round(time.Millisecond), rlConfirmed)

	// 5. walship drains slot 2 (its own, pre-created: Snapshot "never")
	// into Kafka until the slot is acknowledged past the end LSN.
	stateDir := b.TempDir()
	store, err := offsets.OpenStore(stateDir)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cfg := Config{Name: "pg", DSN: dsn, Slot: slotWS, Publication: name, Tables: []string{"public.bench"},
		Snapshot: "never", StateDir: stateDir, HeartbeatInterval: 100 * time.Millisecond}
	enc := envelope.NewEncoder(envelope.Source{Name: cfg.Name, Connector: "postgresql", Logical: name, Database: name}, envelope.Options{})
	newLog := func() (sources.Log, error) {
		return kafka.NewPublisher(kafka.Config{Brokers: []string{broker}, TopicPrefix: name, Rows: os.Getenv("WALSHIP_BENCH_ENVELOPE") == "rows"}, enc), nil
	}
	src := New(cfg, newLog, store, benchkit.Logger(slog.LevelInfo))
	ws := sourcetest.RunBench(b, src, changes, os.Getenv("WALSHIP_BENCH_CPUPROFILE"),
		func(st sources.Status) bool { return st.AckedBytes >= uint64(endLSN) },
		func(st sources.Status) string {
			return fmt.Sprintf("walship never acknowledged %s; status %+v", endLSN, st)
		})
	b.Logf("walship: replication started after %s, all changes handed to Kafka after %s, slot acknowledged (durable) after %s",
		ws.Streaming.Round(time.Millisecond), ws.Published.Round(time.Millisecond), ws.Elapsed.Round(time.Millisecond))

	r := benchRun{Rows: rows, Changes: changes, RowsPerTxn: perTxn, WALBytes: uint64(endLSN - startLSN),
		LoadSeconds: loadTime.Seconds(), RecvlogicalSecs: rlTime.Seconds(), WalshipStreaming: ws.Streaming.Seconds(),
		WalshipPublished: ws.Published.Seconds(), WalshipSecs: ws.Elapsed.Seconds(),
		RecvlogicalRate: float64(changes) / rlTime.Seconds(), WalshipRate: float64(changes) / ws.Elapsed.Seconds()}
	r.Ratio = r.WalshipRate / r.RecvlogicalRate
	line := fmt.Sprintf("source rows=%d changes=%d pg_recvlogical=%.0f rows/s (%.2fs) walship→kafka=%.0f rows/s (%.2fs) ratio=%.2f",
		rows, changes, r.RecvlogicalRate, r.RecvlogicalSecs, r.WalshipRate, r.WalshipSecs, r.Ratio)
	b.Log(line)
	fmt.Println(line)
	return r
}

// pgBinary finds a PostgreSQL client program: $WALSHIP_PG_BIN, the Debian
// layout for PostgreSQL 15, then PATH.
func pgBinary(b *testing.B, prog string) string {
	for _, dir := range []string{os.Getenv("WALSHIP_PG_BIN"), "/usr/lib/postgresql/15/bin"} {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, prog)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath(prog)
	if err != nil {
		b.Fatalf("%s not found: set WALSHIP_PG_BIN (deploy/local/env.sh does)", prog)
	}
	return p
}

// writeBenchResult writes bench/results/source-<date>.json.
func writeBenchResult(b *testing.B, runs []benchRun, rl, ws float64) {
	last := runs[len(runs)-1]
	benchkit.WriteResult(b, "source", map[string]any{
		"benchmark":              "BenchmarkSourceVsRecvlogical",
		"envelope":               benchEnvelopeName(),
		"rows":                   last.Rows,
		"changes":                last.Changes,
		"rows_per_txn":           last.RowsPerTxn,
		"recvlogical_rows_per_s": rl,
		"walship_rows_per_s":     ws,
		"ratio":                  ws / rl,
		"runs":                   runs,
		"postgres_version":       os.Getenv("WALSHIP_PG_MAJOR"),
		"note":                   "rates count row changes (inserts + updates); walship: pgoutput -> Kafka (acks=all) until the slot is acknowledged past the load's end LSN; pg_recvlogical: pgoutput to /dev/null until --endpos",
	})
}

// benchEnvelopeName is the log's value format in this run:
// $WALSHIP_BENCH_ENVELOPE, or json.
func benchEnvelopeName() string {
	if e := os.Getenv("WALSHIP_BENCH_ENVELOPE"); e != "" {
		return e
	}
	return "json"
}
