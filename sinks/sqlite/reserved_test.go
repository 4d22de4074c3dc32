package sqlite

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

// TestReservedTableName (issue 28): a source table that maps to walship's
// own walship_positions is refused, naming the way out, and walship's
// table is left as it is; renamed, it applies.
func TestReservedTableName(t *testing.T) {
	d, db, ctx := follower(t)
	a := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "postgres"}}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	own := intTable("walship_positions", "v")
	err = a.EnsureSchema(ctx, "src", []*ordering.Table{own})
	if !errors.Is(err, sqlsink.ErrNameClash) || !strings.Contains(err.Error(), "tables.rename") {
		t.Fatalf("err = %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('walship_positions') WHERE name = 'v'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("walship_positions was altered: %d %v", n, err)
	}
	release()
	a.Close()
	b := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "postgres"},
		Rename: map[string]string{"shop.walship_positions": "their_positions"}}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, release, err = b.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	defer release()
	defer b.Close()
	if err := b.EnsureSchema(ctx, "src", []*ordering.Table{own}); err != nil {
		t.Fatalf("renamed: %v", err)
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
