package mysql

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// Config configures one MySQL or MariaDB source.
type Config struct {
	// IgnoreServerIDs are the server ids of the sinks whose writes the
	// source leaves out (origins.ServerID), with the sink's name: every
	// row change an event of one of those ids carries.
	IgnoreServerIDs map[uint32]string
	// Filter decides what of each change enters the log (a source's
	// columns: and where:); nil keeps every change as it is.
	Filter   sources.ChangeFilter
	Name     string
	Addr     string // host:port
	User     string
	Password string
	// ServerID is the replica id walship registers with; unique among the
	// server's replicas.
	ServerID uint32
	// Flavor is "mysql" or "mariadb".
	Flavor string
	// Tables are schema.table patterns with * wildcards.
	Tables []string
	// Snapshot is "initial" or "never".
	Snapshot string
	// StateDir holds spilled transactions (StateDir/spill/<Name>).
	StateDir string
	// SpillBytes of one transaction are held in memory before spilling.
	// Default: 64 MiB.
	SpillBytes int64
	// SnapshotChunkRows per snapshot chunk. Default: 10000.
	SnapshotChunkRows int
	// SnapshotWorkers is the number of connections reading the snapshot
	// at once, each in a consistent snapshot started under the same
	// global read lock; 1 reads the tables one after another on one
	// connection. Default: 2.
	SnapshotWorkers int
	// Heartbeat is the master heartbeat period. Default: 5s.
	Heartbeat time.Duration
	// Semisync registers walship as a semi-synchronous replica that
	// acknowledges a transaction only once Kafka holds it.
	Semisync bool
	// FromReplica streams from a replica among Addr's addresses, the
	// first that answers; without one, the first primary (OpenLeader).
	FromReplica bool
	// SignalTable ("database.table") carries incremental snapshots'
	// watermarks and signals (backfill.go); "" for none.
	SignalTable string
	// TLS, when set, is used for the binlog and the SQL connections; a
	// server without TLS is refused, never used in plaintext. Without a
	// ServerName, each address is verified against its own host name.
	TLS *tls.Config
	// RawCharsets are character sets (or "*") whose text columns are
	// captured as their bytes (types_raw.go).
	RawCharsets []string
	// FollowersAhead, if set, names the followers that applied any of
	// missing (MariaDB GTIDs a new leader lacks, see ErrLeaderBehind): the
	// stop names them as ahead of the new leader.
	FollowersAhead func(missing []string) []string
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
	if c.Heartbeat == 0 {
		c.Heartbeat = 5 * time.Second
	}
}

// The classified errors of the source.
var (
	// ErrPurged: the server no longer has the binlogs walship needs.
	ErrPurged = errors.New("binlogs needed were purged")
	// ErrServerIDClash: another replica uses walship's server_id.
	ErrServerIDClash = errors.New("server_id clash")
	// ErrSettings: the server's binlog settings cannot feed walship.
	ErrSettings = errors.New("server settings")
	// ErrXA: a two-phase XA transaction (XA PREPARE, then XA COMMIT in a
	// later event group) changed captured tables. walship does not
	// replicate those; the source stops at its XA PREPARE.
	ErrXA = errors.New("XA transaction not supported")
	// ErrXAPending: XA transactions were prepared and not yet ended when
	// the source was to record its start position. Retried.
	ErrXAPending = errors.New("XA transactions pending")
	// ErrStatement: a statement the source does not understand inside a
	// binlog transaction, or a savepoint statement that does not fit it.
	// The source stops at it rather than split the transaction.
	ErrStatement = errors.New("statement inside a transaction not understood")
	// ErrTrxPrecise: a captured table is system-versioned with
	// transaction-precise periods (ROW START and ROW END BIGINT
	// UNSIGNED). MariaDB binlogs its DML as statements even with
	// binlog_format=ROW, so its changes cannot be replicated; the
	// snapshot refuses it, permanently.
	ErrTrxPrecise = errors.New("transaction-precise system-versioned table not supported")
	// ErrSnapshotRedo: a snapshot that did not finish cannot be redone so
	// that its chunks sort after the unfinished attempt's: the binlog
	// position went below the one that attempt recorded (permanent), or
	// too many attempts share one position (retried).
	ErrSnapshotRedo = errors.New("snapshot cannot be redone")
	// ErrGTIDDomain: a source that orders its transactions by the GTID
	// sequence numbers of one MariaDB domain met a change of a captured
	// table in another domain. Permanent.
	ErrGTIDDomain = errors.New("captured change in another GTID domain")
	// ErrGTIDOrder: a MariaDB GTID sequence number went backwards within
	// the followed domain (gtid_strict_mode off). Permanent.
	ErrGTIDOrder = errors.New("GTID sequence number out of order")
	// ErrSeqBackwards: a source ordering by binlog file and offset met a
	// transaction below its checkpoint: the binlog files were numbered
	// anew (another server, RESET MASTER). Permanent.
	ErrSeqBackwards = errors.New("binlog sequence went backwards")
)

