package mysql

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/supervise"
)

// forceCheckpoint stores cp as the source's checkpoint even below the one
// stored: what a source killed after publishing past cp, before
// checkpointing what it published, leaves behind (Store.Save refuses to
// go backwards). The source must be stopped.
func (h *harness) forceCheckpoint(cp offsets.Checkpoint) {
	h.T.Helper()
	db, err := sql.Open("sqlite3", "file:"+h.Store.Path()+"?_busy_timeout=5000")
	if err != nil {
		h.T.Fatal(err)
	}
	defer db.Close()
	pos, err := cp.Position.MarshalText()
	if err != nil {
		h.T.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE checkpoints SET position = ?, seq = ?, snapshot_done = ?, seq_scheme = ?, clean = ? WHERE source = 'my'`,
		string(pos), cp.Seq.String(), cp.SnapshotDone, cp.SeqScheme, cp.Clean); err != nil {
		h.T.Fatal(err)
	}
}

func (h *harness) checkpoint() offsets.Checkpoint {
	h.T.Helper()
	cp, err := h.Store.Load(context.Background(), "my")
	if err != nil {
		h.T.Fatal(err)
	}
	return cp
}

// gtidN is the sequence number of a MariaDB GTID domain-server-N.
func gtidN(t *testing.T, gtid string) uint64 {
	t.Helper()
	g, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, gtid)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Domains() {
		return n
	}
	t.Fatalf("GTID %q", gtid)
	return 0
}

// appliedOnce applies the log as a sink does (a transaction whose Seq is
// not above the watermark is dropped as applied) and checks what the
// sequence promises: a streamed transaction re-sent after a restart
// carries the Seq it had, and every transaction in the log is applied
// exactly once. It returns the streamed transactions applied, by GTID.
func appliedOnce(t *testing.T, l *logread.Log) map[string]offsets.Seq {
	t.Helper()
	var w offsets.Seq
	first := map[string]offsets.Seq{}
	applied := map[string]offsets.Seq{}
	for _, txn := range l.Txns {
		id := txn.End.Pos.GTID
		if txn.End.Snapshot {
			id = "snapshot " + txn.End.Seq.String()
		}
		if s, ok := first[id]; ok && s != txn.End.Seq {
			t.Errorf("%s sent again with seq %s, first sent with %s: sinks apply it twice", id, txn.End.Seq, s)
		}
		if _, ok := first[id]; !ok {
			first[id] = txn.End.Seq
		}
		if !w.Less(txn.End.Seq) {
			if _, ok := applied[id]; !ok {
				t.Errorf("%s (seq %s) sorts at or below the watermark %s and was never applied: dropped", id, txn.End.Seq, w)
			}
			continue
		}
		w = txn.End.Seq
		if _, ok := applied[id]; ok {
			t.Errorf("%s applied twice", id)
		}
		applied[id] = txn.End.Seq
	}
	return applied
}

// TestGTIDSeqFresh: a fresh MariaDB source numbers its snapshot chunks with
// the GTID sequence number N of its consistent point and each streamed
// transaction with its GTID's N (high bit set), increasing; a transaction
// sent again after a kill (published, not checkpointed) carries the same
// Seq, and the sink-like fold applies everything exactly once.
func TestGTIDSeqFresh(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `INSERT INTO t VALUES (1, 0), (2, 0)`)
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	if cp := h.checkpoint(); cp.SeqScheme != "gtid:0" || !cp.Seq.FromGTID() {
		t.Fatalf("after the snapshot: %+v", cp)
	}
	for i := 3; i <= 6; i++ {
		h.Exec("INSERT INTO t VALUES (?, 0)", i)
	}
	h.CaughtUp()
	mid := h.checkpoint()
	for i := 7; i <= 10; i++ {
		h.Exec("UPDATE t SET v = v + 1 WHERE id <= ?", i)
	}
	h.CaughtUp()
	h.Stop()
	if cp := h.checkpoint(); !cp.Clean || cp.SeqScheme != "gtid:0" {
		t.Errorf("checkpoint after a graceful stop: %+v", cp)
	}
	// As if killed after publishing the updates, before checkpointing them.
	h.forceCheckpoint(mid)
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("DELETE FROM t WHERE id = 1")
	h.CaughtUp()
	if cp := h.checkpoint(); cp.Clean || cp.SeqScheme != "gtid:0" {
		t.Errorf("checkpoint while running: %+v", cp)
	}
	l := h.Read()
	resent := 0
	var prev offsets.Seq
	seen := map[string]bool{}
	for _, txn := range l.Txns {
		s := txn.End.Seq
		if !s.FromGTID() {
			t.Errorf("transaction %s has seq %s, not from its GTID", txn.End.Pos.GTID, s)
		}
		if txn.End.Snapshot {
			if n := txn.End.Pos.GTIDs.Domains()[0]; s.Pos != offsets.GTIDSeqBit|n {
				t.Errorf("snapshot chunk %s not at its consistent point's GTID seq_no %d (%s)", s, n, txn.End.Pos)
			}
			if !prev.Less(s) {
				t.Errorf("snapshot chunk %s does not increase (previous %s)", s, prev)
			}
			prev = s
			continue
		}
		if n := gtidN(t, txn.End.Pos.GTID); s.Pos != offsets.GTIDSeqBit|n || s.Sub != offsets.StreamSub {
			t.Errorf("transaction %s has seq %s", txn.End.Pos.GTID, s)
		}
		if seen[txn.End.Pos.GTID] {
			resent++
			continue
		}
		seen[txn.End.Pos.GTID] = true
		if !prev.Less(s) {
			t.Errorf("seq %s of %s does not increase (previous %s)", s, txn.End.Pos.GTID, prev)
		}
		prev = s
	}
	if resent != 4 {
		t.Errorf("%d transactions sent again after the kill, want the 4 updates", resent)
	}
	appliedOnce(t, l)
	converged(t, fold(t, l), h.sourceState("t"))
}

// TestGTIDSeqUpgrade: a source upgraded from the binlog-position sequence
// keeps it while transactions after its checkpoint may be sent again,
// switches to GTID sequence numbers at a start from a checkpoint saved at a
// graceful stop past everything sent, and a sink applying the log drops
// nothing and applies nothing twice.
func TestGTIDSeqUpgrade(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`)
	cfg := h.config()
	ctx := context.Background()
	// The checkpoint the previous version saved at a fresh start without a
	// snapshot: its position, no Seq, no scheme, not clean.
	var r session
	r.src = &Source{cfg: cfg}
	head, err := r.currentPosition(ctx, h.db)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Store.Save(ctx, "my", offsets.Checkpoint{Position: head, SnapshotDone: true}); err != nil {
		t.Fatal(err)
	}
	phase := map[string]string{} // GTID → the run that first sent it
	note := func(run string) {
		for _, txn := range h.Read().Txns {
			if _, ok := phase[txn.End.Pos.GTID]; !ok {
				phase[txn.End.Pos.GTID] = run
			}
		}
	}

	// Run A: upgraded, from the old checkpoint: binlog sequence.
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (1, 0), (2, 0)")
	h.Exec("INSERT INTO t VALUES (3, 0)")
	h.CaughtUp()
	midA := h.checkpoint()
	if midA.SeqScheme != "" || midA.Seq.FromGTID() {
		t.Fatalf("run A from an old checkpoint: %+v", midA)
	}
	h.Exec("UPDATE t SET v = 1 WHERE id = 1")
	h.Exec("UPDATE t SET v = 1 WHERE id = 2")
	h.CaughtUp()
	h.Stop()
	note("A")
	// Killed after publishing the updates, before checkpointing them.
	h.forceCheckpoint(midA)

	// Run B: not clean: keeps the binlog sequence and sends the updates
	// again with their Seqs; its graceful stop is past them: clean.
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (4, 0)")
	h.CaughtUp()
	h.Stop()
	note("B")
	cpB := h.checkpoint()
	if cpB.SeqScheme != "" || cpB.Seq.FromGTID() || !cpB.Clean {
		t.Fatalf("after run B: %+v", cpB)
	}

	// Run C: from a clean checkpoint: GTID sequence numbers, recorded.
	h.start(cfg)
	waitStreaming(t, h)
	if cp := h.checkpoint(); cp.SeqScheme != "gtid:0" || cp.Clean {
		t.Errorf("run C started from a clean checkpoint: %+v", cp)
	}
	h.Exec("INSERT INTO t VALUES (5, 0)")
	h.CaughtUp()
	midC := h.checkpoint()
	h.Exec("UPDATE t SET v = 2 WHERE id = 5")
	h.Exec("DELETE FROM t WHERE id = 3")
	h.CaughtUp()
	h.Stop()
	note("C")
	h.forceCheckpoint(midC) // killed again, now under the GTID sequence

	// Run D: keeps the GTID sequence (recorded), sends C's last two again.
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (6, 0)")
	h.CaughtUp()
	h.Stop()
	note("D")

	l := h.Read()
	applied := appliedOnce(t, l)
	count := map[string]int{}
	for _, txn := range l.Txns {
		id := txn.End.Pos.GTID
		count[id]++
		gtidSeq := txn.End.Seq.FromGTID()
		switch phase[id] {
		case "A", "B":
			if gtidSeq {
				t.Errorf("%s, first sent under the binlog sequence, has seq %s", id, txn.End.Seq)
			}
		case "C", "D":
			if !gtidSeq || txn.End.Seq.Pos != offsets.GTIDSeqBit|gtidN(t, id) {
				t.Errorf("%s, sent after the switch, has seq %s", id, txn.End.Seq)
			}
		}
	}
	var twice []string
	for id, n := range count {
		if n > 1 {
			twice = append(twice, phase[id])
		}
	}
	slices.Sort(twice)
	if strings.Join(twice, "") != "AACC" {
		t.Errorf("sent again: the first runs of %v; want A's two updates and C's two", twice)
	}
	if len(applied) != len(count) {
		t.Errorf("%d transactions applied of %d in the log", len(applied), len(count))
	}
	converged(t, fold(t, l), h.sourceState("t"))
}

