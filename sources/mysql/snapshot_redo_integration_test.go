package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources/sourcetest"
)

// redoSchema: a keyless table read first, a large keyed one, and a parent
// and its child.
var redoSchema = []string{
	`CREATE TABLE a_nokey (n int, msg varchar(20))`,
	`INSERT INTO a_nokey SELECT seq % 1000, 'm' FROM seq_1_to_3000`,
	`CREATE TABLE big (id int PRIMARY KEY, v text)`,
	`INSERT INTO big SELECT seq, repeat('x', 200) FROM seq_1_to_100000`,
	`CREATE TABLE parent (id int PRIMARY KEY)`,
	`CREATE TABLE child (id int PRIMARY KEY, pid int NOT NULL, FOREIGN KEY (pid) REFERENCES parent(id))`,
	`INSERT INTO parent SELECT seq FROM seq_1_to_10`,
	`INSERT INTO child SELECT seq, seq FROM seq_1_to_10`,
}

var redoTables = []string{"a_nokey", "big", "parent", "child"}

// counts is a table's rows as a multiset: a keyless table may hold one
// row twice, and a copy too many is what a redone snapshot must not leave.
type counts map[string]map[string]int

// foldCounts applies the log like a sink (each transaction once, by Seq,
// skipping what sorts at or below the last applied), counting rows.
func foldCounts(l *logread.Log) counts {
	st := counts{}
	for ch := range sourcetest.Applied(l) {
		if st[ch.Table.Name] == nil {
			st[ch.Table.Name] = map[string]int{}
		}
		rows := st[ch.Table.Name]
		switch ch.Op {
		case ordering.OpTruncate:
			clear(rows)
		case ordering.OpDelete:
			dec(rows, rowKey(ch.Table, ch.Before))
		case ordering.OpUpdate:
			dec(rows, rowKey(ch.Table, ch.Before))
			rows[rowKey(ch.Table, ch.After)]++
		default:
			k := rowKey(ch.Table, ch.After)
			if len(ch.Table.PrimaryKey) > 0 {
				rows[k] = 1 // an upsert
			} else {
				rows[k]++
			}
		}
	}
	return st
}

func dec(rows map[string]int, k string) {
	if rows[k]--; rows[k] <= 0 {
		delete(rows, k)
	}
}

// sourceCounts reads the live tables through the snapshot's decoders.
func (h *harness) sourceCounts(tables ...string) counts {
	h.T.Helper()
	st := counts{}
	for _, name := range tables {
		rows := map[string]int{}
		h.sourceRows(name, func(t *ordering.Table, row []ordering.Value) { rows[rowKey(t, row)]++ })
		st[name] = rows
	}
	return st
}

func countsEqual(t *testing.T, got, want counts) {
	t.Helper()
	for table, rows := range want {
		g := got[table]
		missing, extra, total := 0, 0, 0
		for k, n := range rows {
			total += n
			if d := n - g[k]; d > 0 {
				missing += d
			}
		}
		for k, n := range g {
			if d := n - rows[k]; d > 0 {
				extra += d
			}
		}
		if missing+extra > 0 {
			t.Errorf("%s: %d rows missing, %d extra (of %d at the source)", table, missing, extra, total)
		}
	}
}

