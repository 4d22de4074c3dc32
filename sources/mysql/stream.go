package mysql

import (
	"context"
	"errors"
	"fmt"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/supervise"
)

// stream reads binlog events until ctx is done (then drains) or an error.
func (r *session) stream(ctx context.Context, st *replication.BinlogStreamer) error {
	for {
		if err := r.out.Err(); err != nil {
			return fmt.Errorf("source %s: log write failed; restarting from the durable position: %w", r.cfg().Name, err)
		}
		if err := r.persist(ctx, false); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return r.drain()
		}
		ectx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		ev, err := st.GetEvent(ectx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				select {
				case <-r.out.Notify(): // durable moved while idle: save it now
					if err := r.persist(ctx, true); err != nil {
						return err
					}
				default:
				}
				continue
			}
			return r.classify(fmt.Errorf("source %s: binlog stream: %w", r.cfg().Name, err))
		}
		if err := r.event(ctx, ev); err != nil {
			return err
		}
	}
}

func (r *session) event(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		r.file = string(e.NextLogName)
		r.clock.rotate()
	case *replication.MariadbGTIDEvent:
		r.begin(e.GTID.String(), time.Unix(int64(h.Timestamp), 0))
		r.curDomain, r.curSeqNo, r.curHasGTID = e.GTID.DomainID, e.GTID.SequenceNumber, true
		// A group without FL_STANDALONE is a transaction: its statements
		// up to the XID (or COMMIT, ROLLBACK, XA PREPARE) are part of it.
		r.inTxn = e.Flags&replication.BINLOG_MARIADB_FL_STANDALONE == 0
		r.curXA = e.Flags&mariadbPreparedXA != 0
	case *replication.GTIDEvent:
		u, err := uuid.FromBytes(e.SID)
		if err != nil {
			return fmt.Errorf("source %s: GTID event: %w", r.cfg().Name, err)
		}
		at := time.Unix(int64(h.Timestamp), 0)
		if e.ImmediateCommitTimestamp > 0 {
			at = time.UnixMicro(int64(e.ImmediateCommitTimestamp))
		}
		r.begin(fmt.Sprintf("%s:%d", u, e.GNO), at)
		r.curLC, r.curSN = e.LastCommitted, e.SequenceNumber
	case *replication.QueryEvent:
		return r.query(ctx, h, e)
	case *replication.TableMapEvent:
		if !matches(r.cfg().Tables, string(e.Schema), string(e.Table)) && !r.isSignal(string(e.Schema), string(e.Table)) {
			return nil // not captured: its rows are not even decoded
		}
		t, err := newBinlogTable(e)
		if err != nil {
			return fmt.Errorf("source %s: %w", r.cfg().Name, err)
		}
		if from, ok := r.renamed[t.table.QualifiedName()]; ok {
			// Serial: the followers rename after every earlier transaction.
			// Only this transaction's shape says so.
			t.table.RenamedFrom, t.table.Serial = from, true
			delete(r.renamed, t.table.QualifiedName())
			r.renameUsed(t.table.QualifiedName())
		}
		t.rawText(r.cfg().raw)
		r.tables[e.TableID] = t
		r.byName[t.table.QualifiedName()] = t
	case *replication.RowsEvent:
		if sink := r.cfg().IgnoreServerIDs[h.ServerID]; sink != "" {
			// Written by a sink the source ignores (ignore_writes_of);
			// counted when it changed a captured table.
			if !r.ignoring && e.Table != nil && matches(r.cfg().Tables, string(e.Table.Schema), string(e.Table.Table)) {
				r.ignoring = true
				r.src.update(func(s *sources.Status) { s.IgnoredTxns++ })
			}
			return nil
		}
		return r.rows(ctx, h.EventType, e)
	case *replication.XIDEvent:
		return r.commit(ctx, h, e.GSet)
	case *replication.GenericEvent:
		if h.EventType == replication.XA_PREPARE_LOG_EVENT {
			return r.xaPrepare(ctx, h, e.Data)
		}
	}
	return nil
}

