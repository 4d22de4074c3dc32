package sinks

// One Run of a sink: the dispatcher loop that owns the run state, and
// the readers that feed it each source's transactions.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/supervise"
)

// item is one transaction between the reader and the follower.
type item struct {
	src *stream
	txn *kafka.Txn
	seq offsets.Seq
	dep offsets.Seq
	big bool
	// heartbeat: no changes; when every transaction up to seq is applied,
	// the applied position moves to ap.Pos.
	heartbeat bool
	done      chan struct{} // big: closed when the stream was drained
	state     int           // queued, dispatched, committed
	ap        Applied
	ticket    uint64 // its batch's commit turn (CommitSource)
}

const (
	queued = iota
	dispatched
	committed
)

// stream is the sink's view of one source.
type stream struct {
	name     string
	reader   *kafka.Reader
	items    []*item // not yet folded, in sequence order
	next     int     // first item not dispatched
	inflight int
	w        Applied
	wOffsets kafka.Offsets
	folded   offsets.Seq
	foldedAt string // position text of the last fold
	above    map[offsets.Seq]bool
	newest   Applied
	ended    bool   // the log ended for this run (Config.End, Config.Until)
	turns    *turns // commit turns (CommitSource)
	issued   uint64 // tickets handed out (dispatcher only)
	// indexing: the snapshot is applied and the follower builds its
	// indexes (IndexBuilder): the status still says snapshotting, so a
	// wait for the snapshot's position ends once they are built.
	indexing bool

	qmu    sync.Mutex
	qcond  *sync.Cond
	qbytes int
	qdone  bool
}

type result struct {
	batch []*item
	err   error
}

// run is one Run's state; the dispatcher goroutine owns it.
type run struct {
	s        *Sink
	streams  []*stream
	arrivals chan *item
	ended    chan *stream
	errs     chan error
	work     chan []*item
	results  chan result
	idle     int
	lost     <-chan error // the follower's lock was lost (LeaseWatcher); nil if it cannot be
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	// A fold runs on its own goroutine (foldAsync) so the dispatcher keeps
	// dispatching meanwhile; one at a time, and every synchronous fold
	// waits for it first, so watermarks are recorded in order.
	folding  bool
	foldDone chan foldResult
	// ordered: commits in source order (order.go). serial: the follower
	// has one writer at a time (SerialWriter). probing: the follower
	// answers LockProber (cleared at its first error).
	ordered, serial bool
	recordInTurn    bool // the follower records in its turn (RecorderInTurn)
	probing         atomic.Bool
}

func newRun(s *Sink, state map[string]SourceState) *run {
	r := &run{s: s, arrivals: make(chan *item), ended: make(chan *stream, len(s.cfg.Sources)), errs: make(chan error, len(s.cfg.Sources)),
		work: make(chan []*item), results: make(chan result, s.cfg.Workers), idle: s.cfg.Workers, foldDone: make(chan foldResult, 1),
		ordered: s.cfg.CommitOrder == CommitSource}
	if sw, ok := s.f.(SerialWriter); ok {
		r.serial = sw.SerialWrites()
	}
	if rt, ok := s.f.(RecorderInTurn); ok {
		r.recordInTurn = rt.RecordsInTurn()
	}
	r.probing.Store(true)
	for _, src := range s.cfg.Sources {
		st := state[src.Name]
		w := st.Watermark
		w.Snapshotting = !w.Seq.IsZero() && w.Seq.Sub != offsets.StreamSub
		str := &stream{name: src.Name, w: w, wOffsets: st.Offsets, folded: st.Watermark.Seq, above: st.Above,
			newest: w}
		str.qcond = sync.NewCond(&str.qmu)
		str.turns = newTurns()
		end, bounded := s.cfg.End[src.Name]
		str.ended = bounded && end <= 0
		str.reader = kafka.NewReader(kafka.ReaderConfig{Brokers: s.cfg.Brokers, Prefix: src.Prefix,
			Resume: st.Offsets, After: st.Watermark.Seq, BigTxn: s.cfg.BigTxn, DialTimeout: s.cfg.DialTimeout, End: end,
			Security: s.cfg.KafkaSecurity, MaxMessageBytes: s.cfg.MaxMessageBytes})
		r.streams = append(r.streams, str)
	}
	return r
}

func (r *run) close() {
	for _, st := range r.streams {
		st.qmu.Lock()
		st.qdone = true
		st.qcond.Broadcast()
		st.qmu.Unlock()
		st.reader.Close()
	}
}

