package sources

import (
	"testing"

	"github.com/walship/walship/ordering"
)

// A chunk row is left out when a change between its watermarks touched
// its key (old or new), every row after a truncate, and the chunk is read
// again after an update the followers cannot write whole.
func TestWindow(t *testing.T) {
	tbl := &ordering.Table{Schema: "s", Name: "t", Columns: []ordering.Column{{Name: "id"}, {Name: "v"}}, PrimaryKey: []string{"id"}}
	other := &ordering.Table{Schema: "s", Name: "u", Columns: tbl.Columns, PrimaryKey: []string{"id"}}
	row := func(id int64, v ordering.Value) []ordering.Value { return []ordering.Value{ordering.Int(id), v} }
	key := func(id int64) string { k, _ := RowKey(tbl, row(id, ordering.Null())); return k }
	w := NewWindow("s.t")
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpInsert, After: row(1, ordering.Int(0))})
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpUpdate, Before: row(2, ordering.Unchanged()), After: row(3, ordering.Int(1))})
	w.See(&ordering.Change{Table: other, Op: ordering.OpDelete, Before: row(4, ordering.Null())})
	for id, drop := range map[int64]bool{1: true, 2: true, 3: true, 4: false, 5: false} {
		if w.Drop(key(id)) != drop {
			t.Errorf("key %d: drop %v", id, !drop)
		}
	}
	if w.Redo {
		t.Fatal("redo without cause")
	}
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpUpdate, After: row(6, ordering.Unchanged())})
	if !w.Redo {
		t.Error("an update with a value left out does not make the chunk read again")
	}
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpTruncate})
	if !w.Drop(key(5)) {
		t.Error("a truncate does not drop every row")
	}
	if _, ok := RowKey(&ordering.Table{Columns: tbl.Columns}, row(1, ordering.Null())); ok {
		t.Error("a keyless table has row keys")
	}
}
