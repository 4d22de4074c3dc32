package mysql

import (
	"context"
	"errors"
	"io"
	"iter"
	"log/slog"
	"testing"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

func TestSeqSchemeText(t *testing.T) {
	for _, s := range []seqScheme{{}, {gtid: true}, {gtid: true, domain: 7}} {
		got, err := parseSeqScheme(s.String())
		if err != nil || got != s {
			t.Errorf("round trip %+v -> %q -> %+v, %v", s, s.String(), got, err)
		}
	}
	for _, bad := range []string{"gtid", "gtid:", "gtid:x", "binlog", "gtid:4294967296"} {
		if _, err := parseSeqScheme(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestChooseScheme: a source switches to GTID sequence numbers only where
// nothing can be re-sent under the binlog sequence, never switches back,
// and needs one GTID domain to switch.
func TestChooseScheme(t *testing.T) {
	one := map[uint32]uint64{0: 135884}
	other := map[uint32]uint64{3: 12}
	two := map[uint32]uint64{0: 135884, 1: 40}
	old := offsets.Checkpoint{SnapshotDone: true}                        // as the previous version saved it
	oldClean := offsets.Checkpoint{SnapshotDone: true, Clean: true}      // saved at a graceful stop
	gtid0 := offsets.Checkpoint{SnapshotDone: true, SeqScheme: "gtid:0"} // already switched
	gtid0Clean := offsets.Checkpoint{SnapshotDone: true, SeqScheme: "gtid:0", Clean: true}
	binlog := seqScheme{}
	for _, c := range []struct {
		name string
		in   schemeStart
		want seqScheme
		err  bool
	}{
		{name: "MySQL", in: schemeStart{domains: nil}, want: binlog},
		{name: "MySQL, clean checkpoint", in: schemeStart{have: true, cp: oldClean}, want: binlog},
		{name: "fresh, one domain", in: schemeStart{mariadb: true, domains: one}, want: seqScheme{gtid: true, domain: 0}},
		{name: "fresh, one other domain", in: schemeStart{mariadb: true, domains: other}, want: seqScheme{gtid: true, domain: 3}},
		{name: "fresh, empty binlog", in: schemeStart{mariadb: true, domains: map[uint32]uint64{}, serverDomain: 5}, want: seqScheme{gtid: true, domain: 5}},
		{name: "fresh, two domains", in: schemeStart{mariadb: true, domains: two}, want: binlog},
		{name: "old checkpoint", in: schemeStart{mariadb: true, have: true, cp: old, domains: one}, want: binlog},
		{name: "old checkpoint, clean", in: schemeStart{mariadb: true, have: true, cp: oldClean, domains: one}, want: seqScheme{gtid: true}},
		{name: "old checkpoint, clean, two domains", in: schemeStart{mariadb: true, have: true, cp: oldClean, domains: two}, want: binlog},
		{name: "old checkpoint, new snapshot", in: schemeStart{mariadb: true, have: true, cp: offsets.Checkpoint{}, snapshot: true, domains: one}, want: seqScheme{gtid: true}},
		{name: "gtid checkpoint", in: schemeStart{mariadb: true, have: true, cp: gtid0, domains: one}, want: seqScheme{gtid: true}},
		{name: "gtid checkpoint, clean", in: schemeStart{mariadb: true, have: true, cp: gtid0Clean, domains: one}, want: seqScheme{gtid: true}},
		{name: "gtid checkpoint, now two domains: never back to binlog", in: schemeStart{mariadb: true, have: true, cp: gtid0, domains: two}, want: seqScheme{gtid: true}},
		{name: "gtid checkpoint, redo snapshot, two domains", in: schemeStart{mariadb: true, have: true, cp: offsets.Checkpoint{SeqScheme: "gtid:0"}, snapshot: true, domains: two}, want: seqScheme{gtid: true}},
		{name: "gtid checkpoint follows its recorded domain", in: schemeStart{mariadb: true, have: true, cp: offsets.Checkpoint{SeqScheme: "gtid:3"}, domains: one}, want: seqScheme{gtid: true, domain: 3}},
		{name: "checkpoint deleted after gtid, now two domains: never back to binlog", in: schemeStart{mariadb: true, used: "gtid:0", domains: two, snapshot: true}, want: seqScheme{gtid: true}},
		{name: "checkpoint deleted after gtid, other domain now", in: schemeStart{mariadb: true, used: "gtid:0", domains: other, snapshot: true}, want: seqScheme{gtid: true}},
		{name: "unreadable scheme", in: schemeStart{mariadb: true, have: true, cp: offsets.Checkpoint{SeqScheme: "lsn"}}, err: true},
	} {
		got, why, err := chooseScheme(c.in)
		if (err != nil) != c.err {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if err == nil && (got != c.want || why == "") {
			t.Errorf("%s: %+v (%s), want %+v", c.name, got, why, c.want)
		}
	}
}

// TestSchemeSeqs: under gtid a transaction's Seq is its GTID's N with the
// high bit, whatever the binlog file (another server, or one whose
// binlogs were reset, numbers them differently), and a snapshot's chunks
// sort between the transaction at its consistent point and the next one.
func TestSchemeSeqs(t *testing.T) {
	gtid := seqScheme{gtid: true}
	at := func(file string, off uint64, gtids string) offsets.Position {
		g, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, gtids)
		if err != nil {
			t.Fatal(err)
		}
		return offsets.Position{Engine: offsets.EngineMariaDB, GTIDs: g, Binlog: offsets.BinlogPos{File: file, Pos: off}}
	}
	// The old server: transaction 0-1-100 in file 8; the snapshot there.
	onOld, err := gtid.streamSeq(at("mariadb-bin.000008", 95927581, "0-1-100"), 100, true)
	if err != nil {
		t.Fatal(err)
	}
	base, err := gtid.snapshotBase(at("mariadb-bin.000008", 95927581, "0-1-100"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := offsets.Seq{Pos: base, Sub: 5}
	// The promoted replica (or the same server after RESET MASTER with its
	// gtid_binlog_state kept): 0-2-101 in file 1, at a small offset.
	onNew, err := gtid.streamSeq(at("mariadb-bin.000001", 385, "0-2-101"), 101, true)
	if err != nil {
		t.Fatal(err)
	}
	if !onOld.FromGTID() || !chunk.Less(onNew) || !onOld.Less(onNew) || onNew.Pos != offsets.GTIDSeqBit|101 {
		t.Errorf("old %s, chunk %s, new %s", onOld, chunk, onNew)
	}
	// The binlog scheme on the same positions goes backwards: issue 27.
	b1, _ := seqScheme{}.streamSeq(at("mariadb-bin.000008", 95927581, "0-1-100"), 100, true)
	b2, _ := seqScheme{}.streamSeq(at("mariadb-bin.000001", 385, "0-2-101"), 101, true)
	if !b2.Less(b1) || b1.FromGTID() {
		t.Errorf("binlog seqs %s, %s", b1, b2)
	}
	// Every binlog Seq sorts below every GTID one: an old checkpoint is
	// below the first transaction after a switch.
	if !b1.Less(offsets.Seq{Pos: offsets.GTIDSeqBit}) {
		t.Errorf("binlog seq %s not below the GTID seqs", b1)
	}
	// A redo under gtid of a snapshot left unfinished under binlog sorts
	// above all of it.
	if first, err := firstChunk(offsets.Checkpoint{Seq: offsets.Seq{Pos: b1.Pos, Sub: 3 << 24}}, true, base); err != nil || first != 0 {
		t.Errorf("redo after a binlog attempt: first chunk %#x, %v", first, err)
	}
	// An empty domain: the snapshot is at N 0.
	if b, err := gtid.snapshotBase(at("mariadb-bin.000001", 4, "")); err != nil || b != offsets.GTIDSeqBit {
		t.Errorf("empty snapshot base %#x %v", b, err)
	}
	// No GTID event: no Seq, refused by checkGTIDOrder.
	if s, err := gtid.streamSeq(at("mariadb-bin.000001", 4, ""), 0, false); err != nil || !s.IsZero() {
		t.Errorf("without a GTID: %s %v", s, err)
	}
}

// TestCheckGTIDOrder: under gtid a captured change of another domain, a
// sequence number not above the last one, or a group without a GTID event
// stops the source; gaps are fine.
func TestCheckGTIDOrder(t *testing.T) {
	r := &session{src: &Source{cfg: Config{Name: "my"}}, scheme: seqScheme{gtid: true}}
	seq := func(n uint64) offsets.Seq { return offsets.Seq{Pos: offsets.GTIDSeqBit | n, Sub: offsets.StreamSub} }
	r.lastSeq = offsets.Seq{Pos: 5 << 40, Sub: offsets.StreamSub} // a binlog checkpoint: every GTID Seq is above
	at := offsets.Position{Binlog: offsets.BinlogPos{File: "mariadb-bin.000001", Pos: 400}}
	step := func(domain uint32, n uint64, hasGTID bool) error {
		r.curDomain, r.curSeqNo, r.curHasGTID, r.curGTID = domain, n, hasGTID, "x"
		return r.checkGTIDOrder(seq(n), at)
	}
	for _, n := range []uint64{7, 8, 12} {
		if err := step(0, n, true); err != nil {
			t.Fatalf("N %d: %v", n, err)
		}
	}
	if err := step(0, 12, true); !errors.Is(err, ErrGTIDOrder) || !supervise.IsPermanent(err) {
		t.Errorf("repeated N: %v", err)
	}
	if err := step(0, 9, true); !errors.Is(err, ErrGTIDOrder) {
		t.Errorf("N backwards: %v", err)
	}
	if err := step(1, 40, true); !errors.Is(err, ErrGTIDDomain) || !supervise.IsPermanent(err) {
		t.Errorf("other domain: %v", err)
	}
	if err := step(0, 0, false); err == nil {
		t.Errorf("no GTID event accepted")
	}
	if err := step(0, 13, true); err != nil || r.lastSeq != seq(13) {
		t.Errorf("after the refusals: %v, last %s", err, r.lastSeq)
	}
}

// cleanLog is a sources.Log that only reports what markClean asks.
type cleanLog struct {
	pending int
	durable offsets.Seq
}

func (l *cleanLog) Publish(context.Context, *ordering.Txn, int, iter.Seq2[*ordering.Change, error]) error {
	return nil
}
func (l *cleanLog) Durable() (offsets.Seq, offsets.Position) { return l.durable, offsets.Position{} }
func (l *cleanLog) Notify() <-chan struct{}                  { return nil }
func (l *cleanLog) Err() error                               { return nil }
func (l *cleanLog) Pending() int                             { return l.pending }
func (l *cleanLog) Heartbeat(context.Context, string, offsets.Position, time.Time) (bool, error) {
	return false, nil
}
func (l *cleanLog) DurableHeartbeat() offsets.Position { return offsets.Position{} }
func (l *cleanLog) Resume(offsets.Seq)                 {}
func (l *cleanLog) Close(context.Context) error        { return nil }

// memCheckpoints is an in-memory sources.Checkpoints.
type memCheckpoints map[string]offsets.Checkpoint

func (m memCheckpoints) Load(_ context.Context, s string) (offsets.Checkpoint, error) {
	cp, ok := m[s]
	if !ok {
		return cp, offsets.ErrNoCheckpoint
	}
	return cp, nil
}

func (m memCheckpoints) Save(_ context.Context, s string, cp offsets.Checkpoint) error {
	m[s] = cp
	return nil
}

// TestMarkClean: a graceful stop marks the checkpoint Clean only with
// nothing pending, everything durable checkpointed, and the checkpoint
// past the bound beyond which an earlier run may have published (a run
// that started unclean and stopped before re-reading all an earlier run
// sent must not let the next start change the sequence).
func TestMarkClean(t *testing.T) {
	gset := func(s string) offsets.GTIDSet {
		g, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, s)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	seq := offsets.Seq{Pos: 8 << 40, Sub: offsets.StreamSub}
	for _, c := range []struct {
		name    string
		at      string
		pending int
		durable offsets.Seq
		clean   bool
	}{
		{name: "past the bound", at: "0-1-100", durable: seq, clean: true},
		{name: "beyond the bound", at: "0-1-120", durable: seq, clean: true},
		{name: "before the bound: an earlier run sent more", at: "0-1-90", durable: seq},
		{name: "transactions pending", at: "0-1-100", pending: 1, durable: seq},
		{name: "durable past the checkpoint", at: "0-1-100", durable: offsets.Seq{Pos: 9 << 40, Sub: offsets.StreamSub}},
	} {
		store := memCheckpoints{}
		src := &Source{cfg: Config{Name: "my"}, store: store, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		r := &session{src: src, out: &cleanLog{pending: c.pending, durable: c.durable}, scheme: seqScheme{},
			saved: seq, savedPos: offsets.Position{Engine: offsets.EngineMariaDB, GTIDs: gset(c.at)}, cleanBound: gset("0-1-100")}
		if err := r.markClean(context.Background()); err != nil {
			t.Fatal(err)
		}
		cp, err := store.Load(context.Background(), "my")
		if c.clean != (err == nil && cp.Clean) {
			t.Errorf("%s: clean %v, want %v (%+v %v)", c.name, cp.Clean, c.clean, cp, err)
		}
		if c.clean && (cp.Seq != seq || !cp.Position.GTIDs.Equal(gset(c.at)) || !cp.SnapshotDone) {
			t.Errorf("%s: saved %+v", c.name, cp)
		}
	}
}
