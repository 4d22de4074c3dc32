package offsets

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"
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

// TestStoreSeqSchemeUsed: the sequence scheme a source saved outlives
// Delete (the log still holds what it numbered) and is per source.
func TestStoreSeqSchemeUsed(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SeqSchemeUsed(ctx, "my"); v != "" || err != nil {
		t.Fatalf("none saved: %q %v", v, err)
	}
	if err := s.Save(ctx, "my", Checkpoint{Seq: Seq{Pos: 5 << 40}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SeqSchemeUsed(ctx, "my"); v != "" {
		t.Errorf("binlog scheme saved: %q", v)
	}
	if err := s.Save(ctx, "my", Checkpoint{Seq: Seq{Pos: GTIDSeqBit | 9}, SeqScheme: "gtid:0"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "my", Checkpoint{Seq: Seq{Pos: 1}, SeqScheme: "gtid:7"}); !errors.Is(err, ErrBackwards) {
		t.Fatalf("backwards save: %v", err)
	}
	if err := s.Delete(ctx, "my"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.SeqSchemeUsed(ctx, "my"); v != "gtid:0" || err != nil {
		t.Errorf("after Delete: %q %v (a refused save must not record its scheme)", v, err)
	}
	if v, _ := s.SeqSchemeUsed(ctx, "other"); v != "" {
		t.Errorf("other source: %q", v)
	}
}

// TestStoreMigratesCoversSlot: a store written before covers_slot,
// seq_scheme and clean existed opens, its checkpoints load without them,
// and new saves keep them.
func TestStoreMigratesCoversSlot(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	old, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "checkpoints.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE TABLE checkpoints (source TEXT PRIMARY KEY, position TEXT NOT NULL, seq TEXT NOT NULL,
			snapshot_done INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL)`,
		`INSERT INTO checkpoints VALUES ('pg', '` + string(mustText(PGPosition(100, 120))) + `', '` + (Seq{Pos: 100, Sub: StreamSub}).String() + `', 1, '2026-01-01T00:00:00Z')`} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp, err := s.Load(ctx, "pg")
	if err != nil || cp.CoversSlot || !cp.SnapshotDone || cp.SeqScheme != "" || cp.Clean {
		t.Fatalf("old checkpoint: %+v %v", cp, err)
	}
	cp.CoversSlot, cp.SeqScheme, cp.Clean = true, "gtid:0", true
	if err := s.Save(ctx, "pg", cp); err != nil {
		t.Fatal(err)
	}
	if cp, err = s.Load(ctx, "pg"); err != nil || !cp.CoversSlot || cp.SeqScheme != "gtid:0" || !cp.Clean {
		t.Fatalf("saved: %+v %v", cp, err)
	}
	// A later save without them clears them (the source clears Clean
	// before it publishes anything).
	cp.Clean = false
	if err := s.Save(ctx, "pg", cp); err != nil {
		t.Fatal(err)
	}
	if cp, err = s.Load(ctx, "pg"); err != nil || cp.Clean || cp.SeqScheme != "gtid:0" {
		t.Fatalf("saved again: %+v %v", cp, err)
	}
}

func mustText(p Position) []byte {
	b, err := p.MarshalText()
	if err != nil {
		panic(err)
	}
	return b
}

// TestStoreNotes: notes survive a reopen, are per source and name, are
// replaced by a later save, and go with Delete.
func TestStoreNotes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.LoadNote(ctx, "pg", "partitions"); v != nil || err != nil {
		t.Fatalf("no note: %q %v", v, err)
	}
	for _, v := range []string{"first", "second"} {
		if err := s.SaveNote(ctx, "pg", "partitions", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveNote(ctx, "other", "partitions", []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenStore(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.LoadNote(ctx, "pg", "partitions"); string(v) != "second" || err != nil {
		t.Errorf("after reopen: %q %v", v, err)
	}
	if err := s.Delete(ctx, "pg"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.LoadNote(ctx, "pg", "partitions"); v != nil {
		t.Errorf("after Delete: %q", v)
	}
	if v, _ := s.LoadNote(ctx, "other", "partitions"); string(v) != "x" {
		t.Errorf("other source's note: %q", v)
	}
}

func TestExportImportSourceState(t *testing.T) {
	ctx := context.Background()
	a, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cp := Checkpoint{Position: Position{Engine: EnginePostgres, LSN: 0x10, EndLSN: 0x20}, Seq: Seq{Pos: 0x10}, SnapshotDone: true, CoversSlot: true}
	if err := a.Save(ctx, "s", cp); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveNote(ctx, "s", "n", []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	// b holds an older state of s, and a note a lacks: Import replaces both.
	if err := b.Save(ctx, "s", Checkpoint{Position: Position{Engine: EnginePostgres, LSN: 0x08, EndLSN: 0x09}, Seq: Seq{Pos: 0x08}}); err != nil {
		t.Fatal(err)
	}
	b.SaveNote(ctx, "s", "stale", []byte("x"))
	st, err := a.Export(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Import(ctx, "s", st); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != cp.Seq || !got.SnapshotDone || !got.CoversSlot || got.Position.String() != cp.Position.String() {
		t.Errorf("imported %+v, want %+v", got, cp)
	}
	if v, _ := b.LoadNote(ctx, "s", "n"); string(v) != "\x00\x01\x02" {
		t.Errorf("note n = %q", v)
	}
	if v, _ := b.LoadNote(ctx, "s", "stale"); v != nil {
		t.Errorf("stale note kept: %q", v)
	}
	// A source with nothing: Import of the empty state deletes.
	if err := b.Import(ctx, "s", SourceState{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx, "s"); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("after importing nothing: %v", err)
	}
	bad := SourceState{Checkpoint: &StoredCheckpoint{Position: "nonsense", Seq: "1", UpdatedAt: time.Now().Format(time.RFC3339Nano)}}
	if err := b.Import(ctx, "s", bad); err == nil {
		t.Error("a malformed position was imported")
	}
}
