package sourcetest

import (
	"encoding/json"
	"iter"
	"testing"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// State is table -> key -> row.
type State map[string]map[string][]ordering.Value

// Fold applies the log like a sink would: each transaction once (a
// re-sent one is skipped by Seq), rows keyed by [RowKey] in tables named
// by name. An unchanged column keeps the value of the row the update
// found (the before image's key when there is one).
func Fold(t testing.TB, l *logread.Log, name func(*ordering.Table) string) State {
	st := State{}
	for ch := range Applied(l) {
		name := name(ch.Table)
		rows := st[name]
		if rows == nil {
			rows = map[string][]ordering.Value{}
			st[name] = rows
		}
		switch ch.Op {
		case ordering.OpTruncate:
			clear(rows)
		case ordering.OpDelete:
			delete(rows, RowKey(ch.Table, ch.Before))
		default:
			k := RowKey(ch.Table, ch.After)
			old := rows[k]
			if ch.Before != nil {
				bk := RowKey(ch.Table, ch.Before)
				old = rows[bk]
				delete(rows, bk)
			}
			row := append([]ordering.Value(nil), ch.After...)
			for i, v := range row {
				if v.IsUnchanged() {
					if old == nil {
						t.Fatalf("%s %s: unchanged column %s with no earlier value", name, k, ch.Table.Columns[i].Name)
					}
					row[i] = old[i]
				}
			}
			rows[k] = row
		}
	}
	return st
}

// Applied is the changes of l a sink applies, in order: each
// transaction's once, skipping one whose Seq sorts at or below the last
// applied (a re-sent one).
func Applied(l *logread.Log) iter.Seq[*ordering.Change] {
	return func(yield func(*ordering.Change) bool) {
		var applied offsets.Seq
		for _, txn := range l.Txns {
			if !applied.Less(txn.End.Seq) {
				continue
			}
			applied = txn.End.Seq
			for i := range txn.Events {
				if !yield(&txn.Events[i].Change) {
					return
				}
			}
		}
	}
}

// RowKey is the primary key, or the whole row for keyless tables.
func RowKey(t *ordering.Table, row []ordering.Value) string {
	var parts []string
	if len(t.PrimaryKey) == 0 {
		for _, v := range row {
			parts = append(parts, v.String())
		}
	} else {
		for _, k := range t.PrimaryKey {
			parts = append(parts, row[t.ColumnIndex(k)].String())
		}
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

// Converged compares the folded log with the source, table by table, and
// reports missing, extra and different rows (the first three of these
// with values when values is set).
func Converged(t testing.TB, got, want State, values bool) {
	t.Helper()
	for table, rows := range want {
		g := got[table]
		missing, extra, diff := 0, 0, 0
		for k, row := range rows {
			gr, ok := g[k]
			switch {
			case !ok:
				missing++
			case !RowsEqual(gr, row):
				diff++
				if diff <= 3 && values {
					t.Errorf("%s %s differs: %v vs %v", table, k, gr, row)
				} else if diff <= 3 {
					t.Errorf("%s %s differs", table, k)
				}
			}
		}
		for k := range g {
			if _, ok := rows[k]; !ok {
				extra++
			}
		}
		if missing+extra+diff > 0 {
			t.Errorf("%s: %d missing, %d extra, %d different (of %d)", table, missing, extra, diff, len(rows))
		}
	}
}

// RowsEqual compares two rows value by value.
func RowsEqual(a, b []ordering.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
