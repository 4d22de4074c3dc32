package sinks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

// memFollower commits transactions into a list; a change of the table
// named "bad" is rejected.
type memFollower struct {
	committed [][]uint64 // the Seq.Pos values recorded, per follower transaction
}

var errRejected = errors.New("check constraint violated")

func (f *memFollower) Prepare(context.Context) (map[string]SourceState, func(), error) {
	return nil, func() {}, nil
}
func (f *memFollower) EnsureSchema(context.Context, string, []*ordering.Table) error { return nil }
func (f *memFollower) Begin(context.Context) (FollowerTx, error)                     { return &memTx{f: f}, nil }
func (f *memFollower) Fold(context.Context, string, Applied, kafka.Offsets) error    { return nil }
func (f *memFollower) Retryable(error) bool                                          { return false }
func (f *memFollower) Close() error                                                  { return nil }

type memTx struct {
	f    *memFollower
	seqs []uint64
}

func (t *memTx) EnsureSchema(context.Context, string, []*ordering.Table) error { return nil }
func (t *memTx) Apply(_ context.Context, _ string, ch *ordering.Change) error {
	if ch.Table != nil && ch.Table.Name == "bad" {
		return errRejected
	}
	return nil
}
func (t *memTx) Record(_ context.Context, _ string, txns []Applied) error {
	for _, a := range txns {
		t.seqs = append(t.seqs, a.Seq.Pos)
	}
	return nil
}
func (t *memTx) Commit() error   { t.f.committed = append(t.f.committed, t.seqs); return nil }
func (t *memTx) Rollback() error { return nil }

type memDLQ struct{ sent []uint64 }

func (d *memDLQ) Send(_ context.Context, _ string, m envelope.Marker, _ []ordering.Change, cause error) error {
	if !errors.Is(cause, errRejected) {
		return errors.New("cause is not the follower's error")
	}
	d.sent = append(d.sent, m.Seq.Pos)
	return nil
}

func badBatch(r *run) []*item {
	good, bad := &ordering.Table{Name: "good"}, &ordering.Table{Name: "bad"}
	var batch []*item
	for n, tbl := range []*ordering.Table{good, bad, good} {
		it := txnItem(r, uint64(n+1), 0, 1)
		it.txn.Changes[0] = ordering.Change{Op: ordering.OpInsert, Table: tbl}
		batch = append(batch, it)
	}
	return batch
}

// TestRejectedBatchNamesTheTransaction: a rejected batch is applied again
// one transaction at a time. Without a dead-letter topic the one before
// the rejected transaction commits, the error names the rejected one, and
// the one after it is not applied.
func TestRejectedBatchNamesTheTransaction(t *testing.T) {
	f := &memFollower{}
	s := New(Config{Name: "s", Sources: []SourceLog{{Name: "pg", Prefix: "p"}}}, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := newRun(s, nil)
	err := r.applyOrDeadLetter(context.Background(), badBatch(r))
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Seq.Pos != 2 || !errors.Is(err, errRejected) {
		t.Fatalf("err = %v, want the ApplyError of transaction 2", err)
	}
	if !slices.EqualFunc(f.committed, [][]uint64{{1}}, slices.Equal) {
		t.Errorf("committed %v, want [[1]]", f.committed)
	}
}

// TestRejectedBatchDeadLettered: with a dead-letter topic the rejected
// transaction is sent there and recorded alone, and the others commit.
func TestRejectedBatchDeadLettered(t *testing.T) {
	f, dl := &memFollower{}, &memDLQ{}
	s := New(Config{Name: "s", Sources: []SourceLog{{Name: "pg", Prefix: "p"}}, DeadLetter: dl}, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := newRun(s, nil)
	if err := r.applyOrDeadLetter(context.Background(), badBatch(r)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dl.sent, []uint64{2}) {
		t.Errorf("dead-lettered %v, want [2]", dl.sent)
	}
	if !slices.EqualFunc(f.committed, [][]uint64{{1}, {2}, {3}}, slices.Equal) {
		t.Errorf("committed %v, want [[1] [2] [3]] (2 recorded without its changes)", f.committed)
	}
	if s.Status().DeadLettered != 1 {
		t.Errorf("DeadLettered = %d", s.Status().DeadLettered)
	}
}
