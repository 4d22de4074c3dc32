package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// session is one run of a source: one binlog connection, one Log.
type session struct {
	src            *Source
	db             *sql.DB
	out            sources.Log
	checkpoint     offsets.Checkpoint
	haveCheckpoint bool

	syncer  *replication.BinlogSyncer
	tracker *ordering.Tracker
	clock   *logicalClock // MySQL's last_committed/sequence_number, an extra bound
	keys    *keyCache
	tables  map[uint64]*binlogTable // by table id, per TABLE_MAP
	byName  map[string]*binlogTable // newest shape per schema.table
	// renamed maps schema.table to the name it had before a RENAME this
	// session decoded (ddl.go).
	renamed map[string]string
	// renameNotes are the renames kept with the checkpoint (renames.go).
	renameNotes map[string]renameNote

	file    string // current binlog file
	gset    offsets.GTIDSet
	cur     *sources.TxnBuffer
	spare   *sources.TxnBuffer // the last one published, for begin to reuse
	curGTID string
	curLC   int64 // the open transaction's last_committed (MySQL; 0 on MariaDB)
	curSN   int64 // its sequence_number (MySQL; 0 on MariaDB)
	curTime time.Time
	// inTxn: the open group is a transaction (a MariaDB GTID event without
	// FL_STANDALONE, or BEGIN or XA START), not a standalone statement.
	inTxn bool
	// ignoring: the open transaction's rows were written by a sink the
	// source ignores (Config.IgnoreServerIDs): they are left out.
	ignoring bool
	// curXA: the open transaction is an XA transaction branch.
	curXA     bool
	sp        savepoints      // the open transaction's savepoints
	curTables map[string]bool // the captured tables it changed
	// curDomain, curSeqNo: the open group's MariaDB GTID (domain-server-N);
	// curHasGTID says there was one.
	curDomain  uint32
	curSeqNo   uint64
	curHasGTID bool
	// scheme derives Seq (seqscheme.go); lastSeq is the newest Seq
	// published or checkpointed, under gtid.
	scheme  seqScheme
	lastSeq offsets.Seq
	// cleanBound: a graceful stop marks the checkpoint Clean only once it
	// holds this GTID set, past everything an earlier run may have
	// published (the server's position at start, or a Clean checkpoint's).
	cleanBound offsets.GTIDSet
	saved      offsets.Seq
	savedPos   offsets.Position
	// bf is what the decoder and the incremental snapshots share;
	// signals are the signal rows (id, type, data) of the transaction
	// being decoded (backfill.go).
	bf       *sources.BackfillStream
	signals  [][3]string
	lastSave time.Time
	idle     offsets.Position // a position with nothing in flight
	idleNext offsets.Position // one, once what is in flight is durable
}

func (r *session) cfg() *Config { return &r.src.cfg }

