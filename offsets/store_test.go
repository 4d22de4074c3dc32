package offsets

import (
	"context"
	"errors"
	"testing"
)

func TestStore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "pg"); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("err = %v", err)
	}
	cp := Checkpoint{Position: PGPosition(100, 120), Seq: Seq{Pos: 100, Sub: StreamSub}, SnapshotDone: true}
	if err := s.Save(ctx, "pg", cp); err != nil {
		t.Fatal(err)
	}
	// Same position again is fine (idempotent), lower is refused.
	if err := s.Save(ctx, "pg", cp); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "pg", Checkpoint{Position: PGPosition(50, 60), Seq: Seq{Pos: 50}}); !errors.Is(err, ErrBackwards) {
		t.Fatalf("backwards save: %v", err)
	}
	s.Close()

	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Load(ctx, "pg")
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != cp.Seq || got.Position.LSN != 100 || got.Position.EndLSN != 120 || !got.SnapshotDone || got.UpdatedAt.IsZero() {
		t.Errorf("loaded %+v", got)
	}
	if err := s.Delete(ctx, "pg"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "pg"); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("after delete: %v", err)
	}
}
