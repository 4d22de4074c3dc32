package mysql

import (
	"errors"
	"fmt"
	"testing"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/supervise"
)

func TestFirstChunk(t *testing.T) {
	marker := func(pos uint64, sub uint32) offsets.Checkpoint {
		return offsets.Checkpoint{Seq: offsets.Seq{Pos: pos, Sub: sub}}
	}
	for _, c := range []struct {
		name      string
		prev      offsets.Checkpoint
		have      bool
		want      uint32
		err       bool
		permanent bool
	}{
		{name: "first snapshot", want: 0},
		{name: "after a finished snapshot", prev: offsets.Checkpoint{Seq: offsets.Seq{Pos: 500, Sub: 7}, SnapshotDone: true}, have: true, want: 0},
		{name: "redo at a later position", prev: marker(90, 0), have: true, want: 0},
		{name: "redo at the same position", prev: marker(100, 0), have: true, want: 1 << 24},
		{name: "third attempt at the same position", prev: marker(100, 1<<24), have: true, want: 2 << 24},
		{name: "last generation", prev: marker(100, 253<<24), have: true, want: 254 << 24},
		{name: "generations exhausted", prev: marker(100, 254<<24), have: true, err: true},
		{name: "binlog went backwards", prev: marker(200, 0), have: true, err: true, permanent: true},
	} {
		got, err := firstChunk(c.prev, c.have, 100)
		if (err != nil) != c.err {
			t.Errorf("%s: error %v, want error %v", c.name, err, c.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrSnapshotRedo) {
				t.Errorf("%s: %v is not ErrSnapshotRedo", c.name, err)
			}
			if supervise.IsPermanent(err) != c.permanent {
				t.Errorf("%s: permanent %v, want %v", c.name, supervise.IsPermanent(err), c.permanent)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s: first chunk %#x, want %#x", c.name, got, c.want)
		}
		if last := got + chunkGeneration - 1; last >= offsets.StreamSub {
			t.Errorf("%s: chunks reach the stream's Sub", c.name)
		}
	}
}

// TestKeyRanges: the bounds between n ranges of [lo, hi] ascend, stay
// inside it, and survive the extremes of int64.
func TestKeyRanges(t *testing.T) {
	for _, c := range []struct {
		lo, hi, n int64
		want      string
	}{
		{1, 100, 4, "[25 49 73]"},
		{1, 3, 10, "[2 3]"},
		{5, 5, 3, "[]"},
		{1, 100, 1, "[]"},
		{-9223372036854775808, 9223372036854775807, 2, "[-1]"},
	} {
		if got := fmt.Sprint(keyRanges(c.lo, c.hi, c.n)); got != c.want && !(got == "[]" && c.want == "[]") {
			t.Errorf("keyRanges(%d, %d, %d) = %s, want %s", c.lo, c.hi, c.n, got, c.want)
		}
	}
}
