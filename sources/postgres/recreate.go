package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/offsets"

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
//
// Across restarts: the oids as of the checkpoint are a note kept beside it
// (oidsNote). An oid seen in the stream is recorded there only once the
// checkpoint covers the transaction it came with (or, for the oids read
// from the catalog when a session starts, the WAL position of that read),
// so a restart that replays the transaction meets the same oid change
// again, and one past it starts from the new oid. A session starts from
// the note, and takes from the catalog only the names it lacks (and never
// an oid the note holds under another name: that table was renamed since,
// which the stream then shows). A drop and create, or a rename, that a
// restart falls between is then recognised at the new table's first
// change, as when walship runs through it.

// capturedOIDs reads the oid of each table matching patterns, and the WAL
// position the read is as of.
func capturedOIDs(ctx context.Context, conn *pgx.Conn, patterns []string) (map[tableName]uint32, offsets.LSN, error) {
	var at pglogrepl.LSN
	if err := conn.QueryRow(ctx, `SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END`).Scan(&at); err != nil {
		return nil, 0, fmt.Errorf("read the WAL position: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'`)
	if err != nil {
		return nil, 0, fmt.Errorf("list table oids: %w", err)
	}
	defer rows.Close()
	out := map[tableName]uint32{}
	for rows.Next() {
		var oid uint32
		var t tableName
		if err := rows.Scan(&oid, &t.Schema, &t.Name); err != nil {
			return nil, 0, fmt.Errorf("list table oids: %w", err)
		}
		if matches(patterns, t) {
			out[t] = oid
		}
	}
	return out, offsets.LSN(at), rows.Err()
}

// oidsNote names the note of the captured tables' oids as of the
// checkpoint: JSON, "schema.table" -> oid.
const oidsNote = "oids"

// oidSeen is an oid change not yet covered by the checkpoint: name has
// oid (0: the name is gone, renamed away) from the transaction committing
// at at; at is 0 until that commit is known (xid: a streamed transaction's).
type oidSeen struct {
	name tableName
	oid  uint32
	xid  uint32
	at   offsets.LSN
}

// startOIDs sets the session's oids from the note and the catalog.
func (r *session) startOIDs(ctx context.Context) error {
	catalog, at, err := capturedOIDs(ctx, r.conn, r.cfg().Tables)
	if err != nil {
		return fmt.Errorf("source %s: %w", r.cfg().Name, err)
	}
	r.oids, r.oidsDurable, r.oidsPending = map[tableName]uint32{}, map[tableName]uint32{}, nil
	if n, ok := r.src.store.(partitionNotes); ok {
		b, err := n.LoadNote(ctx, r.cfg().Name, oidsNote)
		if err != nil {
			return fmt.Errorf("source %s: %w", r.cfg().Name, err)
		}
		if b != nil {
			var m map[string]uint32
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("source %s: the table oids kept with the checkpoint: %w", r.cfg().Name, err)
			}
			for k, oid := range m {
				schema, table, _ := strings.Cut(k, ".")
				r.oidsDurable[tableName{schema, table}] = oid
				r.oids[tableName{schema, table}] = oid
			}
		}
	}
	noted := map[uint32]bool{}
	for _, oid := range r.oidsDurable {
		noted[oid] = true
	}
	for name, oid := range catalog {
		if _, ok := r.oids[name]; ok || noted[oid] {
			continue
		}
		r.oids[name] = oid
		r.oidsPending = append(r.oidsPending, oidSeen{name: name, oid: oid, at: at})
	}
	return nil
}

// noteOID records that name has oid now (0: gone), to be noted once the
// checkpoint covers the transaction being decoded.
func (r *session) noteOID(name tableName, oid uint32) {
	s := oidSeen{name: name, oid: oid}
	switch {
	case r.inStream:
		s.xid = r.streamXid
	case r.cur != nil:
		s.at = offsets.LSN(r.curBegin.FinalLSN)
	}
	r.oidsPending = append(r.oidsPending, s)
}

// oidsCommitted dates the oid changes of transaction xid (and those seen
// outside any transaction) at its commit.
func (r *session) oidsCommitted(xid uint32, commit offsets.LSN) {
	for i := range r.oidsPending {
		if s := &r.oidsPending[i]; s.at == 0 && (s.xid == 0 || s.xid == xid) {
			s.at, s.xid = commit, 0
		}
	}
}

// oidsAborted leaves the oid changes of an aborted streamed transaction
// to the next commit: the tables have those oids all the same.
func (r *session) oidsAborted(xid uint32) {
	for i := range r.oidsPending {
		if s := &r.oidsPending[i]; s.at == 0 && s.xid == xid {
			s.xid = 0
		}
	}
}

// saveOIDs notes the oid changes the checkpoint (ending at flush) covers.
func (r *session) saveOIDs(ctx context.Context, flush offsets.LSN) error {
	n, ok := r.src.store.(partitionNotes)
	if !ok {
		return nil
	}
	covered := false
	rest := r.oidsPending[:0:0]
	sort.SliceStable(r.oidsPending, func(i, j int) bool {
		a, b := r.oidsPending[i].at, r.oidsPending[j].at
		return a != 0 && (b == 0 || a < b)
	})
	for _, s := range r.oidsPending {
		switch {
		case s.at == 0 || s.at > flush:
			rest = append(rest, s)
		case s.oid == 0:
			delete(r.oidsDurable, s.name)
			covered = true
		default:
			r.oidsDurable[s.name] = s.oid
			covered = true
		}
	}
	r.oidsPending = rest
	if !covered {
		return nil
	}
	m := make(map[string]uint32, len(r.oidsDurable))
	for name, oid := range r.oidsDurable {
		m[name.String()] = oid
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return n.SaveNote(ctx, r.cfg().Name, oidsNote, b)
}

// seeOID records the oid of a captured table's Relation message and
// reports whether it is a table created again under a known name.
func (r *session) seeOID(ctx context.Context, name tableName, oid uint32) (bool, error) {
	old, known := r.oids[name]
	r.oids[name] = oid
	if old != oid || !known {
		r.noteOID(name, oid)
	}
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
			r.noteOID(n, 0)
			return n, true
		}
	}
	return tableName{}, false
}
