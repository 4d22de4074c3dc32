package mysql

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// statementsOnly hides the dialect's BulkLoad: the applier then writes
// every row with statements, as before LOAD DATA.
type statementsOnly struct{ sqlsink.Dialect }

var bulkTable = &ordering.Table{Name: "bulk_rows", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
	{Name: "id", Type: "bigint", Kind: ordering.KindInt, Precision: -1, Scale: -1},
	sinktest.Col("a", "text", ordering.KindString),
	sinktest.Col("b", "bigint", ordering.KindInt),
	sinktest.Col("c", "timestamp with time zone", ordering.KindTimestampTZ),
}}

// applyRows applies rows lo..hi-1 of bulkTable as op, per rows in a
// follower transaction, and returns the statements the applier sent.
func applyRows(t testing.TB, ctx context.Context, a *sqlsink.Applier, op ordering.Op, lo, hi, per int, tag string) int64 {
	before := a.Stats().Statements
	for start := lo; start < hi; start += per {
		tx, err := a.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := start; i < min(start+per, hi); i++ {
			ch := ordering.Change{Op: op, Table: bulkTable, After: []ordering.Value{ordering.Int(int64(i)),
				ordering.String(fmt.Sprintf("%s-%d", tag, i)), ordering.Int(int64(i)), ordering.TimestampTZ(int64(i) * 1e6)}}
			if err := tx.Apply(ctx, "pg", &ch); err != nil {
				tx.Rollback()
				t.Fatal(err)
			}
		}
		if err := tx.Record(ctx, "pg", []sinks.Applied{}); err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return a.Stats().Statements - before
}

func bulkApplier(t testing.TB, ctx context.Context, d sqlsink.Dialect, sink string) *sqlsink.Applier {
	a := sqlsink.New(sqlsink.Config{Sink: sink, SourceEngines: map[string]string{"pg": "postgres"}}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	t.Cleanup(func() { a.Close() })
	if err := a.EnsureSchema(ctx, "pg", []*ordering.Table{bulkTable}); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestIntegrationBulkApply: inserts and snapshot rows of a LOAD DATA table
// go through LOAD DATA (no statement); snapshot rows meeting rows already
// there are declined and upserted by statements. Every row reads its last
// values.
func TestIntegrationBulkApply(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db, "DROP TABLE IF EXISTS bulk_rows")
	a := bulkApplier(t, ctx, d, "bulk_apply")
	if n := applyRows(t, ctx, a, ordering.OpInsert, 0, 3000, 3000, "insert"); n != 0 {
		t.Errorf("inserts: %d statements, want LOAD DATA", n)
	}
	if n := applyRows(t, ctx, a, ordering.OpRead, 3000, 6000, 3000, "snapshot"); n != 0 {
		t.Errorf("snapshot rows: %d statements, want LOAD DATA", n)
	}
	if n := applyRows(t, ctx, a, ordering.OpRead, 5000, 8000, 3000, "again"); n == 0 {
		t.Errorf("snapshot rows meeting their keys: no statement, want the upserts")
	}
	var bad, rows int
	if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(a <> concat(CASE WHEN id < 3000 THEN 'insert' WHEN id < 5000 THEN 'snapshot'
		ELSE 'again' END, '-', id) OR b <> id OR c <> from_unixtime(id) + INTERVAL 0 SECOND), 0) FROM bulk_rows`).Scan(&rows, &bad); err != nil {
		t.Fatal(err)
	}
	if rows != 8000 || bad != 0 {
		t.Errorf("%d rows, %d wrong; want 8000, 0", rows, bad)
	}
}

// BenchmarkIntegrationBulkApply: 200000 inserts in 1000-row follower
// transactions, then 200000 snapshot rows in 10000-row ones, into a
// MariaDB follower through the applier, with LOAD DATA and with
// statements only, alternately (WALSHIP_BENCH_ROUNDS, default 2).
func BenchmarkIntegrationBulkApply(b *testing.B) {
	d, db, ctx := follower(b)
	for round := range benchkit.EnvInt(b, "WALSHIP_BENCH_ROUNDS", 2) {
		for _, how := range []string{"statements", "load data"} {
			var dia sqlsink.Dialect = d
			if how == "statements" {
				dia = statementsOnly{d}
			}
			sinktest.Exec(b, ctx, db, "DROP TABLE IF EXISTS bulk_rows")
			a := bulkApplier(b, ctx, dia, fmt.Sprintf("bulk_bench_%d_%d", round, len(how)))
			t0, c0 := time.Now(), benchkit.ProcessCPU()
			applyRows(b, ctx, a, ordering.OpInsert, 0, 200000, 1000, "insert")
			ins, insCPU := time.Since(t0), benchkit.ProcessCPU()-c0
			t0, c0 = time.Now(), benchkit.ProcessCPU()
			applyRows(b, ctx, a, ordering.OpRead, 200000, 400000, 10000, "snapshot")
			snap, snapCPU := time.Since(t0), benchkit.ProcessCPU()-c0
			fmt.Printf("mariadb bulk apply (%s): 200000 inserts in 1000-row transactions %.0f rows/s (CPU %.2f s), 200000 snapshot rows in 10000-row transactions %.0f rows/s (CPU %.2f s)\n",
				how, 200000/ins.Seconds(), insCPU.Seconds(), 200000/snap.Seconds(), snapCPU.Seconds())
			a.Close()
		}
	}
}
