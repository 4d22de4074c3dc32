package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

var _ sqlsink.Indexer = (*Dialect)(nil)

// btreeSafeChars is the longest varchar(n) a B-tree indexes whole: an
// index entry holds at most about 2700 bytes, 4 per character.
const btreeSafeChars = 675

var varcharRE = regexp.MustCompile(`^(?:character varying|varchar)\((\d+)\)$`)

// CreateIndex implements sqlsink.Indexer. A PostgreSQL source's index is
// built from its own definition (USING …: expressions, predicates,
// operator classes, INCLUDE), exactly. A MySQL source's is built on its
// columns; a prefix part indexes the whole value where a B-tree can (a
// bounded varchar), else a single-column prefix index becomes a hash
// index (equality lookups), and MariaDB's unique HASH key on a long text
// a non-unique hash index.
func (d *Dialect) CreateIndex(n sqlsink.Name, name string, ix *ordering.Index, srcEngine string, cols map[string]sqlsink.FollowerColumn) (string, string, error) {
	if ix.Exclusion {
		return "", "", fmt.Errorf("%w: an exclusion constraint", sqlsink.ErrUnsupported)
	}
	unique, weaker := ix.Unique, ""
	if unique && ix.Deferrable {
		unique, weaker = false, "a deferrable unique constraint, built as a plain index"
	}
	head := "CREATE INDEX "
	if unique {
		head = "CREATE UNIQUE INDEX "
	}
	head += d.QuoteIdent(name) + " ON " + d.QuoteName(n) + " "
	if srcEngine == "postgres" && ix.Def != "" {
		return head + "USING " + ix.Def, weaker, nil
	}
	for _, p := range ix.Parts {
		if p.Column == "" {
			return "", "", fmt.Errorf("%w: an expression key part (%s) of a MySQL source", sqlsink.ErrUnsupported, p.Expr)
		}
		if _, ok := cols[p.Column]; !ok {
			return "", "", fmt.Errorf("%w: column %s is not on the follower table", sqlsink.ErrUnsupported, p.Column)
		}
	}
	hashed := strings.EqualFold(ix.Method, "HASH")
	if ix.Where != "" || ix.Method != "" && !hashed {
		return "", "", fmt.Errorf("%w: a %s index", sqlsink.ErrUnsupported, strings.ToUpper(ix.Method))
	}
	hashIndex := func(why string) (string, string, error) {
		if len(ix.Parts) != 1 {
			return "", "", fmt.Errorf("%w: %s over several columns", sqlsink.ErrUnsupported, why)
		}
		w := ""
		if ix.Unique {
			w = why + ", built as a non-unique hash index"
		}
		return "CREATE INDEX " + d.QuoteIdent(name) + " ON " + d.QuoteName(n) + " USING hash (" + d.QuoteIdent(ix.Parts[0].Column) + ")", w, nil
	}
	if hashed {
		return hashIndex("a hash key")
	}
	parts := make([]string, len(ix.Parts))
	for i, p := range ix.Parts {
		if p.Prefix > 0 {
			m := varcharRE.FindStringSubmatch(cols[p.Column].Type)
			if m == nil {
				return hashIndex("a prefix of a long column, which a B-tree cannot index whole,")
			}
			if chars, _ := strconv.Atoi(m[1]); chars > btreeSafeChars {
				return hashIndex("a prefix of a long column, which a B-tree cannot index whole,")
			}
			if ix.Unique {
				weaker = "unique over whole values where the source's is over a prefix"
			}
		}
		parts[i] = d.QuoteIdent(p.Column)
		if p.Desc {
			parts[i] += " DESC"
		}
	}
	return head + "(" + strings.Join(parts, ", ") + ")", weaker, nil
}

// DropIndex implements sqlsink.Indexer.
func (d *Dialect) DropIndex(n sqlsink.Name, name string) string {
	return "DROP INDEX IF EXISTS " + d.QuoteName(sqlsink.Name{Schema: n.Schema, Table: name})
}

// IndexGone implements sqlsink.Indexer: IF EXISTS covers it.
func (d *Dialect) IndexGone(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42704" // undefined_object
}

// IndexNameMax implements sqlsink.Indexer: NAMEDATALEN - 1.
func (d *Dialect) IndexNameMax() int { return 63 }

// CreateCheck implements sqlsink.Indexer: a PostgreSQL source's check, as
// the source defines it.
func (d *Dialect) CreateCheck(n sqlsink.Name, name string, c *ordering.Check, srcEngine string) (string, error) {
	if srcEngine != "postgres" {
		return "", fmt.Errorf("%w: a check in %s's SQL", sqlsink.ErrUnsupported, srcEngine)
	}
	return "ALTER TABLE " + d.QuoteName(n) + " ADD CONSTRAINT " + d.QuoteIdent(name) + " " + c.Def, nil
}

// CreateForeignKey implements sqlsink.Indexer: DEFERRABLE INITIALLY
// DEFERRED, checked at commit, so the order of a follower transaction's
// changes (the source's log order, folded) never matters: only its end
// state, a state the source had.
func (d *Dialect) CreateForeignKey(n sqlsink.Name, name string, fk *ordering.ForeignKey, parent sqlsink.Name) (string, error) {
	return "ALTER TABLE " + d.QuoteName(n) + " ADD CONSTRAINT " + d.QuoteIdent(name) + " FOREIGN KEY (" + d.identList(fk.Columns) +
		") REFERENCES " + d.QuoteName(parent) + " (" + d.identList(fk.ParentColumns) + ") DEFERRABLE INITIALLY DEFERRED", nil
}

// DropConstraint implements sqlsink.Indexer.
func (d *Dialect) DropConstraint(n sqlsink.Name, _, name string) string {
	return "ALTER TABLE " + d.QuoteName(n) + " DROP CONSTRAINT IF EXISTS " + d.QuoteIdent(name)
}
