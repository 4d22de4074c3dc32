package sources

import (
	"context"
	"iter"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// Log is where the source writes. A Log is used for one run of the source:
// after any error the source closes it and asks for a new one.
type Log interface {
	// Publish writes one transaction of count changes, in call order. It
	// may return before the records are durable.
	Publish(ctx context.Context, txn *ordering.Txn, count int, changes iter.Seq2[*ordering.Change, error]) error
	// Durable is the newest transaction whose records, and all earlier
	// ones', the log holds durably.
	Durable() (offsets.Seq, offsets.Position)
	// Notify signals that Durable may have advanced or the log failed.
	Notify() <-chan struct{}
	// Err is the log's sticky failure.
	Err() error
	// Pending counts published transactions not yet durable.
	Pending() int
	// Heartbeat records that the source had nothing more to send up to pos
	// (idle), so sinks can report that position as applied. It writes
	// nothing and returns false while transactions are not yet durable.
	Heartbeat(ctx context.Context, source string, pos offsets.Position, at time.Time) (bool, error)
	// DurableHeartbeat is the position of the newest heartbeat the log
	// holds durably (zero before the first).
	DurableHeartbeat() offsets.Position
	// Resume says the source's stream goes on after seq (its checkpoint),
	// before the first Publish: heartbeats written before a new
	// transaction is durable carry seq, so sinks, whose watermark is at
	// seq, take their positions (a zero Seq would be below it).
	Resume(seq offsets.Seq)
	// Close flushes and releases the log.
	Close(ctx context.Context) error
}

// Checkpoints stores the source's durable position.
type Checkpoints interface {
	Load(ctx context.Context, source string) (offsets.Checkpoint, error)
	Save(ctx context.Context, source string, cp offsets.Checkpoint) error
}
