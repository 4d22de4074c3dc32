package sinks

import (
	"context"
	"errors"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
)

// ErrLocked is returned by Follower.Prepare when another process holds
// the sink's lock in the follower.
var ErrLocked = errors.New("sink is locked by another walship process")

// ErrLockLost is wrapped when the sink's lock in the follower is no longer
// held (its session was killed, or ended by an idle timeout): the sink
// stops before it writes again, and a restart takes the lock again. It is
// not permanent.
var ErrLockLost = errors.New("the sink's lock in the follower was lost")

// LeaseWatcher is implemented by a Follower whose lock can be lost while a
// sink runs. Lost, called after Prepare, returns a channel that receives
// one error wrapping ErrLockLost when the lock taken by that Prepare is
// lost; Run then stops at once, without finishing the batches in flight
// (the follower refuses their commits: see Follower.Prepare).
type LeaseWatcher interface {
	Lost() <-chan error
}

// Applied identifies an applied transaction.
type Applied struct {
	Seq        offsets.Seq
	Pos        offsets.Position
	CommitTime time.Time
	// Snapshotting: the transaction is a snapshot chunk other than the
	// last. Every chunk carries the snapshot's consistent position, which
	// the follower reaches only with the last one: a wait for a position
	// is not over while this is set. A watermark read back from the
	// follower at a snapshot chunk is taken as one until the log says
	// more (a later transaction, or a heartbeat, which a source sends only
	// once it streams).
	Snapshotting bool
}

// SourceState is what a follower recorded for one source: the watermark
// (every transaction with Seq <= Watermark.Seq is applied), where to resume
// reading, and the transactions above the watermark already applied.
type SourceState struct {
	Watermark Applied
	Offsets   kafka.Offsets
	Above     map[offsets.Seq]bool
}

// Follower is a follower database as the scheduler uses it. Implementations
// (sinks/sqlsink with an engine dialect) keep the applied positions in the
// follower itself, in the same transactions as the rows.
type Follower interface {
	// Prepare connects, takes the sink's lock in the follower (a second
	// process is refused), creates walship's tables if needed and returns
	// the recorded state per source. release gives the lock back. Until
	// release, every follower transaction that writes (FollowerTx.Record,
	// Fold) proves inside itself that the lock is still held, and fails
	// with ErrLockLost otherwise.
	Prepare(ctx context.Context) (state map[string]SourceState, release func(), err error)
	// EnsureSchema creates or evolves the follower tables for these table
	// shapes of source, before any change that needs them. It may run DDL
	// outside any data transaction. Safe for concurrent use.
	EnsureSchema(ctx context.Context, source string, tables []*ordering.Table) error
	// Begin starts a follower transaction. Safe for concurrent use.
	Begin(ctx context.Context) (FollowerTx, error)
	// Fold records the watermark of source and forgets the transactions
	// at or below it, in one follower transaction.
	Fold(ctx context.Context, source string, w Applied, resume kafka.Offsets) error
	// Retryable reports whether err is about the follower's availability
	// (pause and retry) rather than a rejected change (stop).
	Retryable(err error) bool
	// Close releases the connections.
	Close() error
}

// FollowerTx is one follower transaction: the changes of one or more whole
// source transactions, and their record in walship's applied table.
type FollowerTx interface {
	// EnsureSchema is Follower.EnsureSchema for shapes first met inside this
	// transaction (a big transaction streams in); it must not deadlock with
	// the transaction it runs in.
	EnsureSchema(ctx context.Context, source string, tables []*ordering.Table) error
	Apply(ctx context.Context, source string, ch *ordering.Change) error
	Record(ctx context.Context, source string, txns []Applied) error
	Commit() error
	Rollback() error
}

// LockProber is implemented by a FollowerTx that can tell whether another
// session of the follower waits for a lock the transaction holds. With
// commits in source order, a later follower transaction waiting for its
// turn asks it, and gives way (rolls back, and runs again in its turn)
// when it blocks someone: the one it blocks may be the earlier
// transaction it waits for. An error means the transaction is unusable.
type LockProber interface {
	BlocksOthers(ctx context.Context) (bool, error)
}

// Flusher is implemented by a FollowerTx that holds changes back to write
// them together (multi-row inserts): Flush writes them now. A batch
// flushes before it waits for its commit turn, so the wait overlaps work
// already done, not work still to do.
type Flusher interface {
	Flush(ctx context.Context) error
}

// TxnMarker is implemented by a FollowerTx that wants to know which
// source transaction the changes Apply gets next belong to (a conflict it
// records names the transaction's position).
type TxnMarker interface {
	Txn(ap Applied)
}

// Folder is implemented by a FollowerTx that holds row changes back to
// write their net effect per key: NoFold makes it apply them as they
// come, for a big transaction streamed from the log (its changes are
// neither held in memory nor read twice).
type Folder interface {
	NoFold()
}

// Fencer is implemented by a FollowerTx that can prove again, inside
// itself, that the sink's lock is held (Record proves it too). A batch
// that recorded itself before waiting for its commit turn proves it once
// more after the wait, last before the commit.
type Fencer interface {
	Fence(ctx context.Context) error
}

// RecorderInTurn is implemented by a Follower whose applied-table records
// must wait for the commit turn (MySQL: the fold's range delete takes
// next-key locks there, and would queue behind a waiting batch's records
// while the batch whose turn it is queues behind the fold). Others record
// before the wait, so only the commit is serial.
type RecorderInTurn interface {
	RecordsInTurn() bool
}

// SerialWriter is implemented by a Follower whose writers exclude each
// other (SQLite: one write transaction at a time). With commits in source
// order, a follower transaction then begins only in its turn: a later one
// holding the write lock would keep the earlier one from writing at all.
type SerialWriter interface {
	SerialWrites() bool
}

// IndexBuilder is implemented by a Follower that builds secondary indexes
// on the follower tables it created, once their rows are loaded
// (sqlsink.Applier). The sink calls BuildIndexes at a quiet point: no
// follower transaction open, and the source's snapshot applied.
type IndexBuilder interface {
	// IndexesDue reports whether index builds wait for source's tables.
	// Cheap: called before every dispatch.
	IndexesDue(source string) bool
	// BuildIndexes builds them; building is called before each build
	// (table, index) and with "" once done. An error is the follower's
	// (unavailable): the sink stops and retries.
	BuildIndexes(ctx context.Context, source string, building func(table, index string)) error
}
