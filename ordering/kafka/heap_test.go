package kafka

import (
	"math/rand/v2"
	"testing"

	"github.com/walship/walship/ordering/envelope"
)

func TestEventHeap(t *testing.T) {
	for n := range 50 {
		var h eventHeap
		ids := rand.Perm(n)
		for i, x := range ids {
			e := envelope.Decoded{Index: x / 2}
			if x%2 == 1 {
				e.KeyChange = envelope.KeyChangeCreate
			}
			h.push(heapItem{e, i})
		}
		for want := range n {
			if got := eventID(h.pop().e); got != want {
				t.Fatalf("n %d: popped %d, want %d", n, got, want)
			}
		}
		if h.Len() != 0 {
			t.Fatalf("n %d: %d left", n, h.Len())
		}
	}
}

func TestIDSet(t *testing.T) {
	var s idSet
	seen := map[int]bool{}
	for range 2000 {
		id := rand.IntN(700)
		if got := s.add(id); got == seen[id] {
			t.Fatalf("add(%d) = %v with seen %v", id, got, seen[id])
		}
		seen[id] = true
	}
}