func (r *session) begin(gtid string, at time.Time) {
	r.signals = nil
	buf := r.cur
	if buf == nil {
		buf, r.spare = r.spare, nil
	}
	if buf != nil {
		buf.Reset(0, r.spillDir(), r.cfg().SpillBytes)
	} else {
		buf = sources.NewTxnBuffer(0, r.spillDir(), r.cfg().SpillBytes)
	}
	r.cur = buf.Filtered(r.cfg().Filter, "transaction "+gtid)
	r.curGTID, r.curTime = gtid, at
	r.curLC, r.curSN = 0, 0
	r.curDomain, r.curSeqNo, r.curHasGTID = 0, 0, false
	r.inTxn, r.curXA = false, false
	r.ignoring = false
	r.sp.reset()
	clear(r.curTables)
}

// discard drops the open transaction: the binlog rolled it back.
func (r *session) discard() {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	r.inTxn, r.curXA = false, false
}

func (r *session) spillDir() string { return r.cfg().StateDir + "/spill/" + r.cfg().Name }

// rows decodes a rows event into the open transaction.
func (r *session) rows(ctx context.Context, typ replication.EventType, e *replication.RowsEvent) error {
	if e.Table != nil && r.isSignal(string(e.Table.Schema), string(e.Table.Table)) {
		// The signal table: watermarks and requests, never published.
		t := r.tables[e.TableID]
		if t == nil {
			return nil
		}
		var images [][]ordering.Value
		for k, raw := range e.Rows {
			switch typ {
			case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
				continue // only new rows carry a watermark or a request
			case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.PARTIAL_UPDATE_ROWS_EVENT, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
				if k%2 == 0 {
					continue // the old row
				}
			}
			row, err := t.row(raw)
			if err != nil {
				return fmt.Errorf("source %s: decode a row of the signal table %s: %w", r.cfg().Name, r.cfg().SignalTable, err)
			}
			images = append(images, row)
		}
		return r.signalRows(t, images)
	}
	if e.Table != nil && !matches(r.cfg().Tables, string(e.Table.Schema), string(e.Table.Table)) {
		return nil
	}
	t := r.tables[e.TableID]
	if t == nil {
		return fmt.Errorf("source %s: rows event for unknown table id %d", r.cfg().Name, e.TableID)
	}
	if r.cur == nil {
		return fmt.Errorf("source %s: rows of %s outside a transaction", r.cfg().Name, t.table.QualifiedName())
	}
	// A system-versioned table's rows become changes of its current rows
	// (sv; versioning.go).
	tbl, sv, err := r.keys.view(ctx, t.table)
	if err != nil {
		return err
	}
	if r.curTables == nil {
		r.curTables = map[string]bool{}
	}
	r.curTables[tbl.QualifiedName()] = true
	seg := r.sp.segment()
	// skipped lists the columns a row image lacks (a MINIMAL image), which
	// row refuses: walship needs FULL images.
	skipped := func(k int) []int {
		if k < len(e.SkippedColumns) {
			return e.SkippedColumns[k]
		}
		return nil
	}
	decodeErr := func(err error) error {
		err = fmt.Errorf("source %s: decode a row of %s in transaction %s: %w", r.cfg().Name, tbl.QualifiedName(), r.curGTID, err)
		if errors.Is(err, ErrUndefinedBytes) {
			// The same bytes come back on every retry.
			return supervise.Permanent(fmt.Errorf("%w; walship never replaces them: fix the value at the source (or the column's character set) and rebuild the followers from that point", err))
		}
		return err
	}
	// One slab holds the values of all the event's rows: they live and
	// die with its transaction.
	slab := make([]ordering.Value, 0, len(e.Rows)*len(t.cols))
	add := func(op ordering.Op, before, after []any, skipBefore, skipAfter []int) error {
		ch := ordering.Change{Table: tbl, Op: op}
		var err error
		if before != nil {
			if ch.Before, err = t.rowFrom(&slab, before, skipBefore); err != nil {
				return decodeErr(err)
			}
		}
		if after != nil {
			if ch.After, err = t.rowFrom(&slab, after, skipAfter); err != nil {
				return decodeErr(err)
			}
		}
		if sv != nil {
			var keep bool
			if ch.Op, ch.Before, ch.After, keep = sv.change(ch.Op, ch.Before, ch.After); !keep {
				return nil // a history row
			}
		}
		if r.bf.Active.Load() {
			r.bf.See(&ch)
		}
		return r.cur.Add(seg, ch)
	}
	switch typ {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		for k, row := range e.Rows {
			if err := add(ordering.OpInsert, nil, row, nil, skipped(k)); err != nil {
				return err
			}
		}
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.PARTIAL_UPDATE_ROWS_EVENT, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		if len(e.Rows)%2 != 0 {
			return fmt.Errorf("source %s: update of %s has an odd number of row images", r.cfg().Name, tbl.QualifiedName())
		}
		for i := 0; i < len(e.Rows); i += 2 {
			if err := add(ordering.OpUpdate, e.Rows[i], e.Rows[i+1], skipped(i), skipped(i+1)); err != nil {
				return err
			}
		}
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		for k, row := range e.Rows {
			if err := add(ordering.OpDelete, row, nil, skipped(k), nil); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("source %s: unsupported rows event %s", r.cfg().Name, typ)
	}
	return nil
}

// position is where the event h ends, with the executed set after it.
func (r *session) position(h *replication.EventHeader, gset gomysql.GTIDSet) (offsets.Position, offsets.Seq, error) {
	p := offsets.Position{Engine: r.src.engine(), GTID: r.curGTID, Binlog: offsets.BinlogPos{File: r.file, Pos: uint64(h.LogPos)}}
	if gset != nil {
		set, err := offsets.ParseGTIDSet(r.src.flavor(), gset.String())
		if err != nil {
			return p, offsets.Seq{}, err
		}
		p.GTIDs = set
		r.gset = set
	} else {
		p.GTIDs = r.gset
	}
	seq, err := r.scheme.streamSeq(p, r.curSeqNo, r.curHasGTID)
	if err != nil {
		return p, offsets.Seq{}, fmt.Errorf("source %s: %w", r.cfg().Name, err)
	}
	return p, seq, nil
}

// commit publishes the open transaction.
func (r *session) commit(ctx context.Context, h *replication.EventHeader, gset gomysql.GTIDSet) error {
	buf := r.cur
	r.cur = nil
	r.inTxn, r.curXA = false, false
	pos, seq, err := r.position(h, gset)
	if err != nil {
		if buf != nil {
			buf.Close()
		}
		return err
	}
	// The chunks joined to this transaction are settled (published, or
	// read again), and its signals taken, whatever it publishes.
	defer r.bf.Committed(seq)
	if len(r.signals) > 0 {
		defer r.actOnSignals()
	}
	if buf == nil {
		r.idleAt(pos)
		return nil
	}
	defer func() {
		// Published (or dropped): the next transaction reuses its memory.
		buf.Close()
		r.spare = buf
	}()
	if buf.Live() > 0 {
		// The stream resumes after the checkpoint's GTID set, so a
		// transaction to publish sorts above the checkpoint, or the
		// sequence broke: stop rather than let sinks drop it as applied.
		if r.scheme.gtid {
			if err := r.checkGTIDOrder(seq, pos); err != nil {
				return err
			}
		} else if !r.saved.Less(seq) {
			return r.binlogSeqBackwards(seq, pos)
		}
	}
	if !r.saved.Less(seq) {
		return nil // nothing to publish
	}
	n := buf.Live()
	if n == 0 {
		r.idleAt(pos)
		return nil
	}
	txn := &ordering.Txn{Source: r.cfg().Name, ID: r.curGTID, Seq: seq, Pos: pos, CommitTime: r.curTime}
	txn.DependsOn = r.tracker.Commit(seq, &buf.Writeset)
	if b, ok := r.clock.bound(r.curLC, r.curSN); ok && txn.DependsOn.Less(b) {
		txn.DependsOn = b
	}
	if err := r.out.Publish(ctx, txn, n, buf.Changes()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("source %s: publish transaction %s: %w", r.cfg().Name, r.curGTID, err)
	}
	r.clock.published(r.curSN, seq)
	r.src.update(func(s *sources.Status) {
		s.Txns++
		s.Events += int64(n)
		s.Head = pos.String()
	})
	return nil
}

// idleAt records a position reached with nothing in flight: checkpointing
// it saves re-reading transactions that published nothing.
func (r *session) idleAt(p offsets.Position) {
	switch {
	case r.cur != nil:
	case r.out.Pending() == 0:
		r.idle, r.idleNext = p, offsets.Position{}
	default:
		// Idle once what is in flight is durable: a transaction that
		// publishes nothing right after one that did (the last, for a
		// while) must still reach the sinks' positions.
		r.idleNext = p
	}
}

// persist saves the durable position (or a later idle one) now and
// then, and on force.
func (r *session) persist(ctx context.Context, force bool) error {
	if !r.idleNext.IsZero() && r.cur == nil && r.out.Pending() == 0 {
		r.idle, r.idleNext = r.idleNext, offsets.Position{}
	}
	seq, pos := r.out.Durable()
	cp := offsets.Checkpoint{Seq: r.saved, Position: r.savedPos, SnapshotDone: true, SeqScheme: r.scheme.String()}
	moved := false
	if r.saved.Less(seq) {
		cp.Seq, cp.Position, moved = seq, pos, true
	}
	if !r.idle.IsZero() && r.out.Pending() == 0 && r.idle.GTIDs.Contains(cp.Position.GTIDs) && !cp.Position.GTIDs.Equal(r.idle.GTIDs) {
		cp.Position, moved = r.idle, true
	}
	if !moved || (!force && time.Since(r.lastSave) < 200*time.Millisecond) {
		return nil
	}
	if cp.Position.GTIDs.Equal(r.idle.GTIDs) && r.out.Pending() == 0 {
		// Idle past the last transaction: tell the sinks.
		if _, err := r.out.Heartbeat(ctx, r.cfg().Name, cp.Position, time.Now()); err != nil && ctx.Err() == nil {
			return fmt.Errorf("source %s: heartbeat: %w", r.cfg().Name, err)
		}
	}
	if err := r.src.store.Save(ctx, r.cfg().Name, cp); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("source %s: %w", r.cfg().Name, err)
	}
	r.saved, r.savedPos, r.lastSave = cp.Seq, cp.Position, time.Now()
	r.src.mu.Lock()
	r.src.durableSeq = cp.Seq
	r.src.mu.Unlock()
	r.src.update(func(s *sources.Status) { s.Acked = cp.Position.String() })
	return r.pruneRenames(ctx, cp.Position)
}

