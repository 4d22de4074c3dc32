package mysql

import (
	"slices"
	"strings"

	"github.com/walship/walship/sinks/sqlsink"
)

// rowLimit is MySQL's row size limit (65,535 bytes) less a margin for the
// NULL bitmap and the fixed-size columns counted roughly below.
const rowLimit = 65000

// tableOptions follow every CREATE TABLE: InnoDB, utf8mb4 and a binary,
// no-pad collation so text keys compare like the source's.
func (d *Dialect) tableOptions() string {
	return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=" + d.server().collation
}

func (d *Dialect) columnDef(c sqlsink.ColumnDef) string {
	s := d.QuoteIdent(c.Name) + " " + c.Type
	if c.NotNull {
		return s + " NOT NULL"
	}
	return s + " NULL"
}

func (d *Dialect) identList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = d.QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// CreateTable is one CREATE TABLE IF NOT EXISTS. Key columns of TEXT/JSON
// and BLOB types become VARCHAR(255) and VARBINARY(255), and when the row
// would pass 65,535 bytes the widest non-key VARCHAR/VARBINARY columns
// become TEXT/BLOB (see types.go).
func (d *Dialect) CreateTable(n sqlsink.Name, cols []sqlsink.ColumnDef, primaryKey []string) []string {
	cols = fitRow(cols, primaryKey)
	defs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		defs = append(defs, d.columnDef(c))
	}
	if len(primaryKey) > 0 {
		defs = append(defs, "PRIMARY KEY ("+d.identList(primaryKey)+")")
	}
	return []string{"CREATE TABLE IF NOT EXISTS " + d.QuoteName(n) + " (" + strings.Join(defs, ", ") + ")" + d.tableOptions()}
}

// rowBytes is a column's share of the row size limit: VARCHAR/CHAR count
// 4 bytes a character, TEXT/BLOB a pointer, other types a generous 32.
func rowBytes(typ string) int {
	t, _ := parseMyType(typ)
	switch t.base {
	case "varchar", "char":
		return 4*num(t, 0) + 2
	case "varbinary", "binary":
		return num(t, 0) + 2
	}
	if textBytes[t.base] > 0 || blobBytes[t.base] > 0 || t.base == "json" {
		return 12
	}
	return 32
}

func fitRow(cols []sqlsink.ColumnDef, key []string) []sqlsink.ColumnDef {
	cols = slices.Clone(cols)
	total := 0
	for i, c := range cols {
		if slices.Contains(key, c.Name) {
			t, _ := parseMyType(c.Type)
			switch {
			case textBytes[t.base] > 0 || t.base == "json":
				cols[i].Type = "VARCHAR(255)"
			case blobBytes[t.base] > 0:
				cols[i].Type = "VARBINARY(255)"
			}
		}
		total += rowBytes(cols[i].Type)
	}
	for total > rowLimit {
		widest, size := -1, 0
		for i, c := range cols {
			t, _ := parseMyType(c.Type)
			if (t.base == "varchar" || t.base == "varbinary") && !slices.Contains(key, c.Name) && rowBytes(c.Type) > size {
				widest, size = i, rowBytes(c.Type)
			}
		}
		if widest < 0 || size <= 12 {
			break // CREATE TABLE will say the row is too large
		}
		if t, _ := parseMyType(cols[widest].Type); t.base == "varchar" {
			cols[widest].Type = "TEXT"
		} else {
			cols[widest].Type = "BLOB"
		}
		total -= size - 12
	}
	return cols
}

// ifExists is " IF EXISTS"/" IF NOT EXISTS" on MariaDB, which has them for
// columns (MySQL does not): DDL commits implicitly, so a retried statement
// must be harmless.
func (d *Dialect) ifExists(not bool) string {
	switch {
	case !d.server().mariadb:
		return ""
	case not:
		return " IF NOT EXISTS"
	}
	return " IF EXISTS"
}

