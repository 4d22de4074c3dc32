package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/supervise"
)

// SourceLog names a source a sink applies and where its log is.
type SourceLog struct {
	Name   string
	Prefix string // the source's topic prefix
}

// Config configures a Sink.
type Config struct {
	Name    string
	Sources []SourceLog
	Brokers []string
	// KafkaSecurity is TLS and SASL to the brokers.
	KafkaSecurity kafka.Security
	// MaxMessageBytes is the largest record the sources write (the reader
	// fetches at least that much). Default: 32 MiB.
	MaxMessageBytes int
	// Workers apply independent transactions in parallel. Default: 4.
	Workers int
	// BatchTxns and BatchChanges bound how many consecutive small
	// transactions one follower transaction groups. Defaults: 100, 5000.
	BatchTxns, BatchChanges int
	// QueueBytes bounds memory of transactions read but not applied, per
	// source. Default: 64 MiB.
	QueueBytes int
	// BigTxn: transactions with more changes are streamed into one follower
	// transaction instead of held in memory. Default: 10000.
	BigTxn int
	// FoldInterval is how often the watermark is recorded. Default: 200ms.
	FoldInterval time.Duration
	// DialTimeout bounds connecting to Kafka. Default: 10s.
	DialTimeout time.Duration
	// Observer, if set, is told about every committed batch.
	Observer Observer
	// End, if set, bounds the log of each source it lists at a spine
	// offset (kafka.ReaderConfig.End) for this Run; a source listed with 0
	// has nothing to read. Until, if set, ends a source's log at the first
	// transaction or heartbeat for which it returns true: neither it nor
	// anything after it is applied (it is called from the source's reader
	// goroutine). Once every source's log has ended, Run returns nil as
	// soon as everything read is applied and the watermark recorded
	// (walship replay). Unset, Run applies until ctx is done.
	End   map[string]int64
	Until func(source string, txn *kafka.Txn) bool
	// CommitOrder is when follower transactions may commit. Default:
	// CommitSource.
	CommitOrder CommitOrder
	// DeadLetter, if set, receives a transaction the follower rejects
	// instead of the sink stopping on it; the transaction is then recorded
	// as applied, so it is skipped from then on. Unset, a rejected
	// transaction stops the sink.
	DeadLetter DeadLetterer
}

// DeadLetterer durably records a transaction the follower rejected.
type DeadLetterer interface {
	// Send returns nil once the record is durable.
	Send(ctx context.Context, source string, m envelope.Marker, changes []ordering.Change, cause error) error
}

// Observer receives apply measurements (for metrics). Calls come from the
// sink's dispatcher goroutine; implementations must be quick.
type Observer interface {
	// Batch reports a committed follower transaction: how many source
	// transactions it held, the changes per op, and for each streamed (not
	// snapshot) transaction the time from its source commit to now.
	Batch(txns int, changes map[ordering.Op]int, latencies []time.Duration)
}

func (c *Config) defaults() {
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.BatchTxns == 0 {
		c.BatchTxns = 100
	}
	if c.BatchChanges == 0 {
		c.BatchChanges = 5000
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = 64 << 20
	}
	if c.BigTxn == 0 {
		c.BigTxn = 10000
	}
	if c.FoldInterval == 0 {
		c.FoldInterval = 200 * time.Millisecond
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.CommitOrder == "" {
		c.CommitOrder = CommitSource
	}
}

// Sink applies the log of its sources to one follower. Run it under a
// supervisor: each Run reads the follower's recorded positions and resumes
// exactly after them.
type Sink struct {
	cfg Config
	f   Follower
	log *slog.Logger

	mu     sync.Mutex
	status Status
	wake   chan struct{} // closed and replaced when positions advance
	kick   chan struct{} // wakes the dispatcher after Resume
}

// Pause stops the sink from starting follower transactions; those in
// flight finish and record their positions. Reading goes on up to the
// queue's bound. It lasts until Resume (or the process ends: a pause is
// not persisted).
func (s *Sink) Pause() {
	s.update(func(st *Status) { st.OperatorPaused = true })
	s.log.Info("sink paused by an operator")
}

// Resume undoes Pause.
func (s *Sink) Resume() {
	s.update(func(st *Status) { st.OperatorPaused = false })
	select {
	case s.kick <- struct{}{}:
	default:
	}
	s.log.Info("sink resumed by an operator")
}

func (s *Sink) paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status.OperatorPaused
}

