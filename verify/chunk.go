package verify

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DefaultChunkRows is the number of source rows per chunk.
const DefaultChunkRows = 1000

// chunk is a range of the source's primary key: keys after lo (exclusive;
// nil: from the first key) through hi (inclusive; nil: past the last key).
// Bounds are the key columns' exact text forms on the source engine.
type chunk struct {
	n      int // 1-based, for progress
	lo, hi []string
}

// querier is a *sql.DB or a *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// side is one database of a table comparison and the SQL reading its
// table: the source or the follower.
type side struct {
	label  string // "source" or "follower", for messages
	engine string // postgres, mysql, sqlite
	q      querier
	table  string    // quoted table name
	exprs  []string  // select expression of each compared column
	reads  []colRead // how each compared column is read (exprs[i] is reads[i].expr)
	kinds  []Kind    // the source kind of each compared column
	order  []string  // key columns' order expressions, qualified (t.col)
	keys   []string  // key columns, qualified (t.col): never NULL in a chunk
	bound  []string  // key columns' exact text expressions: chunk bounds
	bkind  []Kind    // key columns' kinds
	bread  []colRead // how bound[i] is read
	param  []keyParam
	// concatMax is MySQL's group_concat_max_len on q (0: no limit).
	concatMax int64
}

// keyParam is how a chunk bound of one key column is passed to a query.
type keyParam struct {
	// wrap is the SQL around the placeholder: "%s", "decode(%s, 'hex')".
	wrap string
	// integer passes the bound as an integer: MySQL compares an integer
	// column with a string as doubles, which loses digits past 2^53.
	integer bool
}

// newKeyParam is the bound passing of a key column of kind k and type typ
// (lower case) on engine.
func newKeyParam(engine, typ string, k Kind) keyParam {
	switch engine {
	case "postgres":
		if typ == "bytea" {
			return keyParam{wrap: "decode(%s, 'hex')"}
		}
	case "mysql":
		switch k {
		case KindBytes:
			return keyParam{wrap: "UNHEX(%s)"}
		case KindInt:
			return keyParam{wrap: "%s", integer: true}
		case KindDecimal:
			return keyParam{wrap: "CAST(%s AS " + mysqlDecimal(typ) + ")"}
		}
	}
	return keyParam{wrap: "%s"}
}

var decimalType = regexp.MustCompile(`^(?:decimal|numeric)\((\d+)(?:,\s*(\d+))?\)`)

// mysqlDecimal is the DECIMAL type a bound of a column of type typ is cast
// to: the column's own precision, else the widest.
func mysqlDecimal(typ string) string {
	m := decimalType.FindStringSubmatch(typ)
	if m == nil {
		return "DECIMAL(65,30)"
	}
	if m[2] == "" {
		return "DECIMAL(" + m[1] + ")"
	}
	return "DECIMAL(" + m[1] + "," + m[2] + ")"
}

// arg is the driver argument of bound text v.
func (p keyParam) arg(v string) (any, error) {
	if !p.integer {
		return v, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("key bound %q is not an integer", v)
	}
	return n, nil
}

// upperBoundSQL selects the keys of the n-th and the (n+1)-th rows after
// lo: the first is the inclusive upper end of the chunk that starts after
// lo, unless no row follows it.
func (s *side) upperBoundSQL(lo []string, n int) (string, []any, error) {
	a := &sqlArgs{engine: s.engine}
	cond, err := s.rangeCond(chunk{lo: lo}, a)
	if err != nil {
		return "", nil, err
	}
	sel := make([]string, len(s.bound))
	for i, b := range s.bound {
		sel[i] = fmt.Sprintf("%s AS b%d", b, i)
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + s.table + " AS t WHERE " + cond +
		" ORDER BY " + strings.Join(s.order, ", ") + " LIMIT 2 OFFSET " + strconv.Itoa(n-1), a.vals, nil
}

// upperBound is the key of the n-th row after lo, or nil when no row
// follows that one: the chunk holding the last source key is the last,
// open above.
func (s *side) upperBound(ctx context.Context, lo []string, n int) ([]string, error) {
	q, args, err := s.upperBoundSQL(lo, n)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: chunk bound: %w", s.label, err)
	}
	defer rows.Close()
	vals := make([]any, len(s.bound))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var hi []string
	for k := 0; k < 2 && rows.Next(); k++ {
		if k == 1 {
			return hi, nil
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("%s: chunk bound: %w", s.label, err)
		}
		if hi, err = s.boundText(vals); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: chunk bound: %w", s.label, err)
	}
	return nil, nil
}

// boundText is the text of a bound's scanned key values.
func (s *side) boundText(vals []any) ([]string, error) {
	out := make([]string, len(vals))
	for i, v := range vals {
		var ok bool
		if out[i], ok = rawText(v, s.bkind[i], s.bread[i], s.engine); !ok {
			return nil, fmt.Errorf("%s: chunk bound: a primary key column is NULL", s.label)
		}
	}
	return out, nil
}

