package verify

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/sinks/sqlsink"
)

// colPlan is how one column is read and compared.
type colPlan struct {
	Column
	srcExpr, folExpr string
	srcHex, folHex   bool // the query already returns hex (PostgreSQL bytea)
}

// sideExpr is the select expression of a column on an engine whose column
// type is typ; hex reports an expression producing hex.
func sideExpr(engine, quoted, typ string, k Kind, exact bool) (expr string, hex bool) {
	switch engine {
	case "postgres":
		switch {
		case typ == "bytea":
			return "encode(" + quoted + ", 'hex')", true
		case !exact && strings.HasSuffix(typ, "[]"):
			return "array_to_json(" + quoted + ")::text", false
		case !exact && k == KindTime && strings.HasPrefix(typ, "interval"):
			return "(extract(epoch from " + quoted + ") * 1000000)::bigint::text", false
		}
		return quoted + "::text", false
	}
	return quoted, false
}

// orderExpr orders a key column by bytes when it is text.
func orderExpr(engine, quoted, typ string) string {
	t := strings.ToLower(typ)
	textual := strings.Contains(t, "char") || strings.Contains(t, "text") || t == "name" ||
		strings.HasPrefix(t, "enum") || strings.HasPrefix(t, "set")
	if !textual {
		return quoted
	}
	switch engine {
	case "postgres":
		return quoted + ` COLLATE "C"`
	case "mysql":
		return "CAST(" + quoted + " AS BINARY)"
	}
	return quoted
}

func quoteSource(engine string, t Table) string {
	if engine == "postgres" {
		return pgx.Identifier{t.Schema, t.Name}.Sanitize()
	}
	return quoteMySQL(t.Schema) + "." + quoteMySQL(t.Name)
}

func compareTable(ctx context.Context, src *source, fol *follower, t Table, name sqlsink.Name, tr *TableReport, o Options) error {
	if len(t.Key) == 0 {
		tr.Skipped = "no primary key"
		return nil
	}
	d := fol.dialect
	tx, err := fol.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	fcols, exists, err := d.Columns(ctx, tx, name)
	tx.Rollback()
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	if !exists {
		return fmt.Errorf("follower table %s is missing", name)
	}
	ftype := map[string]string{}
	for _, c := range fcols {
		ftype[c.Name] = c.Type
	}
	exact := src.engine == fol.engine
	var plans []colPlan
	var missingCols []string
	for _, c := range t.Columns {
		ft, ok := ftype[c.Name]
		if !ok {
			missingCols = append(missingCols, c.Name)
			continue
		}
		p := colPlan{Column: c}
		p.srcExpr, p.srcHex = sideExpr(src.engine, quoteSrcIdent(src.engine, c.Name), strings.ToLower(c.Type), c.Kind, exact)
		p.folExpr, p.folHex = sideExpr(fol.engine, d.QuoteIdent(c.Name), ft, c.Kind, exact)
		plans = append(plans, p)
	}
	if len(missingCols) > 0 {
		return fmt.Errorf("follower table %s lacks column(s) %s", name, strings.Join(missingCols, ", "))
	}
	keyIdx := make([]int, len(t.Key))
	for i, k := range t.Key {
		keyIdx[i] = -1
		for j, p := range plans {
			if p.Name == k {
				keyIdx[i] = j
			}
		}
		if keyIdx[i] < 0 {
			return fmt.Errorf("primary key column %s not found", k)
		}
	}
	var srcSel, folSel, srcOrd, folOrd []string
	// Output columns are aliased c0, c1, ... and ORDER BY names the table's
	// columns qualified (t.col): an unqualified name would order by an
	// output column of the same name, such as its ::text cast.
	for i, p := range plans {
		alias := fmt.Sprintf(" AS c%d", i)
		srcSel = append(srcSel, p.srcExpr+alias)
		folSel = append(folSel, p.folExpr+alias)
	}
	for _, i := range keyIdx {
		p := plans[i]
		srcOrd = append(srcOrd, orderExpr(src.engine, "t."+quoteSrcIdent(src.engine, p.Name), p.Type))
		folOrd = append(folOrd, orderExpr(fol.engine, "t."+d.QuoteIdent(p.Name), ftype[p.Name]))
	}
	srcQ := "SELECT " + strings.Join(srcSel, ", ") + " FROM " + quoteSource(src.engine, t) + " AS t ORDER BY " + strings.Join(srcOrd, ", ")
	folQ := "SELECT " + strings.Join(folSel, ", ") + " FROM " + d.QuoteName(name) + " AS t ORDER BY " + strings.Join(folOrd, ", ")

	sc, err := openCursor(ctx, src.db, srcQ, plans, keyIdx, exact, true)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer sc.close()
	fc, err := openCursor(ctx, fol.db, folQ, plans, keyIdx, exact, false)
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	defer fc.close()

	add := func(df Diff) {
		if len(tr.Diffs) < o.MaxListed {
			tr.Diffs = append(tr.Diffs, df)
		}
	}
	s, err := sc.next()
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	f, err := fc.next()
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	for s != nil || f != nil {
		c := 0
		switch {
		case s == nil:
			c = 1
		case f == nil:
			c = -1
		default:
			c = compareKeys(plans, keyIdx, s.key, f.key)
		}
		switch {
		case c < 0:
			tr.Missing++
			add(Diff{Kind: "missing", Key: keyText(t.Key, s.shown(keyIdx))})
		case c > 0:
			tr.Extra++
			add(Diff{Kind: "extra", Key: keyText(t.Key, f.shown(keyIdx))})
		default:
			var cds []ColDiff
			for i, p := range plans {
				if s.valid[i] != f.valid[i] || s.cmp[i] != f.cmp[i] {
					cd := ColDiff{Column: p.Name}
					if o.ShowValues {
						cd.Source, cd.Follower = s.display(i), f.display(i)
					}
					cds = append(cds, cd)
				}
			}
			if len(cds) > 0 {
				tr.Different++
				add(Diff{Kind: "different", Key: keyText(t.Key, s.shown(keyIdx)), Columns: cds})
			}
		}
		if c <= 0 {
			tr.SourceRows++
			if s, err = sc.next(); err != nil {
				return fmt.Errorf("source: %w", err)
			}
		}
		if c >= 0 {
			tr.FollowerRows++
			if f, err = fc.next(); err != nil {
				return fmt.Errorf("follower: %w", err)
			}
		}
	}
	return nil
}

