package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/config"
	"github.com/walship/walship/sources/postgres"
)

// pgReplicaIdentity notes the captured tables whose updates carry no old
// row under their replica identity (DEFAULT or an index) while they have
// foreign keys or unique keys beside that identity: walship cannot tell
// which parent such an update left or which unique value it freed, so it
// runs those updates in order after every earlier transaction (correct,
// but not in parallel). REPLICA IDENTITY FULL gives the old row.
func pgReplicaIdentity(ctx context.Context, r *Result, conn *pgx.Conn, src *config.PostgresSource) {
	all, err := pgTableNames(ctx, conn, `
		SELECT n.nspname::text, c.relname::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relreplident <> 'f'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		  AND (EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f')
		    OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND NOT i.indisprimary
		               AND NOT i.indisreplident))
		ORDER BY 1, 2`)
	if err != nil {
		pgQueryProblem(r, "reading the replica identities of the captured tables", err)
		return
	}
	tables := matching(src.Tables, all)
	if len(tables) == 0 {
		return
	}
	shown := tables
	if len(shown) > 10 {
		shown = append(shown[:10:10], "…")
	}
	r.note("%d captured tables have foreign or unique keys but no old row in their updates (replica identity not FULL): "+
		"those updates are applied in order, not in parallel. ALTER TABLE … REPLICA IDENTITY FULL on each: %s",
		len(tables), strings.Join(shown, ", "))
}

// pgTableNames runs a query of (schema, table) rows.
func pgTableNames(ctx context.Context, conn *pgx.Conn, q string) ([][2]string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var t [2]string
		return t, row.Scan(&t[0], &t[1])
	})
}

// matching is schema.table of the tables the patterns match.
func matching(patterns []string, tables [][2]string) []string {
	var out []string
	for _, t := range tables {
		if config.MatchTable(patterns, t[0], t[1]) {
			out = append(out, t[0]+"."+t[1])
		}
	}
	return out
}

