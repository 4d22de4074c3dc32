package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/walship/walship/ordering"
)

// errUnknownColumn is ER_BAD_FIELD_ERROR, errUnknownTable
// ER_UNKNOWN_TABLE.
const (
	errUnknownColumn = 1054
	errUnknownTable  = 1109
)

// loadIndexes reads the secondary indexes of schema.table (unique ones
// included, not the primary key) from information_schema.STATISTICS: key
// parts in order, prefix lengths, descending parts, the index type when
// not a B-tree, and on MySQL the expression of a functional key part.
func loadIndexes(ctx context.Context, db *sql.DB, schema, table string, mariadb bool) ([]ordering.Index, error) {
	query := func(expr string) (*sql.Rows, error) {
		return db.QueryContext(ctx, `SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COALESCE(COLLATION, 'A'), INDEX_TYPE, `+expr+`
			FROM information_schema.STATISTICS
			WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY'
			ORDER BY INDEX_NAME, SEQ_IN_INDEX`, schema, table)
	}
	var rows *sql.Rows
	var err error
	if !mariadb {
		// MySQL 8.0.13+ names a functional key part's expression; MariaDB
		// and older MySQL have no such column.
		rows, err = query("EXPRESSION")
		var me *gomysql.MySQLError
		if errors.As(err, &me) && me.Number == errUnknownColumn {
			rows, err = nil, nil
		}
	}
	if rows == nil && err == nil {
		rows, err = query("NULL")
	}
	if err != nil {
		return nil, fmt.Errorf("indexes of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var out []ordering.Index
	for rows.Next() {
		var name, collation, typ string
		var nonUnique int
		var col, expression sql.NullString
		var prefix sql.NullInt64
		if err := rows.Scan(&name, &nonUnique, &col, &prefix, &collation, &typ, &expression); err != nil {
			return nil, fmt.Errorf("indexes of %s.%s: %w", schema, table, err)
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			ix := ordering.Index{Name: name, Unique: nonUnique == 0}
			if !strings.EqualFold(typ, "BTREE") {
				ix.Method = typ
			}
			out = append(out, ix)
		}
		p := ordering.IndexPart{Column: col.String, Desc: collation == "D", Prefix: int(prefix.Int64)}
		if !col.Valid {
			p.Expr = expression.String
		}
		ix := &out[len(out)-1]
		ix.Parts = append(ix.Parts, p)
	}
	return out, rows.Err()
}

// indexOn reports whether every column ix names is one of t's (a
// system-versioned table's indexes may name its period columns, which
// its published shape lacks).
func indexOn(t *ordering.Table, ix ordering.Index) bool {
	for _, p := range ix.Parts {
		if p.Column != "" && t.ColumnIndex(p.Column) < 0 {
			return false
		}
	}
	return true
}

// loadChecks reads the check constraints of schema.table
// (information_schema.CHECK_CONSTRAINTS; MySQL names the table in
// TABLE_CONSTRAINTS).
func loadChecks(ctx context.Context, db *sql.DB, schema, table string, mariadb bool) ([]ordering.Check, error) {
	maria := `SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? ORDER BY CONSTRAINT_NAME`
	var rows *sql.Rows
	var err error
	var me *gomysql.MySQLError
	if !mariadb {
		// MySQL 8.0.16+: the table and ENFORCED are in TABLE_CONSTRAINTS.
		rows, err = db.QueryContext(ctx, `SELECT c.CONSTRAINT_NAME, c.CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS c
			JOIN information_schema.TABLE_CONSTRAINTS t ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME
			WHERE c.CONSTRAINT_SCHEMA = ? AND t.TABLE_NAME = ? AND t.CONSTRAINT_TYPE = 'CHECK' AND t.ENFORCED = 'YES' ORDER BY c.CONSTRAINT_NAME`, schema, table)
		if errors.As(err, &me) && me.Number == errUnknownColumn {
			rows, err = nil, nil
		}
	}
	if rows == nil && err == nil {
		rows, err = db.QueryContext(ctx, maria, schema, table)
	}
	if errors.As(err, &me) && (me.Number == errUnknownTable || me.Number == errUnknownColumn) {
		return nil, nil // a server without check constraints (MySQL before 8.0.16)
	}
	if err != nil {
		return nil, fmt.Errorf("check constraints of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var out []ordering.Check
	for rows.Next() {
		var c ordering.Check
		var clause string
		if err := rows.Scan(&c.Name, &clause); err != nil {
			return nil, fmt.Errorf("check constraints of %s.%s: %w", schema, table, err)
		}
		c.Def = "CHECK (" + clause + ")"
		out = append(out, c)
	}
	return out, rows.Err()
}
