package sources

import (
	"errors"
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

// A prune window keeps the newest row of each key it sees: an update's
// new row, nothing for a deleted row or the old key of a key update; a
// truncate makes the chunk read again.
func TestPruneWindow(t *testing.T) {
	tbl := &ordering.Table{Schema: "s", Name: "t", Columns: []ordering.Column{{Name: "id", Kind: ordering.KindInt}, {Name: "v"}}, PrimaryKey: []string{"id"}}
	row := func(id, v int64) []ordering.Value { return []ordering.Value{ordering.Int(id), ordering.Int(v)} }
	w := NewPruneWindow("s.t")
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpInsert, After: row(1, 0)})
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpUpdate, Before: row(1, 0), After: row(1, 5)})
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpUpdate, Before: row(2, 0), After: row(3, 1)})
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpInsert, After: row(4, 0)})
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpDelete, Before: row(4, 0)})
	_, rows := w.Images()
	if len(rows) != 2 || rows[0][0].Int() != 1 || rows[0][1].Int() != 5 || rows[1][0].Int() != 3 {
		t.Fatalf("images %v, want rows 1 (v 5) and 3", rows)
	}
	if w.Redo {
		t.Fatal("redo without cause")
	}
	w.See(&ordering.Change{Table: tbl, Op: ordering.OpTruncate})
	if !w.Redo {
		t.Error("a truncate inside a prune window does not make the chunk read again")
	}
}

// The last key read, as text, becomes the key row of a prune's bound for
// integer and uuid keys, and is refused for others.
func TestKeyFromText(t *testing.T) {
	tbl := &ordering.Table{Schema: "s", Name: "t", Columns: []ordering.Column{
		{Name: "v", Kind: ordering.KindString}, {Name: "a", Kind: ordering.KindInt}, {Name: "b", Kind: ordering.KindUUID}}, PrimaryKey: []string{"a", "b"}}
	row, err := KeyFromText(tbl, []string{"-12", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"})
	if err != nil {
		t.Fatal(err)
	}
	if !row[0].IsNull() || row[1].Int() != -12 || row[2].Text() != "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" {
		t.Errorf("key row %v", row)
	}
	if row, err := KeyFromText(tbl, nil); row != nil || err != nil {
		t.Errorf("no last key: %v, %v", row, err)
	}
	text := &ordering.Table{Schema: "s", Name: "t", Columns: []ordering.Column{{Name: "k", Kind: ordering.KindString, Type: "text"}}, PrimaryKey: []string{"k"}}
	if _, err := KeyFromText(text, []string{"x"}); !errors.Is(err, ErrPruneKey) {
		t.Errorf("a text key: %v", err)
	}
	if _, err := KeyFromText(tbl, []string{"x", "y"}); err == nil {
		t.Error("a key that is not a number was taken")
	}
}

// A request is refused for what it asks that cannot be done; a chunk size
// out of range among them. A note written before chunk_rows existed reads
// with the default.
func TestCheckPruneRequest(t *testing.T) {
	for _, c := range []struct {
		req BackfillRequest
		ok  bool
	}{
		{BackfillRequest{Tables: []string{"s.t"}}, true},
		{BackfillRequest{All: true, DeleteUnseen: true, ChunkRows: 1}, true},
		{BackfillRequest{Tables: []string{"s.t"}, ChunkRows: MaxBackfillChunkRows}, true},
		{BackfillRequest{}, false},
		{BackfillRequest{All: true, Tables: []string{"s.t"}}, false},
		{BackfillRequest{Tables: []string{"s.t"}, DeleteUnseen: true, Where: "id > 1"}, false},
		{BackfillRequest{Tables: []string{"s.t"}, ChunkRows: -1}, false},
		{BackfillRequest{Tables: []string{"s.t"}, ChunkRows: MaxBackfillChunkRows + 1}, false},
	} {
		err := CheckPruneRequest(c.req)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrBackfillRefused)) {
			t.Errorf("%+v: %v", c.req, err)
		}
	}
	if n := (&Backfill{}).Chunk(); n != BackfillChunkRows {
		t.Errorf("a note without chunk_rows: chunks of %d rows", n)
	}
	if n := (&Backfill{ChunkRows: 100}).Chunk(); n != 100 {
		t.Errorf("chunk_rows 100: chunks of %d rows", n)
	}
}
