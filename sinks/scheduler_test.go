package sinks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

func seq(n uint64) offsets.Seq { return offsets.Seq{Pos: n, Sub: offsets.StreamSub} }

// testRun is a run whose dispatches land in a buffered channel.
func testRun(t *testing.T, workers int, state map[string]SourceState) *run {
	return testRunOrder(t, workers, state, CommitSource)
}

func testRunOrder(t *testing.T, workers int, state map[string]SourceState, order CommitOrder) *run {
	s := New(Config{Name: "s", Sources: []SourceLog{{Name: "pg", Prefix: "p"}}, Workers: workers, BatchTxns: 3, CommitOrder: order},
		nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := newRun(s, state)
	r.work = make(chan []*item, 100)
	return r
}

func txnItem(r *run, n, dep uint64, changes int) *item {
	txn := &kafka.Txn{End: envelope.Marker{Seq: seq(n)}, Changes: make([]ordering.Change, changes)}
	if dep > 0 {
		txn.End.DependsOn = seq(dep)
	}
	return &item{src: r.streams[0], txn: txn, seq: txn.End.Seq, dep: txn.End.DependsOn, ap: Applied{Seq: txn.End.Seq}}
}

func batches(r *run) [][]uint64 {
	var out [][]uint64
	for {
		select {
		case b := <-r.work:
			var seqs []uint64
			for _, it := range b {
				seqs = append(seqs, it.seq.Pos)
			}
			out = append(out, seqs)
		default:
			return out
		}
	}
}

func done(r *run, b []uint64) {
	st := r.streams[0]
	var items []*item
	for _, n := range b {
		for _, it := range st.items {
			if it.seq.Pos == n {
				items = append(items, it)
			}
		}
	}
	if err := r.finish(result{batch: items}); err != nil {
		panic(err)
	}
}

func TestDispatchRespectsDependencies(t *testing.T) {
	r := testRun(t, 2, nil)
	// 1 and 2 independent; 3 depends on 1; 4 independent of all but must
	// wait behind 3 (in-order dispatch); 5 depends on 4.
	for _, it := range []*item{txnItem(r, 1, 0, 1), txnItem(r, 2, 0, 1), txnItem(r, 3, 1, 1), txnItem(r, 4, 0, 1), txnItem(r, 5, 4, 1)} {
		r.arrive(it)
	}
	r.dispatch()
	got := batches(r)
	// Nothing in flight: the first batch groups 1, 2, 3 (3's dependency is
	// inside the batch); the second worker takes 4 (independent: depends
	// on nothing at or below the watermark).
	if len(got) != 2 || len(got[0]) != 3 || got[0][2] != 3 || got[1][0] != 4 {
		t.Fatalf("batches %v", got)
	}
	// 5 depends on 4, which is in flight: it waits.
	r.dispatch()
	if b := batches(r); len(b) != 0 {
		t.Fatalf("5 dispatched before 4 committed: %v", b)
	}
	done(r, []uint64{4})
	if w := r.streams[0].w.Seq; w.Pos != 0 {
		t.Fatalf("watermark moved past uncommitted 1-3: %v", w)
	}
	r.dispatch()
	// 5's dependency (4) committed, but the watermark is 0: 5 may only run
	// when nothing before it is in flight. 1-3 are still in flight.
	if b := batches(r); len(b) != 0 {
		t.Fatalf("5 dispatched while 1-3 in flight: %v", b)
	}
	done(r, []uint64{1, 2, 3})
	if w := r.streams[0].w.Seq; w.Pos != 4 {
		t.Fatalf("watermark %v, want 4", w)
	}
	r.dispatch()
	if b := batches(r); len(b) != 1 || b[0][0] != 5 {
		t.Fatalf("batches %v", b)
	}
}

func TestAppliedAboveWatermarkIsSkipped(t *testing.T) {
	r := testRun(t, 1, map[string]SourceState{"pg": {Watermark: Applied{Seq: seq(1)}, Above: map[offsets.Seq]bool{seq(3): true}}})
	for _, it := range []*item{txnItem(r, 2, 0, 1), txnItem(r, 3, 0, 1), txnItem(r, 4, 0, 1)} {
		r.arrive(it)
	}
	r.dispatch()
	// 3 was applied by an earlier run: 2 and 4 go together.
	b := batches(r)
	if len(b) != 1 || len(b[0]) != 2 || b[0][0] != 2 || b[0][1] != 4 {
		t.Fatalf("batches %v", b)
	}
	done(r, []uint64{2, 4})
	if w := r.streams[0].w.Seq; w.Pos != 4 {
		t.Fatalf("watermark %v: the skipped 3 should count as applied", w)
	}
}

func TestBigTransactionRunsAlone(t *testing.T) {
	r := testRun(t, 4, nil)
	big := txnItem(r, 2, 0, 0)
	big.big = true
	big.txn.Stream = func(func(*ordering.Change, error) bool) {}
	for _, it := range []*item{txnItem(r, 1, 0, 1), big, txnItem(r, 3, 0, 1)} {
		r.arrive(it)
	}
	r.dispatch()
	if b := batches(r); len(b) != 1 || len(b[0]) != 1 || b[0][0] != 1 {
		t.Fatalf("batches %v", b)
	}
	done(r, []uint64{1})
	r.dispatch()
	// The big transaction is a batch of its own (an independent 3 may run
	// beside it).
	if b := batches(r); len(b) < 1 || len(b[0]) != 1 || b[0][0] != 2 {
		t.Fatalf("big not alone: %v", b)
	}
}

// TestLookAheadSkipsAWaitingTransaction: with commit_order dependencies,
// a ready transaction behind one that waits on an uncommitted dependency
// may go first; one that depends on the waiting one may not.
func TestLookAheadSkipsAWaitingTransaction(t *testing.T) {
	r := testRunOrder(t, 3, nil, CommitDependencies)
	for _, it := range []*item{txnItem(r, 1, 0, 1), txnItem(r, 2, 1, 1), txnItem(r, 3, 0, 1), txnItem(r, 4, 2, 1)} {
		r.arrive(it)
	}
	r.streams[0].items[0].state = dispatched // 1 is in flight
	r.streams[0].inflight = 1
	r.idle = 2
	r.dispatch()
	got := batches(r)
	// 2 waits for 1; 3 is independent and goes; 4 depends on 2 and waits.
	if len(got) != 1 || len(got[0]) != 1 || got[0][0] != 3 {
		t.Fatalf("batches %v", got)
	}
}

// TestSourceOrderBatchesAreContiguous: with commit_order source (the
// default) nothing passes a transaction that waits: batches are ranges of
// the log, each with the next ticket.
func TestSourceOrderBatchesAreContiguous(t *testing.T) {
	r := testRun(t, 3, nil)
	for _, it := range []*item{txnItem(r, 1, 0, 1), txnItem(r, 2, 1, 1), txnItem(r, 3, 0, 1), txnItem(r, 4, 2, 1)} {
		r.arrive(it)
	}
	r.streams[0].items[0].state, r.streams[0].items[0].ticket = dispatched, 0 // 1 is in flight
	r.streams[0].inflight, r.streams[0].issued = 1, 1
	r.idle = 2
	r.dispatch()
	if got := batches(r); len(got) != 0 {
		t.Fatalf("3 passed the waiting 2: %v", got)
	}
	done(r, []uint64{1})
	r.dispatch()
	got := batches(r)
	if len(got) != 1 || len(got[0]) != 3 {
		t.Fatalf("batches %v", got)
	}
	if tk := r.streams[0].items[0].ticket; tk != 1 {
		t.Errorf("ticket %d, want 1", tk)
	}
}

// TestTurns: a batch commits only in its turn; a failure breaks the order
// for those after it, with the failure as the cause; a batch holding locks
// that another session waits for gives way.
func TestTurns(t *testing.T) {
	ctx := context.Background()
	tr := newTurns()
	var probing atomic.Bool
	probing.Store(true)
	got := make(chan uint64, 3)
	for _, tk := range []uint64{2, 1, 0} {
		go func() {
			if err := tr.wait(ctx, tk, nil, nil); err == nil {
				got <- tk
				tr.done(tk)
			}
		}()
	}
	for want := uint64(0); want < 3; want++ {
		if tk := <-got; tk != want {
			t.Fatalf("turn %d went to %d", want, tk)
		}
	}
	blocker := &probeTx{blocks: true}
	if err := tr.wait(ctx, 4, blocker, &probing); !errors.Is(err, errYield) {
		t.Errorf("a waiting batch that blocks another session: %v", err)
	}
	failing := &probeTx{err: errors.New("permission denied")}
	if err := tr.wait(ctx, 4, failing, &probing); !errors.Is(err, errYield) || probing.Load() {
		t.Errorf("a failing probe: %v, probing %v", err, probing.Load())
	}
	// Batch 5 fails: 4, before it, still commits in its turn; 6 may not.
	cause := errors.New("rejected")
	tr.fail(5, cause)
	err := tr.wait(ctx, 6, nil, nil)
	if ob := new(orderBroken); !errors.Is(err, errOrderBroken) || !errors.As(err, &ob) || ob.cause != cause {
		t.Errorf("after a failure: %v", err)
	}
	if err := tr.wait(ctx, 3, nil, nil); err != nil {
		t.Errorf("the batch before the failed one: %v", err)
	}
}

// probeTx is a FollowerTx whose only part is its lock probe.
type probeTx struct {
	FollowerTx
	blocks bool
	err    error
}

func (p *probeTx) BlocksOthers(context.Context) (bool, error) { return p.blocks, p.err }

// TestChainCatchesUpInBigBatches: behind on a chain of dependent
// transactions with nothing in flight, a batch extends past BatchTxns
// with the transactions that depend on it (no other worker could take
// them), up to CatchUpBatches × BatchTxns; an independent one ends it.
func TestChainCatchesUpInBigBatches(t *testing.T) {
	r := testRun(t, 2, nil)
	for n := uint64(1); n <= 40; n++ {
		r.arrive(txnItem(r, n, n-1, 1))
	}
	r.arrive(txnItem(r, 41, 0, 1))
	r.dispatch()
	got := batches(r)
	if len(got) != 1 || len(got[0]) != CatchUpBatches*3 || got[0][0] != 1 {
		t.Fatalf("batches %v, want one of %d", got, CatchUpBatches*3)
	}
	done(r, got[0])
	r.dispatch()
	// 31..40 then 41, independent: 41 goes to the other worker.
	got = batches(r)
	if len(got) != 2 || len(got[0]) != 10 || got[0][9] != 40 || len(got[1]) != 1 || got[1][0] != 41 {
		t.Fatalf("batches %v", got)
	}
}

// TestWatermarkAtSnapshotChunk: a watermark read back at a snapshot chunk
// counts as mid-snapshot (a wait for a position is not over) until a
// heartbeat, which a source sends only once it streams.
func TestWatermarkAtSnapshotChunk(t *testing.T) {
	chunk := offsets.Seq{Pos: 7, Sub: 2}
	r := testRun(t, 1, map[string]SourceState{"pg": {Watermark: Applied{Seq: chunk}}})
	if !r.streams[0].w.Snapshotting {
		t.Fatal("a watermark at a snapshot chunk is not taken as mid-snapshot")
	}
	hb := &item{src: r.streams[0], heartbeat: true, seq: chunk, txn: &kafka.Txn{Heartbeat: true},
		ap: Applied{Seq: chunk, Pos: offsets.PGPosition(9, 9)}}
	r.arrive(hb)
	if w := r.streams[0].w; w.Snapshotting || w.Pos.IsZero() {
		t.Fatalf("after a heartbeat: %+v", w)
	}
	r2 := testRun(t, 1, map[string]SourceState{"pg": {Watermark: Applied{Seq: seq(7)}}})
	if r2.streams[0].w.Snapshotting {
		t.Fatal("a streamed watermark taken as mid-snapshot")
	}
}

// ibFollower is a Follower whose index builds are due while due is set.
type ibFollower struct {
	Follower
	due bool
}

func (f *ibFollower) IndexesDue(string) bool { return f.due }
func (f *ibFollower) BuildIndexes(context.Context, string, func(string, string)) error {
	f.due = false
	return nil
}

// Index builds wait until the source's snapshot chunks have all arrived
// and nothing is in flight (issue 26).
func TestIndexesWaitForSnapshotAndQuiet(t *testing.T) {
	r := testRun(t, 2, nil)
	f := &ibFollower{due: true}
	r.s.f = f
	chunk := txnItem(r, 1, 0, 1)
	chunk.ap.Snapshotting = true
	r.arrive(chunk)
	if r.indexesDue() != nil {
		t.Fatal("index builds due while snapshot chunks arrive")
	}
	last := txnItem(r, 2, 0, 1)
	last.txn.End.Snapshot, last.txn.End.LastSnapshot = true, true
	r.arrive(last)
	if r.indexesDue() == nil {
		t.Fatal("index builds not due once the snapshot's last chunk arrived")
	}
	r.dispatch()
	b := batches(r)
	if len(b) == 0 || r.quiet() {
		t.Fatalf("dispatched %v; quiet %v", b, r.quiet())
	}
	for _, batch := range b {
		done(r, batch)
	}
	if !r.quiet() {
		t.Fatal("not quiet after every batch finished")
	}
	if !r.s.Status().Sources[0].Applied.Snapshotting {
		t.Fatal("the snapshot reported applied before its indexes are built")
	}
	if err := r.buildIndexes(context.Background(), r.indexesDue()); err != nil || f.due {
		t.Fatalf("build: %v, still due %v", err, f.due)
	}
	if r.s.Status().Sources[0].Applied.Snapshotting {
		t.Fatal("still snapshotting once the indexes are built")
	}
}