// AddColumn is ALTER TABLE … ADD COLUMN [IF NOT EXISTS] … [DEFAULT
// literal] (MariaDB adds a column with a constant default instantly).
func (d *Dialect) AddColumn(n sqlsink.Name, c sqlsink.ColumnDef) string {
	s := "ALTER TABLE " + d.QuoteName(n) + " ADD COLUMN" + d.ifExists(true) + " " + d.columnDef(c)
	if c.Default != "" {
		if d.server().mariadb {
			s += " DEFAULT " + c.Default
		} else {
			s += " DEFAULT (" + c.Default + ")" // MySQL 8: TEXT, BLOB and JSON defaults are expressions
		}
	}
	return s
}

// DropNotNull is MODIFY COLUMN c <type> NULL: c.Type must be the column's
// current type.
func (d *Dialect) DropNotNull(n sqlsink.Name, c sqlsink.ColumnDef) string {
	c.NotNull = false
	return "ALTER TABLE " + d.QuoteName(n) + " MODIFY COLUMN " + d.columnDef(c)
}

// DropColumn is ALTER TABLE … DROP COLUMN [IF EXISTS].
func (d *Dialect) DropColumn(n sqlsink.Name, column string) string {
	return "ALTER TABLE " + d.QuoteName(n) + " DROP COLUMN" + d.ifExists(false) + " " + d.QuoteIdent(column)
}

// Truncate is DELETE FROM: TRUNCATE TABLE would commit the transaction
// implicitly, and the position must commit with the rows.
func (d *Dialect) Truncate(n sqlsink.Name) string { return "DELETE FROM " + d.QuoteName(n) }

// RenameTable is RENAME TABLE … TO ….
func (d *Dialect) RenameTable(from, to sqlsink.Name) string {
	return "RENAME TABLE " + d.QuoteName(from) + " TO " + d.QuoteName(to)
}

// Upsert is a multi-row INSERT … ON DUPLICATE KEY UPDATE c = VALUES(c) for
// the non-key columns (k = k when every column is a key column); a plain
// INSERT without a key. ON DUPLICATE KEY fires on any unique key: follower
// tables should have only the primary key walship creates.
func (d *Dialect) Upsert(n sqlsink.Name, cols []string, key []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + d.QuoteName(n) + " (" + d.identList(cols) + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if len(key) == 0 {
		return b.String()
	}
	var sets []string
	for _, c := range cols {
		if !slices.Contains(key, c) {
			q := d.QuoteIdent(c)
			sets = append(sets, q+" = VALUES("+q+")")
		}
	}
	if len(sets) == 0 {
		q := d.QuoteIdent(key[0])
		sets = append(sets, q+" = "+q)
	}
	b.WriteString(" ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", "))
	return b.String()
}

// BlocksOthersQuery implements sqlsink.LockProbe: an InnoDB lock wait
// whose blocking transaction is this connection's (needs the PROCESS
// privilege to read INNODB_TRX; without it the sink falls back to a
// timeout).
func (d *Dialect) BlocksOthersQuery() string {
	return `SELECT EXISTS (SELECT 1 FROM information_schema.INNODB_LOCK_WAITS w
		JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
		WHERE b.trx_mysql_thread_id = CONNECTION_ID())`
}

// MetaTables creates walship's positions and applied tables in the sink's
// database; key columns are VARCHAR so they can be indexed.
func (d *Dialect) MetaTables() []string {
	q := d.QuoteIdent
	pos, app := sqlsink.MetaNames("mysql")
	keys := q("sink") + " VARCHAR(255) NOT NULL, " + q("source") + " VARCHAR(255) NOT NULL, " + q("seq") + " VARCHAR(32) NOT NULL, "
	return []string{
		"CREATE TABLE IF NOT EXISTS " + d.QuoteName(pos) + " (" + keys + q("position") + " TEXT NULL, " +
			q("commit_ts") + " VARCHAR(64) NULL, " + q("offsets") + " LONGTEXT NULL, " + q("applied_at") + " VARCHAR(64) NULL, " +
			"PRIMARY KEY (" + q("sink") + ", " + q("source") + "))" + d.tableOptions(),
		"CREATE TABLE IF NOT EXISTS " + d.QuoteName(app) + " (" + keys + q("position") + " TEXT NULL, " +
			q("commit_ts") + " VARCHAR(64) NULL, PRIMARY KEY (" + q("sink") + ", " + q("source") + ", " + q("seq") + "))" + d.tableOptions(),
	}
}
