package sqlite

import (
	"fmt"
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
	if ix.Where != "" {
		return "", "", fmt.Errorf("%w: a partial index (WHERE %s), in the source engine's SQL", sqlsink.ErrUnsupported, ix.Where)
	}
	unique, weaker := ix.Unique, ""
	if unique && ix.Deferrable {
		unique, weaker = false, "a deferrable unique constraint, built as a plain index"
	}
	parts := make([]string, len(ix.Parts))
	for i, p := range ix.Parts {
		if p.Column == "" {
			return "", "", fmt.Errorf("%w: an expression key part (%s), in the source engine's SQL", sqlsink.ErrUnsupported, p.Expr)
		}
		if _, ok := cols[p.Column]; !ok {
			return "", "", fmt.Errorf("%w: column %s is not on the follower table", sqlsink.ErrUnsupported, p.Column)
		}
		if p.Prefix > 0 && unique {
			weaker = "unique over whole values where the source's is over a prefix"
		}
		parts[i] = d.QuoteIdent(p.Column)
		if p.Desc {
			parts[i] += " DESC"
		}
	}
	head := "CREATE INDEX "
	if unique {
		head = "CREATE UNIQUE INDEX "
	}
	return head + d.QuoteIdent(name) + " ON " + d.QuoteName(n) + " (" + strings.Join(parts, ", ") + ")", weaker, nil
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
