package preflight

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/config"
)

// pgViaRootVersion is the first PostgreSQL release whose publications can
// publish a partitioned table by its root (publish_via_partition_root).
const pgViaRootVersion = 130000

// pgTable is a table the source's tables patterns capture.
type pgTable struct {
	oid         uint32
	name        string // schema.table
	schema      string
	table       string
	partitioned bool
	partitions  int  // direct partitions of a partitioned table
	full        bool // REPLICA IDENTITY FULL
}

// pgCapturedTables lists the tables the patterns capture, as the source
// does: ordinary and partitioned tables (not unlogged ones), and a
// partition only when none of its ancestors matches (its rows are captured
// under that ancestor).
// Before PostgreSQL 12 (no pg_partition_ancestors) partitions are left out.
func pgCapturedTables(ctx context.Context, conn *pgx.Conn, versionNum int, patterns []string) ([]pgTable, error) {
	ancestors := `ARRAY(SELECT an.nspname::text FROM pg_partition_ancestors(c.oid) WITH ORDINALITY a(relid, ord)
			      JOIN pg_class ac ON ac.oid = a.relid JOIN pg_namespace an ON an.oid = ac.relnamespace
			      WHERE a.relid <> c.oid ORDER BY a.ord),
			ARRAY(SELECT ac.relname::text FROM pg_partition_ancestors(c.oid) WITH ORDINALITY a(relid, ord)
			      JOIN pg_class ac ON ac.oid = a.relid
			      WHERE a.relid <> c.oid ORDER BY a.ord)`
	partitions := ""
	if versionNum < 120000 {
		ancestors, partitions = "ARRAY[]::text[], ARRAY[]::text[]", "AND NOT c.relispartition"
	}
	rows, err := conn.Query(ctx, `SELECT c.oid, c.relreplident = 'f', n.nspname::text, c.relname::text, c.relkind = 'p',
			(SELECT count(*)::int FROM pg_inherits i WHERE i.inhparent = c.oid), `+ancestors+`
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' `+partitions+`
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pgTable
	for rows.Next() {
		var schema, name string
		var t pgTable
		var ancSchemas, ancNames []string
		if err := rows.Scan(&t.oid, &t.full, &schema, &name, &t.partitioned, &t.partitions, &ancSchemas, &ancNames); err != nil {
			return nil, err
		}
		if !config.MatchTable(patterns, schema, name) || len(ancSchemas) != len(ancNames) {
			continue
		}
		under := false
		for i := range ancSchemas {
			under = under || config.MatchTable(patterns, ancSchemas[i], ancNames[i])
		}
		if !under {
			t.name, t.schema, t.table = schema+"."+name, schema, name
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// checkPGTables checks that the captured tables can be streamed: a
// partitioned table is captured by its root, which needs PostgreSQL 13
// and, if the publication exists already, publish_via_partition_root on
// and the table in it. (A missing publication is created by walship with
// every matching table, by their root.)
func checkPGTables(ctx context.Context, r *Result, conn *pgx.Conn, versionNum int, version, key string, src *config.PostgresSource) {
	tables, err := pgCapturedTables(ctx, conn, versionNum, src.Tables)
	if err != nil {
		pgQueryProblem(r, "listing the tables to capture", err)
		return
	}
	var roots []string
	var names [][2]string
	for _, t := range tables {
		names = append(names, [2]string{t.schema, t.table})
	}
	topicCollisions(r, names)
	for _, t := range tables {
		if t.partitioned {
			roots = append(roots, t.name)
			r.fact("partitioned table %s (%d partitions) is captured by its root", t.name, t.partitions)
		}
	}
	if len(roots) > 0 && versionNum < pgViaRootVersion {
		r.problem(Version, "PostgreSQL %s cannot publish the partitioned tables %s by their root (publish_via_partition_root needs PostgreSQL 13): upgrade the server",
			shortVersion(version), strings.Join(roots, ", "))
		return
	}
	for _, t := range tables {
		if t.partitioned && t.full {
			pgPartitionIdentity(ctx, r, conn, t)
		}
	}
	if src.Publication == "" {
		return
	}
	var exists, viaRoot bool
	var published []string
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1),
			coalesce((SELECT pubviaroot FROM pg_publication WHERE pubname = $1), false),
			ARRAY(SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1)`,
		src.Publication).Scan(&exists, &viaRoot, &published)
	if err != nil {
		pgQueryProblem(r, "reading publication "+src.Publication, err)
		return
	}
	if !exists {
		return
	}
	pub := pgx.Identifier{src.Publication}.Sanitize()
	if !viaRoot && len(roots) > 0 {
		r.problem(Setting, "publication %s has publish_via_partition_root off, so the partitioned tables %s are streamed as their partitions, which walship does not capture: ALTER PUBLICATION %s SET (publish_via_partition_root = true) (walship does this itself before its first snapshot; if a snapshot ran already, rebuild the followers after it: walship replay --resnapshot)",
			src.Publication, strings.Join(roots, ", "), pub)
		return
	}
	in := map[string]bool{}
	for _, p := range published {
		in[p] = true
	}
	var missing []string
	for _, t := range tables {
		if !in[t.name] {
			missing = append(missing, t.name)
		}
	}
	if len(missing) > 0 {
		quoted := make([]string, len(missing))
		for i, m := range missing {
			s, t, _ := strings.Cut(m, ".")
			quoted[i] = pgx.Identifier{s, t}.Sanitize()
		}
		r.problem(Config, "publication %s exists but does not publish %s, which %s.tables names, so walship never streams its changes: ALTER PUBLICATION %s ADD TABLE %s (if walship ran without it, rebuild the followers: walship replay --resnapshot), or take it out of %s.tables",
			src.Publication, strings.Join(missing, ", "), key, pub, strings.Join(quoted, ", "), key)
		return
	}
	if len(tables) > 0 {
		r.fact("publication %s publishes the %d captured tables", src.Publication, len(tables))
	}
}

// pgPartitionIdentity reports the partitions of a partitioned table with
// REPLICA IDENTITY FULL that lack it: ALTER TABLE on the root does not
// change its partitions, and an old row is sent by its partition's
// identity, so walship gets only its key.
func pgPartitionIdentity(ctx context.Context, r *Result, conn *pgx.Conn, t pgTable) {
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_partition_tree($1::oid::regclass) p
		JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE p.isleaf AND c.relreplident <> 'f' ORDER BY 1`, t.oid)
	if err != nil {
		pgQueryProblem(r, "reading the replica identity of the partitions of "+t.name, err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		pgQueryProblem(r, "reading the replica identity of the partitions of "+t.name, err)
		return
	}
	if len(names) == 0 {
		return
	}
	fix := make([]string, len(names))
	for i, n := range names {
		fix[i] = "ALTER TABLE " + n + " REPLICA IDENTITY FULL"
	}
	r.problem(Setting, "partitioned table %s has REPLICA IDENTITY FULL but its partitions %s do not, and PostgreSQL sends an old row by its partition's identity, so walship gets only the key: %s",
		t.name, strings.Join(names, ", "), strings.Join(fix, "; "))
}
