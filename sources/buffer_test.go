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