// Source captures one MySQL or MariaDB server.
type Source struct {
	cfg    Config
	newLog func() (sources.Log, error)
	store  sources.Checkpoints
	log    *slog.Logger

	mu     sync.Mutex
	status sources.Status
	// addr is the server the current run streams from (one of Addr's).
	addr string
	// db is the current run's pool (guarded by mu); durableSeq the Seq of
	// the newest checkpoint (mu).
	db         *sql.DB
	durableSeq offsets.Seq
	// bfs are the incremental snapshots (backfill.go).
	bfs *sources.Backfills
}

// New returns a source. newLog makes a fresh Log for each run.
func New(cfg Config, newLog func() (sources.Log, error), store sources.Checkpoints, log *slog.Logger) *Source {
	cfg.defaults()
	s := &Source{cfg: cfg, newLog: newLog, store: store, log: log.With("source", cfg.Name)}
	s.status = sources.Status{Name: cfg.Name, Engine: cfg.Flavor, State: sources.StateStarting}
	s.bfs = sources.NewBackfills(cfg.Name, store, s.log)
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

func (s *Source) update(f func(*sources.Status)) {
	s.mu.Lock()
	f(&s.status)
	s.mu.Unlock()
}

func (s *Source) flavor() offsets.Flavor { return offsets.Flavor(s.cfg.Flavor) }

func (s *Source) engine() offsets.Engine {
	if s.cfg.Flavor == "mariadb" {
		return offsets.EngineMariaDB
	}
	return offsets.EngineMySQL
}

// connect opens a SQL connection pool to the source for catalog queries
// and the snapshot. Session settings match the binlog decoding: UTC.
func (s *Source) connect(ctx context.Context, addr string) (*sql.DB, error) {
	mc := gomysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = s.cfg.User, s.cfg.Password, "tcp", addr
	mc.Timeout, mc.ReadTimeout, mc.WriteTimeout = 10*time.Second, 0, 30*time.Second
	mc.Loc, mc.ParseTime = time.UTC, false
	mc.Params = map[string]string{"time_zone": "'+00:00'", "sql_mode": "''"}
	mc.Collation = "utf8mb4_general_ci"
	mc.TLS = TLSFor(s.cfg.TLS, addr)
	connector, err := gomysql.NewConnector(mc)
	if err != nil {
		return nil, supervise.Permanent(fmt.Errorf("source %s: %w", s.cfg.Name, err))
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		var me *gomysql.MySQLError
		if errors.As(err, &me) && me.Number == 1045 {
			return nil, supervise.Permanent(fmt.Errorf("source %s: authentication failed for %s at %s", s.cfg.Name, s.cfg.User, addr))
		}
		return nil, fmt.Errorf("source %s: connect to %s: %w", s.cfg.Name, addr, err)
	}
	return db, nil
}

// preflight checks the settings the stream relies on and that no other
// replica uses our server_id. A replica with our id may be the binlog dump
// thread of a walship that was just killed: the server drops it when its
// next heartbeat write fails, so a clash is only reported when it outlives
// a few heartbeat periods.
func (s *Source) preflight(ctx context.Context, db *sql.DB) error {
	if err := s.checkSettings(ctx, db); err != nil {
		return err
	}
	deadline := time.Now().Add(3*s.cfg.Heartbeat + 5*time.Second)
	for {
		host, clash, err := s.serverIDInUse(ctx, db)
		if err != nil || !clash {
			return err
		}
		if time.Now().After(deadline) {
			return supervise.Permanent(fmt.Errorf("source %s: %w: a replica (host %q) is connected with server_id %d; give each walship source and each replica its own server_id",
				s.cfg.Name, ErrServerIDClash, host, s.cfg.ServerID))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *Source) checkSettings(ctx context.Context, db *sql.DB) error {
	var format, image, meta string
	var logBin int
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata").
		Scan(&logBin, &format, &image, &meta); err != nil {
		return fmt.Errorf("source %s: read binlog settings: %w", s.cfg.Name, err)
	}
	var bad []string
	if logBin != 1 {
		bad = append(bad, "log_bin is off")
	}
	if s.cfg.FromReplica {
		// A replica's binlog holds what it replicated only with
		// log_slave_updates.
		primary, err := IsPrimary(ctx, db, s.cfg.Flavor)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.cfg.Name, err)
		}
		var updates int
		if err := db.QueryRowContext(ctx, "SELECT @@log_slave_updates").Scan(&updates); err != nil {
			return fmt.Errorf("source %s: read log_slave_updates: %w", s.cfg.Name, err)
		}
		if !primary && updates != 1 {
			bad = append(bad, "log_slave_updates is off on the replica streamed from (stream_from: replica), so its binlog lacks what it replicates")
		}
	}
	if format != "ROW" {
		bad = append(bad, "binlog_format is "+format+", need ROW")
	}
	if image != "FULL" {
		bad = append(bad, "binlog_row_image is "+image+", need FULL")
	}
	if meta != "FULL" {
		bad = append(bad, "binlog_row_metadata is "+meta+", need FULL")
	}
	if len(bad) > 0 {
		return supervise.Permanent(fmt.Errorf("source %s: %w: %v (run walship check)", s.cfg.Name, ErrSettings, bad))
	}
	return nil
}

// serverIDInUse reports whether a replica with our server_id is connected.
func (s *Source) serverIDInUse(ctx context.Context, db *sql.DB) (host string, inUse bool, err error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE HOSTS")
	if err != nil {
		return "", false, fmt.Errorf("source %s: SHOW SLAVE HOSTS: %w", s.cfg.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		row, err := namedRow(rows)
		if err != nil {
			return "", false, err
		}
		if row["Server_id"] == strconv.FormatUint(uint64(s.cfg.ServerID), 10) {
			return row["Host"], true, nil
		}
	}
	return "", false, rows.Err()
}

// namedRow scans the current row of a SHOW statement, whose columns vary
// by server version, as text by column name (NULL as "").
func namedRow(rows *sql.Rows) (map[string]string, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	row := make(map[string]string, len(cols))
	for i, c := range cols {
		row[c] = vals[i].String
	}
	return row, nil
}

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
	addrs := strings.Split(s.cfg.Addr, ",")
	for i := range addrs {
		addrs[i] = strings.TrimSpace(addrs[i])
	}
	addr, db, err := OpenLeader(ctx, addrs, s.cfg.Flavor, s.cfg.FromReplica, func(a string) (*sql.DB, error) { return s.connect(ctx, a) })
	if err != nil {
		return fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}
	defer db.Close()
	s.addr = addr
	s.mu.Lock()
	s.db = db
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.db = nil
		s.mu.Unlock()
	}()
	if s.cfg.FromReplica {
		primary, err := IsPrimary(ctx, db, s.cfg.Flavor)
		if err != nil {
			return fmt.Errorf("source %s: %s: %w", s.cfg.Name, addr, err)
		}
		if primary && len(addrs) > 1 {
			s.log.Warn("stream_from replica: no replica answers; streaming from the primary, so a replica promoted later may lack what walship ships (the source then stops, naming what it lacks)", "addr", addr)
		}
	}
	if err := s.noteLeader(ctx, db, addr); err != nil {
		return err
	}
	if err := s.preflight(ctx, db); err != nil {
		return err
	}
	cp, err := s.store.Load(ctx, s.cfg.Name)
	have := err == nil
	if err != nil && !errors.Is(err, offsets.ErrNoCheckpoint) {
		return err
	}
	out, err := s.newLog()
	if err != nil {
		return err
	}
	r := &session{src: s, db: db, out: out, checkpoint: cp, haveCheckpoint: have}
	defer r.close(ctx)
	if err := r.run(ctx, ready); err != nil && ctx.Err() == nil {
		return err
	}
	return nil // a stop, even mid-snapshot: the next start redoes what was not durable
}

func hostPort(addr string) (string, uint16, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	return h, uint16(n), err
}

// TLSFor is conf for a connection to addr: a copy whose ServerName is
// addr's host when conf names none (a source of several addresses, each
// verified against its own name), nil without TLS.
func TLSFor(conf *tls.Config, addr string) *tls.Config {
	if conf == nil {
		return nil
	}
	c := conf.Clone()
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(addr)
	}
	return c
}
