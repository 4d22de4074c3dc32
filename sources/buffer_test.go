package sources

import (
	"testing"

	"github.com/walship/walship/ordering"
)

func TestTxnBufferSpillAndSubAbort(t *testing.T) {
	tbl := &ordering.Table{Schema: "s", Name: "t", Columns: []ordering.Column{{Name: "id", Kind: ordering.KindInt}}, PrimaryKey: []string{"id"}}
	for _, limit := range []int64{1 << 30, 500} { // in memory, then spilled early
		b := NewTxnBuffer(7, t.TempDir(), limit)
		for i := 0; i < 100; i++ {
			sub := uint32(7)
			if i%10 == 3 {
				sub = 8 // a subtransaction that will abort
			}
			if err := b.Add(sub, ordering.Change{Table: tbl, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(int64(i))}}); err != nil {
				t.Fatal(err)
			}
		}
		b.Abort(8)
		if (limit == 500) != b.Spilled() {
			t.Fatalf("limit %d: spilled=%v", limit, b.Spilled())
		}
		if b.Live() != 90 {
			t.Fatalf("live = %d", b.Live())
		}
		n := 0
		for ch, err := range b.Changes() {
			if err != nil {
				t.Fatal(err)
			}
			if v := ch.After[0].Int(); v%10 == 3 || ch.Table != tbl {
				t.Fatalf("aborted change %d came back", v)
			}
			n++
		}
		if n != 90 {
			t.Fatalf("limit %d: read %d", limit, n)
		}
		b.Close()
	}
}

func TestTxnBufferResetReusesMemory(t *testing.T) {
	tbl := &ordering.Table{Schema: "s", Name: "t", Columns: []ordering.Column{{Name: "id"}}, PrimaryKey: []string{"id"}}
	b := NewTxnBuffer(1, t.TempDir(), 1<<20)
	for i := range 100 {
		if err := b.Add(1, ordering.Change{Table: tbl, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(int64(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	b.Close() // twice: begin closes what commit closed
	b.Reset(2, t.TempDir(), 1<<20)
	if b.XID() != 2 || b.Live() != 0 || b.Writeset.Len() != 0 {
		t.Fatalf("after Reset: xid %d, %d live, %d keys", b.XID(), b.Live(), b.Writeset.Len())
	}
	if err := b.Add(2, ordering.Change{Table: tbl, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(7)}}); err != nil {
		t.Fatal(err)
	}
	if cap(b.mem) < 100 {
		t.Errorf("Reset kept no memory: cap %d", cap(b.mem))
	}
	n := 0
	for ch, err := range b.Changes() {
		if err != nil {
			t.Fatal(err)
		}
		if ch.After[0].Int() != 7 {
			t.Errorf("change %d: after %v", n, ch.After)
		}
		n++
	}
	if n != 1 || b.Writeset.Len() != 1 {
		t.Errorf("after Reset and one Add: %d changes, %d keys", n, b.Writeset.Len())
	}
}
