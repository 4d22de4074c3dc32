package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
)

// stream receives pgoutput messages until ctx is done or an error. On ctx
// done it drains: waits for the log to make everything durable (bounded),
// acknowledges it and returns nil.
func (r *session) stream(ctx context.Context) error {
	var rd receiveDeadline
	defer rd.stop()
	for {
		if err := r.out.Err(); err != nil {
			return fmt.Errorf("source %s: log write failed; restarting from the durable position: %w", r.cfg().Name, err)
		}
		if err := r.acknowledge(ctx, false); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return r.drain()
		}
		wait := r.cfg().StatusInterval - time.Since(r.lastStatus)
		if r.out.Pending() > 0 {
			wait = min(wait, 20*time.Millisecond)
		}
		msg, err := r.repl.ReceiveMessage(rd.get(ctx, time.Now().Add(max(wait, time.Millisecond))))
		if err != nil {
			if pgconn.Timeout(err) || ctx.Err() != nil {
				continue
			}
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return fmt.Errorf("source %s: server error %s: %s", r.cfg().Name, pe.Code, pe.Message)
			}
			return fmt.Errorf("source %s: replication stream: %w", r.cfg().Name, err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if err := r.copyData(ctx, m.Data); err != nil {
				return err
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("source %s: server error %s: %s", r.cfg().Name, m.Code, m.Message)
		case *pgproto3.NoticeResponse:
			// A WARNING or NOTICE the walsender sends between copy data:
			// PostgreSQL 17+ says so while a standby named in
			// synchronized_standby_slots is gone (and holds changes back
			// meanwhile). The stream goes on; the server's words are
			// logged (they name slots and settings, never row values).
			r.src.log.Warn("the server sent a notice on the replication stream", "severity", m.Severity, "code", m.Code,
				"message", m.Message, "detail", m.Detail, "hint", m.Hint)
		default:
			return fmt.Errorf("source %s: unexpected replication message %T", r.cfg().Name, msg)
		}
	}
}

// receiveDeadline lets one deadline context serve many receives: a new
// context per message costs a timer and a watcher registration each time.
type receiveDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
	at     time.Time
}

// get returns a context that ends at or before want.
func (d *receiveDeadline) get(parent context.Context, want time.Time) context.Context {
	if d.ctx == nil || d.ctx.Err() != nil || want.Before(d.at) {
		d.stop()
		d.at = want
		d.ctx, d.cancel = context.WithDeadline(parent, want)
	}
	return d.ctx
}

func (d *receiveDeadline) stop() {
	if d.cancel != nil {
		d.cancel()
	}
}

// drain waits (up to 20s) for what was published to become durable,
// acknowledges it and checkpoints it.
func (r *session) drain() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for r.out.Pending() > 0 && r.out.Err() == nil {
		select {
		case <-r.out.Notify():
		case <-ctx.Done():
			r.src.log.Warn("shutdown: some transactions were not durable in time; they will be sent again on restart", "pending", r.out.Pending())
			return nil
		}
	}
	if err := r.acknowledge(ctx, true); err != nil {
		r.src.log.Warn("shutdown: final acknowledgement failed", "err", err)
	}
	r.src.update(func(s *sources.Status) { s.State = sources.StateStopped })
	return nil
}

func (r *session) copyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("source %s: keepalive: %w", r.cfg().Name, err)
		}
		r.seeHead(offsets.LSN(ka.ServerWALEnd))
		r.idleAt(offsets.LSN(ka.ServerWALEnd))
		if ka.ReplyRequested {
			return r.acknowledge(ctx, true)
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("source %s: XLogData: %w", r.cfg().Name, err)
		}
		r.seeHead(offsets.LSN(xld.ServerWALEnd))
		msg, err := pglogrepl.ParseV2(xld.WALData, r.inStream)
		if err != nil {
			return fmt.Errorf("source %s: decode pgoutput message at %s: %w", r.cfg().Name, offsets.LSN(xld.WALStart), err)
		}
		return r.message(ctx, msg)
	}
	return nil
}

func (r *session) seeHead(l offsets.LSN) {
	if l > r.head {
		r.head = l
		r.src.update(func(s *sources.Status) { s.Head, s.HeadBytes = l.String(), uint64(l) })
	}
}

// idleAt records that everything before l is durable when nothing is in
// flight right now, so the slot may be acknowledged up to l.
func (r *session) idleAt(l offsets.LSN) {
	if r.cur == nil && r.out.Pending() == 0 && l > r.lastIdle {
		r.lastIdle = l
	}
}

