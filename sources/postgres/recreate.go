package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/ordering"
)

// A captured table dropped and created again under the same name has a
// new oid. pgoutput says nothing of the DROP, and the follower table still
// holds the old table's rows, so the session remembers the oid of every
// captured table (from the catalog when it starts, then from each Relation
// message): a Relation for a new oid under a known name, whose old oid is
// gone from the catalog, makes the first change of the new table follow a
// truncate of it in the same transaction. Every row of the new table comes
// after that in the log, so the followers end equal. This holds when
// walship is behind, too, as long as it meets a change of the old table
// after it starts (its Relation message records the old oid). A table
// renamed away and another created under its name (the old oid still
// exists) is not recognised, nor a drop and create that walship's restart
// falls between with no change of the old table left to decode.

// capturedOIDs reads the oid of each table matching patterns.
func capturedOIDs(ctx context.Context, conn *pgx.Conn, patterns []string) (map[tableName]uint32, error) {
	rows, err := conn.Query(ctx, `SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'`)
	if err != nil {
		return nil, fmt.Errorf("list table oids: %w", err)
	}
	defer rows.Close()
	out := map[tableName]uint32{}
	for rows.Next() {
		var oid uint32
		var t tableName
		if err := rows.Scan(&oid, &t.Schema, &t.Name); err != nil {
			return nil, fmt.Errorf("list table oids: %w", err)
		}
		if matches(patterns, t) {
			out[t] = oid
		}
	}
	return out, rows.Err()
}

// seeOID records the oid of a captured table's Relation message and
// reports whether it is a table created again under a known name.
func (r *session) seeOID(ctx context.Context, name tableName, oid uint32) (bool, error) {
	old, known := r.oids[name]
	r.oids[name] = oid
	if !known || old == oid {
		return false, nil
	}
	var exists bool
	if err := r.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = $1)`, old).Scan(&exists); err != nil {
		return false, fmt.Errorf("source %s: relation %s: %w", r.cfg().Name, name, err)
	}
	return !exists, nil
}

// truncateFirst is the truncate a recreated table's first change follows.
func truncateFirst(rel *relation) ordering.Change {
	return ordering.Change{Table: rel.table, Op: ordering.OpTruncate}
}

// renamedFrom returns the name a captured table of this oid had before,
// when it was renamed (the oid is known under another name), and forgets
// that name. The new shape carries it (ordering.Table.RenamedFrom) so
// sinks rename their follower table; it is Serial, so the rename waits for
// every earlier transaction. Seen as the oids are (see above).
func (r *session) renamedFrom(name tableName, oid uint32) (tableName, bool) {
	for n, o := range r.oids {
		if o == oid && n != name {
			delete(r.oids, n)
			return n, true
		}
	}
	return tableName{}, false
}
