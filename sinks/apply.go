package sinks

// Workers: applying a batch in one follower transaction (in its commit
// turn with CommitSource, order.go), dead-lettering what the follower
// rejects, and taking the results back on the dispatcher.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

func (r *run) worker(ctx context.Context) {
	defer r.wg.Done()
	for batch := range r.work {
		err := r.applyOrDeadLetter(ctx, batch)
		if r.ordered {
			if err == nil {
				batch[0].src.turns.done(batch[0].ticket)
			} else {
				batch[0].src.turns.fail(batch[0].ticket, err)
			}
		}
		r.results <- result{batch: batch, err: err}
	}
}

// applyOrDeadLetter applies a batch. When the follower rejects it, the
// batch is applied again one transaction at a time, in log order, to name
// the transaction rejected: those before it commit, it stops the sink
// (with its position in the error), and nothing after it is applied. With
// a dead-letter topic, each transaction rejected alone is sent there and
// recorded as applied, and the rest go on. A big transaction (streamed,
// not held) is always alone and never dead-lettered: its changes cannot
// be read twice.
func (r *run) applyOrDeadLetter(ctx context.Context, batch []*item) error {
	err := r.apply(ctx, batch)
	if err == nil || r.s.f.Retryable(err) {
		return err
	}
	if len(batch) == 1 && !errors.As(err, new(*ApplyError)) {
		err = r.annotate(batch[0], err) // rejected at Record or Commit
	}
	dl := r.s.cfg.DeadLetter
	if len(batch) == 1 && (dl == nil || batch[0].big) {
		return err
	}
	for i, it := range batch {
		if len(batch) > 1 {
			if err = r.apply(ctx, []*item{it}); err == nil {
				continue
			}
			if r.s.f.Retryable(err) {
				return err
			}
			if !errors.As(err, new(*ApplyError)) {
				err = r.annotate(it, err)
			}
			if dl == nil {
				return err
			}
		} else if i > 0 {
			break
		}
		if derr := dl.Send(ctx, it.src.name, it.txn.End, it.txn.Changes, err); derr != nil {
			return fmt.Errorf("%w; and the dead-letter write failed: %w", err, derr)
		}
		if rerr := r.record(ctx, it); rerr != nil {
			return rerr
		}
		r.s.update(func(s *Status) { s.DeadLettered++ })
		r.s.log.Warn("transaction rejected by the follower, sent to the dead-letter topic and skipped",
			"source", it.src.name, "seq", it.seq.String(), "position", it.ap.Pos.String(), "changes", len(it.txn.Changes), "error", err)
	}
	return nil
}

// record marks a transaction applied without its changes (dead-lettered).
func (r *run) record(ctx context.Context, it *item) (err error) {
	if r.ordered {
		if err := it.src.turns.wait(ctx, it.ticket, nil, nil); err != nil {
			return err
		}
	}
	tx, err := r.s.f.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := tx.Record(ctx, it.src.name, []Applied{it.ap}); err != nil {
		return err
	}
	return tx.Commit()
}

// apply writes a batch of whole transactions in one follower transaction,
// recording them in the same transaction. With CommitSource it commits in
// its turn, giving way (and running again in its turn) when it holds a
// lock another session waits for.
func (r *run) apply(ctx context.Context, batch []*item) error {
	if !r.ordered {
		return r.applyOnce(ctx, batch, nil)
	}
	st, ticket := batch[0].src, batch[0].ticket
	if r.serial {
		if err := st.turns.wait(ctx, ticket, nil, nil); err != nil {
			return err
		}
	}
	for {
		err := r.applyOnce(ctx, batch, func(tx FollowerTx) error { return st.turns.wait(ctx, ticket, tx, &r.probing) })
		if !errors.Is(err, errYield) {
			return err
		}
		r.s.update(func(s *Status) { s.CommitYields++ })
		if pe := new(probeError); errors.As(err, &pe) {
			r.s.log.Warn("the follower does not say which sessions wait for locks (grant it the right to read them); "+
				"a transaction waiting for its turn now gives way only after "+orderWaitMax.String(), "err", pe.err)
		}
		if err := st.turns.wait(ctx, ticket, nil, nil); err != nil {
			return err
		}
	}
}