func (r *session) message(ctx context.Context, msg pglogrepl.Message) error {
	switch m := msg.(type) {
	case *pglogrepl.RelationMessageV2:
		return r.relation(ctx, &m.RelationMessage)
	case *pglogrepl.BeginMessage:
		if r.cur != nil {
			return fmt.Errorf("source %s: BEGIN of %d inside transaction %d", r.cfg().Name, m.Xid, r.cur.XID())
		}
		r.cur = sources.NewTxnBuffer(m.Xid, r.src.spillDir(), r.cfg().SpillBytes).Filtered(r.cfg().Filter, fmt.Sprintf("transaction %d (commit LSN %s)", m.Xid, m.FinalLSN))
		r.curBegin = *m
		r.signals = nil
		r.ignoring = false
	case *pglogrepl.OriginMessage:
		if f := r.cfg().IgnoreOrigin; f != nil && f(m.Name) {
			if r.inStream {
				if r.ignoredStreams == nil {
					r.ignoredStreams = map[uint32]bool{}
				}
				r.ignoredStreams[r.streamXid] = true
			} else {
				r.ignoring = true
			}
		}
	case *pglogrepl.CommitMessage:
		if r.cur == nil {
			return fmt.Errorf("source %s: COMMIT without BEGIN", r.cfg().Name)
		}
		buf := r.cur
		r.cur = nil
		defer buf.Close()
		if r.ignoring {
			r.ignoring = false
			r.src.update(func(s *sources.Status) { s.IgnoredTxns++ })
		}
		return r.commit(ctx, buf, offsets.LSN(m.CommitLSN), offsets.LSN(m.TransactionEndLSN), m.CommitTime)
	case *pglogrepl.InsertMessageV2:
		return r.change(m.Xid, m.RelationID, func(rel *relation) (ordering.Change, error) {
			after, err := r.tuple(rel, m.Tuple, false)
			return ordering.Change{Op: ordering.OpInsert, After: after}, err
		})
	case *pglogrepl.UpdateMessageV2:
		return r.change(m.Xid, m.RelationID, func(rel *relation) (ordering.Change, error) {
			ch := ordering.Change{Op: ordering.OpUpdate}
			var err error
			if m.OldTuple != nil {
				if ch.Before, err = r.tuple(rel, m.OldTuple, m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey || rel.oldKeyOnly); err != nil {
					return ch, err
				}
			}
			ch.After, err = r.tuple(rel, m.NewTuple, false)
			return ch, err
		})
	case *pglogrepl.DeleteMessageV2:
		return r.change(m.Xid, m.RelationID, func(rel *relation) (ordering.Change, error) {
			before, err := r.tuple(rel, m.OldTuple, m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey || rel.oldKeyOnly)
			return ordering.Change{Op: ordering.OpDelete, Before: before}, err
		})
	case *pglogrepl.TruncateMessageV2:
		for _, id := range m.RelationIDs {
			if err := r.change(m.Xid, id, func(*relation) (ordering.Change, error) {
				return ordering.Change{Op: ordering.OpTruncate}, nil
			}); err != nil {
				return err
			}
		}
	case *pglogrepl.StreamStartMessageV2:
		r.inStream, r.streamXid = true, m.Xid
		if r.streams[m.Xid] == nil {
			r.streams[m.Xid] = sources.NewTxnBuffer(m.Xid, r.src.spillDir(), r.cfg().SpillBytes).Filtered(r.cfg().Filter, fmt.Sprintf("streamed transaction %d", m.Xid))
			r.src.streamed.Add(1)
		}
	case *pglogrepl.StreamStopMessageV2:
		r.inStream = false
	case *pglogrepl.StreamCommitMessageV2:
		buf := r.streams[m.Xid]
		if buf == nil {
			// Every change was in aborted subtransactions or none was sent.
			buf = sources.NewTxnBuffer(m.Xid, r.src.spillDir(), r.cfg().SpillBytes)
		}
		delete(r.streams, m.Xid)
		defer buf.Close()
		if r.ignoredStreams[m.Xid] {
			delete(r.ignoredStreams, m.Xid)
			r.src.update(func(s *sources.Status) { s.IgnoredTxns++ })
		}
		if r.bf.Active.Load() {
			r.bf.StreamEnd(m.Xid, true)
		}
		return r.commit(ctx, buf, offsets.LSN(m.CommitLSN), offsets.LSN(m.TransactionEndLSN), m.CommitTime)
	case *pglogrepl.StreamAbortMessageV2:
		if m.SubXid == m.Xid && r.bf.Active.Load() {
			r.bf.StreamEnd(m.Xid, false)
		}
		buf := r.streams[m.Xid]
		if buf == nil {
			return nil
		}
		if m.SubXid == m.Xid {
			delete(r.ignoredStreams, m.Xid)
			buf.Close()
			delete(r.streams, m.Xid)
			r.oidsAborted(m.Xid)
		} else {
			buf.Abort(m.SubXid)
		}
	case *pglogrepl.LogicalDecodingMessageV2:
		if !m.Transactional && !r.inStream {
			r.idleAt(offsets.LSN(m.LSN))
		}
		if m.Transactional && m.Prefix == backfillPrefix {
			return r.bfMessage(m)
		}
	case *pglogrepl.TypeMessageV2:
		// Types are read from the catalog by OID.
	default:
		return fmt.Errorf("source %s: unexpected pgoutput message %T", r.cfg().Name, msg)
	}
	return nil
}