// New returns a sink applying to f.
func New(cfg Config, f Follower, log *slog.Logger) *Sink {
	cfg.defaults()
	s := &Sink{cfg: cfg, f: f, log: log.With("sink", cfg.Name), wake: make(chan struct{}), kick: make(chan struct{}, 1)}
	s.status = Status{Name: cfg.Name, State: StateStarting}
	for _, src := range cfg.Sources {
		s.status.Sources = append(s.status.Sources, SourceStatus{Source: src.Name})
	}
	return s
}

// Status returns a snapshot of the sink's progress.
func (s *Sink) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Sources = append([]SourceStatus(nil), s.status.Sources...)
	return st
}

// Changed returns a channel closed the next time an applied position
// advances (for read-your-writes waiters).
func (s *Sink) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

func (s *Sink) update(f func(*Status)) {
	s.mu.Lock()
	f(&s.status)
	s.mu.Unlock()
}

// Run applies until ctx is done (then finishes the follower transactions
// in flight, records the position and returns nil) or an error stops it.
// Errors wrapped with supervise.Permanent (a rejected change, a held lock,
// a gap in the log) must not be retried.
func (s *Sink) Run(ctx context.Context, ready func()) (err error) {
	defer func() {
		switch {
		case err == nil || ctx.Err() != nil:
			s.update(func(st *Status) { st.State = StateStopped })
		case supervise.IsPermanent(err):
			s.update(func(st *Status) { st.State, st.LastError, st.ErrorTime = StateFailed, err.Error(), time.Now() })
		default:
			s.update(func(st *Status) { st.State, st.LastError, st.ErrorTime = StatePaused, err.Error(), time.Now() })
		}
	}()
	state, release, err := s.prepare(ctx)
	if err != nil {
		defer s.f.Close()
		if errors.Is(err, ErrLocked) || !s.f.Retryable(err) {
			return supervise.Permanent(fmt.Errorf("sink %s: %w", s.cfg.Name, err))
		}
		return fmt.Errorf("sink %s: follower unavailable: %w", s.cfg.Name, err)
	}
	defer s.f.Close()
	defer release()

	r := newRun(s, state)
	if w, ok := s.f.(LeaseWatcher); ok {
		r.lost = w.Lost()
	}
	defer r.close()
	s.update(func(st *Status) { st.State, st.LastError = StateApplying, "" })
	ready()
	return r.loop(ctx)
}

// lockGrace is how long a held sink lock is waited for before the sink
// gives up: the lock of a walship killed a moment ago lives until the
// follower notices its connection is gone.
const lockGrace = 15 * time.Second

// prepare is Follower.Prepare, waiting out a lock held by a predecessor.
func (s *Sink) prepare(ctx context.Context) (map[string]SourceState, func(), error) {
	deadline := time.Now().Add(lockGrace)
	for {
		state, release, err := s.f.Prepare(ctx)
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			return state, release, err
		}
		s.f.Close()
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

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
	probing         atomic.Bool
}

// foldJob is one source's watermark to record.
type foldJob struct {
	st   *stream
	w    Applied
	offs kafka.Offsets
	pos  string
}

type foldResult struct {
	jobs []foldJob
	err  error
}

