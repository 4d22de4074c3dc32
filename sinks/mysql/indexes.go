package mysql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

var _ sqlsink.Indexer = (*Dialect)(nil)

const (
	// maxKeyBytes is InnoDB's longest index key (DYNAMIC rows), and
	// maxPartChars the prefix a long text part gets (191 characters of 4
	// bytes fit the older 767-byte limit too).
	maxKeyBytes  = 3072
	maxPartChars = 191
)

// CreateIndex implements sqlsink.Indexer. A MySQL or MariaDB source's
// index is built as the source has it: prefixes, descending parts,
// FULLTEXT, SPATIAL, a HASH key, functional parts. A PostgreSQL source's
// B-tree (or hash) index is built on its columns; a text or blob column
// (which InnoDB indexes only by a prefix) gets a 191-character prefix, and
// a unique index with such a part is built non-unique (unique over a
// prefix would refuse rows the source accepts).
func (d *Dialect) CreateIndex(n sqlsink.Name, name string, ix *ordering.Index, srcEngine string, cols map[string]sqlsink.FollowerColumn) (string, string, error) {
	if ix.Exclusion {
		return "", "", fmt.Errorf("%w: an exclusion constraint", sqlsink.ErrUnsupported)
	}
	kind, using := "", ""
	unique, weaker := ix.Unique, ""
	if unique && ix.Deferrable {
		unique, weaker = false, "a deferrable unique constraint, built as a plain index"
	}
	method := strings.ToUpper(ix.Method)
	switch {
	case srcEngine != "postgres" && (method == "FULLTEXT" || method == "SPATIAL"):
		kind = method + " "
	case srcEngine != "postgres" && method == "HASH":
		using = " USING HASH"
	case srcEngine != "postgres" && (method == "" || method == "BTREE"):
	case srcEngine == "postgres" && method == "HASH" && len(ix.Parts) == 1:
	case srcEngine == "postgres" && method == "":
	default:
		return "", "", fmt.Errorf("%w: a %s index of a %s source", sqlsink.ErrUnsupported, ix.Method, srcEngine)
	}
	if ix.Where != "" {
		return "", "", fmt.Errorf("%w: a partial index (WHERE %s)", sqlsink.ErrUnsupported, ix.Where)
	}
	if unique {
		kind = "UNIQUE "
	}
	parts := make([]string, len(ix.Parts))
	keyBytes := 0
	for i, p := range ix.Parts {
		if p.Column == "" {
			if srcEngine == "postgres" {
				return "", "", fmt.Errorf("%w: an expression key part (%s) of a PostgreSQL source", sqlsink.ErrUnsupported, p.Expr)
			}
			parts[i] = "(" + p.Expr + ")"
			continue
		}
		c, ok := cols[p.Column]
		if !ok {
			return "", "", fmt.Errorf("%w: column %s is not on the follower table", sqlsink.ErrUnsupported, p.Column)
		}
		t, _ := parseMyType(c.Type)
		prefix := p.Prefix
		bytes, long := partBytes(t)
		switch {
		case t.base == "json":
			return "", "", fmt.Errorf("%w: column %s is JSON, which InnoDB cannot index", sqlsink.ErrUnsupported, p.Column)
		case long && prefix == 0 && kind != "FULLTEXT " && kind != "SPATIAL " && using == "":
			prefix = maxPartChars
			if unique {
				unique, kind, weaker = false, "", "a unique key over a column InnoDB indexes only by a prefix, built non-unique"
			}
		}
		if prefix > 0 {
			bytes = 4 * prefix
		}
		keyBytes += bytes
		parts[i] = d.QuoteIdent(p.Column)
		if prefix > 0 {
			parts[i] += "(" + strconv.Itoa(prefix) + ")"
		}
		if p.Desc {
			parts[i] += " DESC"
		}
	}
	if keyBytes > maxKeyBytes && kind != "FULLTEXT " && kind != "SPATIAL " && using == "" {
		return "", "", fmt.Errorf("%w: a key of %d bytes, more than InnoDB's %d", sqlsink.ErrUnsupported, keyBytes, maxKeyBytes)
	}
	return "CREATE " + kind + "INDEX " + d.QuoteIdent(name) + " ON " + d.QuoteName(n) + " (" + strings.Join(parts, ", ") + ")" + using, weaker, nil
}

// partBytes is the key bytes a whole column of type t takes, and whether
// InnoDB indexes it only by a prefix (text, blob, or longer than a key).
func partBytes(t myType) (int, bool) {
	n, _ := strconv.Atoi(t.arg(0))
	switch t.base {
	case "varchar", "char":
		return 4 * n, 4*n > maxKeyBytes
	case "varbinary", "binary":
		return n, n > maxKeyBytes
	case "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob":
		return 0, true
	case "decimal":
		return 16, false
	}
	return 8, false
}

// DropIndex implements sqlsink.Indexer (MySQL has no IF EXISTS here:
// IndexGone).
func (d *Dialect) DropIndex(n sqlsink.Name, name string) string {
	return "DROP INDEX " + d.QuoteIdent(name) + " ON " + d.QuoteName(n)
}

// IndexGone implements sqlsink.Indexer: ER_CANT_DROP_FIELD_OR_KEY (1091)
// and ER_DUP_KEYNAME (1061).
func (d *Dialect) IndexGone(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1091 || me.Number == 1061)
}

// IndexNameMax implements sqlsink.Indexer.
func (d *Dialect) IndexNameMax() int { return 64 }

// CreateCheck implements sqlsink.Indexer: a MySQL or MariaDB source's
// check, as the source defines it.
func (d *Dialect) CreateCheck(n sqlsink.Name, name string, c *ordering.Check, srcEngine string) (string, error) {
	if srcEngine != "mysql" {
		return "", fmt.Errorf("%w: a check in %s's SQL", sqlsink.ErrUnsupported, srcEngine)
	}
	return "ALTER TABLE " + d.QuoteName(n) + " ADD CONSTRAINT " + d.QuoteIdent(name) + " " + c.Def, nil
}

// CreateForeignKey implements sqlsink.Indexer: not on MySQL, which checks
// foreign keys row by row (config refuses follower_foreign_keys here).
func (d *Dialect) CreateForeignKey(sqlsink.Name, string, *ordering.ForeignKey, sqlsink.Name) (string, error) {
	return "", fmt.Errorf("%w: MySQL checks foreign keys row by row, and a transaction's changes may pass through states that break them", sqlsink.ErrUnsupported)
}

// DropConstraint implements sqlsink.Indexer.
func (d *Dialect) DropConstraint(n sqlsink.Name, kind, name string) string {
	if kind == "fkey" {
		return "ALTER TABLE " + d.QuoteName(n) + " DROP FOREIGN KEY " + d.QuoteIdent(name)
	}
	return "ALTER TABLE " + d.QuoteName(n) + " DROP CONSTRAINT " + d.QuoteIdent(name)
}