// applyOnce is one attempt of apply; beforeCommit, if set, runs last
// before the commit.
func (r *run) applyOnce(ctx context.Context, batch []*item, beforeCommit func(FollowerTx) error) (err error) {
	f := r.s.f
	source := batch[0].src.name
	if batch[0].big {
		defer close(batch[0].done)
	} else {
		var tables []*ordering.Table
		seen := map[*ordering.Table]bool{}
		for _, it := range batch {
			for i := range it.txn.Changes {
				if t := it.txn.Changes[i].Table; !seen[t] {
					seen[t] = true
					tables = append(tables, t)
				}
			}
		}
		if err := f.EnsureSchema(ctx, source, tables); err != nil {
			return r.annotate(batch[0], err)
		}
	}
	tx, err := f.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var recs []Applied
	marker, _ := tx.(TxnMarker)
	for _, it := range batch {
		if marker != nil {
			marker.Txn(it.ap)
		}
		if it.big {
			if f, ok := tx.(Folder); ok {
				f.NoFold()
			}
			seen := map[*ordering.Table]bool{}
			for ch, err := range it.txn.Stream {
				if err != nil {
					return err
				}
				if !seen[ch.Table] {
					seen[ch.Table] = true
					if err := tx.EnsureSchema(ctx, source, []*ordering.Table{ch.Table}); err != nil {
						return r.annotate(it, err)
					}
				}
				if err := tx.Apply(ctx, source, ch); err != nil {
					return r.annotate(it, err)
				}
			}
		} else {
			for i := range it.txn.Changes {
				if err := tx.Apply(ctx, source, &it.txn.Changes[i]); err != nil {
					return r.annotate(it, err)
				}
			}
		}
		recs = append(recs, it.ap)
	}
	if beforeCommit == nil {
		if err := tx.Record(ctx, source, recs); err != nil {
			return err
		}
		return tx.Commit()
	}
	// In source order: the work is done before the wait for the turn, so
	// that only the commit is serial. The record too, but on a follower
	// that must record in its turn (RecorderInTurn); a record made before
	// the wait is fenced again after it, last before the commit.
	if r.recordInTurn {
		if f, ok := tx.(Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				return err // as from Record: applyOrDeadLetter names the transaction
			}
		}
		if err := beforeCommit(tx); err != nil {
			return err
		}
		if err := tx.Record(ctx, source, recs); err != nil {
			return err
		}
		return tx.Commit()
	}
	if err := tx.Record(ctx, source, recs); err != nil {
		return err
	}
	if err := beforeCommit(tx); err != nil {
		return err
	}
	if f, ok := tx.(Fencer); ok {
		if err := f.Fence(ctx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ApplyError is a transaction the sink could not apply.
type ApplyError struct {
	Source string
	Seq    offsets.Seq
	Pos    offsets.Position
	Err    error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("transaction %s of source %s (position %s): %v", e.Seq, e.Source, e.Pos, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

func (r *run) annotate(it *item, err error) error {
	return &ApplyError{Source: it.src.name, Seq: it.seq, Pos: it.ap.Pos, Err: err}
}

// finish records a worker's result.
func (r *run) finish(res result) error {
	r.idle++
	st := res.batch[0].src
	st.inflight -= len(res.batch)
	if ob := new(orderBroken); errors.As(res.err, &ob) {
		res.err = ob.cause // report the batch that failed, not those it stopped
	}
	if res.err != nil {
		if errors.Is(res.err, ErrLockLost) {
			return fmt.Errorf("sink %s stopped: %w", r.s.cfg.Name, res.err)
		}
		if r.s.f.Retryable(res.err) {
			return fmt.Errorf("sink %s: follower unavailable: %w", r.s.cfg.Name, res.err)
		}
		return supervise.Permanent(fmt.Errorf("sink %s stopped: %w", r.s.cfg.Name, res.err))
	}
	changes := 0
	var byOp map[ordering.Op]int
	var latencies []time.Duration
	if r.s.cfg.Observer != nil {
		byOp = map[ordering.Op]int{}
	}
	now := time.Now()
	for _, it := range res.batch {
		it.state = committed
		changes += len(it.txn.Changes)
		if byOp != nil {
			for i := range it.txn.Changes {
				byOp[it.txn.Changes[i].Op]++
			}
			if !it.txn.End.Snapshot && !it.ap.CommitTime.IsZero() {
				latencies = append(latencies, now.Sub(it.ap.CommitTime))
			}
		}
	}
	if r.s.cfg.Observer != nil {
		r.s.cfg.Observer.Batch(len(res.batch), byOp, latencies)
	}
	r.s.update(func(s *Status) {
		s.AppliedTxns += int64(len(res.batch))
		s.AppliedChanges += int64(changes)
		s.FollowerTxns++
	})
	r.advance(st)
	return nil
}

// drain waits for the follower transactions in flight.
func (r *run) drain(ctx context.Context) {
	for r.idle < r.s.cfg.Workers {
		select {
		case res := <-r.results:
			if err := r.finish(res); err != nil {
				r.s.log.Warn("a follower transaction failed while stopping", "err", err)
			}
		case <-time.After(30 * time.Second):
			r.s.log.Warn("follower transactions still running after 30s; stopping without them")
			return
		}
	}
}
