package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// Config configures one PostgreSQL source.
type Config struct {
	// IgnoreOrigin reports whether the transactions of a replication
	// origin are left out (the writes of sinks the source ignores,
	// origins.PGMatcher); nil captures every transaction.
	IgnoreOrigin func(origin string) bool
	// Filter decides what of each change enters the log (a source's
	// columns: and where:); nil keeps every change as it is.
	Filter sources.ChangeFilter
	// SignalTable is a captured table ("schema.table") whose inserts are
	// requests (signal.go); "" for none.
	SignalTable string
	// Name is the configured source name.
	Name string
	// DSN is the libpq URL or key=value string, secrets revealed.
	DSN string
	// Password overrides the DSN's password when set.
	Password string
	// Slot and Publication name the replication slot and publication.
	Slot, Publication string
	// Tables are schema.table patterns with * wildcards.
	Tables []string
	// Snapshot is "initial" or "never".
	Snapshot string
	// StateDir is where transactions too large for memory are spilled
	// (under StateDir/spill/<Name>).
	StateDir string
	// HeartbeatInterval: how often a heartbeat message keeps the slot
	// moving when only uncaptured tables change. 0 disables heartbeats.
	HeartbeatInterval time.Duration
	// SpillBytes is how much of one transaction is held in memory before
	// it spills to disk. Default: 64 MiB.
	SpillBytes int64
	// SnapshotChunkRows is the number of rows per snapshot chunk.
	// Default: 10000.
	SnapshotChunkRows int
	// SnapshotWorkers is the number of connections reading the snapshot
	// at once, all in the slot's exported snapshot; 1 reads the tables
	// one after another on the session's connection. Default: 2.
	SnapshotWorkers int
	// StatusInterval bounds the time between standby status updates.
	// Default: 1s. Updates are also sent as soon as the durable position
	// advances.
	StatusInterval time.Duration
	// AcceptSlotGapAt accepts, once, a slot found confirmed at exactly
	// this position, past the checkpoint (ErrSlotAhead). Default: none.
	AcceptSlotGapAt offsets.LSN
	// AcceptSystemID accepts, knowingly, a server with this system
	// identifier where the source followed another (ErrOtherLeader).
	AcceptSystemID string
	// FailoverSlot is auto (default), on or off (failover.go).
	FailoverSlot string
	// DecodingWorkMem sets logical_decoding_work_mem on the replication
	// connection (e.g. "64MB"): transactions larger than it are streamed
	// by the server before they commit. Default: the server's setting.
	DecodingWorkMem string
	// Sync makes the replication connection's application_name the slot
	// name (for synchronous_standby_names) and acknowledges every durable
	// transaction at once: a source COMMIT then returns only when its
	// change is durable in Kafka.
	Sync bool
	// TakeSlot ends the walsender of another process that streams from
	// the slot (pg_terminate_backend) instead of waiting for it to stop:
	// a cluster member that took the source over ends its previous
	// owner's stream (package cluster), which may be paused or cut off and
	// so never let go by itself.
	TakeSlot bool
}

func (c *Config) defaults() {
	if c.SpillBytes == 0 {
		c.SpillBytes = 64 << 20
	}
	if c.SnapshotChunkRows == 0 {
		c.SnapshotChunkRows = 10000
	}
	if c.SnapshotWorkers == 0 {
		c.SnapshotWorkers = config.DefaultSnapshotWorkers
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = time.Second
	}
}

// Source captures one PostgreSQL database. Run it under a supervisor: each
// Run connects, snapshots if needed, streams, and returns on error or
// when ctx is done; the next Run resumes from the durable position.
type Source struct {
	cfg    Config
	newLog func() (sources.Log, error)
	store  sources.Checkpoints
	log    *slog.Logger

	mu     sync.Mutex
	status sources.Status
	// streamed counts transactions the server streamed before commit.
	streamed atomic.Int64
	// durable is the commit LSN of the newest transaction checkpointed
	// (durable in the log).
	durable atomic.Uint64

	// bfs are the incremental snapshots (backfill.go).
	bfs *sources.Backfills
}

// New returns a source. newLog makes a fresh Log for each run.
func New(cfg Config, newLog func() (sources.Log, error), store sources.Checkpoints, log *slog.Logger) *Source {
	cfg.defaults()
	s := &Source{cfg: cfg, newLog: newLog, store: store, log: log.With("source", cfg.Name)}
	s.bfs = sources.NewBackfills(cfg.Name, store, s.log)
	s.status = sources.Status{Name: cfg.Name, Engine: "postgres", State: sources.StateStarting}
	return s
}

// Status returns a snapshot of the source's progress.
func (s *Source) Status() sources.Status {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	st.Backfills = s.bfs.Status()
	return st
}

func (s *Source) update(f func(st *sources.Status)) {
	s.mu.Lock()
	f(&s.status)
	s.mu.Unlock()
}