// pgUnlogged notes the tables the patterns match that PostgreSQL never
// writes to the WAL (UNLOGGED): they cannot be captured, and are not.
func pgUnlogged(ctx context.Context, r *Result, conn *pgx.Conn, src *config.PostgresSource) {
	all, err := pgTableNames(ctx, conn, `
		SELECT n.nspname::text, c.relname::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		pgQueryProblem(r, "listing unlogged tables", err)
		return
	}
	if tables := matching(src.Tables, all); len(tables) > 0 {
		r.note("%d tables the patterns match are UNLOGGED, never in the WAL, so not captured (ALTER TABLE … SET LOGGED to capture them): %s",
			len(tables), strings.Join(tables, ", "))
	}
}

// pgEncoding refuses a database whose text bytes have no encoding
// (SQL_ASCII): the source cannot decode it losslessly and refuses it.
func pgEncoding(ctx context.Context, r *Result, conn *pgx.Conn) {
	var encoding string
	if err := conn.QueryRow(ctx, `SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()`).
		Scan(&encoding); err != nil {
		pgQueryProblem(r, "reading the database encoding", err)
		return
	}
	if encoding == "SQL_ASCII" {
		r.problem(Setting, "the database's encoding is SQL_ASCII: PostgreSQL does not know what its text bytes mean, so walship cannot decode them without guessing; capture a database created with a real encoding (ENCODING 'UTF8')")
		return
	}
	r.fact("encoding %s", encoding)
}

// pgUnmatchedPatterns notes each tables: pattern that matches no table,
// and reports what the source refuses: creating its publication when no
// pattern names a whole schema (schema.*, published FOR TABLES IN SCHEMA,
// so tables created later are captured) and no table matches.
func pgUnmatchedPatterns(ctx context.Context, r *Result, conn *pgx.Conn, key string, src *config.PostgresSource) {
	tables, err := pgTableNames(ctx, conn, `SELECT n.nspname::text, c.relname::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'`)
	if err != nil {
		pgQueryProblem(r, "listing the tables", err)
		return
	}
	if unmatchedPatterns(r, key, src.Tables, tables) > 0 {
		return
	}
	for _, p := range src.Tables {
		if strings.HasSuffix(p, ".*") && !strings.Contains(strings.TrimSuffix(p, ".*"), "*") {
			return
		}
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, src.Publication).Scan(&exists); err != nil {
		pgQueryProblem(r, "looking up the publication", err)
		return
	}
	if !exists {
		r.problem(NotFound, "no table matches %s.tables (%s), so walship cannot create publication %s: create the tables or fix the patterns",
			key, strings.Join(src.Tables, ", "), src.Publication)
	}
}

// pgRewriteTrigger says whether the source database records table
// rewrites (the event trigger that lets walship detect ALTER … USING), and
// what a superuser runs when walship cannot install it itself.
func pgRewriteTrigger(ctx context.Context, r *Result, conn *pgx.Conn, super bool) {
	var installed bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'walship_rewrites' AND evtenabled <> 'D')`).
		Scan(&installed); err != nil {
		pgQueryProblem(r, "reading pg_event_trigger", err)
		return
	}
	switch {
	case installed:
		r.fact("event trigger walship_rewrites records table rewrites")
	case super:
		r.fact("event trigger walship_rewrites will be created (it records table rewrites)")
	default:
		r.note("ALTER TABLE … TYPE … USING rewrites a table's rows without logging them, and walship will not detect it: its role may not "+
			"create the event trigger that records rewrites. A superuser runs, in this database:\n%s", postgres.RewriteTriggerSQL())
	}
}

// pgFailover says whether a failover to a standby would be safe for this
// source: a failover slot (PostgreSQL 17+, failover_slot not off) and
// synchronized_standby_slots naming the standbys' physical slots, so the
// primary sends walship nothing a standby lacks. Otherwise it notes why
// not. Advice, not a problem: walship runs without it.
func pgFailover(ctx context.Context, r *Result, conn *pgx.Conn, versionNum int, src *config.PostgresSource) {
	if versionNum < 170000 {
		r.note("failover: PostgreSQL %d.%d has no failover slots, so a promoted standby would not have slot %s: the source would stop, "+
			"and its followers need a rebuild (walship replay --resnapshot). PostgreSQL 17+ keeps the slot on standbys", versionNum/10000, versionNum%10000/100, src.Slot)
		return
	}
	if src.FailoverSlot == "off" {
		r.note("failover: failover_slot is off, so a promoted standby would not have slot %s: set failover_slot: auto", src.Slot)
		return
	}
	var standbySlots string
	var standbys int
	var slotFailover *bool
	err := conn.QueryRow(ctx, `SELECT current_setting('synchronized_standby_slots'),
			(SELECT count(*)::int FROM pg_stat_replication WHERE state = 'streaming'),
			(SELECT failover FROM pg_replication_slots WHERE slot_name = $1)`, src.Slot).Scan(&standbySlots, &standbys, &slotFailover)
	if err != nil {
		pgQueryProblem(r, "reading the failover settings", err)
		return
	}
	var why []string
	if slotFailover != nil && !*slotFailover {
		why = append(why, fmt.Sprintf("slot %s is not a failover slot yet (walship makes it one at its next start)", src.Slot))
	}
	if standbySlots == "" {
		why = append(why, "synchronized_standby_slots is empty: the primary may send walship changes a standby lacks, and after a "+
			"promotion the followers would hold writes the new primary never had; name the standbys' physical slots in it")
	}
	if standbys == 0 {
		why = append(why, "no standby is streaming from this server")
	}
	if len(why) > 0 {
		r.note("failover: not safe yet: %s. Standbys also need sync_replication_slots = on and hot_standby_feedback = on, and the "+
			"source both hosts in its DSN (host=primary,standby target_session_attrs=primary)", strings.Join(why, "; "))
		return
	}
	r.fact("failover safe: a failover slot, synchronized_standby_slots = %s, %d standby streaming (each needs sync_replication_slots = on)",
		standbySlots, standbys)
}
