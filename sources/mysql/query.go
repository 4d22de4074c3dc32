package mysql

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/walship/walship/supervise"
)

// MariaDB GTID event flags that go-mysql does not name (log_event.h).
const (
	// mariadbPreparedXA: the group is an XA transaction branch, from
	// XA START to its XA PREPARE.
	mariadbPreparedXA = 64
)

// query handles a QUERY_EVENT. Transaction control (BEGIN, COMMIT,
// ROLLBACK, savepoints, XA) acts on the open transaction; any other
// statement inside a transaction stops the source (ErrStatement), and
// outside one it is DDL (see ddl).
func (r *session) query(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	st := parseTxnStmt(string(e.Query))
	switch st.kind {
	case stmtBegin:
		if r.cur == nil {
			r.begin("", time.Unix(int64(h.Timestamp), 0))
		}
		r.inTxn = true
		return nil
	case stmtCommit:
		return r.commit(ctx, h, e.GSet)
	case stmtRollback:
		// The server wrote the group and then rolled it back (a transaction
		// that also changed a non-transactional table): none of it
		// happened, but the position moves past it.
		r.discard()
		return r.commit(ctx, h, e.GSet)
	case stmtSavepoint, stmtRollbackTo, stmtRelease:
		if !r.inTxn || r.cur == nil {
			return r.stop(h, ErrStatement, "a savepoint statement outside a transaction")
		}
		known := true
		switch st.kind {
		case stmtSavepoint:
			r.sp.set(st.name)
		case stmtRollbackTo:
			known = r.sp.rollbackTo(st.name, r.cur)
		case stmtRelease:
			known = r.sp.release(st.name)
		}
		if !known {
			return r.stop(h, ErrStatement, "a savepoint statement naming a savepoint the transaction did not set in the binlog")
		}
		return nil
	case stmtXA:
		return r.xa(ctx, h, e, st.xa)
	case stmtCreateTable:
		if r.inTxn {
			// CREATE TABLE ... SELECT: the copied rows follow in the same
			// transaction, decoded with their TABLE_MAP's shape.
			r.keys.forget("")
			r.src.log.Info("DDL in a transaction", "schema", string(e.Schema), "statement", firstWords(string(e.Query), 4), "gtid", r.curGTID)
			return nil
		}
	}
	if r.inTxn {
		return r.stop(h, ErrStatement, fmt.Sprintf("statement %s (a QUERY_EVENT) inside a transaction, which is neither transaction control nor CREATE TABLE ... SELECT (a session with binlog_format=STATEMENT or MIXED?)", stmtVerb(string(e.Query))))
	}
	return r.ddl(ctx, string(e.Schema), strings.TrimSpace(string(e.Query)), h, e.GSet)
}

// xa handles an XA statement. An XA transaction that committed in one
// phase is an ordinary transaction. A two-phase one is binlogged as two
// groups: XA START ... XA END, XA PREPARE (an XA_PREPARE_LOG_EVENT); and
// later, after any number of other transactions, XA COMMIT or XA ROLLBACK
// on its own. Its changes would have to be held (across restarts) until
// the second group; walship does not, and stops at the XA PREPARE of one
// that changed a captured table (xaPrepare).
func (r *session) xa(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent, verb string) error {
	switch verb {
	case "START": // MySQL writes it after the GTID event; MariaDB flags its GTID event
		if r.cur == nil {
			r.begin("", time.Unix(int64(h.Timestamp), 0))
		}
		r.inTxn, r.curXA = true, true
		return nil
	case "END":
		if !r.curXA {
			return r.stop(h, ErrStatement, "XA END outside an XA transaction")
		}
		return nil
	case "COMMIT", "ROLLBACK":
		// The second group of a two-phase XA transaction: its changes were
		// in the first, which changed no captured table (else the source
		// stopped there), so there is nothing to publish.
		if r.inTxn || (r.cur != nil && r.cur.Live() > 0) {
			return r.stop(h, ErrXA, "XA "+verb+" inside a transaction")
		}
		return r.commit(ctx, h, e.GSet)
	}
	return r.stop(h, ErrStatement, "XA "+verb)
}

// xaPrepare handles an XA_PREPARE_LOG_EVENT, the end of an XA
// transaction's first group. Its body starts with the one_phase flag:
// MySQL ends an XA COMMIT ... ONE PHASE with it, and then the transaction
// is committed here. A prepared transaction that changed captured tables
// stops the source (ErrXA); one that did not only moves the position.
func (r *session) xaPrepare(ctx context.Context, h *replication.EventHeader, body []byte) error {
	if len(body) > 0 && body[0] != 0 {
		return r.commit(ctx, h, nil)
	}
	if r.cur != nil && r.cur.Live() > 0 {
		tables := slices.Sorted(maps.Keys(r.curTables))
		return r.stop(h, ErrXA, fmt.Sprintf("XA PREPARE of a transaction that changed %s; walship replicates XA transactions only when committed in one phase (XA COMMIT ... ONE PHASE) or as ordinary transactions. To go on, rebuild the followers from a snapshot taken after the XA transaction ended (walship replay --resnapshot)",
			strings.Join(tables, ", ")))
	}
	return r.commit(ctx, h, nil)
}

// stop is the permanent error that stops the source at the event h: what
// the binlog holds there cannot be replicated without tearing or
// dropping a transaction. It names the transaction's GTID and the
// event's binlog position, never the statement's values.
func (r *session) stop(h *replication.EventHeader, kind error, what string) error {
	start := uint64(h.LogPos)
	if uint64(h.EventSize) <= start {
		start -= uint64(h.EventSize)
	}
	gtid := r.curGTID
	if gtid == "" {
		gtid = "(none)"
	}
	return supervise.Permanent(fmt.Errorf("source %s: %w: transaction %s, binlog %s:%d: %s",
		r.cfg().Name, kind, gtid, r.file, start, what))
}
