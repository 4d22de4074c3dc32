package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	// Filter decides what of each change this follower applies (the
	// sink's columns: and where:); nil applies every change.
	Filter  ChangeFilter
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
	// A sink that is behind with nothing in flight extends a full batch
	// with the transactions after it that depend on it (a chain, which
	// no other worker could take before the batch commits), up to
	// CatchUpBatches × BatchTxns, still bounded by BatchChanges: the
	// follower's per-transaction cost is then paid once for more of the
	// backlog, and folding merges more of it.
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
	if c, ok := s.f.(StatementCounter); ok {
		st.Statements = c.Statements()
	}
	if c, ok := s.f.(ConflictCounter); ok {
		st.Conflicts = c.Conflicts()
	}
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
