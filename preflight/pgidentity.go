package preflight

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/config"
)

// pgReplicaIdentity notes the captured tables whose updates carry no old
// row under their replica identity (DEFAULT or an index) while they have
// foreign keys or unique keys beside that identity: walship cannot tell
// which parent such an update left or which unique value it freed, so it
// runs those updates in order after every earlier transaction (correct,
// but not in parallel). REPLICA IDENTITY FULL gives the old row.
func pgReplicaIdentity(ctx context.Context, r *Result, conn *pgx.Conn, src *config.PostgresSource) {
	rows, err := conn.Query(ctx, `
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
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			pgQueryProblem(r, "reading the replica identities of the captured tables", err)
			return
		}
		if config.MatchTable(src.Tables, schema, table) {
			tables = append(tables, schema+"."+table)
		}
	}
	if err := rows.Err(); err != nil {
		pgQueryProblem(r, "reading the replica identities of the captured tables", err)
		return
	}
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

// pgUnlogged notes the tables the patterns match that PostgreSQL never
// writes to the WAL (UNLOGGED): they cannot be captured, and are not.
func pgUnlogged(ctx context.Context, r *Result, conn *pgx.Conn, src *config.PostgresSource) {
	rows, err := conn.Query(ctx, `
		SELECT n.nspname::text, c.relname::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		pgQueryProblem(r, "listing unlogged tables", err)
		return
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			pgQueryProblem(r, "listing unlogged tables", err)
			return
		}
		if config.MatchTable(src.Tables, schema, table) {
			tables = append(tables, schema+"."+table)
		}
	}
	if err := rows.Err(); err != nil {
		pgQueryProblem(r, "listing unlogged tables", err)
		return
	}
	if len(tables) > 0 {
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
