package sqlite

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// TestReservedTableName (issue 28): a source table that maps to walship's
// own _walship_positions is refused, naming the way out, and walship's
// table is left as it is; renamed, it applies. A source table named as
// walship's tables were before (walship_positions) is an ordinary table.
func TestReservedTableName(t *testing.T) {
	d, db, ctx := follower(t)
	a := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "postgres"}}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	own := intTable("_walship_positions", "v")
	err = a.EnsureSchema(ctx, "src", []*ordering.Table{own})
	if !errors.Is(err, sqlsink.ErrNameClash) || !strings.Contains(err.Error(), "tables.rename") {
		t.Fatalf("err = %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('_walship_positions') WHERE name = 'v'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("_walship_positions was altered: %d %v", n, err)
	}
	if err := a.EnsureSchema(ctx, "src", []*ordering.Table{intTable("walship_positions", "v")}); err != nil {
		t.Errorf("a source table named walship_positions: %v", err)
	}
	release()
	a.Close()
	b := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "postgres"},
		Rename: map[string]string{"shop._walship_positions": "their_positions"}}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, release, err = b.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	defer release()
	defer b.Close()
	if err := b.EnsureSchema(ctx, "src", []*ordering.Table{own}); err != nil {
		t.Fatalf("renamed: %v", err)
	}
}

// TestLegacyPositionsMigrate (issue 28): a follower written by a version
// that kept walship_positions and walship_applied among the follower's
// tables. Each sink moves its own rows when it starts, resuming exactly
// where it was; the old tables go once empty. Until then a source table
// of that name is refused rather than mixed with them, and positions found
// in both places stop the sink.
func TestLegacyPositionsMigrate(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db,
		`CREATE TABLE walship_positions (sink TEXT NOT NULL, source TEXT NOT NULL, seq TEXT NOT NULL, position TEXT, commit_ts TEXT, offsets TEXT, applied_at TEXT, PRIMARY KEY (sink, source))`,
		`CREATE TABLE walship_applied (sink TEXT NOT NULL, source TEXT NOT NULL, seq TEXT NOT NULL, position TEXT, commit_ts TEXT, PRIMARY KEY (sink, source, seq))`,
		`INSERT INTO walship_positions VALUES ('s', 'src', '0000000000000000.00000005', 'postgres:lsn=0/5', '', '{"whole":true}', 'x'), ('other', 'src', '0000000000000000.00000003', 'postgres:lsn=0/3', '', '{}', 'x')`,
		`INSERT INTO walship_applied VALUES ('s', 'src', '0000000000000000.00000007', 'postgres:lsn=0/7', '')`)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(sink string) (*sqlsink.Applier, map[string]sinks.SourceState, func()) {
		a := sqlsink.New(sqlsink.Config{Sink: sink, SourceEngines: map[string]string{"src": "postgres"}}, d, logger)
		st, release, err := a.Prepare(ctx)
		if err != nil {
			t.Fatalf("Prepare(%s): %v", sink, err)
		}
		return a, st, func() { release(); a.Close() }
	}
	a, st, done := open("s")
	if got := st["src"].Watermark.Seq.String(); got != "0000000000000000.00000005" || len(st["src"].Above) != 1 || !st["src"].Offsets.Whole {
		t.Errorf("moved state = %+v", st["src"])
	}
	count := func(table string) int {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	if count("walship_positions") != 1 || count("walship_applied") != 0 || count("_walship_positions") != 1 {
		t.Errorf("after s: old %d/%d, new %d", count("walship_positions"), count("walship_applied"), count("_walship_positions"))
	}
	err := a.EnsureSchema(ctx, "src", []*ordering.Table{intTable("walship_positions", "v")})
	if !errors.Is(err, sqlsink.ErrNameClash) || !strings.Contains(err.Error(), "start those sinks once") {
		t.Errorf("a source table onto the old positions table: %v", err)
	}
	done()
	_, st, done = open("other")
	done()
	if st["src"].Watermark.Seq.String() != "0000000000000000.00000003" {
		t.Errorf("other's state = %+v", st["src"])
	}
	if count("walship_positions") != -1 || count("walship_applied") != -1 || count("_walship_positions") != 2 {
		t.Errorf("after other: old tables left (%d, %d), new %d", count("walship_positions"), count("walship_applied"), count("_walship_positions"))
	}

	// An earlier walship ran again: positions in both places.
	sinktest.Exec(t, ctx, db,
		`CREATE TABLE walship_positions (sink TEXT NOT NULL, source TEXT NOT NULL, seq TEXT NOT NULL, position TEXT, commit_ts TEXT, offsets TEXT, applied_at TEXT, PRIMARY KEY (sink, source))`,
		`INSERT INTO walship_positions VALUES ('s', 'src', '0000000000000000.00000001', 'postgres:lsn=0/1', '', '{}', 'y')`)
	b := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "postgres"}}, d, logger)
	defer b.Close()
	if _, _, err := b.Prepare(ctx); !errors.Is(err, sqlsink.ErrPositionsTwice) || !strings.Contains(err.Error(), "walship_positions") {
		t.Errorf("positions twice: %v", err)
	}
}

// TestRolledBackDDLIsForgotten (issue 27): a table created inside a
// follower transaction (a big transaction's new shape) that rolls back is
// gone; the retry must create it again, not trust the cache.
func TestRolledBackDDLIsForgotten(t *testing.T) {
	d, _, ctx := follower(t)
	a := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "postgres"}}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, release, err := a.Prepare(ctx); err != nil {
		t.Fatal(err)
	} else {
		defer release()
	}
	defer a.Close()
	tbl := intTable("fresh", "v")
	ins := ordering.Change{Table: tbl, Op: ordering.OpInsert, After: row(1, 2)}
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.EnsureSchema(ctx, "src", []*ordering.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, "src", &ins); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	tx, err = a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.EnsureSchema(ctx, "src", []*ordering.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, "src", &ins); err != nil {
		t.Fatal(err)
	}
	if err := tx.Record(ctx, "src", nil); err != nil {
		t.Fatalf("the retry after the rollback: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