func (r *run) loop(ctx context.Context) error {
	s := r.s
	readCtx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	// Workers finish the follower transaction they are in when ctx ends:
	// they run on a context that outlives it briefly.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	for i := 0; i < s.cfg.Workers; i++ {
		r.wg.Add(1)
		go r.worker(workCtx)
	}
	defer func() {
		close(r.work)
		r.wg.Wait()
	}()
	defer r.waitFold()
	for _, st := range r.streams {
		if !st.ended {
			go r.read(readCtx, st)
		}
	}
	tick := time.NewTicker(s.cfg.FoldInterval)
	defer tick.Stop()
	for {
		if r.finished() {
			if st := r.indexesDue(); st != nil { // a bounded run (replay) ends with its indexes built
				if err := r.buildIndexes(ctx, st); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				continue
			}
			r.lag()
			return r.fold(workCtx)
		}
		if st := r.indexesDue(); st != nil {
			// Hold dispatching until nothing is in flight, then build.
			if r.quiet() {
				// On ctx: a stop cancels a long build (rolled back, built
				// again at the next start) instead of waiting for it.
				if err := r.buildIndexes(ctx, st); err != nil && ctx.Err() == nil {
					r.drain(workCtx)
					return err
				}
				if ctx.Err() == nil {
					continue
				}
			}
		} else {
			r.dispatch()
		}
		select {
		case it := <-r.arrivals:
			r.arrive(it)
		case <-r.s.kick: // resumed: dispatch again
		case st := <-r.ended:
			st.ended = true
		case res := <-r.results:
			if err := r.finish(res); err != nil {
				r.drain(workCtx)
				return err
			}
		case err := <-r.errs:
			r.drain(workCtx)
			if supervise.IsPermanent(err) {
				return fmt.Errorf("sink %s stopped: %w", s.cfg.Name, err)
			}
			if errors.Is(err, kafka.ErrRetention) {
				return supervise.Permanent(fmt.Errorf("sink %s: %w", s.cfg.Name, err))
			}
			return fmt.Errorf("sink %s: read the log: %w", s.cfg.Name, err)
		case err := <-r.lost:
			// Stop now: the follower transactions in flight are cancelled
			// (their commits would fail the fence anyway), and nothing more
			// is dispatched or folded.
			cancelRead()
			cancelWork()
			r.drain(workCtx)
			return fmt.Errorf("sink %s stopped: %w", s.cfg.Name, err)
		case <-tick.C:
			r.foldAsync(workCtx)
			r.lag()
		case res := <-r.foldDone:
			r.folding = false
			if err := r.folded(res); err != nil {
				return err
			}
		case <-ctx.Done():
			cancelRead()
			r.drain(workCtx)
			if err := r.fold(workCtx); err != nil {
				s.log.Warn("final position record failed; the next start re-reads from the previous one", "err", err)
			}
			return nil
		}
	}
}

// read feeds a source's transactions to the dispatcher, holding back when
// the queue is full and while a big transaction is being applied.
func (r *run) read(ctx context.Context, st *stream) {
	for {
		txn, err := st.reader.Next(ctx)
		if err == nil && r.s.cfg.Until != nil && r.s.cfg.Until(st.name, txn) {
			err = kafka.ErrEnd // neither this transaction nor any after it
		}
		if errors.Is(err, kafka.ErrEnd) {
			r.ended <- st // buffered: one per source
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				r.errs <- err
			}
			return
		}
		if txn.Stream == nil {
			r.s.setKafkaLag(st.name, st.reader.Lag())
		}
		if f := r.s.cfg.Filter; f != nil {
			if err := filterTxn(f, st.name, txn); err != nil {
				r.errs <- supervise.Permanent(err)
				return
			}
		}
		it := &item{src: st, txn: txn, seq: txn.End.Seq, dep: txn.End.DependsOn, big: txn.Stream != nil, heartbeat: txn.Heartbeat}
		it.ap = Applied{Seq: txn.End.Seq, Pos: txn.End.Pos, CommitTime: txn.End.Time, Snapshotting: txn.End.Snapshot && !txn.End.LastSnapshot}
		if it.big {
			it.done = make(chan struct{})
		}
		st.qmu.Lock()
		for st.qbytes > 0 && st.qbytes+txn.Bytes > r.s.cfg.QueueBytes && !st.qdone {
			st.qcond.Wait()
		}
		st.qbytes += txn.Bytes
		st.qmu.Unlock()
		select {
		case r.arrivals <- it:
		case <-ctx.Done():
			return
		}
		if it.big {
			select {
			case <-it.done:
				r.s.setKafkaLag(st.name, st.reader.Lag())
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *Sink) setKafkaLag(source string, lag map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.status.Sources {
		if s.status.Sources[i].Source == source {
			s.status.Sources[i].KafkaLag = lag
		}
	}
}

// indexesDue is a source whose follower tables wait for index builds
// (IndexBuilder), once its snapshot is applied and none is arriving; nil
// if none.
func (r *run) indexesDue() *stream {
	ib, ok := r.s.f.(IndexBuilder)
	if !ok {
		return nil
	}
	for _, st := range r.streams {
		if !st.w.Snapshotting && !st.newest.Snapshotting && ib.IndexesDue(st.name) {
			return st
		}
	}
	return nil
}

// quiet reports whether no follower transaction is in flight.
func (r *run) quiet() bool {
	for _, st := range r.streams {
		if st.inflight > 0 {
			return false
		}
	}
	return true
}

// buildIndexes builds st's pending indexes, showing each in the status.
func (r *run) buildIndexes(ctx context.Context, st *stream) error {
	ib := r.s.f.(IndexBuilder)
	err := ib.BuildIndexes(ctx, st.name, func(table, index string) {
		r.s.update(func(s *Status) {
			s.Building = ""
			if table != "" {
				s.Building = table + ": " + index
			}
		})
	})
	defer r.lag() // a snapshot's builds done: no longer snapshotting
	if err != nil {
		r.s.update(func(s *Status) { s.Building = "" })
		if r.s.f.Retryable(err) {
			return fmt.Errorf("sink %s: follower unavailable: %w", r.s.cfg.Name, err)
		}
		return fmt.Errorf("sink %s: %w", r.s.cfg.Name, err)
	}
	return nil
}
