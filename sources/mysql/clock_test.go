package mysql

import (
	"testing"

	"github.com/walship/walship/offsets"
)

func seqAt(p uint64) offsets.Seq { return offsets.Seq{Pos: p, Sub: offsets.StreamSub} }

func TestLogicalClockBound(t *testing.T) {
	c := newLogicalClock(0)

	// MariaDB (no logical clock): no bound.
	if _, ok := c.bound(0, 0); ok {
		t.Fatal("an event without sequence_number gave a bound")
	}

	// File 1: transactions 1..4 published at Seq 10, 20, 30, 40; sequence
	// number 3 was not captured (not published), so it is not remembered.
	c.published(1, seqAt(10))
	c.published(2, seqAt(20))
	c.published(4, seqAt(40))
	for _, tc := range []struct {
		lc   int64
		want offsets.Seq
	}{
		{0, offsets.Seq{}}, // depends on nothing in the file
		{1, seqAt(10)},
		{2, seqAt(20)},
		{3, seqAt(20)}, // 3 is not in the log: the last published before it
		{4, seqAt(40)},
		{9, seqAt(40)},
	} {
		got, ok := c.bound(tc.lc, 5)
		if !ok || got != tc.want {
			t.Errorf("bound(last_committed=%d) = %v, %v; want %v", tc.lc, got, ok, tc.want)
		}
	}

	// A rotate: numbering restarts, and everything follows file 1.
	c.rotate()
	if got, _ := c.bound(0, 1); got != seqAt(40) {
		t.Errorf("first transaction of a new file: bound %v, want the last of the previous file %v", got, seqAt(40))
	}
	c.published(1, seqAt(50))
	if got, _ := c.bound(1, 2); got != seqAt(50) {
		t.Errorf("bound(1) in file 2 = %v, want %v", got, seqAt(50))
	}
	if got, _ := c.bound(0, 2); got != seqAt(40) {
		t.Errorf("bound(0) in file 2 = %v, want %v", got, seqAt(40))
	}
}

// TestLogicalClockForgets: past its capacity the clock forgets the oldest
// half, and answers for them with the newest forgotten Seq: later than the
// exact bound, never earlier.
func TestLogicalClockForgets(t *testing.T) {
	c := newLogicalClock(4)
	for sn := int64(1); sn <= 6; sn++ {
		c.published(sn, seqAt(uint64(sn*10)))
	}
	// Capacity 4: at the 5th, 1 and 2 were forgotten (floor 20).
	for _, tc := range []struct {
		lc   int64
		want offsets.Seq
	}{
		{1, seqAt(20)}, // forgotten: conservative
		{2, seqAt(20)},
		{3, seqAt(30)},
		{6, seqAt(60)},
	} {
		if got, _ := c.bound(tc.lc, 7); got != tc.want {
			t.Errorf("bound(%d) = %v, want %v", tc.lc, got, tc.want)
		}
	}
	// Never below the exact bound, for any last_committed.
	for lc := int64(0); lc <= 6; lc++ {
		got, _ := c.bound(lc, 7)
		exact := seqAt(uint64(lc * 10))
		if lc == 0 {
			exact = offsets.Seq{}
		}
		if got.Less(exact) {
			t.Errorf("bound(%d) = %v is below the exact bound %v", lc, got, exact)
		}
	}
}

// TestLogicalClockOutOfOrder: a sequence number that goes backwards within
// a file is treated like a new file, never answered from an unsorted list.
func TestLogicalClockOutOfOrder(t *testing.T) {
	c := newLogicalClock(0)
	c.published(5, seqAt(10))
	c.published(3, seqAt(20))
	if got, _ := c.bound(0, 4); got != seqAt(10) {
		t.Errorf("after an out-of-order number: bound %v, want %v", got, seqAt(10))
	}
	if got, _ := c.bound(3, 4); got != seqAt(20) {
		t.Errorf("bound(3) = %v, want %v", got, seqAt(20))
	}
}
