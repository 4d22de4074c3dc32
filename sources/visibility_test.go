package sources

import (
	"testing"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// A chunk whose read did not see a transaction the stream decoded before
// its low watermark (committed first in the log, visible later) is read
// again, not published with the rows that transaction changed; one that
// saw every such transaction is published. Transactions decoded inside
// the window count for nothing here (the window drops their keys).
func TestChunkMissingAnEarlierCommitIsReadAgain(t *testing.T) {
	tbl := &ordering.Table{Schema: "s", Name: "t", Columns: []ordering.Column{{Name: "id", Kind: ordering.KindInt}}, PrimaryKey: []string{"id"}}
	current := func(string) *ordering.Table { return tbl }
	for _, c := range []struct {
		name   string
		before []uint32 // decoded before the low watermark
		inside []uint32 // decoded between the watermarks
		snap   XidSnapshot
		hidden bool
	}{
		{"every earlier commit visible", []uint32{90, 99, 100}, []uint32{101}, XidSnapshot{Xmin: 101, Xmax: 103, Xip: map[uint32]bool{101: true}}, false},
		{"an earlier commit in flight at the read", []uint32{90, 100}, nil, XidSnapshot{Xmin: 100, Xmax: 102, Xip: map[uint32]bool{100: true}}, true},
		{"an earlier commit above the read's xmax", []uint32{90, 105}, nil, XidSnapshot{Xmin: 100, Xmax: 102, Xip: map[uint32]bool{}}, true},
		{"across the xid wraparound", []uint32{1<<32 - 2, 3}, nil, XidSnapshot{Xmin: 1<<32 - 5, Xmax: 2, Xip: map[uint32]bool{}}, true},
		{"below xmin across the wraparound", []uint32{1<<32 - 7}, []uint32{4}, XidSnapshot{Xmin: 1<<32 - 5, Xmax: 2, Xip: map[uint32]bool{}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := NewBackfillStream(nil)
			for _, x := range c.before {
				b.NoteCommit(x)
			}
			if err := b.Watermark("lw tok s.t", current, nil); err != nil {
				t.Fatal(err)
			}
			for _, x := range c.inside {
				b.NoteCommit(x)
			}
			snap := c.snap
			chunk := &BackfillChunk{Table: "s.t", Shape: tbl, Rows: [][]ordering.Value{{ordering.Int(1)}}, Snapshot: &snap, done: make(chan backfillResult, 1)}
			b.register("tok", chunk)
			var added int
			if err := b.Watermark("hw tok", current, func(ordering.Change) error { added++; return nil }); err != nil {
				t.Fatal(err)
			}
			b.Committed(offsets.Seq{Pos: 7})
			res := <-chunk.done
			if res.hidden != c.hidden || res.redo != c.hidden {
				t.Fatalf("redo %v hidden %v, want %v", res.redo, res.hidden, c.hidden)
			}
			if c.hidden == (added > 0) {
				t.Fatalf("%d rows published", added)
			}
		})
	}
}

// When more transactions were decoded after the low watermark than the
// stream keeps, the chunk cannot be checked and is read again.
func TestChunkCheckBeyondTheRing(t *testing.T) {
	b := NewBackfillStream(nil)
	b.NoteCommit(1)
	w := NewWindow("s.t")
	w.mark = b.ncommits
	for i := 0; i < commitRing; i++ {
		b.NoteCommit(uint32(10 + i))
	}
	if !b.hiddenBefore(w.mark, &XidSnapshot{Xmin: 5, Xmax: 6}) {
		t.Fatal("a chunk whose earlier commits are gone from the ring was published")
	}
	if b.hiddenBefore(0, &XidSnapshot{Xmin: 5, Xmax: 6}) {
		t.Fatal("a window opened before any commit was read again")
	}
}