func (r *session) close(ctx context.Context) {
	if r.cur != nil {
		r.cur.Close()
	}
	if r.syncer != nil {
		r.syncer.Close()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.out.Close(cctx); err != nil {
		r.src.log.Warn("closing the log", "err", err)
	}
}

func (r *session) run(ctx context.Context, ready func()) error {
	cfg := r.cfg()
	r.keys = newKeyCache(r.db, func(schema, table string) bool { return matches(cfg.Tables, schema, table) })
	// The incremental snapshots go on from the progress durable in the
	// log; the tables they have yet to read carry Backfilling from the
	// start.
	if err := r.src.bfs.Reload(ctx); err != nil {
		return err
	}
	if err := r.addedTables(ctx, r.haveCheckpoint && r.checkpoint.SnapshotDone); err != nil {
		return err
	}
	r.bf = sources.NewBackfillStream(r.src.bfs.Unread())
	if err := r.loadRenames(ctx); err != nil {
		return err
	}
	logged, err := cascadesLogged(ctx, r.db, cfg.Flavor)
	if err != nil {
		return err
	}
	r.keys.logged = logged
	r.keys.mariadb = cfg.Flavor == "mariadb"
	r.clock = newLogicalClock(0)
	r.tables = map[uint64]*binlogTable{}
	r.byName = map[string]*binlogTable{}
	snapshotDone := r.haveCheckpoint && r.checkpoint.SnapshotDone
	if err := r.decideScheme(ctx, cfg.Snapshot == "initial" && !snapshotDone); err != nil {
		return err
	}
	var start offsets.Position
	floor := offsets.Seq{}
	switch {
	case cfg.Snapshot == "initial" && !snapshotDone:
		// A checkpoint without SnapshotDone is the start marker of a
		// snapshot that did not finish: its chunks may be on the
		// followers, so the new one clears them first.
		if r.haveCheckpoint {
			r.src.log.Warn("snapshot did not finish before the last stop; redoing it, clearing the captured tables on the followers first",
				"started_at", r.checkpoint.Position.String())
		}
		r.tracker = ordering.NewTracker(0, offsets.Seq{})
		pos, last, err := r.snapshot(ctx, r.haveCheckpoint)
		if err != nil {
			return err
		}
		start, floor = pos, last
	case r.haveCheckpoint:
		if !snapshotDone {
			r.src.log.Warn("a snapshot did not finish before the last stop and snapshot is never: the followers keep what it sent; streaming from where it started",
				"started_at", r.checkpoint.Position.String())
		}
		start, floor = r.checkpoint.Position, r.checkpoint.Seq
		if err := r.checkLeaderHolds(ctx, start); err != nil {
			return err
		}
		if r.checkpoint.Clean || r.checkpoint.SeqScheme != r.scheme.String() {
			// Recorded before anything is published: a run that dies
			// from here on leaves no Clean mark, and the next one
			// derives Seq the same way.
			cp := r.checkpoint
			cp.Clean, cp.SeqScheme, cp.UpdatedAt = false, r.scheme.String(), time.Time{}
			if err := r.src.store.Save(ctx, cfg.Name, cp); err != nil {
				return fmt.Errorf("source %s: record the sequence scheme: %w", cfg.Name, err)
			}
		}
	default:
		pos, err := r.currentPosition(ctx, r.db)
		if err != nil {
			return err
		}
		if err := r.checkPreparedXA(ctx, r.db); err != nil {
			return err
		}
		start = pos
		if err := r.src.store.Save(ctx, cfg.Name, offsets.Checkpoint{Position: pos, SnapshotDone: true, SeqScheme: r.scheme.String()}); err != nil {
			return err
		}
	}
	if r.tracker == nil {
		r.tracker = ordering.NewTracker(0, floor)
	}
	r.saved, r.savedPos, r.lastSeq = floor, start, floor
	r.out.Resume(floor)
	r.gset = start.GTIDs
	r.file = start.Binlog.File

	host, port, err := hostPort(r.src.addr)
	if err != nil {
		return supervise.Permanent(fmt.Errorf("source %s: addr %q: %w", cfg.Name, r.src.addr, err))
	}
	var sync *syncHandler
	var handler replication.EventHandler
	if cfg.Semisync {
		sync = &syncHandler{r: r, ctx: ctx}
		handler = sync
	}
	r.syncer = replication.NewBinlogSyncer(r.syncerConfig(host, port, handler))
	native := start.GTIDs.Native()
	if native == nil {
		if native, err = gomysql.ParseGTIDSet(cfg.Flavor, ""); err != nil {
			return err
		}
	}
	streamer, err := r.syncer.StartSyncGTID(native.Clone())
	if err != nil {
		return r.classify(fmt.Errorf("source %s: start binlog stream at %s: %w", cfg.Name, start.GTIDs, err))
	}
	r.src.log.Info("streaming", "gtids", start.GTIDs.String(), "binlog", start.Binlog.String(), "semisync", cfg.Semisync)
	r.src.update(func(s *sources.Status) { s.State, s.LastError = sources.StateStreaming, "" })
	ready()
	bfCtx, stopBF := context.WithCancel(ctx)
	defer stopBF()
	go r.runBackfills(bfCtx)
	if cfg.Semisync {
		return sync.wait(ctx, streamer)
	}
	return r.stream(ctx, streamer)
}

// decideScheme decides how the run derives Seq (chooseScheme) from the
// checkpoint and the server's GTID position, and where a graceful stop
// may mark the checkpoint Clean. snapshot: the run starts with one.
func (r *session) decideScheme(ctx context.Context, snapshot bool) error {
	cfg := r.cfg()
	head, err := r.currentPosition(ctx, r.db)
	if err != nil {
		return err
	}
	in := schemeStart{mariadb: cfg.Flavor == "mariadb", have: r.haveCheckpoint, cp: r.checkpoint, snapshot: snapshot,
		domains: head.GTIDs.Domains()}
	if in.mariadb {
		if err := r.db.QueryRowContext(ctx, "SELECT @@global.gtid_domain_id").Scan(&in.serverDomain); err != nil {
			return fmt.Errorf("source %s: read gtid_domain_id: %w", cfg.Name, err)
		}
	}
	if u, ok := r.src.store.(schemesUsed); ok && !r.haveCheckpoint {
		if in.used, err = u.SeqSchemeUsed(ctx, cfg.Name); err != nil {
			return fmt.Errorf("source %s: %w", cfg.Name, err)
		}
	}
	scheme, why, err := chooseScheme(in)
	if err != nil {
		return fmt.Errorf("source %s: %w", cfg.Name, err)
	}
	r.scheme = scheme
	r.cleanBound = head.GTIDs
	if r.haveCheckpoint && r.checkpoint.Clean && !snapshot {
		r.cleanBound = r.checkpoint.Position.GTIDs
	}
	level := slog.LevelInfo
	if in.mariadb && !scheme.gtid {
		level = slog.LevelWarn
	}
	r.src.log.Log(ctx, level, "transaction sequence", "from", scheme.describe(), "because", why)
	return nil
}

// syncerConfig is the BinlogSyncer configuration; with a handler, events
// are handled synchronously and semi-sync acknowledgements follow them.
func (r *session) syncerConfig(host string, port uint16, h replication.EventHandler) replication.BinlogSyncerConfig {
	cfg := r.cfg()
	c := replication.BinlogSyncerConfig{
		ServerID: cfg.ServerID, Flavor: cfg.Flavor, Host: host, Port: port, User: cfg.User, Password: cfg.Password,
		Charset: "utf8mb4", UseDecimal: true, ParseTime: false, TimestampStringLocation: time.UTC,
		HeartbeatPeriod: cfg.Heartbeat, ReadTimeout: 3 * cfg.Heartbeat, DisableRetrySync: true, TLSConfig: TLSFor(cfg.TLS, net.JoinHostPort(host, strconv.Itoa(int(port)))),
		Logger: r.src.log.With("component", "binlog"),
		// Rows of tables walship does not capture are not decoded: a column
		// type go-mysql cannot decode elsewhere on the server must not stop
		// the stream.
		RowsEventDecodeFunc: func(e *replication.RowsEvent, data []byte) error {
			pos, err := e.DecodeHeader(data)
			if err != nil {
				return err
			}
			if e.Table != nil && !matches(cfg.Tables, string(e.Table.Schema), string(e.Table.Table)) &&
				cfg.SignalTable != string(e.Table.Schema)+"."+string(e.Table.Table) {
				return nil
			}
			return e.DecodeData(pos, data)
		},
	}
	if h != nil {
		c.SemiSyncEnabled, c.SynchronousEventHandler = true, h
	}
	return c
}

// classify marks errors that retrying cannot fix.
func (r *session) classify(err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG: // 1236: purged, or the GTID is not in the binlogs
			return supervise.Permanent(fmt.Errorf("%w: %w; the followers must be rebuilt from a new snapshot: walship replay --resnapshot", ErrPurged, err))
		case gomysql.ER_ACCESS_DENIED_ERROR, gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR:
			return supervise.Permanent(err)
		}
	}
	return err
}

