package httpapi

import (
	"time"

	"github.com/walship/walship/cluster"
)

// StatusDoc is the JSON of GET /api/v1/status. Field names are stable:
// operators script against them.
type StatusDoc struct {
	Version string         `json:"version"`
	Time    time.Time      `json:"time"`
	Sources []SourceStatus `json:"sources"`
	Sinks   []SinkStatus   `json:"sinks"`
	// Cluster is set for a member of a cluster (config cluster:): its
	// members, the generation, and the member that runs each component.
	// A component another member runs is "standby" here, with that
	// member as its Owner (its figures are on that member's status).
	Cluster *cluster.Status `json:"cluster,omitempty"`
}

// SourceStatus is one source.
type SourceStatus struct {
	Name   string `json:"name"`
	Engine string `json:"engine"` // postgres, mysql, mariadb
	// State is starting, snapshotting, streaming, backoff (retrying after
	// an error), failed (stopped for good) or stopped.
	State     string     `json:"state"`
	LastError string     `json:"last_error,omitempty"`
	ErrorTime *time.Time `json:"error_time,omitempty"`
	// Owner is the cluster member that runs the source (cluster mode).
	Owner string `json:"owner,omitempty"`
	// Head is the newest source position seen; Acked what upstream was
	// told is durable in Kafka.
	// Leader is the server the source streams from (PostgreSQL: with its
	// system identifier and timeline).
	Leader string `json:"leader,omitempty"`
	// FailoverSlot: the slot is synced to standbys (PostgreSQL 17+).
	FailoverSlot bool `json:"failover_slot,omitempty"`
	// Failovers counts the new leaders followed since the daemon started,
	// the last at LastFailover.
	Failovers    int64      `json:"failovers"`
	LastFailover *time.Time `json:"last_failover,omitempty"`
	Head         string     `json:"head,omitempty"`
	Acked        string     `json:"acked,omitempty"`
	// LagBytes is head minus acked (PostgreSQL).
	LagBytes     uint64 `json:"lag_bytes"`
	Transactions int64  `json:"transactions"`
	// IgnoredTransactions were left out: written by sinks the source
	// ignores (ignore_writes_of).
	IgnoredTransactions int64   `json:"ignored_transactions,omitempty"`
	Events              int64   `json:"events"`
	SnapshotRows        int64   `json:"snapshot_rows"`
	TxnsPerSec          float64 `json:"transactions_per_second"`
	RowsPerSec          float64 `json:"rows_per_second"`
	// Snapshots are the incremental snapshots running or waiting, in
	// order.
	Snapshots []SnapshotStatus `json:"snapshots,omitempty"`
}

// SnapshotStatus is an incremental snapshot of a source.
type SnapshotStatus struct {
	ID     string   `json:"id"`
	Tables []string `json:"tables"`
	// Table is the table being read.
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
	Chunks int64  `json:"chunks"`
	// Estimate is the catalog's estimate of its tables' rows when it was
	// requested; RowsPerSec the rate since it started, ETASeconds the
	// time left at that rate (while rows < estimate).
	Estimate   int64     `json:"estimated_rows"`
	RowsPerSec float64   `json:"rows_per_second"`
	ETASeconds float64   `json:"eta_seconds"`
	Started    time.Time `json:"started"`
	Paused     bool      `json:"paused,omitempty"`
	// DeleteUnseen: its chunks delete the followers' rows the source no
	// longer has, in every table but those Unpruned (keys that cannot
	// bound a range on every engine).
	DeleteUnseen bool     `json:"delete_unseen,omitempty"`
	Unpruned     []string `json:"unpruned,omitempty"`
}

// ConflictCount is how many conflicts of a kind a follower table met, and
// how they were settled.
type ConflictCount struct {
	Table      string `json:"table"`
	Kind       string `json:"kind"`
	Resolution string `json:"resolution"`
	Count      int64  `json:"count"`
}

// SinkStatus is one sink.
type SinkStatus struct {
	Name string `json:"name"`
	// State is starting, applying, paused (the follower is unavailable;
	// retrying), backoff, failed (a change was rejected, or the sink is
	// locked by another process) or stopped.
	State     string       `json:"state"`
	LastError string       `json:"last_error,omitempty"`
	ErrorTime *time.Time   `json:"error_time,omitempty"`
	Owner     string       `json:"owner,omitempty"` // the cluster member that runs it (cluster mode)
	Sources   []SinkSource `json:"sources"`
	Applied   int64        `json:"applied_transactions"`
	Changes   int64        `json:"applied_changes"`
	// DeadLettered counts transactions the follower rejected that went to
	// the sink's dead-letter topic (since the daemon started).
	DeadLettered int64 `json:"dead_lettered_transactions"`
	// CommitYields counts follower transactions that gave way to an
	// earlier one that waited for their locks (commit_order source).
	CommitYields int64 `json:"commit_yields"`
	// FollowerTxns counts follower transactions; Statements the data
	// statements sent (see walship_sink_statements_total).
	FollowerTxns int64 `json:"follower_transactions"`
	Statements   int64 `json:"statements"`
	// Conflicts are the conflicts settled (config conflicts:), by
	// follower table, kind and resolution; ConflictsTotal is their sum.
	Conflicts      []ConflictCount `json:"conflicts,omitempty"`
	ConflictsTotal int64           `json:"conflicts_total"`
	// OperatorPaused: an operator paused the sink (POST .../pause).
	OperatorPaused bool `json:"operator_paused"`
	// Building names the follower index being built ("table: index"),
	// while one is.
	Building   string  `json:"building,omitempty"`
	TxnsPerSec float64 `json:"transactions_per_second"`
	RowsPerSec float64 `json:"rows_per_second"`
	// LagSeconds is the largest of the sources' lags.
	LagSeconds float64 `json:"lag_seconds"`
}

// SinkSource is a sink's progress on one source.
type SinkSource struct {
	Source string `json:"source"`
	// Applied is the source position every transaction up to which is
	// applied; AppliedSeq its log sequence; AppliedCommit its commit time.
	Applied       string     `json:"applied"`
	AppliedSeq    string     `json:"applied_seq"`
	AppliedCommit *time.Time `json:"applied_commit,omitempty"`
	// Newest is the newest transaction seen in the log.
	Newest     string           `json:"newest"`
	LagSeconds float64          `json:"lag_seconds"`
	LagBytes   uint64           `json:"lag_bytes"`
	LagTxns    int              `json:"lag_transactions"`
	KafkaLag   map[string]int64 `json:"kafka_lag,omitempty"`
}

// HistoryDoc is the JSON of GET /api/v1/history: samples taken every
// second over the last ten minutes, oldest first, for the dashboard's
// charts.
type HistoryDoc struct {
	Sinks map[string][]LagSample `json:"sinks"`
}

// LagSample is one sample of a sink.
type LagSample struct {
	Time       time.Time `json:"t"`
	LagSeconds float64   `json:"lag_seconds"`
	LagBytes   uint64    `json:"lag_bytes"`
	LagTxns    int       `json:"lag_transactions"`
	TxnsPerSec float64   `json:"transactions_per_second"`
	State      string    `json:"state"`
}
