package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/ordering"
)

// indexes fills t.Indexes from the catalog (relid): every valid secondary
// index, unique constraints' included, not the primary key's. Each keeps
// its definition from USING on (pg_get_indexdef) for a PostgreSQL
// follower, and its parts, predicate and method for the others.
func indexes(ctx context.Context, conn *pgx.Conn, relid uint32, t *ordering.Table) error {
	rows, err := conn.Query(ctx, `SELECT c.relname::text, i.indisunique, i.indisexclusion, am.amname::text,
			pg_get_indexdef(i.indexrelid),
			COALESCE(pg_get_expr(i.indpred, i.indrelid, true), ''),
			ARRAY(SELECT COALESCE(a.attname::text, '') FROM generate_series(1, i.indnkeyatts) k
			      LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0
			      ORDER BY k),
			ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
			ARRAY(SELECT (i.indoption[k - 1] & 1) = 1 FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
			COALESCE(con.condeferrable, false)
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_am am ON am.oid = c.relam
		LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('u', 'x')
		WHERE i.indrelid = $1 AND NOT i.indisprimary AND i.indisvalid AND i.indislive
		ORDER BY c.relname`, relid)
	if err != nil {
		return fmt.Errorf("indexes of %s: %w", t.QualifiedName(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var ix ordering.Index
		var method, def string
		var cols, exprs []string
		var desc []bool
		if err := rows.Scan(&ix.Name, &ix.Unique, &ix.Exclusion, &method, &def, &ix.Where, &cols, &exprs, &desc, &ix.Deferrable); err != nil {
			return fmt.Errorf("indexes of %s: %w", t.QualifiedName(), err)
		}
		if method != "btree" {
			ix.Method = method
		}
		if at := strings.Index(def, " USING "+method+" "); at >= 0 {
			ix.Def = def[at+len(" USING "):]
		}
		for k := range exprs {
			p := ordering.IndexPart{Desc: k < len(desc) && desc[k]}
			if k < len(cols) && cols[k] != "" {
				p.Column = cols[k]
			} else {
				p.Expr = exprs[k]
			}
			ix.Parts = append(ix.Parts, p)
		}
		t.Indexes = append(t.Indexes, ix)
	}
	return rows.Err()
}

// checks fills t.Checks from the catalog (relid): its validated check
// constraints, with their definitions (pg_get_constraintdef).
func checks(ctx context.Context, conn *pgx.Conn, relid uint32, t *ordering.Table) error {
	rows, err := conn.Query(ctx, `SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = $1 AND contype = 'c' AND convalidated ORDER BY conname`, relid)
	if err != nil {
		return fmt.Errorf("check constraints of %s: %w", t.QualifiedName(), err)
	}
	t.Checks, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ordering.Check, error) {
		var c ordering.Check
		return c, r.Scan(&c.Name, &c.Def)
	})
	if err != nil {
		return fmt.Errorf("check constraints of %s: %w", t.QualifiedName(), err)
	}
	return nil
}