// rowsSQL selects the rows of chunk c on s in key order, columns aliased
// c0, c1, ... (ORDER BY names the table's columns qualified, t.col: an
// unqualified name would order by an output column of the same name,
// such as its ::text cast).
func (s *side) rowsSQL(c chunk) (string, []any, error) {
	a := &sqlArgs{engine: s.engine}
	cond, err := s.rangeCond(c, a)
	if err != nil {
		return "", nil, err
	}
	sel := make([]string, len(s.exprs))
	for i, e := range s.exprs {
		sel[i] = fmt.Sprintf("%s AS c%d", e, i)
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + s.table + " AS t WHERE " + cond +
		" ORDER BY " + strings.Join(s.order, ", "), a.vals, nil
}

// walkChunks calls fn for the source's chunks in key order, each of up to
// rows source rows: the first open below, the last open above, so that
// follower rows before the first or after the last source key fall in
// one too.
func walkChunks(ctx context.Context, src *side, rows int, fn func(chunk) error) error {
	var lo []string
	for n := 1; ; n++ {
		hi, err := src.upperBound(ctx, lo, rows)
		if err != nil {
			return err
		}
		if hi != nil && slices.Equal(hi, lo) {
			return fmt.Errorf("source: chunk %d ends at the key it starts after: the key's text form does not round-trip as a bound", n)
		}
		if err := fn(chunk{n: n, lo: lo, hi: hi}); err != nil {
			return err
		}
		if hi == nil {
			return nil
		}
		lo = hi
	}
}

// sqlArgs collects the arguments of a statement and spells placeholders.
type sqlArgs struct {
	engine string
	vals   []any
}

func (a *sqlArgs) add(v any) string {
	a.vals = append(a.vals, v)
	if a.engine == "postgres" {
		return "$" + strconv.Itoa(len(a.vals))
	}
	return "?"
}

// rangeCond is the WHERE condition selecting chunk c on side s, appending
// its arguments to a. Rows with a NULL in a key column are in no chunk (a
// row comparison can be true with a NULL in a later column): nullKeyRows
// reads them.
func (s *side) rangeCond(c chunk, a *sqlArgs) (string, error) {
	var conds []string
	for _, k := range s.keys {
		conds = append(conds, k+" IS NOT NULL")
	}
	for _, b := range []struct {
		vals []string
		op   string
	}{{c.lo, ">"}, {c.hi, "<="}} {
		if b.vals == nil {
			continue
		}
		val, err := s.boundValues(b.vals, a)
		if err != nil {
			return "", err
		}
		conds = append(conds, keyCond(s.engine, s.order, val, b.op))
	}
	if len(conds) == 0 {
		return "1=1", nil
	}
	return strings.Join(conds, " AND "), nil
}

// nullKeyRowsSQL selects the rows with a NULL in a key column: rows a
// follower without the source's primary key can hold, which no chunk
// covers.
func (s *side) nullKeyRowsSQL() string {
	conds := make([]string, len(s.keys))
	for i, k := range s.keys {
		conds[i] = k + " IS NULL"
	}
	sel := make([]string, len(s.exprs))
	for i, e := range s.exprs {
		sel[i] = fmt.Sprintf("%s AS c%d", e, i)
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + s.table + " AS t WHERE " + strings.Join(conds, " OR ")
}

// boundValues converts the bound texts vals into driver arguments and
// returns a function spelling the i-th as a fresh, wrapped placeholder.
func (s *side) boundValues(vals []string, a *sqlArgs) (func(i int) string, error) {
	if len(vals) != len(s.param) {
		return nil, fmt.Errorf("%s: %d key bound values for %d key columns", s.label, len(vals), len(s.param))
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		arg, err := s.param[i].arg(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.label, err)
		}
		args[i] = arg
	}
	return func(i int) string { return fmt.Sprintf(s.param[i].wrap, a.add(args[i])) }, nil
}

// keyCond is the lexicographic comparison (cols) op (bound), op ">" or
// "<=", where val(i) spells the i-th bound value. PostgreSQL gets a row
// comparison, which its btree indexes serve; the other engines get it
// spelled out with AND and OR, which MySQL's range optimizer handles.
// val is called once per use (MySQL placeholders are positional).
func keyCond(engine string, cols []string, val func(i int) string, op string) string {
	if len(cols) == 1 {
		return cols[0] + " " + op + " " + val(0)
	}
	if engine == "postgres" {
		vals := make([]string, len(cols))
		for i := range cols {
			vals[i] = val(i)
		}
		return "(" + strings.Join(cols, ", ") + ") " + op + " (" + strings.Join(vals, ", ") + ")"
	}
	strict := strings.TrimSuffix(op, "=")
	ors := make([]string, len(cols))
	for i := range cols {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, cols[j]+" = "+val(j))
		}
		last := strict
		if i == len(cols)-1 {
			last = op
		}
		ands = append(ands, cols[i]+" "+last+" "+val(i))
		ors[i] = "(" + strings.Join(ands, " AND ") + ")"
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}
