package sources

import "time"

// State of a source.
type State string

// The states a source reports.
const (
	StateStarting     State = "starting"
	StateSnapshotting State = "snapshotting"
	StateStreaming    State = "streaming"
	StateFailed       State = "failed"
	StateStopped      State = "stopped"
)

// Status is what a source reports for metrics, the status API and logs.
// It never holds row data.
type Status struct {
	Name   string
	Engine string
	State  State
	// Head is the newest source position seen (PostgreSQL: the server's
	// WAL end); Acked is what upstream was told is durable.
	Head, Acked string
	// HeadBytes and AckedBytes are the same as numbers where the engine
	// has them (PostgreSQL LSNs), for byte lag.
	HeadBytes, AckedBytes uint64
	// Txns and Events count what was written to the log since start (Acked
	// says how much of it is durable); SnapshotRows counts snapshot rows
	// read.
	Txns, Events, SnapshotRows int64
	// IgnoredTxns counts the transactions left out since start because a
	// sink the source ignores wrote them (config ignore_writes_of).
	IgnoredTxns int64
	// RetainedBytes is how much log the source's position holds back on the
	// server (PostgreSQL: WAL between the slot's restart_lsn and the
	// server's current position); 0 where unknown.
	RetainedBytes uint64
	// LastCommit is the commit time of the newest durable transaction.
	LastCommit time.Time
	// Leader names the server the source streams from, with what tells
	// one leader from another (PostgreSQL: its system identifier and
	// timeline); "" before it connected.
	Leader string
	// FailoverSlot: the source's slot is synced to standbys (PostgreSQL
	// 17+ failover slots), so a promoted standby holds it.
	FailoverSlot bool
	// Failovers counts the new leaders the source went on with since the
	// daemon started (PostgreSQL: a promoted standby on a newer timeline),
	// the last at LastFailover.
	Failovers    int64
	LastFailover time.Time
	// Backfills are the incremental snapshots running or waiting, in
	// order (backfill.go).
	Backfills []BackfillStatus
	LastError string
	ErrorTime time.Time
}
