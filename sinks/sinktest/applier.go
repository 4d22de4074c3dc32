package sinktest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
)

// NewApplier is an applier of sink on d for one source, "pg", of engine
// postgres, that logs nowhere. check is its LeaseCheck (0: the default).
func NewApplier(d sqlsink.Dialect, sink string, check time.Duration) *sqlsink.Applier {
	return sqlsink.New(sqlsink.Config{Sink: sink, SourceEngines: map[string]string{"pg": "postgres"}, LeaseCheck: check}, d,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// Applier is [NewApplier] prepared: it holds the sink's lock until the
// test ends, and is closed then.
func Applier(t testing.TB, ctx context.Context, d sqlsink.Dialect, sink string) *sqlsink.Applier {
	t.Helper()
	a := NewApplier(d, sink, 0)
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	t.Cleanup(func() { a.Close() })
	return a
}

// Insert applies one insert of values into tbl from source "pg" in a
// transaction of its own, records it, and commits. A failure rolls back.
func Insert(ctx context.Context, a *sqlsink.Applier, tbl *ordering.Table, values ...ordering.Value) error {
	tx, err := a.Begin(ctx)
	if err != nil {
		return err
	}
	ch := ordering.Change{Op: ordering.OpInsert, Table: tbl, After: values}
	if err := tx.Apply(ctx, "pg", &ch); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Record(ctx, "pg", []sinks.Applied{}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Col is a nullable column with no precision, scale or length.
func Col(name, typ string, k ordering.Kind) ordering.Column {
	return ordering.Column{Name: name, Type: typ, Kind: k, Nullable: true, Precision: -1, Scale: -1}
}

// Incompatible is a follower table whose column the applier cannot widen
// to the source's: EnsureSchema must stop with a ColumnTypeError.
type Incompatible struct {
	Table  string          // the follower table, unqualified
	Column ordering.Column // the source's column
	Have   string          // the follower column's type
}

// CheckIncompatible has EnsureSchema of each case (an integer key "id" and
// the case's column) stop with a [sqlsink.ColumnTypeError] that is
// ErrIncompatible and names schema+the table, the column and both types
// (with named, also in its message).
func CheckIncompatible(t testing.TB, ctx context.Context, a *sqlsink.Applier, schema string, named bool, cases ...Incompatible) {
	t.Helper()
	for _, c := range cases {
		tbl := &ordering.Table{Schema: "public", Name: c.Table, PrimaryKey: []string{"id"},
			Columns: []ordering.Column{Col("id", "integer", ordering.KindInt), c.Column}}
		err := a.EnsureSchema(ctx, "pg", []*ordering.Table{tbl})
		var cte *sqlsink.ColumnTypeError
		if !errors.As(err, &cte) || !errors.Is(err, sqlsink.ErrIncompatible) {
			t.Fatalf("EnsureSchema(%s) = %v, want a ColumnTypeError", c.Table, err)
		}
		t.Logf("stop: %v", err)
		if cte.Table != schema+c.Table || cte.Column != c.Column.Name || cte.Have != c.Have || cte.SourceType != c.Column.Type ||
			named && (!strings.Contains(err.Error(), c.Have) || !strings.Contains(err.Error(), c.Column.Type)) {
			t.Errorf("ColumnTypeError %+v does not name the table, column and both types", cte)
		}
	}
}