// The classified errors of the source.
var (
	// ErrSlotLost: the slot was dropped or invalidated after walship used
	// it. The follower must be rebuilt; walship never recreates it silently.
	ErrSlotLost = errors.New("replication slot lost")
	// ErrSlotBusy: another process streams from the slot.
	ErrSlotBusy = errors.New("replication slot in use")
	// ErrWALLevel: the server does not decode logically.
	ErrWALLevel = errors.New("wal_level is not logical")
	// ErrPartitionsAsTables: the publication would stream a configured
	// partitioned table as its partitions (publish_via_partition_root is
	// off), and walship may not switch it on because the snapshot already
	// ran without the table's rows, or switching it on failed.
	ErrPartitionsAsTables = errors.New("publication streams partitions instead of their partitioned table")
	// ErrTypeGone: a change's column type (an enum, a domain, a composite)
	// was dropped before walship decoded the change, so its values cannot
	// be decoded: the catalog holds only today's types.
	ErrTypeGone = errors.New("column type dropped before the change was decoded")
	// ErrSlotAhead: the slot is confirmed past walship's checkpoint, which
	// walship itself never does: someone advanced it, and the changes
	// between are lost to the followers.
	ErrSlotAhead = errors.New("replication slot advanced past walship's checkpoint")
	// ErrEncoding: the database's text has no encoding (SQL_ASCII).
	ErrEncoding = errors.New("database encoding cannot be decoded")
)

// sessionParams fix the output of every text value the source decodes.
var sessionParams = map[string]string{
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "iso_8601",
	"TimeZone":           "UTC",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
}

func (s *Source) connConfig(replication bool) (*pgconn.Config, error) {
	pc, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		// ParseConfig errors can quote the DSN: do not wrap the original.
		return nil, supervise.Permanent(fmt.Errorf("source %s: %s", s.cfg.Name, config.DSNProblem(s.cfg.DSN, err)))
	}
	if s.cfg.Password != "" {
		pc.Password = s.cfg.Password
	}
	for k, v := range sessionParams {
		pc.RuntimeParams[k] = v
	}
	pc.RuntimeParams["application_name"] = "walship"
	if replication {
		pc.RuntimeParams["replication"] = "database"
		pc.RuntimeParams["application_name"] = s.cfg.Slot
		if s.cfg.DecodingWorkMem != "" {
			pc.RuntimeParams["logical_decoding_work_mem"] = s.cfg.DecodingWorkMem
		}
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 10 * time.Second
	}
	return pc, nil
}

func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	pc, err := s.connConfig(false)
	if err != nil {
		return nil, err
	}
	cc, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cc.Config = *pc
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, s.connectError(fmt.Errorf("source %s: connect to %s:%d: %w", s.cfg.Name, pc.Host, pc.Port, err), pc)
	}
	return conn, nil
}

// connectError makes the mistakes retrying cannot fix permanent, as the
// MySQL source does: a database that does not exist and failed
// authentication. The network, a server starting or shutting down, and
// too many connections are retried.
func (s *Source) connectError(err error, pc *pgconn.Config) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "3D000": // invalid_catalog_name
		return supervise.Permanent(fmt.Errorf("source %s: database %q does not exist on %s:%d: create it or fix the dsn", s.cfg.Name, pc.Database, pc.Host, pc.Port))
	case "28P01", "28000": // invalid_password, invalid_authorization_specification
		return supervise.Permanent(fmt.Errorf("source %s: authentication failed for %s at %s:%d (SQLSTATE %s)", s.cfg.Name, pc.User, pc.Host, pc.Port, pe.Code))
	}
	return err
}

func (s *Source) replicationConnect(ctx context.Context) (*pgconn.PgConn, error) {
	pc, err := s.connConfig(true)
	if err != nil {
		return nil, err
	}
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, s.connectError(fmt.Errorf("source %s: replication connection to %s:%d: %w", s.cfg.Name, pc.Host, pc.Port, err), pc)
	}
	return conn, nil
}

func (s *Source) spillDir() string { return filepath.Join(s.cfg.StateDir, "spill", s.cfg.Name) }

// Run captures until ctx is done (then drains and returns nil) or an error
// stops it. Errors wrapped with supervise.Permanent must not be retried.
func (s *Source) Run(ctx context.Context, ready func()) (err error) {
	defer func() {
		if err != nil && ctx.Err() == nil {
			s.update(func(st *sources.Status) {
				st.State, st.LastError, st.ErrorTime = sources.StateFailed, err.Error(), time.Now()
			})
		}
	}()
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var walLevel string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	if walLevel != "logical" {
		return supervise.Permanent(fmt.Errorf("source %s: %w (it is %s): set wal_level=logical and restart PostgreSQL", s.cfg.Name, ErrWALLevel, walLevel))
	}
	cp, err := s.store.Load(ctx, s.cfg.Name)
	haveCheckpoint := err == nil
	if err != nil && !errors.Is(err, offsets.ErrNoCheckpoint) {
		return err
	}
	// The publication may be switched to publish partitioned tables by
	// their root only while the followers have none of their rows yet to
	// miss: before the snapshot, or when there is none.
	migrate := s.cfg.Snapshot == "never" || !haveCheckpoint || !cp.SnapshotDone
	if err := s.ensurePublication(ctx, conn, migrate); err != nil {
		return err
	}
	if haveCheckpoint && cp.SnapshotDone {
		if err := s.addTables(ctx, conn); err != nil {
			return err
		}
	}

	var rw *rewrites
	if ok, err := s.ensureRewriteTrigger(ctx, conn); err != nil {
		return err
	} else if ok {
		rw = &rewrites{}
	}

	log, err := s.newLog()
	if err != nil {
		return err
	}
	run := &session{src: s, conn: conn, out: log, rewrites: rw, checkpoint: cp, haveCheckpoint: haveCheckpoint}
	defer run.close(ctx)
	if err := run.run(ctx, ready); err != nil && ctx.Err() == nil {
		return err
	}
	return nil // a stop, even mid-snapshot: the next start redoes what was not durable
}
