package ordering

import (
	"testing"

	"github.com/walship/walship/offsets"
)

var (
	parents = &Table{Schema: "public", Name: "customers", Columns: []Column{
		{Name: "id", Kind: KindInt}, {Name: "email", Kind: KindString},
	}, PrimaryKey: []string{"id"}, UniqueKeys: [][]string{{"email"}}}
	children = &Table{Schema: "public", Name: "orders", Columns: []Column{
		{Name: "id", Kind: KindInt}, {Name: "customer_id", Kind: KindInt},
	}, PrimaryKey: []string{"id"}, ForeignKeys: []ForeignKey{{
		Columns: []string{"customer_id"}, ParentSchema: "public", ParentTable: "customers", ParentColumns: []string{"id"},
	}}}
	keyless = &Table{Schema: "public", Name: "log", Columns: []Column{{Name: "msg", Kind: KindString}}}
)

func seq(n uint64) offsets.Seq { return offsets.Seq{Pos: n, Sub: offsets.StreamSub} }

func ws(changes ...Change) *Writeset {
	w := &Writeset{}
	for i := range changes {
		w.Add(&changes[i])
	}
	return w
}

func ins(t *Table, vals ...Value) Change { return Change{Table: t, Op: OpInsert, After: vals} }
func del(t *Table, vals ...Value) Change { return Change{Table: t, Op: OpDelete, Before: vals} }

func TestDependencies(t *testing.T) {
	tr := NewTracker(0, offsets.Seq{})
	steps := []struct {
		name string
		w    *Writeset
		want offsets.Seq
	}{
		{"parent 1 insert", ws(ins(parents, Int(1), String("a@x"))), offsets.Seq{}},
		{"unrelated parent 2", ws(ins(parents, Int(2), String("b@x"))), offsets.Seq{}},
		{"child of 1 follows parent insert", ws(ins(children, Int(10), Int(1))), seq(1)},
		{"child of 2 follows parent 2", ws(ins(children, Int(11), Int(2))), seq(2)},
		{"delete child 10", ws(del(children, Int(10), Int(1))), seq(3)},
		{"delete parent 1 follows its child's delete", ws(del(parents, Int(1), String("a@x"))), seq(5)},
		{"unique email freed then taken (case and pad folded)", ws(ins(parents, Int(3), String("A@X  "))), seq(6)},
		{"null FK adds no key", ws(ins(children, Int(12), Null())), offsets.Seq{}},
		{"keyless table is a barrier: follows its predecessor", ws(ins(keyless, String("x"))), seq(8)},
		{"after a barrier everything follows it", ws(ins(parents, Int(99), String("z@x"))), seq(9)},
		{"truncate is a barrier", ws(Change{Table: parents, Op: OpTruncate}), seq(10)},
		{"unchanged key part is a barrier", ws(Change{Table: parents, Op: OpUpdate, Before: []Value{Int(5), Unchanged()}, After: []Value{Int(5), Unchanged()}}), seq(11)},
	}
	for i, s := range steps {
		got := tr.Commit(seq(uint64(i+1)), s.w)
		if got != s.want {
			t.Errorf("step %d %s: depends_on %v, want %v", i+1, s.name, got, s.want)
		}
	}
}

// TestUpdateWithoutOldImage: PostgreSQL's default replica identity sends
// no old row for an update that keeps the key. Moving a child from parent
// 1 to 2 must still order a later delete of parent 1 after it, and freeing
// a unique value must order a later taker after it: both are barriers.
func TestUpdateWithoutOldImage(t *testing.T) {
	moved := ws(Change{Table: children, Op: OpUpdate, After: []Value{Int(10), Int(2)}})
	freed := ws(Change{Table: parents, Op: OpUpdate, After: []Value{Int(1), String("new@x")}})
	if !moved.Barrier() || !freed.Barrier() {
		t.Errorf("updates without an old image on tables with foreign or unique keys: barrier %v, %v; want both", moved.Barrier(), freed.Barrier())
	}
	plain := &Table{Schema: "public", Name: "t", Columns: []Column{{Name: "id", Kind: KindInt}, {Name: "v", Kind: KindInt}}, PrimaryKey: []string{"id"}}
	if w := ws(Change{Table: plain, Op: OpUpdate, After: []Value{Int(1), Int(2)}}); w.Barrier() || w.Len() != 1 {
		t.Errorf("a table with only a primary key needs no old image: barrier %v, %d keys", w.Barrier(), w.Len())
	}
}

func TestTrackerFloorAfterRestartAndOverflow(t *testing.T) {
	resume := seq(100)
	tr := NewTracker(3, resume)
	if got := tr.Commit(seq(101), ws(ins(parents, Int(1), String("a")))); got != resume {
		t.Errorf("first after restart depends on %v, want the resume point", got)
	}
	// Two more keys fill the history (capacity 3: pk+uk per parent row).
	if got := tr.Commit(seq(102), ws(ins(parents, Int(2), String("b")))); got != seq(101) {
		t.Errorf("overflow should raise the floor to the predecessor: %v", got)
	}
	if got := tr.Commit(seq(103), ws(ins(parents, Int(3), String("c")))); got != seq(102) {
		t.Errorf("after overflow: %v", got)
	}
}

