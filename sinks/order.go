package sinks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// CommitOrder is when a sink's follower transactions may commit.
type CommitOrder string

const (
	// CommitSource: in the order of the source's log, so a follower shows
	// at every moment a prefix of each source's commits (a state the
	// source had). Transactions still execute in parallel; each follower
	// transaction commits only after those holding earlier transactions
	// of the same source. The default.
	CommitSource CommitOrder = "source"
	// CommitDependencies: as soon as the transactions each depends on
	// committed. Independent transactions may commit out of log order, so
	// readers of the follower can see states the source never had (a row
	// written after another, by a client that read the first, shown
	// without it).
	CommitDependencies CommitOrder = "dependencies"
)

// Commits in source order: each dispatched batch of a source takes the
// next ticket of that source (batches are contiguous ranges of its log,
// dispatched in log order), and commits only when the source's turn is
// its ticket. The oldest batch in flight always holds the turn, so the
// log always progresses. A later batch that waits for its turn holds its
// row locks; if the earlier one needs one of them (a follower trigger, a
// gap or unique-check lock), neither would ever go on: the waiting batch
// asks the follower whether it blocks another session (LockProber), and if
// so, or after orderWaitMax, gives way: it rolls back, waits for its turn
// holding nothing, and runs again.

// errYield is a batch that gave way; apply runs it again in its turn.
var errYield = errors.New("gave way to an earlier transaction")

// errOrderBroken is the error of the batches after one that failed: they
// must not commit (the follower would miss it). An *orderBroken carries
// the failure itself.
var errOrderBroken = errors.New("an earlier follower transaction failed")

// orderBroken is errOrderBroken with the error of the batch that failed.
type orderBroken struct{ cause error }

func (e *orderBroken) Error() string   { return errOrderBroken.Error() + ": " + e.cause.Error() }
func (e *orderBroken) Unwrap() []error { return []error{errOrderBroken, e.cause} }

const (
	// orderProbeEvery is how often a waiting batch asks whether it blocks
	// another session: not at once (most waits end within a commit or
	// two), and not too often (PostgreSQL's pg_blocking_pids takes every
	// lock-manager partition lock).
	orderProbeEvery = 25 * time.Millisecond
	// orderWaitMax is how long a waiting batch holds its locks at most
	// (a lock wait the probe cannot see, or no probe).
	orderWaitMax = 2 * time.Second
)

// turns is one source's commit turn, shared by the workers.
type turns struct {
	mu      sync.Mutex
	next    uint64        // the ticket whose turn it is
	changed chan struct{} // closed when next or broken changes
	broken  error         // set by the batch of ticket failed
	failed  uint64
}

func newTurns() *turns { return &turns{changed: make(chan struct{})} }

// state reports whether it is ticket's turn, the channel closed at the
// next change, and the error that broke the order.
func (t *turns) state(ticket uint64) (bool, <-chan struct{}, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken != nil && ticket > t.failed {
		return false, nil, t.broken // a batch before this one failed
	}
	return t.next == ticket, t.changed, nil
}

// done passes the turn on from ticket (its batch committed).
func (t *turns) done(ticket uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.next == ticket {
		t.next++
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// fail breaks the order after ticket, whose batch failed: no later batch
// of the source commits in this run (earlier ones still do, in turn).
func (t *turns) fail(ticket uint64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken == nil || ticket < t.failed {
		t.broken, t.failed = &orderBroken{cause: err}, ticket
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// wait blocks until it is ticket's turn. With tx set (a batch holding its
// locks), it returns errYield when tx blocks another session, or when it
// waited orderWaitMax. A probe that fails (the follower's user may not
// read the lock tables) yields this once and clears noProbe's flag for the
// rest of the run: from then on only orderWaitMax applies.
func (t *turns) wait(ctx context.Context, ticket uint64, tx FollowerTx, probing *atomic.Bool) error {
	probe, _ := tx.(LockProber)
	var tick <-chan time.Time
	var deadline time.Time
	if tx != nil {
		ticker := time.NewTicker(orderProbeEvery)
		defer ticker.Stop()
		tick, deadline = ticker.C, time.Now().Add(orderWaitMax)
	}
	for {
		ok, changed, err := t.state(ticket)
		if err != nil || ok {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			if time.Now().After(deadline) {
				return errYield
			}
			if probe != nil && probing.Load() {
				blocks, err := probe.BlocksOthers(ctx)
				if err != nil {
					probing.Store(false)
					return fmt.Errorf("%w: %w", errYield, &probeError{err}) // tx may be unusable: roll it back
				}
				if blocks {
					return errYield
				}
			}
		}
	}
}

// probeError is a LockProber that failed; the run stops probing.
type probeError struct{ err error }

func (e *probeError) Error() string { return "lock probe: " + e.err.Error() }
func (e *probeError) Unwrap() error { return e.err }