// currentPosition reads the server's executed GTID set and binlog
// position.
func (r *session) currentPosition(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (offsets.Position, error) {
	p := offsets.Position{Engine: r.src.engine()}
	var gtids string
	query := "SELECT @@gtid_executed"
	if r.cfg().Flavor == "mariadb" {
		query = "SELECT @@gtid_binlog_pos"
	}
	if err := q.QueryRowContext(ctx, query).Scan(&gtids); err != nil {
		return p, fmt.Errorf("source %s: read GTID position: %w", r.cfg().Name, err)
	}
	set, err := offsets.ParseGTIDSet(r.src.flavor(), strings.ReplaceAll(gtids, "\n", ""))
	if err != nil {
		return p, err
	}
	p.GTIDs = set
	var file string
	var pos uint64
	var dummy1, dummy2 sql.NullString
	row := q.QueryRowContext(ctx, "SHOW MASTER STATUS")
	if err := row.Scan(&file, &pos, &dummy1, &dummy2); err != nil {
		// MySQL 8.4 also has Executed_Gtid_Set: retry with five columns.
		var dummy3 sql.NullString
		if err2 := q.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &dummy1, &dummy2, &dummy3); err2 != nil {
			return p, fmt.Errorf("source %s: SHOW MASTER STATUS: %w", r.cfg().Name, err)
		}
	}
	p.Binlog = offsets.BinlogPos{File: file, Pos: pos}
	return p, nil
}
