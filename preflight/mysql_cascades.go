package preflight

import (
	"context"
	"database/sql"
	"strings"

	"github.com/walship/walship/config"
)

// checkCascadeParents reports captured tables whose rows InnoDB changes
// through a foreign-key action (ON DELETE/UPDATE CASCADE, SET NULL) of a
// parent table that is not captured. The binlog holds neither the child
// rows InnoDB changed nor, for walship, the parent's change: the followers
// would keep rows the source removed. Servers that log cascaded rows
// themselves (MySQL's SQL-layer foreign keys) need nothing.
func checkCascadeParents(ctx context.Context, r *Result, conn *sql.Conn, flavor, key string, tables []string) {
	if flavor != "mariadb" {
		v, exists, err := sysVar(ctx, conn, "innodb_native_foreign_keys")
		if err != nil {
			mysqlQueryProblem(r, "reading innodb_native_foreign_keys", err)
			return
		}
		if exists && (v == "0" || strings.EqualFold(v, "OFF")) {
			return
		}
	}
	rows, err := conn.QueryContext(ctx, `SELECT DISTINCT k.TABLE_SCHEMA, k.TABLE_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME
		FROM information_schema.REFERENTIAL_CONSTRAINTS rc
		JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA
			AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME
		WHERE rc.DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT') OR rc.UPDATE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT')
		ORDER BY 1, 2, 3, 4`)
	if err != nil {
		mysqlQueryProblem(r, "reading the foreign keys' actions", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var cs, ct, ps, pt string
		if err := rows.Scan(&cs, &ct, &ps, &pt); err != nil {
			mysqlQueryProblem(r, "reading the foreign keys' actions", err)
			return
		}
		if config.MatchTable(tables, cs, ct) && !config.MatchTable(tables, ps, pt) {
			r.problem(Config, "%s.%s is captured but %s.%s is not, and its deletes or key updates change %s.%s through ON DELETE/UPDATE "+
				"actions the binlog does not record: add %s.%s to %s.tables, or the followers keep the rows those actions change",
				cs, ct, ps, pt, cs, ct, ps, pt, key)
		}
	}
	if err := rows.Err(); err != nil {
		mysqlQueryProblem(r, "reading the foreign keys' actions", err)
	}
}
