package kafka

import (
	"errors"
	"testing"
)

// TestStartAt: where a partition read starts, against what the partition
// holds. Offset 0 is a position like any other: a reader that starts at
// the beginning of the log is refused a partition whose beginning is gone
// (a TrimmedError, which is ErrRetention); only a reader that starts later
// starts an unnamed data partition at its first held offset.
func TestStartAt(t *testing.T) {
	for _, c := range []struct {
		what             string
		spine            int64 // Resume.Spine
		whole            bool  // Resume.Whole
		offset           int64
		named            bool
		first, last      int64
		want             int64
		trimmed, retains bool // want a TrimmedError; want another ErrRetention
	}{
		{what: "fresh log, from the start", offset: 0, named: true, first: 0, last: 10, want: 0},
		{what: "spine trimmed, from the start", offset: 0, named: true, first: 4, last: 10, trimmed: true},
		{what: "empty topic whose records all expired, from the start", offset: 0, named: true, first: 10, last: 10, trimmed: true},
		{what: "unnamed data partition, from the start, fresh", offset: 0, first: 0, last: 7, want: 0},
		{what: "unnamed data partition, from the start, trimmed", offset: 0, first: 3, last: 7, trimmed: true},
		{what: "unnamed data partition, resuming after a later start", spine: 5, offset: 0, first: 3, last: 7, want: 3},
		{what: "unnamed data partition, resuming a whole read, fresh", spine: 5, whole: true, offset: 0, first: 0, last: 7, want: 0},
		{what: "unnamed data partition, resuming a whole read, trimmed", spine: 5, whole: true, offset: 0, first: 3, last: 7, retains: true},
		{what: "named data partition, resuming, held", spine: 5, offset: 4, named: true, first: 3, last: 7, want: 4},
		{what: "named data partition, resuming, trimmed", spine: 5, offset: 2, named: true, first: 3, last: 7, retains: true},
		{what: "named offset 0, resuming, trimmed", spine: 5, offset: 0, named: true, first: 3, last: 7, retains: true},
		{what: "spine resuming past the end (recreated topic)", spine: 12, offset: 12, named: true, first: 0, last: 3, retains: true},
		{what: "spine resuming at the end", spine: 12, offset: 12, named: true, first: 5, last: 12, want: 12},
	} {
		r := NewReader(ReaderConfig{Resume: Offsets{Spine: c.spine, Whole: c.whole}})
		got, err := r.startAt("p.public.t", 1, c.offset, c.named, c.first, c.last)
		var te *TrimmedError
		switch {
		case c.trimmed:
			if !errors.As(err, &te) || !errors.Is(err, ErrRetention) || te.First != c.first || te.Topic != "p.public.t" || te.Partition != 1 {
				t.Errorf("%s: err %v, want a TrimmedError at %d", c.what, err, c.first)
			}
		case c.retains:
			if !errors.Is(err, ErrRetention) || errors.As(err, &te) {
				t.Errorf("%s: err %v, want ErrRetention (not trimmed)", c.what, err)
			}
		case err != nil || got != c.want:
			t.Errorf("%s: %d, %v; want %d", c.what, got, err, c.want)
		}
	}
}

// TestOffsetsWhole: a reader that starts at the beginning of the log says
// so in every position it gives, and a reader resumed from such a position
// keeps saying it; one started later (replay --from) does not.
func TestOffsetsWhole(t *testing.T) {
	for _, c := range []struct {
		resume Offsets
		want   bool
	}{
		{Offsets{}, true},
		{Offsets{Spine: 9, Whole: true, Partitions: map[string]int64{"p.public.t/0": 4}}, true},
		{Offsets{Spine: 9}, false},
	} {
		if got := NewReader(ReaderConfig{Resume: c.resume}).snapshotOffsets().Whole; got != c.want {
			t.Errorf("resumed at %+v: Whole %v, want %v", c.resume, got, c.want)
		}
	}
}
