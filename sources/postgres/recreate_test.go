package postgres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/walship/walship/offsets"
)

// noteStore keeps notes in memory.
type noteStore struct{ notes map[string][]byte }

func (s *noteStore) Load(context.Context, string) (offsets.Checkpoint, error) {
	return offsets.Checkpoint{}, nil
}
func (s *noteStore) Save(context.Context, string, offsets.Checkpoint) error { return nil }
func (s *noteStore) SaveNote(_ context.Context, _, name string, v []byte) error {
	s.notes[name] = v
	return nil
}
func (s *noteStore) LoadNote(_ context.Context, _, name string) ([]byte, error) {
	return s.notes[name], nil
}

// The oids note holds an oid change only once the checkpoint covers the
// transaction it came with: a streamed one's at its commit, an aborted
// one's at the next commit.
func TestOIDsNotedWithCheckpoint(t *testing.T) {
	ctx := context.Background()
	st := &noteStore{notes: map[string][]byte{}}
	r := &session{src: &Source{cfg: Config{Name: "s"}, store: st}, oids: map[tableName]uint32{},
		oidsDurable: map[tableName]uint32{}}
	a, b := tableName{"public", "a"}, tableName{"public", "b"}
	note := func() map[string]uint32 {
		var m map[string]uint32
		if err := json.Unmarshal(st.notes[oidsNote], &m); err != nil && st.notes[oidsNote] != nil {
			t.Fatal(err)
		}
		return m
	}
	// In a transaction committing at 100.
	r.cur = nil
	r.curBegin.FinalLSN = 100
	r.oidsPending = append(r.oidsPending, oidSeen{name: a, oid: 1, at: 100})
	// In a streamed transaction 7, committed at 300.
	r.inStream, r.streamXid = true, 7
	r.noteOID(b, 2)
	r.inStream = false
	r.oidsCommitted(5, 200) // another transaction: b's stays pending
	if err := r.saveOIDs(ctx, 250); err != nil {
		t.Fatal(err)
	}
	if m := note(); m["public.a"] != 1 || m["public.b"] != 0 {
		t.Fatalf("note at 250: %v", m)
	}
	r.oidsCommitted(7, 300)
	if err := r.saveOIDs(ctx, 299); err != nil {
		t.Fatal(err)
	}
	if m := note(); m["public.b"] != 0 {
		t.Fatalf("note at 299: %v", m)
	}
	if err := r.saveOIDs(ctx, 320); err != nil {
		t.Fatal(err)
	}
	if m := note(); m["public.b"] != 2 || len(r.oidsPending) != 0 {
		t.Fatalf("note at 320: %v, pending %v", m, r.oidsPending)
	}
	// An aborted stream's oid goes with the next commit; a rename away
	// forgets the old name, in commit order.
	r.inStream, r.streamXid = true, 9
	r.noteOID(a, 3)
	r.inStream = false
	r.oidsAborted(9)
	r.oidsPending = append(r.oidsPending, oidSeen{name: b, oid: 0, at: 400})
	r.oidsCommitted(10, 500)
	if err := r.saveOIDs(ctx, 450); err != nil {
		t.Fatal(err)
	}
	if m := note(); m["public.a"] != 1 || len(m) != 1 {
		t.Fatalf("note at 450: %v", m)
	}
	if err := r.saveOIDs(ctx, 500); err != nil {
		t.Fatal(err)
	}
	if m := note(); m["public.a"] != 3 || len(m) != 1 {
		t.Fatalf("note at 500: %v", m)
	}
}
