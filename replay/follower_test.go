package replay

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlite"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/supervise"
)

// liteApplier is a SQLite follower's applier recording positions as
// sink, under the lock of lock ("" : sink).
func liteApplier(t *testing.T, path, sink, lock string) *sqlsink.Applier {
	t.Helper()
	a := sqlsink.New(sqlsink.Config{Sink: sink, Lock: lock, SourceEngines: map[string]string{"src": "postgres"}},
		sqlite.New(config.SQLiteSink{Path: path}), slog.New(slog.DiscardHandler))
	t.Cleanup(func() { a.Close() })
	return a
}

// recordWatermark makes the sink record a watermark of source src at seq.
func recordWatermark(t *testing.T, path, sink string, seq uint64) {
	t.Helper()
	ctx := context.Background()
	a := liteApplier(t, path, sink, "")
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	w := sinks.Applied{Seq: offsets.Seq{Pos: seq, Sub: offsets.StreamSub}, Pos: offsets.PGPosition(offsets.LSN(seq), offsets.LSN(seq))}
	if err := a.Fold(ctx, "src", w, kafka.Offsets{Spine: 3}); err != nil {
		t.Fatal(err)
	}
}

func TestFollowerStartsWithoutPositions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	start := sinks.SourceState{Offsets: kafka.Offsets{Spine: 42}}
	var checked []string
	f := &follower{Applier: liteApplier(t, path, "lite", ""), progress: &bytes.Buffer{},
		starts: map[string]sinks.SourceState{"src": start}, sources: []string{"src", "other"},
		logStart: func(_ context.Context, src string) error { checked = append(checked, src); return nil }}
	state, release, err := f.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	if got := state["src"]; got.Offsets.Spine != 42 || got.Above == nil {
		t.Errorf("an empty follower starts where From says: %+v", got)
	}
	// Only a source read from spine offset 0 needs its log's beginning.
	if strings.Join(checked, ",") != "other" {
		t.Errorf("log starts checked for %v, want [other]", checked)
	}
}

func TestFollowerResumesAfterPositions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	recordWatermark(t, path, "lite", 500)
	progress := &bytes.Buffer{}
	f := &follower{Applier: liteApplier(t, path, "lite", ""), progress: progress,
		starts: map[string]sinks.SourceState{"src": {Offsets: kafka.Offsets{Spine: 42}}}, sources: []string{"src"},
		logStart: func(context.Context, string) error { return errors.New("not called: the follower has positions") }}
	state, release, err := f.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	if got := state["src"]; got.Watermark.Seq.Pos != 500 || got.Offsets.Spine != 3 {
		t.Errorf("a follower with positions resumes after them, whatever From says: %+v", got)
	}
	if !strings.Contains(progress.String(), "recorded positions: resuming after them") {
		t.Errorf("progress: %q", progress)
	}
}

func TestFollowerRequireEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	recordWatermark(t, path, "lite", 500)
	f := &follower{Applier: liteApplier(t, path, "lite", ""), progress: &bytes.Buffer{}, requireEmpty: "--resnapshot"}
	_, _, err := f.Prepare(context.Background())
	if err == nil || !supervise.IsPermanent(err) || !strings.HasPrefix(err.Error(), "--resnapshot: the follower already recorded positions") {
		t.Errorf("a follower with positions: %v, want a permanent refusal", err)
	}
	// Refused, it gave the lock back: the next Prepare takes it.
	f2 := &follower{Applier: liteApplier(t, path, "lite", ""), progress: &bytes.Buffer{}}
	if _, release, err := f2.Prepare(context.Background()); err != nil {
		t.Errorf("after the refusal: %v", err)
	} else {
		release()
	}
}

