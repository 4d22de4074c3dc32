package sinks

import "time"

// State of a sink.
type State string

// The states a sink reports.
const (
	StateStarting State = "starting"
	StateApplying State = "applying"
	StatePaused   State = "paused" // the follower is unavailable; retrying
	StateFailed   State = "failed"
	StateStopped  State = "stopped"
)

// Status is a snapshot of a sink for metrics, the status API and logs. It
// never holds row data.
type Status struct {
	Name    string
	State   State
	Sources []SourceStatus
	// AppliedTxns and AppliedChanges count what this process applied.
	AppliedTxns, AppliedChanges int64
	// DeadLettered counts transactions this process skipped into the
	// dead-letter topic.
	DeadLettered int64
	// CommitYields counts follower transactions that gave way to an earlier
	// one waiting for their locks (CommitSource), and ran again in turn.
	CommitYields int64
	// FollowerTxns counts the follower transactions that applied them
	// (their sizes: the walship_sink_batch_transactions histogram).
	FollowerTxns int64
	// Statements counts the data statements the follower was sent (a
	// Follower implementing StatementCounter).
	Statements int64
	// Conflicts count the conflicts committed follower transactions met,
	// by table, kind and resolution (a Follower implementing
	// ConflictCounter).
	Conflicts []ConflictCount
	// OperatorPaused is set while an operator paused the sink (Pause):
	// nothing new starts on the follower.
	OperatorPaused bool
	// Building names the follower index being built ("table: index"),
	// while one is (IndexBuilder); "" otherwise.
	Building  string
	LastError string
	ErrorTime time.Time
}

// StatementCounter is implemented by a Follower that counts the data
// statements it sent the follower (sqlsink.Applier).
type StatementCounter interface {
	Statements() int64
}

// ConflictCounter is implemented by a Follower that settles conflicts
// (sqlsink.Applier, config conflicts:).
type ConflictCounter interface {
	Conflicts() []ConflictCount
}

// ConflictCount is how many conflicts of a kind met a follower table, and
// how they were settled.
type ConflictCount struct {
	Table, Kind, Resolution string
	Count                   int64
}

// SourceStatus is a sink's progress on one source.
type SourceStatus struct {
	Source string
	// Applied is the watermark: every transaction up to it is applied.
	Applied Applied
	// Newest is the newest transaction seen in the log.
	Newest Applied
	// LagSeconds is the commit time of the newest transaction seen minus
	// that of the last applied one; 0 when caught up.
	LagSeconds float64
	// Queued counts transactions read and not yet applied.
	Queued int
	// KafkaLag is the reader's lag per topic-partition, in messages.
	KafkaLag map[string]int64
}
