package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// session is one run of a source: one replication connection, one Log.
type session struct {
	src            *Source
	conn           *pgx.Conn      // catalog queries, snapshot reads
	repl           *pgconn.PgConn // the replication connection
	out            sources.Log
	checkpoint     offsets.Checkpoint
	haveCheckpoint bool

	relations map[uint32]*relation
	// promoted says how the server's timeline moved since the source last
	// streamed ("timeline 1 to 2"), when it did (leader.go).
	promoted string
	// rewrites reads the rewrites noted at the source; nil when the
	// trigger is not installed (rewrites.go).
	rewrites *rewrites
	// oids and recreated: see recreate.go.
	oids      map[tableName]uint32
	recreated map[uint32]bool
	// oidsDurable are the oids the checkpoint's note holds, oidsPending
	// the changes since, until the checkpoint covers them.
	oidsDurable map[tableName]uint32
	oidsPending []oidSeen
	tracker     *ordering.Tracker
	// leaves holds the leaf partitions of each captured partitioned table
	// (by oid) last seen, for checkPartitions.
	leaves map[uint32]map[uint32]tableName

	// bf is what the decoder and the incremental snapshots share
	// (backfill.go).
	bf *sources.BackfillStream
	// signals are the signal rows of the transaction being received
	// (signal.go).
	signals []signal

	// The transaction being received (Begin..Commit), and streamed ones.
	cur       *sources.TxnBuffer
	curBegin  pglogrepl.BeginMessage
	streams   map[uint32]*sources.TxnBuffer
	inStream  bool
	streamXid uint32
	// ignoring: the open transaction came from a replication origin the
	// source ignores (Config.IgnoreOrigin): its changes are left out;
	// ignoredStreams, the same for streamed transactions by xid.
	ignoring       bool
	ignoredStreams map[uint32]bool

	head       offsets.LSN // newest server WAL end seen
	lastIdle   offsets.LSN // a position at which nothing was in flight
	sentFlush  offsets.LSN // last flush position sent upstream
	lastStatus time.Time
	saved      offsets.Seq // last checkpointed Seq
	savedFlush offsets.LSN // the checkpoint's end: the slot is never confirmed past it
	lastSave   time.Time
	// beat is the last heartbeat position written, at beatAt.
	beat   offsets.LSN
	beatAt time.Time
	// durableCommit approximates the commit time of the newest published
	// transaction, for time lag.
	durableCommit time.Time
}

func (r *session) cfg() *Config { return &r.src.cfg }

