package verify

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/sinks/sqlsink"
)

// Indexes (issue 26): verify lists the secondary indexes that differ
// between a source table and its follower table, by the names walship
// gives them on the follower (sqlsink.FollowerIndexName): a source index
// missing on the follower (one its engine cannot express, or one not built
// yet), one unique at the source and not on the follower, and a follower
// index the source lacks (walship's own indexes for replaying cascades,
// named …_fk, excepted). They are warnings: rows decide equality.

// sourceIndexes is t's secondary indexes at the source: name -> unique.
func (s *source) indexes(ctx context.Context, t Table) (map[string]bool, error) {
	var rows *sql.Rows
	var err error
	if s.engine == "postgres" {
		rows, err = s.db.QueryContext(ctx, `SELECT c.relname::text, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = $1::regclass AND NOT i.indisprimary AND i.indisvalid`, pgx.Identifier{t.Schema, t.Name}.Sanitize())
	} else {
		return mysqlCatalog(ctx, s.db, &s.catalog, "index", t.Schema, t.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: indexes of %s: %w", s.name, t, err)
	}
	return scanIndexes(rows)
}

// mysqlCatalog is table's indexes (kind index: name -> unique) or checks
// (kind check) on a MySQL server, read once per database into cache: the
// server's information_schema reads go through internal temporary
// tables, and MariaDB 10.11 has been seen to crash on them now and then.
func mysqlCatalog(ctx context.Context, db *sql.DB, cache *map[string]map[string]map[string]bool, kind, schema, table string) (map[string]bool, error) {
	if *cache == nil {
		*cache = map[string]map[string]map[string]bool{}
	}
	key := kind + "\x00" + schema
	if _, ok := (*cache)[key]; !ok {
		q := `SELECT TABLE_NAME, INDEX_NAME, MIN(NON_UNIQUE) = 0 FROM information_schema.STATISTICS
			WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND INDEX_NAME <> 'PRIMARY' GROUP BY TABLE_NAME, INDEX_NAME`
		if kind == "check" {
			q = `SELECT TABLE_NAME, CONSTRAINT_NAME, true FROM information_schema.TABLE_CONSTRAINTS
				WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND CONSTRAINT_TYPE = 'CHECK'`
		}
		rows, err := db.QueryContext(ctx, q, schema)
		if err != nil {
			return nil, fmt.Errorf("%ss of database %s: %w", kind, schema, err)
		}
		byTable := map[string]map[string]bool{}
		for rows.Next() {
			var tbl, name string
			var v bool
			if err := rows.Scan(&tbl, &name, &v); err != nil {
				rows.Close()
				return nil, err
			}
			if byTable[tbl] == nil {
				byTable[tbl] = map[string]bool{}
			}
			byTable[tbl][name] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		(*cache)[key] = byTable
	}
	out := (*cache)[key][table]
	if out == nil {
		out = map[string]bool{}
	}
	return out, nil
}

// indexes is follower table n's secondary indexes: name -> unique.
func (f *follower) indexes(ctx context.Context, n sqlsink.Name) (map[string]bool, error) {
	var rows *sql.Rows
	var err error
	switch f.engine {
	case "postgres":
		rows, err = f.db.QueryContext(ctx, `SELECT c.relname::text, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = to_regclass($1) AND NOT i.indisprimary`, f.dialect.QuoteName(n))
	case "mysql":
		return mysqlCatalog(ctx, f.db, &f.catalog, "index", n.Schema, n.Table)
	default:
		rows, err = f.db.QueryContext(ctx, `SELECT name, "unique" FROM pragma_index_list(?) WHERE origin <> 'pk'`, n.Table)
	}
	if err != nil {
		return nil, fmt.Errorf("follower indexes of %s: %w", n, err)
	}
	return scanIndexes(rows)
}

func scanIndexes(rows *sql.Rows) (map[string]bool, error) {
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		var unique bool
		if err := rows.Scan(&name, &unique); err != nil {
			return nil, err
		}
		out[name] = unique
	}
	return out, rows.Err()
}

// checks is t's check constraint names at the source.
func (s *source) checks(ctx context.Context, t Table) (map[string]bool, error) {
	var rows *sql.Rows
	var err error
	if s.engine == "postgres" {
		rows, err = s.db.QueryContext(ctx, `SELECT conname::text, true FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' AND convalidated`,
			pgx.Identifier{t.Schema, t.Name}.Sanitize())
	} else {
		return mysqlCatalog(ctx, s.db, &s.catalog, "check", t.Schema, t.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: check constraints of %s: %w", s.name, t, err)
	}
	return scanIndexes(rows)
}

// checks is follower table n's check constraint names (none on SQLite,
// whose constraints walship never adds).
func (f *follower) checks(ctx context.Context, n sqlsink.Name) (map[string]bool, error) {
	var rows *sql.Rows
	var err error
	switch f.engine {
	case "postgres":
		rows, err = f.db.QueryContext(ctx, `SELECT conname::text, true FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'c'`, f.dialect.QuoteName(n))
	case "mysql":
		return mysqlCatalog(ctx, f.db, &f.catalog, "check", n.Schema, n.Table)
	default:
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("follower check constraints of %s: %w", n, err)
	}
	return scanIndexes(rows)
}

// indexNotes compares t's indexes at the source with follower table n's.
func indexNotes(ctx context.Context, src *source, fol *follower, t Table, n sqlsink.Name) ([]string, error) {
	have, err := src.indexes(ctx, t)
	if err != nil {
		return nil, err
	}
	got, err := fol.indexes(ctx, n)
	if err != nil {
		return nil, err
	}
	max := 0
	if ixr, ok := fol.dialect.(sqlsink.Indexer); ok {
		max = ixr.IndexNameMax()
	}
	var notes []string
	mapped := map[string]bool{}
	for name, unique := range have {
		fname := sqlsink.FollowerIndexName(fol.engine, src.engine, n, name, max)
		mapped[fname] = true
		fu, ok := got[fname]
		switch {
		case !ok:
			notes = append(notes, fmt.Sprintf("source index %s is not on the follower (as %s)", name, fname))
		case unique && !fu:
			notes = append(notes, fmt.Sprintf("source index %s is unique, the follower's %s is not", name, fname))
		}
	}
	for name := range got {
		if !mapped[name] && !strings.HasSuffix(name, "_fk") {
			notes = append(notes, fmt.Sprintf("follower index %s is not on the source", name))
		}
	}
	srcChecks, err := src.checks(ctx, t)
	if err != nil {
		return nil, err
	}
	folChecks, err := fol.checks(ctx, n)
	if err != nil {
		return nil, err
	}
	for name := range srcChecks {
		if !folChecks[name] {
			notes = append(notes, fmt.Sprintf("source check constraint %s is not on the follower", name))
		}
	}
	for name := range folChecks {
		if !srcChecks[name] {
			notes = append(notes, fmt.Sprintf("follower check constraint %s is not on the source", name))
		}
	}
	sort.Strings(notes)
	return notes, nil
}