// relation (re)builds the shape of a table. A new Relation message means
// later rows decode with the new shape (DDL mid-stream).
func (r *session) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	cols := make([]column, len(m.Columns))
	for i, c := range m.Columns {
		cols[i] = column{Name: c.Name, Type: typeRef{OID: c.DataType, Typmod: c.TypeModifier}, Key: c.Flags&1 == 1}
	}
	name := tableName{Schema: m.Namespace, Name: m.RelationName}
	// Rewrites noted before this transaction's commit (unknown for one
	// streamed in progress: then all).
	var before offsets.LSN
	if r.cur != nil {
		before = offsets.LSN(r.curBegin.FinalLSN)
	}
	rel, err := buildRelation(ctx, r.conn, m.RelationID, name, cols, r.cfg().Tables, r.rewrites, before)
	if err != nil {
		return fmt.Errorf("source %s: relation %s: %w", r.cfg().Name, name, err)
	}
	if rel.gone && m.ReplicaIdentity != 'd' && m.ReplicaIdentity != 'i' {
		rel.table.PrimaryKey = nil // FULL flags every column; NOTHING none
	}
	r.relations[m.RelationID] = rel
	r.src.log.Debug("relation", "table", name.String(), "columns", len(cols), "captured", rel.capture)
	if !rel.capture {
		return nil
	}
	prev, renamed := r.renamedFrom(name, m.RelationID)
	if renamed && !rel.gone {
		rel.after = rel.table
		t := *rel.table
		t.RenamedFrom, t.Serial = prev.String(), true
		rel.table = &t
		r.src.log.Info("a captured table was renamed: its followers' table is renamed before its first row", "from", prev.String(), "to", name.String())
	}
	// A dropped table's oid is recorded too: walship behind, it meets the
	// old table's last changes before the new table's first.
	again, err := r.seeOID(ctx, name, m.RelationID)
	if err != nil {
		return err
	}
	if !rel.gone {
		if again {
			r.recreated[m.RelationID] = true
			rel.table.Recreated = true
			r.src.log.Info("a captured table was dropped and created again: its followers are emptied before its first new row", "table", name.String())
		}
	}
	if rel.gone {
		r.src.log.Warn("a captured table was dropped after these changes were written: its key is the stream's replica identity, its unique and foreign keys are unknown, its transactions run in order",
			"table", name.String(), "key_columns", len(rel.table.PrimaryKey))
		return nil
	}
	// pgoutput describes a partitioned root again before the first change
	// after one of its partitions was attached or detached.
	err = r.conn.QueryRow(ctx, `SELECT relkind = 'p' FROM pg_class WHERE oid = $1`, m.RelationID).Scan(&rel.partitioned)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) { // dropped since: not a partitioned table now
		return fmt.Errorf("source %s: relation %s: %w", r.cfg().Name, name, err)
	}
	if !rel.partitioned {
		return nil
	}
	if err := r.checkPartitions(ctx, rel); err != nil {
		return err
	}
	if m.ReplicaIdentity == 'f' {
		// The root's REPLICA IDENTITY FULL is not its partitions': a
		// partition with another sends only its key in an old image that
		// pgoutput labels full, with NULL for every other column.
		var all bool
		if err := r.conn.QueryRow(ctx, `SELECT coalesce(bool_and(relreplident = 'f'), true) FROM pg_class WHERE oid = ANY ($1)`,
			leafOIDs(r.leaves[rel.id])).Scan(&all); err != nil {
			return fmt.Errorf("source %s: replica identity of the partitions of %s: %w", r.cfg().Name, name, err)
		}
		rel.oldKeyOnly = !all
		if rel.oldKeyOnly {
			r.src.log.Warn("the partitioned table has REPLICA IDENTITY FULL but some partitions do not; old row images carry only the key (set it on every partition)",
				"table", name.String())
		}
	}
	return nil
}