func (r *session) close(ctx context.Context) {
	for _, b := range r.streams {
		b.Close()
	}
	if r.cur != nil {
		r.cur.Close()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if r.repl != nil {
		r.repl.Close(cctx)
	}
	if err := r.out.Close(cctx); err != nil {
		r.src.log.Warn("closing the log", "err", err)
	}
}

func (r *session) run(ctx context.Context, ready func()) error {
	cfg := r.cfg()
	repl, err := r.src.replicationConnect(ctx)
	if err != nil {
		return err
	}
	r.repl = repl
	if err := r.checkLeader(ctx); err != nil {
		return err
	}
	r.relations = map[uint32]*relation{}
	r.recreated = map[uint32]bool{}
	if err := r.startOIDs(ctx); err != nil {
		return err
	}
	r.leaves = map[uint32]map[uint32]tableName{}
	if err := r.loadLeaves(ctx); err != nil {
		return err
	}
	r.streams = map[uint32]*sources.TxnBuffer{}
	// Each session goes on from the progress durable in the log, never
	// from what an earlier session read ahead of it; the tables still to
	// read carry Backfilling from the start (their bs may be before the
	// checkpoint).
	if err := r.src.bfs.Reload(ctx); err != nil {
		return err
	}
	r.bf = sources.NewBackfillStream(r.src.bfs.Unread())

	// Before any slot is made: a database whose text bytes have no
	// encoding cannot be decoded, and retrying would not change that.
	var encoding string
	if err := r.conn.QueryRow(ctx, `SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()`).
		Scan(&encoding); err != nil {
		return fmt.Errorf("source %s: read the database encoding: %w", cfg.Name, err)
	}
	if encoding == "SQL_ASCII" {
		return supervise.Permanent(fmt.Errorf("source %s: %w: the database's encoding is SQL_ASCII, so PostgreSQL does not know what its text bytes mean "+
			"and cannot convert them to UTF-8; walship would have to guess (and change values). Capture a database created with a real "+
			"encoding (CREATE DATABASE ... ENCODING 'UTF8')", cfg.Name, ErrEncoding))
	}

	st, err := r.src.waitSlotFree(ctx, r.conn)
	if err != nil {
		return err
	}
	snapshotDone := r.haveCheckpoint && r.checkpoint.SnapshotDone
	wantSnapshot := cfg.Snapshot == "initial" && !snapshotDone
	switch {
	case st.found && st.walStatus == "lost":
		return supervise.Permanent(fmt.Errorf("source %s: %w: slot %s was invalidated (wal_status=lost: the WAL it needed was removed, see max_slot_wal_keep_size); the followers must be rebuilt: walship replay --resnapshot",
			cfg.Name, ErrSlotLost, cfg.Slot))
	case st.found && st.plugin != "pgoutput":
		return supervise.Permanent(fmt.Errorf("source %s: slot %s uses plugin %q, not pgoutput: drop it or configure another slot", cfg.Name, cfg.Slot, st.plugin))
	case !st.found && r.haveCheckpoint && (snapshotDone || cfg.Snapshot == "never") && r.promoted != "":
		return supervise.Permanent(fmt.Errorf("source %s: %w: slot %s is not on this server, a standby promoted since walship last streamed "+
			"(%s), and walship streamed from the slot up to %s; the changes since then are gone, so the followers must be rebuilt: "+
			"walship replay --resnapshot. To go on after a promotion, use failover slots (PostgreSQL 17+: failover_slot: auto, and "+
			"sync_replication_slots = on with hot_standby_feedback on the standby, synchronized_standby_slots naming its slot on the primary)",
			cfg.Name, ErrSlotLost, cfg.Slot, r.promoted, r.checkpoint.Position))
	case !st.found && r.haveCheckpoint && (snapshotDone || cfg.Snapshot == "never"):
		return supervise.Permanent(fmt.Errorf("source %s: %w: slot %s no longer exists, but walship streamed from it up to %s; changes since then are gone, so the followers must be rebuilt: walship replay --resnapshot",
			cfg.Name, ErrSlotLost, cfg.Slot, r.checkpoint.Position))
	case st.found && !wantSnapshot && r.haveCheckpoint && r.checkpoint.CoversSlot && st.confirmed > r.checkpoint.Position.EndLSN:
		// walship confirms the slot only up to a saved checkpoint: a slot
		// past it was advanced by someone else, and the changes between
		// will never be sent.
		if cfg.AcceptSlotGapAt != st.confirmed {
			return supervise.Permanent(fmt.Errorf("source %s: %w: slot %s is confirmed up to %s, past walship's checkpoint %s: it was advanced "+
				"(pg_replication_slot_advance, or another consumer) while walship was not streaming, and the changes between were never sent, "+
				"so the followers lack them. Rebuild them (walship replay --resnapshot), or accept the gap knowingly: set "+
				"accept_slot_gap_at: %s on this source and start again",
				cfg.Name, ErrSlotAhead, cfg.Slot, st.confirmed, r.checkpoint.Position.EndLSN, st.confirmed))
		}
		r.src.log.Warn("accepting a gap in the stream as configured (accept_slot_gap_at): the followers lack the changes between",
			"slot", cfg.Slot, "checkpoint", r.checkpoint.Position.EndLSN.String(), "slot_confirmed", st.confirmed.String())
	}

	redo := false
	if wantSnapshot && st.found {
		// The exported snapshot died with the session that created the slot:
		// start over with a new slot, and clear what a partial snapshot left.
		r.src.log.Warn("snapshot did not finish before the last stop; redoing it with a new slot", "slot", cfg.Slot)
		if err := r.dropSlot(ctx); err != nil {
			return err
		}
		st.found, redo = false, true
	}
	if wantSnapshot && r.haveCheckpoint {
		redo = true
	}

	var start offsets.LSN
	floor := offsets.Seq{}
	if r.haveCheckpoint {
		start = r.checkpoint.Position.EndLSN
		floor = r.checkpoint.Seq
	}
	// The server resumes at the slot's confirmed_flush_lsn, which may be
	// past the checkpoint (saved less often): transactions before it are not
	// sent again, so the dependency tracker never sees them. Every later
	// transaction must depend on them all: the floor covers every commit
	// before that point. (Their commit LSNs are below it; every transaction
	// still to come commits at or after it.)
	if st.found && st.confirmed > 0 {
		if f := (offsets.Seq{Pos: uint64(st.confirmed) - 1, Sub: offsets.StreamSub}); floor.Less(f) {
			floor = f
		}
	}
	var version int
	if err := r.conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return fmt.Errorf("source %s: read the server version: %w", cfg.Name, err)
	}
	failover, err := r.src.wantFailover(version)
	if err != nil {
		return err
	}
	if st.found && failover && !st.failover {
		if err := r.makeFailover(ctx); err != nil {
			return err
		}
	}
	r.src.update(func(s *sources.Status) { s.FailoverSlot = failover })
	if !st.found {
		action := "NOEXPORT_SNAPSHOT"
		if wantSnapshot {
			action = "EXPORT_SNAPSHOT"
		}
		res, err := r.createSlot(ctx, action, failover)
		if err != nil {
			return fmt.Errorf("source %s: create slot %s: %w", cfg.Name, cfg.Slot, err)
		}
		cp, err := offsets.ParseLSN(res.ConsistentPoint)
		if err != nil {
			return fmt.Errorf("source %s: slot consistent point: %w", cfg.Name, err)
		}
		r.src.log.Info("created replication slot", "slot", cfg.Slot, "consistent_point", cp.String(), "failover", failover)
		r.tracker = ordering.NewTracker(0, floor)
		if wantSnapshot {
			last, err := r.snapshot(ctx, res.SnapshotName, cp, redo)
			if err != nil {
				return err
			}
			floor = last
		}
		start = cp
	}
	if r.tracker == nil {
		r.tracker = ordering.NewTracker(0, floor)
	}
	r.saved, r.savedFlush = floor, start
	r.out.Resume(floor)

	err = pglogrepl.StartReplication(ctx, repl, cfg.Slot, pglogrepl.LSN(start), pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{
			"proto_version '2'",
			"publication_names " + quoteLiteral(cfg.Publication),
			"streaming 'on'",
			"messages 'true'",
		},
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55000" { // object_not_in_prerequisite_state: invalidated
			return supervise.Permanent(fmt.Errorf("source %s: %w: %s; the followers must be rebuilt: walship replay --resnapshot", cfg.Name, ErrSlotLost, pe.Message))
		}
		return fmt.Errorf("source %s: start replication from %s: %w", cfg.Name, start, err)
	}
	r.sentFlush = start
	r.src.log.Info("streaming", "slot", cfg.Slot, "from", start.String())
	r.src.update(func(s *sources.Status) { s.State, s.LastError = sources.StateStreaming, "" })
	ready()

	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	if cfg.HeartbeatInterval > 0 {
		go r.heartbeats(hbCtx)
	}
	go r.runBackfills(hbCtx)
	return r.stream(ctx)
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// heartbeats emits a non-transactional logical message now and then: when
// only uncaptured tables change, it reaches the stream, and the slot can be
// acknowledged past it, so WAL does not pile up.
func (r *session) heartbeats(ctx context.Context) {
	conn, err := r.src.connect(ctx)
	if err != nil {
		r.src.log.Warn("heartbeats disabled: cannot connect", "err", err)
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	t := time.NewTicker(r.cfg().HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := conn.Exec(ctx, `SELECT pg_logical_emit_message(false, 'walship_heartbeat', '')`); err != nil {
			if ctx.Err() == nil {
				r.src.log.Warn("heartbeat failed; relying on server keepalives", "err", err)
			}
			return
		}
		var retained *int64
		if err := conn.QueryRow(ctx, `SELECT (pg_current_wal_lsn() - restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1`,
			r.cfg().Slot).Scan(&retained); err == nil && retained != nil && *retained >= 0 {
			r.src.update(func(s *sources.Status) { s.RetainedBytes = uint64(*retained) })
		}
	}
}

// txnID is the transaction id text for Txn.ID.
func txnID(xid uint32) string { return strconv.FormatUint(uint64(xid), 10) }