// stopMidSnapshot starts the source and stops it once at least rows
// snapshot rows are published, before the snapshot finished. It checks
// that the snapshot's start marker is what the store holds.
func stopMidSnapshot(t *testing.T, h *harness, cfg Config, rows int64) offsets.Checkpoint {
	t.Helper()
	h.start(cfg)
	deadline := time.Now().Add(60 * time.Second)
	for h.src.Status().SnapshotRows < rows {
		if time.Now().After(deadline) {
			t.Fatalf("snapshot did not progress: %+v", h.src.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.Stop()
	if h.src.Status().State == "streaming" {
		t.Skip("the snapshot finished before the stop; nothing to redo")
	}
	cp, err := h.Store.Load(context.Background(), "my")
	if err != nil {
		t.Fatalf("no checkpoint after a stop mid-snapshot: %v", err)
	}
	if cp.SnapshotDone {
		t.Fatalf("checkpoint says the snapshot is done after a stop mid-snapshot: %+v", cp)
	}
	return cp
}

// redoChunks checks the log's shape after redos: each redo's first chunk
// truncates every captured table, children before parents, and nothing
// else, and sorts after every chunk published before it (so sinks apply
// it and all that follows). It returns the last redo chunk's Seq.
func redoChunks(t *testing.T, l *logread.Log) offsets.Seq {
	t.Helper()
	var redo offsets.Seq
	for i, txn := range l.Txns {
		var names []string
		for _, e := range txn.Events {
			if e.Change.Op == ordering.OpTruncate {
				names = append(names, e.Change.Table.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		redo = txn.End.Seq
		if !txn.End.Snapshot || len(names) != len(redoTables) || len(txn.Events) != len(names) {
			t.Errorf("redo chunk %s: snapshot %v, truncates %v, %d events; want a snapshot chunk of only the %d truncates",
				redo, txn.End.Snapshot, names, len(txn.Events), len(redoTables))
		}
		pos := map[string]int{}
		for j, n := range names {
			pos[n] = j
		}
		if pos["child"] > pos["parent"] {
			t.Errorf("redo chunk truncates %v: parent before its child", names)
		}
		for _, before := range l.Txns[:i] {
			if !before.End.Seq.Less(redo) {
				t.Errorf("chunk %s, published before the redo, does not sort below its first chunk %s", before.End.Seq, redo)
			}
		}
	}
	if redo.IsZero() {
		t.Fatal("no truncate in the log: the snapshot was not redone as a redo")
	}
	return redo
}

// TestSnapshotRedoneAfterStopMidway: a source stopped in the middle of its
// snapshot left its start in the checkpoint store; the next start redoes
// the snapshot, whose first chunk truncates every captured table (children
// first) and sorts after every chunk of the unfinished attempt. Rows the
// first attempt sent and the source deleted since are gone, a keyless
// table has each row as often as the source has it, and the stream after
// the snapshot is applied exactly once.
func TestSnapshotRedoneAfterStopMidway(t *testing.T) {
	h := newHarness(t, redoSchema...)
	cfg := h.config()
	cfg.SnapshotChunkRows = 500
	stopMidSnapshot(t, h, cfg, 5000)           // a_nokey whole, big in part
	h.Exec("DELETE FROM big WHERE id <= 1000") // rows the first attempt sent
	h.Exec("UPDATE big SET v = 'changed' WHERE id % 7 = 0")
	h.Exec("DELETE FROM a_nokey WHERE n % 3 = 0")
	h.Exec("INSERT INTO a_nokey VALUES (1, 'm'), (1, 'm'), (5000, 'new')") // copies of rows it has
	h.Exec("DELETE FROM child WHERE id = 3")
	h.Exec("DELETE FROM parent WHERE id = 3")
	h.start(cfg)
	waitStreaming(t, h)
	// The stream after the snapshot: applied once, or a keyless row
	// counts twice.
	h.Exec("INSERT INTO a_nokey VALUES (1, 'm'), (7000, 'streamed')")
	h.Exec("DELETE FROM big WHERE id BETWEEN 2000 AND 2010")
	h.Exec("INSERT INTO parent VALUES (100)")
	h.Exec("INSERT INTO child VALUES (100, 100)")
	h.CaughtUp()
	l := h.Read()
	countsEqual(t, foldCounts(l), h.sourceCounts(redoTables...))
	redoChunks(t, l)
	seen := map[offsets.Seq]bool{}
	for _, txn := range l.Txns {
		if !txn.End.Snapshot && seen[txn.End.Seq] {
			t.Errorf("streamed transaction %s written twice", txn.End.Seq)
		}
		seen[txn.End.Seq] = true
	}
}

// TestSnapshotRedoneAtSamePosition: stopped mid-snapshot twice with
// nothing written to the captured tables in between, the redo's chunks
// still sort after the unfinished attempts' (a new generation when the
// binlog position did not move), and the log folds to the source.
func TestSnapshotRedoneAtSamePosition(t *testing.T) {
	h := newHarness(t, redoSchema...)
	cfg := h.config()
	cfg.SnapshotChunkRows = 500
	first := stopMidSnapshot(t, h, cfg, 5000)
	second := stopMidSnapshot(t, h, cfg, 5000)
	if !first.Seq.Less(second.Seq) {
		t.Errorf("second attempt starts at %s, not after the first's %s", second.Seq, first.Seq)
	}
	if second.Seq.Pos == first.Seq.Pos && second.Seq.Sub != first.Seq.Sub+chunkGeneration {
		t.Errorf("second attempt at the same binlog position starts at chunk %#x, want %#x", second.Seq.Sub, first.Seq.Sub+chunkGeneration)
	}
	t.Logf("attempts started at %s and %s (the same binlog position: %v)", first.Seq, second.Seq, first.Seq.Pos == second.Seq.Pos)
	h.start(cfg)
	waitStreaming(t, h)
	h.CaughtUp()
	l := h.Read()
	redo := redoChunks(t, l)
	if redo.Pos == second.Seq.Pos && redo.Sub < second.Seq.Sub+chunkGeneration {
		t.Errorf("redo at the second attempt's position starts at %s, inside its generation", redo)
	}
	countsEqual(t, foldCounts(l), h.sourceCounts(redoTables...))
}