// change decodes one row change into the open transaction.
func (r *session) change(xid, relid uint32, decode func(*relation) (ordering.Change, error)) error {
	rel := r.relations[relid]
	if rel == nil {
		return fmt.Errorf("source %s: change for unknown relation %d", r.cfg().Name, relid)
	}
	if !rel.capture {
		return nil
	}
	if r.inStream && r.ignoredStreams[r.streamXid] || !r.inStream && r.ignoring {
		return nil // written by a sink the source ignores
	}
	ch, err := decode(rel)
	if err != nil {
		return fmt.Errorf("source %s: decode a row of %s: %w", r.cfg().Name, rel.table.QualifiedName(), err)
	}
	ch.Table = rel.table
	buf, sub := r.cur, xid
	if r.inStream {
		buf = r.streams[r.streamXid]
		if buf == nil {
			return fmt.Errorf("source %s: streamed change outside a stream", r.cfg().Name)
		}
	} else if buf == nil {
		return fmt.Errorf("source %s: change outside a transaction", r.cfg().Name)
	} else {
		sub = buf.XID()
	}
	if r.recreated[relid] {
		delete(r.recreated, relid)
		if err := buf.Add(sub, truncateFirst(rel)); err != nil {
			return err
		}
	}
	if rel.after != nil {
		// The first change renames the followers' table; later ones need
		// neither the old name nor to run alone.
		rel.table, rel.after = rel.after, nil
	}
	if r.bf.Active.Load() {
		if r.inStream {
			r.bf.SeeStreamed(r.streamXid, &ch)
		} else {
			r.bf.See(&ch)
		}
	}
	if r.cfg().SignalTable != "" {
		r.seeSignal(rel, &ch)
	}
	return buf.Add(sub, ch)
}

// tuple decodes a row image. keyOnly marks an old-key image: columns
// outside the replica identity were not sent and become Unchanged. Every
// NULL of such an image is one: replica identity columns are NOT NULL. (The
// Relation's key flags cannot tell: under publish_via_partition_root they
// are the root's replica identity, while the image is sent by the
// partition's own, which ALTER TABLE on the root does not change; see
// relation.oldKeyOnly.)
func (r *session) tuple(rel *relation, t *pglogrepl.TupleData, keyOnly bool) ([]ordering.Value, error) {
	if t == nil {
		return nil, nil
	}
	if len(t.Columns) != len(rel.types) {
		return nil, fmt.Errorf("row has %d columns, relation has %d", len(t.Columns), len(rel.types))
	}
	row := make([]ordering.Value, len(t.Columns))
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			if keyOnly {
				row[i] = ordering.Unchanged()
			}
		case pglogrepl.TupleDataTypeToast:
			row[i] = ordering.Unchanged()
		case pglogrepl.TupleDataTypeText:
			v, err := rel.types[i].decode(c.Data)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", rel.table.Columns[i].Name, err)
			}
			row[i] = v
		default:
			return nil, fmt.Errorf("column %s: unexpected tuple data type %q", rel.table.Columns[i].Name, c.DataType)
		}
	}
	return row, nil
}

// commit publishes a committed transaction.
func (r *session) commit(ctx context.Context, buf *sources.TxnBuffer, commit, end offsets.LSN, at time.Time) error {
	seq := offsets.Seq{Pos: uint64(commit), Sub: offsets.StreamSub}
	r.oidsCommitted(buf.XID(), commit)
	r.bf.NoteCommit(buf.XID())
	if !r.saved.Less(seq) {
		return nil // durable before the last restart: the log holds it
	}
	n := buf.Live()
	if len(r.signals) > 0 {
		defer r.actOnSignals()
	}
	if n == 0 {
		r.idleAt(end)
		r.bf.Committed(seq)
		return nil
	}
	txn := &ordering.Txn{
		Source: r.cfg().Name, ID: txnID(buf.XID()), Seq: seq,
		Pos: offsets.PGPosition(commit, end), CommitTime: at,
	}
	txn.DependsOn = r.tracker.Commit(seq, &buf.Writeset)
	if buf.Spilled() {
		// Received after the server decoded it all: how far behind its
		// commit that is shows in the first-event latency of big ones.
		r.src.log.Info("publishing a spilled transaction", "lsn", commit.String(), "changes", n, "behind_commit", time.Since(at).Round(time.Millisecond))
		defer func(t0 time.Time) {
			r.src.log.Info("spilled transaction handed to the log", "lsn", commit.String(), "changes", n, "took", time.Since(t0).Round(time.Millisecond))
		}(time.Now())
	}
	if err := r.out.Publish(ctx, txn, n, buf.Changes()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("source %s: publish transaction %s: %w", r.cfg().Name, commit, err)
	}
	r.durableCommit = at
	r.src.update(func(s *sources.Status) { s.Txns++; s.Events += int64(n) })
	r.bf.Committed(seq)
	return nil
}

