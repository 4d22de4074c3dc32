package envelope

import (
	"testing"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

func TestRowsRoundTrip(t *testing.T) {
	tbl := &ordering.Table{Schema: "public", Name: "t", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		{Name: "id", Kind: ordering.KindInt, Type: "bigint"},
		{Name: "v", Kind: ordering.KindString, Type: "text", Nullable: true},
		{Name: "d", Kind: ordering.KindDecimal, Type: "numeric", Nullable: true},
		{Name: "a", Kind: ordering.KindArray, Elem: ordering.KindInt, Type: "integer[]", Nullable: true},
	}}
	txn := &ordering.Txn{Source: "src", ID: "7", Seq: offsets.Seq{Pos: 100, Sub: offsets.StreamSub}, DependsOn: offsets.Seq{Pos: 90, Sub: offsets.StreamSub},
		Pos: offsets.PGPosition(100, 120), CommitTime: time.UnixMicro(1_700_000_000_123_456).UTC()}
	changes := []ordering.Change{
		{Table: tbl, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(1), ordering.String("a\x00b"), ordering.Decimal("-1.50"), ordering.Array(ordering.Int(1), ordering.Null())}},
		{Table: tbl, Op: ordering.OpUpdate, Before: []ordering.Value{ordering.Int(1), ordering.Unchanged(), ordering.Unchanged(), ordering.Unchanged()},
			After: []ordering.Value{ordering.Int(2), ordering.Null(), ordering.Unchanged(), ordering.Null()}},
		{Table: tbl, Op: ordering.OpDelete, Before: []ordering.Value{ordering.Int(2), ordering.Null(), ordering.Null(), ordering.Null()}},
	}
	enc := NewEncoder(Source{Name: "src", Connector: "postgresql", Logical: "w"}, Options{})
	evs := []RowEvent{{0, &changes[0]}, {3, &changes[1]}, {4, &changes[2]}}
	rec, err := enc.EncodeRows(txn, 5, tbl, evs)
	if err != nil {
		t.Fatal(err)
	}
	if !IsRows(rec) {
		t.Fatal("not a row batch")
	}
	var dec Decoder
	out, err := dec.DecodeRows(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("%d changes", len(out))
	}
	for i, d := range out {
		if d.Index != evs[i].Index || d.Count != 5 || d.Seq != txn.Seq || d.DependsOn != txn.DependsOn || d.Pos != txn.Pos ||
			!d.CommitTime.Equal(txn.CommitTime) || d.TxnID != TxnID(txn) || d.Source != "src" || d.Change.Op != changes[i].Op {
			t.Errorf("change %d: %+v", i, d)
		}
		for _, img := range [][2][]ordering.Value{{d.Change.Before, changes[i].Before}, {d.Change.After, changes[i].After}} {
			if (img[0] == nil) != (img[1] == nil) || len(img[0]) != len(img[1]) {
				t.Fatalf("change %d: image %v, want %v", i, img[0], img[1])
			}
			for j := range img[0] {
				if !img[0][j].Equal(img[1][j]) || img[0][j].Kind() != img[1][j].Kind() {
					t.Errorf("change %d column %d: %v, want %v", i, j, img[0][j], img[1][j])
				}
			}
		}
	}
	// Damaged values are refused, never half read.
	for _, cut := range []int{1, len(rec.Value) / 2, len(rec.Value) - 1} {
		bad := rec
		bad.Value = rec.Value[:cut]
		if _, err := dec.DecodeRows(bad, nil); err == nil {
			t.Errorf("a value cut at %d decoded", cut)
		}
	}
}
