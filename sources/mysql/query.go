package mysql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/walship/walship/supervise"
)

// query handles a QUERY_EVENT. Transaction control (BEGIN, COMMIT,
// ROLLBACK, savepoints, XA) acts on the open transaction; any other
// statement inside a transaction that may touch a captured table stops the
// source (ErrStatement; another database's statement is skipped), and
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
			return r.tablesChanged(ctx)
		}
	}
	if r.inTxn && !mayTouchCaptured(r.cfg().Tables, string(e.Schema), string(e.Query)) {
		// Another database's statement (a session with binlog_format
		// STATEMENT, a transaction-precise versioned table elsewhere on
		// the server): no captured row is in it.
		r.src.log.Debug("statement of an uncaptured database inside a transaction", "schema", string(e.Schema), "gtid", r.curGTID)
		return nil
	}
	if r.inTxn {
		return r.stop(h, ErrStatement, fmt.Sprintf("statement %s (a QUERY_EVENT) inside a transaction, which is neither transaction control nor CREATE TABLE ... SELECT (a session with binlog_format=STATEMENT or MIXED, or a transaction-precise system-versioned table, whose changes MariaDB binlogs as statements?)", stmtVerb(string(e.Query))))
	}
	return r.ddl(ctx, string(e.Schema), strings.TrimSpace(string(e.Query)), h, e.GSet)
}

// mayTouchCaptured reports whether a statement run with default schema
// schema may change a captured table: its schema is captured, or its text
// names a captured schema, or a pattern's schema is a wildcard (then it
// cannot be ruled out). Only a statement that may not is skipped.
func mayTouchCaptured(patterns []string, schema, query string) bool {
	lq := strings.ToLower(query)
	for _, p := range patterns {
		ps, _, _ := strings.Cut(p, ".")
		if strings.Contains(ps, "*") || strings.EqualFold(ps, schema) || strings.Contains(lq, strings.ToLower(ps)) {
			return true
		}
	}
	return false
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