// A Tables replay on the sink's own follower stops at the sink's
// watermark, records under a name of its own, and refuses To.
func TestFollowerTablesLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	recordWatermark(t, path, "lite", 500)
	tables := []string{"public.orders"}
	newF := func(to string) *follower {
		return &follower{Applier: liteApplier(t, path, tablesKey("lite", tables), "lite"), progress: &bytes.Buffer{},
			tables: tables, main: "lite", to: to}
	}
	f := newF("")
	state, release, err := f.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	if !f.isLive() || hasPositions(state) {
		t.Errorf("live %v, own positions %v: want live, none yet", f.isLive(), state)
	}
	at := func(seq uint64) *kafka.Txn {
		return &kafka.Txn{End: envelope.Marker{Seq: offsets.Seq{Pos: seq, Sub: offsets.StreamSub}}}
	}
	if f.beyondLimit("src", at(500)) || !f.beyondLimit("src", at(501)) || !f.beyondLimit("unknown", at(1)) {
		t.Error("a live Tables replay stops after the sink's watermark, and at once on a source the sink has no position of")
	}
	_, _, err = newF("0/1").Prepare(context.Background())
	if err == nil || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), "--into another database") {
		t.Errorf("Tables with To on the sink's follower: %v, want a permanent refusal", err)
	}
	// Into a follower the sink never applied: not live, no limit.
	other := &follower{Applier: liteApplier(t, filepath.Join(t.TempDir(), "o.db"), tablesKey("lite", tables), "lite"),
		progress: &bytes.Buffer{}, tables: tables, main: "lite", to: "0/1"}
	if _, release, err := other.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	} else {
		release()
	}
	if other.isLive() || other.beyondLimit("src", at(501)) {
		t.Error("a Tables replay into another database is bounded by the log only")
	}
}

// A Tables follower creates and writes only the tables matched.
func TestFollowerTablesFilter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	tables := []string{"public.keep*"}
	f := &follower{Applier: liteApplier(t, path, tablesKey("lite", tables), "lite"), progress: &bytes.Buffer{},
		tables: tables, main: "lite"}
	_, release, err := f.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	table := func(name string) *ordering.Table {
		return &ordering.Table{Schema: "public", Name: name, PrimaryKey: []string{"id"},
			Columns: []ordering.Column{{Name: "id", Kind: ordering.KindInt, Type: "bigint"}}}
	}
	keep, drop := table("keep_me"), table("drop_me")
	if err := f.EnsureSchema(ctx, "src", []*ordering.Table{keep, drop}); err != nil {
		t.Fatal(err)
	}
	tx, err := f.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range []*ordering.Table{keep, drop} {
		if err := tx.Apply(ctx, "src", &ordering.Change{Table: tb, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(1)}}); err != nil {
			t.Fatalf("apply to %s: %v", tb.Name, err)
		}
	}
	applied := sinks.Applied{Seq: offsets.Seq{Pos: 100, Sub: offsets.StreamSub}, Pos: offsets.PGPosition(100, 100)}
	if err := tx.Record(ctx, "src", []sinks.Applied{applied}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%walship%' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	if strings.Join(names, ",") != "keep_me" {
		t.Errorf("follower tables %v, want [keep_me]", names)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM keep_me").Scan(&n); err != nil || n != 1 {
		t.Errorf("keep_me holds %d rows (%v), want 1", n, err)
	}
}

func TestHasPositions(t *testing.T) {
	for _, c := range []struct {
		st   sinks.SourceState
		want bool
	}{
		{sinks.SourceState{}, false},
		{sinks.SourceState{Watermark: sinks.Applied{Seq: offsets.Seq{Pos: 1}}}, true},
		{sinks.SourceState{Offsets: kafka.Offsets{Spine: 1}}, true},
		{sinks.SourceState{Above: map[offsets.Seq]bool{{Pos: 2}: true}}, true},
	} {
		if got := hasPositions(map[string]sinks.SourceState{"a": {}, "b": c.st}); got != c.want {
			t.Errorf("hasPositions(%+v) = %v", c.st, got)
		}
	}
}

func TestTablesKey(t *testing.T) {
	a := tablesKey("lite", []string{"public.a", "public.b*"})
	if b := tablesKey("lite", []string{"public.b*", "public.a"}); a != b {
		t.Errorf("the patterns' order changes the key: %s, %s", a, b)
	}
	if c := tablesKey("lite", []string{"public.a"}); c == a {
		t.Error("other tables, the same key")
	}
	if !strings.HasPrefix(a, "lite/tables-") {
		t.Errorf("key %q", a)
	}
}

func TestParseTables(t *testing.T) {
	got, err := ParseTables(" public.orders, shop.* ,")
	if err != nil || strings.Join(got, "|") != "public.orders|shop.*" {
		t.Errorf("ParseTables: %q, %v", got, err)
	}
	if got, err := ParseTables(""); got != nil || err != nil {
		t.Errorf(`ParseTables(""): %q, %v; want every table`, got, err)
	}
	for _, bad := range []string{"orders", " , "} {
		if _, err := ParseTables(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("ParseTables(%q): %v, want an ErrUsage", bad, err)
		}
	}
}
