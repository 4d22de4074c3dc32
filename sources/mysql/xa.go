package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	driver "github.com/go-sql-driver/mysql"
)

// MariaDB GTID event flags that go-mysql does not name (log_event.h).
const (
	// mariadbPreparedXA: the group is an XA transaction branch, from
	// XA START to its XA PREPARE.
	mariadbPreparedXA = 64
)

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

// checkPreparedXA refuses a start position (of a snapshot, or of a first
// stream without one) while XA transactions are prepared and not yet
// committed or rolled back: their first group is before the position,
// outside the snapshot, and their XA COMMIT after it, with no rows, so
// their changes would be in neither. The error (ErrXAPending) is not
// permanent: the source retries until they end. q must hold the global
// read lock for the answer to be exact (nothing commits meanwhile). A user
// without the privilege for XA RECOVER gets a warning in the log instead.
func (r *session) checkPreparedXA(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) error {
	rows, err := q.QueryContext(ctx, "XA RECOVER")
	if err != nil {
		var me *driver.MySQLError
		if errors.As(err, &me) && (me.Number == 1227 || me.Number == 1142 || me.Number == 1044) { // access denied
			r.src.log.Warn("cannot list prepared XA transactions (XA RECOVER): one prepared before the start position and committed after it would be missed", "source", r.cfg().Name, "err", err)
			return nil
		}
		return fmt.Errorf("source %s: XA RECOVER: %w", r.cfg().Name, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("source %s: XA RECOVER: %w", r.cfg().Name, err)
	}
	if n > 0 {
		return fmt.Errorf("source %s: %w: %d prepared XA transaction(s) (XA RECOVER) would be in neither the snapshot nor the stream; waiting for them to be committed or rolled back", r.cfg().Name, ErrXAPending, n)
	}
	return nil
}
