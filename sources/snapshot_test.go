package sources

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walship/walship/ordering"
)

// fakePart emits chunks chunks, each one change whose After holds its
// part and chunk number, after a random delay.
type fakePart struct {
	part, chunks int
	fail         error
	held         *atomic.Int64
	maxHeld      *atomic.Int64
}

func (p *fakePart) Read(ctx context.Context, worker int, emit func(*TxnBuffer) error) error {
	for c := 0; c < p.chunks; c++ {
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		if p.fail != nil && c == p.chunks/2 {
			return p.fail
		}
		b := NewTxnBuffer(0, "", 1<<20)
		if err := b.Add(0, ordering.Change{Op: ordering.OpRead, Table: &ordering.Table{Name: "t"},
			After: []ordering.Value{ordering.Int(int64(p.part)), ordering.Int(int64(c))}}); err != nil {
			return err
		}
		if n := p.held.Add(1); n > p.maxHeld.Load() {
			p.maxHeld.Store(n)
		}
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

// TestReadSnapshotOrder: chunks reach publish in part order, and within a
// part in emit order, for any number of workers; no more than
// workers*(ahead+1)+1 chunks are held at once.
func TestReadSnapshotOrder(t *testing.T) {
	for _, workers := range []int{1, 2, 4, 7} {
		var held, maxHeld atomic.Int64
		var parts []SnapshotPart
		for i := 0; i < 20; i++ {
			parts = append(parts, &fakePart{part: i, chunks: rand.IntN(6), held: &held, maxHeld: &maxHeld})
		}
		var got [][2]int64
		err := ReadSnapshot(context.Background(), workers, 2, parts, func(b *TxnBuffer) error {
			defer b.Close()
			for ch, err := range b.Changes() {
				if err != nil {
					return err
				}
				got = append(got, [2]int64{ch.After[0].Int(), ch.After[1].Int()})
			}
			time.Sleep(100 * time.Microsecond)
			held.Add(-1)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var want [][2]int64
		for i, p := range parts {
			for c := 0; c < p.(*fakePart).chunks; c++ {
				want = append(want, [2]int64{int64(i), int64(c)})
			}
		}
		if len(got) != len(want) {
			t.Fatalf("workers %d: %d chunks, want %d", workers, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("workers %d: chunk %d is %v, want %v", workers, i, got[i], want[i])
			}
		}
		if m := maxHeld.Load(); m > int64(workers*3+1) {
			t.Errorf("workers %d: %d chunks held at once", workers, m)
		}
	}
}

// TestReadSnapshotError: a part's failure stops the read and is returned,
// not the stop it causes in the others; a publish failure likewise.
func TestReadSnapshotError(t *testing.T) {
	boom := errors.New("boom")
	var held, maxHeld atomic.Int64
	var parts []SnapshotPart
	for i := 0; i < 10; i++ {
		p := &fakePart{part: i, chunks: 50, held: &held, maxHeld: &maxHeld}
		if i == 6 {
			p.fail = boom
		}
		parts = append(parts, p)
	}
	publish := func(b *TxnBuffer) error { b.Close(); return nil }
	if err := ReadSnapshot(context.Background(), 3, 1, parts, publish); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	pubErr := errors.New("publish")
	n := 0
	err := ReadSnapshot(context.Background(), 3, 1, parts[:5], func(b *TxnBuffer) error {
		b.Close()
		if n++; n == 7 {
			return pubErr
		}
		return nil
	})
	if !errors.Is(err, pubErr) {
		t.Fatalf("err = %v, want the publish error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ReadSnapshot(ctx, 2, 1, parts[:5], publish); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