// acknowledge sends the standby status when the acknowledgeable position
// advanced (at once, so synchronous commits return quickly) or the status
// interval passed, and checkpoints the durable position.
func (r *session) acknowledge(ctx context.Context, force bool) error {
	// The slot is confirmed only up to what Kafka holds: the newest durable
	// END, or a durable heartbeat (written when idle at lastIdle, below).
	seq, pos := r.out.Durable()
	if seq.Less(r.saved) {
		// Nothing of this session is durable yet (only heartbeats since a
		// restart): the checkpoint keeps its Seq, which must never go back.
		seq = r.saved
	}
	var flush offsets.LSN
	if pos.Engine != "" {
		flush = pos.EndLSN
	}
	cpPos := pos
	if hb := r.out.DurableHeartbeat(); hb.Engine == offsets.EnginePostgres && hb.EndLSN > flush {
		flush = hb.EndLSN
		cpPos = offsets.PGPosition(pos.LSN, hb.EndLSN)
	}
	// Write-ahead: the checkpoint covers a position before the slot is
	// confirmed there, so a slot found past the checkpoint at start was
	// moved by someone else (ErrSlotAhead).
	if flush > r.savedFlush && (force || time.Since(r.lastSave) > 200*time.Millisecond || r.cfg().Sync) {
		cp := offsets.Checkpoint{Position: cpPos, Seq: seq, SnapshotDone: true, CoversSlot: true}
		if err := r.src.store.Save(ctx, r.cfg().Name, cp); err != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("source %s: %w", r.cfg().Name, err)
			}
		} else {
			r.saved, r.savedFlush, r.lastSave = seq, flush, time.Now()
			r.src.durable.Store(seq.Pos)
			if err := r.saveOIDs(ctx, flush); err != nil && ctx.Err() == nil {
				return fmt.Errorf("source %s: %w", r.cfg().Name, err)
			}
		}
	}
	flush = min(flush, r.savedFlush)
	since := time.Since(r.lastStatus)
	switch {
	case force, since >= r.cfg().StatusInterval:
	case flush <= r.sentFlush:
		return nil
	case !r.cfg().Sync && since < 50*time.Millisecond:
		return nil // acknowledged soon enough; sync mode answers at once
	}
	if flush < r.sentFlush {
		flush = r.sentFlush
	}
	idle := r.out.Pending() == 0 && r.cur == nil
	err := pglogrepl.SendStandbyStatusUpdate(ctx, r.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(flush),
		WALFlushPosition: pglogrepl.LSN(flush),
		WALApplyPosition: pglogrepl.LSN(flush),
		ClientTime:       time.Now(),
		// When idle, ask for a keepalive: it carries the position the server
		// has decoded up to, which becomes a heartbeat for the sinks.
		ReplyRequested: idle && !force,
	})
	if err != nil {
		if ctx.Err() != nil && !force {
			return nil
		}
		return fmt.Errorf("source %s: send standby status: %w", r.cfg().Name, err)
	}
	r.sentFlush, r.lastStatus = flush, time.Now()
	if idle && r.lastIdle > r.beat && (pos.Engine == "" || r.lastIdle > pos.EndLSN) && time.Since(r.beatAt) >= 500*time.Millisecond {
		ok, err := r.out.Heartbeat(ctx, r.cfg().Name, offsets.PGPosition(r.lastIdle, r.lastIdle), time.Now())
		if err != nil {
			return fmt.Errorf("source %s: heartbeat: %w", r.cfg().Name, err)
		}
		if ok {
			r.beat, r.beatAt = r.lastIdle, time.Now()
		}
	}
	r.src.update(func(s *sources.Status) {
		s.Acked, s.AckedBytes = flush.String(), uint64(flush)
		if !pos.IsZero() {
			s.LastCommit = r.durableCommit
		}
	})
	return nil
}