// drain waits (up to 20s) for what was published to become durable and
// checkpoints it.
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
	if err := r.persist(ctx, true); err != nil {
		r.src.log.Warn("shutdown: final checkpoint failed", "err", err)
	} else if err := r.markClean(ctx); err != nil {
		r.src.log.Warn("shutdown: marking the checkpoint clean failed", "err", err)
	}
	r.src.update(func(s *sources.Status) { s.State = sources.StateStopped })
	return nil
}

// markClean saves the final checkpoint Clean when the log holds nothing of
// the source beyond it: everything this run published is durable and
// checkpointed, and the checkpoint is past cleanBound, beyond which no
// earlier run published anything. A start from it may switch the sequence
// scheme (chooseScheme).
func (r *session) markClean(ctx context.Context) error {
	if r.out.Pending() > 0 || r.out.Err() != nil {
		return nil
	}
	if seq, _ := r.out.Durable(); r.saved.Less(seq) || !r.savedPos.GTIDs.Contains(r.cleanBound) {
		return nil
	}
	cp := offsets.Checkpoint{Seq: r.saved, Position: r.savedPos, SnapshotDone: true, SeqScheme: r.scheme.String(), Clean: true}
	if err := r.src.store.Save(ctx, r.cfg().Name, cp); err != nil {
		return fmt.Errorf("source %s: %w", r.cfg().Name, err)
	}
	r.src.log.Info("checkpoint clean: nothing after it is in the log", "at", r.savedPos.String())
	return nil
}