func quoteSrcIdent(engine, s string) string {
	if engine == "postgres" {
		return pgx.Identifier{s}.Sanitize()
	}
	return quoteMySQL(s)
}

func keyText(names, vals []string) string {
	parts := make([]string, len(names))
	for i := range names {
		parts[i] = names[i] + "=" + vals[i]
	}
	return strings.Join(parts, ", ")
}

func compareKeys(plans []colPlan, keyIdx []int, a, b []string) int {
	for i, j := range keyIdx {
		if c := compareKey(plans[j].Kind, a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// row is one row read: raw text, comparison form, null flags, key.
type row struct {
	raw   []string
	cmp   []string
	valid []bool
	key   []string
}

func (r *row) display(i int) string {
	if !r.valid[i] {
		return "NULL"
	}
	return fmt.Sprintf("%q", r.raw[i])
}

func (r *row) shown(keyIdx []int) []string {
	out := make([]string, len(keyIdx))
	for i, j := range keyIdx {
		if !r.valid[j] {
			out[i] = "NULL"
		} else {
			out[i] = r.raw[j]
		}
	}
	return out
}

// cursor streams one side's ordered rows and checks the order.
type cursor struct {
	rows   *sql.Rows
	plans  []colPlan
	keyIdx []int
	exact  bool
	source bool
	prev   []string
	vals   []any
	ptrs   []any
}

func openCursor(ctx context.Context, db *sql.DB, q string, plans []colPlan, keyIdx []int, exact, source bool) (*cursor, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c := &cursor{rows: rows, plans: plans, keyIdx: keyIdx, exact: exact, source: source,
		vals: make([]any, len(plans)), ptrs: make([]any, len(plans))}
	for i := range c.vals {
		c.ptrs[i] = &c.vals[i]
	}
	return c, nil
}

func (c *cursor) close() { c.rows.Close() }

// next returns the next row, or nil at the end.
func (c *cursor) next() (*row, error) {
	if !c.rows.Next() {
		return nil, c.rows.Err()
	}
	if err := c.rows.Scan(c.ptrs...); err != nil {
		return nil, err
	}
	r := &row{raw: make([]string, len(c.plans)), cmp: make([]string, len(c.plans)), valid: make([]bool, len(c.plans))}
	for i, p := range c.plans {
		hexAlready := p.folHex
		if c.source {
			hexAlready = p.srcHex
		}
		r.raw[i], r.valid[i] = rawText(c.vals[i], p.Kind, hexAlready)
		r.cmp[i] = r.raw[i]
		if r.valid[i] && !c.exact {
			r.cmp[i] = Canonical(p.Kind, r.raw[i])
		}
	}
	r.key = make([]string, len(c.keyIdx))
	for i, j := range c.keyIdx {
		r.key[i] = r.cmp[j]
	}
	if c.prev != nil && compareKeys(c.plans, c.keyIdx, c.prev, r.key) >= 0 {
		side := "follower"
		if c.source {
			side = "source"
		}
		return nil, fmt.Errorf("the %s returns keys out of order (%v after %v): this key's order differs between the engines, the merge cannot compare it",
			side, r.key, c.prev)
	}
	c.prev = r.key
	return r, nil
}