// TestGTIDSeqSurvivesBinlogReset stands in for a change of server: after
// RESET MASTER with the GTID state kept (SET GLOBAL gtid_binlog_state), as
// on a promoted replica, binlog files are numbered from 1 again, so the
// binlog sequence of new transactions would sort below the checkpoint and
// sinks would drop them; the GTID sequence does not. A source still on
// the binlog sequence stops there, naming the rebuild, instead of dropping
// them.
//
// It resets the shared server's binlogs: it runs only in the serial phase
// of make test (SERIAL_TESTS, which sets WALSHIP_SERIAL=1), alone on the
// servers.
func TestGTIDSeqSurvivesBinlogReset(t *testing.T) {
	if os.Getenv("WALSHIP_SERIAL") != "1" {
		t.Skip("resets the server's binlogs: only in the serial phase of make test (WALSHIP_SERIAL=1)")
	}
	ctx := context.Background()
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`)
	cfg := h.config()
	// A second source still on the binlog sequence: upgraded from an old
	// checkpoint, and killed since (not clean).
	old := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`)
	oldCfg := old.config()
	oldCfg.ServerID += 500
	var r session
	r.src = &Source{cfg: oldCfg}
	head, err := r.currentPosition(ctx, old.db)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Store.Save(ctx, "my", offsets.Checkpoint{Position: head, SnapshotDone: true}); err != nil {
		t.Fatal(err)
	}

	h.start(cfg)
	waitStreaming(t, h)
	for i := 1; i <= 3; i++ {
		h.Exec("INSERT INTO t VALUES (?, 0)", i)
	}
	h.CaughtUp()
	h.Stop()
	old.start(oldCfg)
	waitStreaming(t, old)
	old.Exec("INSERT INTO t VALUES (1, 0)")
	old.CaughtUp()
	old.Stop()
	oldCP := old.checkpoint()
	if oldCP.SeqScheme != "" || oldCP.Seq.FromGTID() {
		t.Fatalf("old-scheme source: %+v", oldCP)
	}
	oldCP.Clean = false
	old.forceCheckpoint(oldCP)
	// Both checkpoints at the server's head, which is all a reset keeps.
	h.start(cfg)
	waitStreaming(t, h)
	h.CaughtUp()
	h.Stop()
	before := h.checkpoint()
	if before.SeqScheme != "gtid:0" || !before.Seq.FromGTID() {
		t.Fatalf("checkpoint %+v", before)
	}
	var state string
	if err := h.db.QueryRow("SELECT @@gtid_binlog_state").Scan(&state); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9,-]+$`).MatchString(state) {
		t.Fatalf("gtid_binlog_state %q", state)
	}
	// What the log holds before the reset: the transactions after it are
	// the rest (on a server reset before, the file names repeat).
	before0 := len(h.Read().Txns)
	// One batch (text protocol: placeholders would make it a prepared
	// statement, one statement only), so the GTID state comes back at once.
	h.Exec("RESET MASTER; SET GLOBAL gtid_binlog_state = '" + state + "'")
	var file string
	var pos int64
	var x1, x2 sql.NullString
	if err := h.db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &x1, &x2); err != nil {
		t.Fatal(err)
	}
	t.Logf("binlog now at %s:%d, GTID state %s kept; checkpoint %s at %s", file, pos, state, before.Seq, before.Position)
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (4, 0)")
	h.Exec("UPDATE t SET v = 1")
	h.CaughtUp()
	h.Stop()
	l := h.Read()
	after := 0
	for _, txn := range l.Txns[before0:] {
		if txn.End.Snapshot || txn.End.Pos.Binlog.File != file {
			continue
		}
		after++
		if !before.Seq.Less(txn.End.Seq) {
			t.Errorf("%s after the reset (binlog %s) has seq %s, not above the checkpoint's %s", txn.End.Pos.GTID, txn.End.Pos.Binlog, txn.End.Seq, before.Seq)
		}
		// The premise: by binlog file and offset it would sort below.
		oldPos, err1 := offsets.BinlogSeqPos(before.Position.Binlog)
		newPos, err2 := offsets.BinlogSeqPos(txn.End.Pos.Binlog)
		if err1 == nil && err2 == nil && newPos >= oldPos {
			t.Logf("note: %s's binlog position %s does not sort below the checkpoint's %s here", txn.End.Pos.GTID, txn.End.Pos.Binlog, before.Position.Binlog)
		}
	}
	if after != 2 {
		t.Errorf("%d transactions in %s after the reset, want 2", after, file)
	}
	appliedOnce(t, l)
	converged(t, fold(t, l), h.sourceState("t"))

	// The source on the binlog sequence stops at its first transaction
	// after the reset instead of dropping it (as it did before).
	old.Exec("INSERT INTO t VALUES (2, 0)")
	src := New(oldCfg, old.logFor(oldCfg), old.Store, old.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = src.Run(ctx, func() {})
	if !errors.Is(err, ErrSeqBackwards) || !supervise.IsPermanent(err) {
		t.Fatalf("binlog-sequence source after the reset: %v", err)
	}
	t.Logf("binlog-sequence source: %v", err)
}