func newRun(s *Sink, state map[string]SourceState) *run {
	r := &run{s: s, arrivals: make(chan *item), ended: make(chan *stream, len(s.cfg.Sources)), errs: make(chan error, len(s.cfg.Sources)),
		work: make(chan []*item), results: make(chan result, s.cfg.Workers), idle: s.cfg.Workers, foldDone: make(chan foldResult, 1),
		ordered: s.cfg.CommitOrder == CommitSource}
	if sw, ok := s.f.(SerialWriter); ok {
		r.serial = sw.SerialWrites()
	}
	r.probing.Store(true)
	for _, src := range s.cfg.Sources {
		st := state[src.Name]
		str := &stream{name: src.Name, w: st.Watermark, wOffsets: st.Offsets, folded: st.Watermark.Seq, above: st.Above,
			newest: st.Watermark}
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
			r.lag()
			return r.fold(workCtx)
		}
		r.dispatch()
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
		it := &item{src: st, txn: txn, seq: txn.End.Seq, dep: txn.End.DependsOn, big: txn.Stream != nil, heartbeat: txn.Heartbeat}
		it.ap = Applied{Seq: txn.End.Seq, Pos: txn.End.Pos, CommitTime: txn.End.Time}
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

func (r *run) arrive(it *item) {
	st := it.src
	if it.heartbeat {
		it.state = committed
		st.items = append(st.items, it)
		if st.next == len(st.items)-1 {
			st.next++
		}
		if !it.seq.Less(st.newest.Seq) {
			st.newest.Pos = it.ap.Pos
		}
		r.advance(st)
		return
	}
	st.items = append(st.items, it)
	if it.ap.CommitTime.After(st.newest.CommitTime) || st.newest.Seq.Less(it.seq) {
		st.newest = it.ap
	}
	if st.above[it.seq] {
		// Applied by an earlier run, above its watermark.
		delete(st.above, it.seq)
		it.state = committed
		if it.big {
			for _, err := range it.txn.Stream {
				if err != nil {
					break
				}
			}
			close(it.done)
		}
		if st.next == len(st.items)-1 {
			st.next++
		}
		r.advance(st)
	}
}

// dispatch hands ready transactions to idle workers. A transaction may
// start when every transaction it depends on has committed: its
// depends_on is at or below the source's watermark, or nothing before it
// is still in flight. With CommitSource a batch is a contiguous range of
// the log, and commits in its turn (order.go). With CommitDependencies,
// transactions behind one that must wait may go first when they are ready
// themselves (look-ahead, within a window): a transaction that conflicts
// with the waiting one depends on it, so only independent transactions
// ever commit out of log order. A big transaction runs alone, once
// everything before it committed.
func (r *run) dispatch() {
	if r.s.paused() {
		return
	}
	for r.idle > 0 {
		sent := false
		for _, st := range r.streams {
			if r.idle == 0 {
				break
			}
			batch := r.take(st)
			if batch == nil {
				continue
			}
			for _, it := range batch {
				it.state, it.ticket = dispatched, st.issued
			}
			st.issued++
			st.inflight += len(batch)
			r.idle--
			r.work <- batch
			sent = true
		}
		if !sent {
			return
		}
	}
}

// take picks the next batch of a source: ready queued transactions in log
// order, skipping (within the look-ahead window) those that must wait.
func (r *run) take(st *stream) []*item {
	cfg := &r.s.cfg
	for st.next < len(st.items) && st.items[st.next].state != queued {
		st.next++
	}
	limit := min(len(st.items), st.next+4*cfg.Workers*cfg.BatchTxns)
	prefix := st.inflight == 0 // everything before st.next has committed
	var batch []*item
	changes := 0
	for i := st.next; i < limit && len(batch) < cfg.BatchTxns; i++ {
		n := st.items[i]
		if n.state != queued {
			continue
		}
		if n.big {
			if len(batch) == 0 && prefix && i == st.next {
				return []*item{n}
			}
			break // nothing passes a big transaction
		}
		if !prefix && st.w.Seq.Less(n.dep) {
			if r.ordered {
				break // batches are contiguous: commits follow the log
			}
			continue // it waits; look further
		}
		if len(batch) > 0 && changes+len(n.txn.Changes) > cfg.BatchChanges {
			break
		}
		batch = append(batch, n)
		changes += len(n.txn.Changes)
	}
	return batch
}

func (r *run) worker(ctx context.Context) {
	defer r.wg.Done()
	for batch := range r.work {
		err := r.applyOrDeadLetter(ctx, batch)
		if r.ordered {
			if err == nil {
				batch[0].src.turns.done(batch[0].ticket)
			} else {
				batch[0].src.turns.fail(err)
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
	for _, it := range batch {
		if it.big {
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
	// The turn first, then the record: a batch waiting for its turn holds
	// no lock in walship's applied table, where the fold's range delete
	// (MySQL takes next-key locks) would queue behind it and the batch
	// whose turn it is behind the fold.
	if beforeCommit != nil {
		if err := beforeCommit(tx); err != nil {
			return err
		}
	}
	if err := tx.Record(ctx, source, recs); err != nil {
		return err
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
	})
	r.advance(st)
	return nil
}

// advance moves the watermark over the committed prefix.
func (r *run) advance(st *stream) {
	moved := false
	for len(st.items) > 0 && st.items[0].state == committed {
		it := st.items[0]
		switch {
		case !it.heartbeat:
			st.w, st.wOffsets = it.ap, it.txn.Offsets
		case !it.seq.Less(st.w.Seq) && !it.ap.Pos.IsZero():
			// Nothing after the watermark's transaction up to the heartbeat.
			st.w.Pos, st.wOffsets = it.ap.Pos, it.txn.Offsets
		}
		st.items = st.items[1:]
		st.next--
		moved = true
		st.qmu.Lock()
		st.qbytes -= it.txn.Bytes
		st.qcond.Broadcast()
		st.qmu.Unlock()
	}
	if st.next < 0 {
		st.next = 0
	}
	if moved {
		r.s.mu.Lock()
		close(r.s.wake)
		r.s.wake = make(chan struct{})
		r.s.mu.Unlock()
		r.lag()
	}
}

// finished reports whether every source's log ended for this run and
// everything read from it is applied.
func (r *run) finished() bool {
	for _, st := range r.streams {
		if !st.ended || len(st.items) > 0 || st.inflight > 0 {
			return false
		}
	}
	return len(r.streams) > 0
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

// fold records each source's watermark when it moved.
func (r *run) fold(ctx context.Context) error {
	if err := r.waitFold(); err != nil {
		return err
	}
	jobs := r.foldJobs()
	return r.folded(foldResult{jobs, r.writeFold(ctx, jobs)})
}

// foldAsync starts recording the watermarks that moved, unless a fold is
// still running.
func (r *run) foldAsync(ctx context.Context) {
	if r.folding {
		return
	}
	jobs := r.foldJobs()
	if len(jobs) == 0 {
		return
	}
	r.folding = true
	go func() { r.foldDone <- foldResult{jobs, r.writeFold(ctx, jobs)} }()
}

// waitFold waits for a running fold and takes its result.
func (r *run) waitFold() error {
	if !r.folding {
		return nil
	}
	r.folding = false
	return r.folded(<-r.foldDone)
}

// foldJobs lists the sources whose watermark moved since it was recorded.
func (r *run) foldJobs() []foldJob {
	var jobs []foldJob
	for _, st := range r.streams {
		pos := st.w.Pos.String()
		if !st.folded.Less(st.w.Seq) && pos == st.foldedAt {
			continue
		}
		jobs = append(jobs, foldJob{st: st, w: st.w, offs: st.wOffsets, pos: pos})
	}
	return jobs
}

// writeFold records the jobs' watermarks in the follower. It touches no
// run state: it may run beside the dispatcher.
func (r *run) writeFold(ctx context.Context, jobs []foldJob) error {
	for _, j := range jobs {
		if err := r.s.f.Fold(ctx, j.st.name, j.w, j.offs); err != nil {
			if r.s.f.Retryable(err) {
				return fmt.Errorf("sink %s: record position: %w", r.s.cfg.Name, err)
			}
			return supervise.Permanent(fmt.Errorf("sink %s: record position: %w", r.s.cfg.Name, err))
		}
	}
	return nil
}

// folded notes what a fold recorded.
func (r *run) folded(res foldResult) error {
	if res.err != nil {
		return res.err
	}
	for _, j := range res.jobs {
		j.st.folded, j.st.foldedAt = j.w.Seq, j.pos
	}
	return nil
}

func (r *run) lag() {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	for i, st := range r.streams {
		ss := &r.s.status.Sources[i]
		ss.Applied, ss.Newest, ss.Queued = st.w, st.newest, len(st.items)
		ss.LagSeconds = 0
		if st.w.Seq.Less(st.newest.Seq) && st.newest.CommitTime.After(st.w.CommitTime) {
			ss.LagSeconds = st.newest.CommitTime.Sub(st.w.CommitTime).Seconds()
		}
	}
}
