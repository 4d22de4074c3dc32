package sqlite

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

var _ sqlsink.Indexer = (*Dialect)(nil)

// CreateIndex implements sqlsink.Indexer: a B-tree over the index's
// columns. A hash index (PostgreSQL's, or MariaDB's unique HASH key) is a
// B-tree here too, unique where the source's is; a prefix part indexes the
// whole value (a unique one is then unique over whole values, which never
// refuses a row the source accepted). Expression and partial indexes, and
// other methods, are not built: their SQL is the source engine's.
func (d *Dialect) CreateIndex(n sqlsink.Name, name string, ix *ordering.Index, srcEngine string, cols map[string]sqlsink.FollowerColumn) (string, string, error) {
	if ix.Exclusion {
		return "", "", fmt.Errorf("%w: an exclusion constraint", sqlsink.ErrUnsupported)
	}
	if m := strings.ToUpper(ix.Method); m != "" && m != "BTREE" && m != "HASH" {
		return "", "", fmt.Errorf("%w: a %s index", sqlsink.ErrUnsupported, ix.Method)
	}
	unique, weaker := ix.Unique, ""
	if unique && ix.Deferrable {
		unique, weaker = false, "a deferrable unique constraint, built as a plain index"
	}
	// Expressions and predicates are the source engine's SQL: only the
	// forms SQLite evaluates alike (exprSQL, whereSQL) are built, and a
	// unique index with one is built non-unique (SQLite's evaluation could
	// differ at the edges, and must never refuse a row the source took).
	exprOK := func(what string) {
		if unique {
			unique, weaker = false, "a unique index on "+what+", built non-unique"
		}
	}
	where := ""
	if ix.Where != "" {
		w, ok := whereSQL(ix.Where, cols, d)
		if !ok || srcEngine != "postgres" {
			return "", "", fmt.Errorf("%w: a partial index (WHERE %s), in the source engine's SQL", sqlsink.ErrUnsupported, ix.Where)
		}
		exprOK("a predicate")
		where = " WHERE " + w
	}
	parts := make([]string, len(ix.Parts))
	for i, p := range ix.Parts {
		if p.Column == "" {
			e, ok := exprSQL(p.Expr, cols, d)
			if !ok || srcEngine != "postgres" {
				return "", "", fmt.Errorf("%w: an expression key part (%s), in the source engine's SQL", sqlsink.ErrUnsupported, p.Expr)
			}
			exprOK("an expression")
			parts[i] = e
		} else {
			if _, ok := cols[p.Column]; !ok {
				return "", "", fmt.Errorf("%w: column %s is not on the follower table", sqlsink.ErrUnsupported, p.Column)
			}
			if p.Prefix > 0 && unique {
				weaker = "unique over whole values where the source's is over a prefix"
			}
			parts[i] = d.QuoteIdent(p.Column)
		}
		if p.Desc {
			parts[i] += " DESC"
		}
	}
	head := "CREATE INDEX "
	if unique {
		head = "CREATE UNIQUE INDEX "
	}
	return head + d.QuoteIdent(name) + " ON " + d.QuoteName(n) + " (" + strings.Join(parts, ", ") + ")" + where, weaker, nil
}

var (
	// caseFnRE is a PostgreSQL expression SQLite evaluates alike:
	// lower(col) or upper(col) (a text column; casts to text dropped).
	caseFnRE = regexp.MustCompile(`^(lower|upper)\(\(?"?([A-Za-z_][A-Za-z0-9_]*)"?\)?(?:::text)?\)$`)
	// nullTestRE is one term of a PostgreSQL predicate SQLite evaluates
	// alike: col IS [NOT] NULL.
	nullTestRE = regexp.MustCompile(`^\(?"?([A-Za-z_][A-Za-z0-9_]*)"? IS (NOT )?NULL\)?$`)
)

// exprSQL is a PostgreSQL index expression as SQLite's, for the forms it
// evaluates alike (caseFnRE) on a column of the follower table.
func exprSQL(expr string, cols map[string]sqlsink.FollowerColumn, d *Dialect) (string, bool) {
	m := caseFnRE.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return "", false
	}
	if _, ok := cols[m[2]]; !ok {
		return "", false
	}
	return m[1] + "(" + d.QuoteIdent(m[2]) + ")", true
}

// whereSQL is a PostgreSQL partial index's predicate as SQLite's, when it
// is NULL tests of the follower table's columns joined by AND.
func whereSQL(pred string, cols map[string]sqlsink.FollowerColumn, d *Dialect) (string, bool) {
	pred = strings.TrimSpace(pred)
	if strings.HasPrefix(pred, "(") && strings.HasSuffix(pred, ")") && strings.Count(pred, "(") == 1 {
		pred = pred[1 : len(pred)-1]
	}
	var terms []string
	for _, t := range strings.Split(pred, " AND ") {
		m := nullTestRE.FindStringSubmatch(strings.TrimSpace(t))
		if m == nil {
			return "", false
		}
		if _, ok := cols[m[1]]; !ok {
			return "", false
		}
		terms = append(terms, d.QuoteIdent(m[1])+" IS "+m[2]+"NULL")
	}
	return strings.Join(terms, " AND "), true
}

// DropIndex implements sqlsink.Indexer.
func (d *Dialect) DropIndex(n sqlsink.Name, name string) string {
	return "DROP INDEX IF EXISTS " + d.QuoteName(sqlsink.Name{Schema: n.Schema, Table: name})
}

// IndexGone implements sqlsink.Indexer: IF EXISTS covers it.
func (d *Dialect) IndexGone(error) bool { return false }

// IndexNameMax implements sqlsink.Indexer: no limit.
func (d *Dialect) IndexNameMax() int { return 0 }

// CreateCheck implements sqlsink.Indexer: SQLite cannot add a constraint
// to an existing table.
func (d *Dialect) CreateCheck(sqlsink.Name, string, *ordering.Check, string) (string, error) {
	return "", fmt.Errorf("%w: SQLite cannot add a check to an existing table", sqlsink.ErrUnsupported)
}

// CreateForeignKey implements sqlsink.Indexer: SQLite cannot add a
// constraint to an existing table.
func (d *Dialect) CreateForeignKey(sqlsink.Name, string, *ordering.ForeignKey, sqlsink.Name) (string, error) {
	return "", fmt.Errorf("%w: SQLite cannot add a foreign key to an existing table", sqlsink.ErrUnsupported)
}

// DropConstraint implements sqlsink.Indexer: nothing to drop.
func (d *Dialect) DropConstraint(sqlsink.Name, string, string) string { return "SELECT 1" }