func TestHugeWritesetBecomesBarrier(t *testing.T) {
	w := &Writeset{MaxKeys: 10}
	for i := 0; i < 10; i++ {
		c := ins(parents, Int(int64(i)), String("x"))
		w.Add(&c)
	}
	if !w.Barrier() || w.Len() != 0 {
		t.Errorf("barrier=%v len=%d", w.Barrier(), w.Len())
	}
}

// TestCascadingBarrier: a parent change that sets off an unlogged cascade
// makes its transaction a barrier; one that cannot (an insert, an update
// leaving the referenced key alone, a table with RESTRICT only) does not.
func TestCascadingBarrier(t *testing.T) {
	casc := []Cascade{{ChildSchema: "public", ChildTable: "orders", Columns: []string{"customer_id"},
		ParentSchema: "public", ParentTable: "customers", ParentColumns: []string{"id"},
		OnDelete: ActionCascade, OnUpdate: ActionCascade}}
	p := *parents
	p.Cascades = casc
	setNull := *parents
	setNull.Cascades = []Cascade{casc[0]}
	setNull.Cascades[0].OnUpdate = ""
	upd := func(t *Table, before, after []Value) Change {
		return Change{Table: t, Op: OpUpdate, Before: before, After: after}
	}
	for _, c := range []struct {
		name string
		ch   Change
		want bool
	}{
		{"delete of a parent with ON DELETE", del(&p, Int(1), String("a")), true},
		{"insert of a parent", ins(&p, Int(1), String("a")), false},
		{"update of the referenced key", upd(&p, []Value{Int(1), String("a")}, []Value{Int(2), String("a")}), true},
		{"update of another column", upd(&p, []Value{Int(1), String("a")}, []Value{Int(1), String("b")}), false},
		{"update without a before image", upd(&p, nil, []Value{Int(1), String("b")}), true},
		{"update of the key, no ON UPDATE action", upd(&setNull, []Value{Int(1), String("a")}, []Value{Int(2), String("a")}), false},
		{"delete of the child table (its cascades are its parent's)", del(children, Int(1), Int(1)), false},
	} {
		w := ws(c.ch)
		if w.Barrier() != c.want {
			t.Errorf("%s: barrier %v, want %v", c.name, w.Barrier(), c.want)
		}
	}
}

// Snapshot chunks: one table's chunks are independent, a child's follow
// the parent's last chunk, a self-referencing table's run in order, and
// everything after the snapshot's barrier follows all of it.
func TestSnapshotChunks(t *testing.T) {
	parent := &Table{Schema: "s", Name: "parent", PrimaryKey: []string{"id"}}
	child := &Table{Schema: "s", Name: "child", PrimaryKey: []string{"id"},
		ForeignKeys: []ForeignKey{{Columns: []string{"pid"}, ParentSchema: "s", ParentTable: "parent", ParentColumns: []string{"id"}}}}
	tree := &Table{Schema: "s", Name: "tree", PrimaryKey: []string{"id"},
		ForeignKeys: []ForeignKey{{Columns: []string{"up"}, ParentSchema: "s", ParentTable: "tree", ParentColumns: []string{"id"}}}}
	chunk := func(n uint32) offsets.Seq { return offsets.Seq{Pos: 100, Sub: n} }
	floor := offsets.Seq{Pos: 50, Sub: offsets.StreamSub}
	tr := NewTracker(0, floor)
	want := func(got, want offsets.Seq) {
		t.Helper()
		if got != want {
			t.Fatalf("depends_on %v, want %v", got, want)
		}
	}
	want(tr.CommitChunk(chunk(0), []*Table{parent}), floor)
	want(tr.CommitChunk(chunk(1), []*Table{parent}), floor)
	want(tr.CommitChunk(chunk(2), []*Table{child}), chunk(1))
	want(tr.CommitChunk(chunk(3), []*Table{child}), chunk(1))
	want(tr.CommitChunk(chunk(4), []*Table{tree}), floor)
	want(tr.CommitChunk(chunk(5), []*Table{tree}), chunk(4))
	want(tr.CommitBarrier(chunk(6)), chunk(5))
	// A streamed transaction on a key no chunk hashed still follows them all.
	var w Writeset
	w.Add(&Change{Table: parent, Op: OpUpdate, Before: []Value{Int(1)}, After: []Value{Int(1)}})
	want(tr.Commit(seq(200), &w), chunk(6))
}

// An update that keeps every key adds its keys once; one that changes a
// key adds the old and the new, and a later transaction touching either
// follows it.
func TestUpdateKeysOnce(t *testing.T) {
	same := ws(Change{Table: parents, Op: OpUpdate, Before: []Value{Int(1), String("a@x")}, After: []Value{Int(1), String("a@x")}})
	if same.Barrier() || same.Len() != 2 {
		t.Errorf("an update keeping its keys: barrier %v, %d keys, want 2 (primary and unique)", same.Barrier(), same.Len())
	}
	moved := ws(Change{Table: parents, Op: OpUpdate, Before: []Value{Int(1), String("a@x")}, After: []Value{Int(1), String("b@x")}})
	if moved.Len() != 4 {
		t.Errorf("an update of a unique key: %d keys, want 4", moved.Len())
	}
	tr := NewTracker(100, offsets.Seq{})
	tr.Commit(seq(1), moved)
	if dep := tr.Commit(seq(2), ws(ins(parents, Int(7), String("a@x")))); dep != seq(1) {
		t.Errorf("taking the freed unique value depends on %v, want %v", dep, seq(1))
	}
}
