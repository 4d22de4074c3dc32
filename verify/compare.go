package verify

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/filter"
	"github.com/walship/walship/sinks/sqlsink"
)

// colRead is how one side reads a compared column.
type colRead struct {
	expr string // the select expression
	hex  bool   // expr yields lower-case hex (PostgreSQL bytea)
	wkb  bool   // expr yields the hex WKB of a point whose X is the exact double (MySQL floats)
	f32  bool   // expr yields single-precision text (PostgreSQL real)
	bits bool   // expr yields a bit string whose value is compared (a MySQL BIT on PostgreSQL)
}

// readExpr is how a column of type typ (lower case) on engine is read, by
// the exact text forms the engine has: PostgreSQL's output functions
// (char(n) with its padding, floats with extra_float_digits pinned, see
// pinSession); MySQL floats by their IEEE bits, since MySQL prints FLOAT
// to 6 and DOUBLE to 15 significant digits. bound: a chunk bound, which
// must read back as a parameter (no WKB).
func readExpr(engine, quoted, typ string, k Kind, exact, bound bool) colRead {
	switch engine {
	case "postgres":
		switch {
		case typ == "bytea":
			return colRead{expr: "encode(" + quoted + ", 'hex')", hex: true}
		case typ == "bpchar" || typ == "character" || strings.HasPrefix(typ, "character("):
			// bpchar::text strips the padding; its output function keeps it.
			return colRead{expr: "textin(bpcharout(" + quoted + "))"}
		case typ == "inet":
			// inet::text adds the netmask; the output function (what
			// pgoutput and so the sinks carry) omits a host's.
			return colRead{expr: "textin(inet_out(" + quoted + "))"}
		case !exact && strings.HasSuffix(typ, "[]"):
			return colRead{expr: "array_to_json(" + quoted + ")::text"}
		case !exact && k == KindTime && strings.HasPrefix(typ, "interval"):
			// A MySQL TIME as an interval: its microseconds, if it has no
			// months or days (else its text, which equals no TIME).
			return colRead{expr: "CASE WHEN extract(year FROM " + quoted + ") = 0 AND extract(month FROM " + quoted +
				") = 0 AND extract(day FROM " + quoted + ") = 0 THEN (extract(epoch FROM " + quoted +
				") * 1000000)::bigint::text ELSE " + quoted + "::text END"}
		case typ == "real":
			return colRead{expr: quoted + "::text", f32: true}
		case !exact && k == KindBit && (strings.HasPrefix(typ, "bit(") || strings.HasPrefix(typ, "bit varying")):
			return colRead{expr: quoted + "::text", bits: true}
		}
		return colRead{expr: quoted + "::text"}
	case "mysql":
		if k == KindBytes && (strings.Contains(typ, "char") || strings.Contains(typ, "text")) {
			// Text captured as its bytes (raw_charsets): the bytes, not the
			// server's conversion.
			return colRead{expr: "CAST(" + quoted + " AS BINARY)"}
		}
		if !exact && k == KindBit && strings.HasPrefix(typ, "bit") {
			return colRead{expr: "CAST(" + quoted + " AS UNSIGNED)"}
		}
		if !bound && (strings.HasPrefix(typ, "float") || strings.HasPrefix(typ, "double") || strings.HasPrefix(typ, "real")) {
			return colRead{expr: "HEX(ST_AsBinary(POINT(" + quoted + ", 0)))", wkb: true}
		}
	}
	return colRead{expr: quoted}
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

// tablePlan is how one table is compared: its columns, its key and the
// SQL of both sides.
type tablePlan struct {
	name     string   // the source table, for progress
	cols     []Column // the compared columns: the source's
	keyNames []string
	keyIdx   []int  // the key columns' indexes in cols
	keyKinds []Kind // their kinds
	exact    bool   // same engine: compare the servers' text forms exactly
	src, fol *side
	// preds are the where rules the source rows compared match (filter.go).
	preds []*filter.Predicate
}

// compareTable compares one source table with its follower table: by
// chunks of the source's primary key (see doc.go), or, for a table
// without one, as multisets of rows (see compareKeyless).
func compareTable(ctx context.Context, src *source, fol *follower, t Table, name sqlsink.Name, tr *TableReport, o Options, where []string) error {
	tp, err := planTable(ctx, src, fol, t, name, len(where) > 0)
	if err != nil {
		return err
	}
	if err := tp.predicates(where); err != nil {
		return err
	}
	if len(where) > 0 && len(t.Key) == 0 {
		return fmt.Errorf("a table without a primary key and with a where rule is not compared")
	}
	for _, p := range []struct {
		s  *side
		db *sql.DB
	}{{tp.src, src.db}, {tp.fol, fol.db}} {
		conn, limit, err := pinSession(ctx, p.db, p.s.engine, o.ChunkRows)
		if err != nil {
			return fmt.Errorf("%s: %w", p.s.label, err)
		}
		defer conn.Close()
		p.s.q, p.s.concatMax = conn, limit
	}
	if len(t.Key) == 0 {
		tr.Keyless = true
		return compareKeyless(ctx, tp, tr, o)
	}
	if err := tp.compareNullKeys(ctx, tr, o); err != nil {
		return err
	}
	if tp.exact {
		return compareInDatabase(ctx, tp, tr, o)
	}
	return compareInGo(ctx, tp, tr, o)
}

// compareNullKeys reports the rows with a NULL in a key column, which no
// chunk covers: extra rows on the follower (a source's primary key is
// never NULL; one there is missing on the follower).
func (tp *tablePlan) compareNullKeys(ctx context.Context, tr *TableReport, o Options) error {
	for _, s := range []*side{tp.src, tp.fol} {
		cur, err := tp.openCursor(ctx, s, s.nullKeyRowsSQL(), nil, nil)
		if err != nil {
			return fmt.Errorf("%s: rows with a NULL key: %w", s.label, err)
		}
		for {
			r, err := cur.next()
			if err != nil {
				cur.close()
				return fmt.Errorf("%s: rows with a NULL key: %w", s.label, err)
			}
			if r == nil {
				break
			}
			df := Diff{Kind: "extra", Key: keyText(tp.keyNames, r.shown(tp.keyIdx))}
			if s == tp.src {
				tr.Missing++
				tr.SourceRows++
				df.Kind = "missing"
			} else {
				tr.Extra++
				tr.FollowerRows++
			}
			if len(tr.Diffs) < o.MaxListed {
				tr.Diffs = append(tr.Diffs, df)
			}
		}
		cur.close()
	}
	return nil
}

// planTable reads the follower table's columns and plans the comparison.
func planTable(ctx context.Context, src *source, fol *follower, t Table, name sqlsink.Name, inGo bool) (*tablePlan, error) {
	d := fol.dialect
	tx, err := fol.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("follower: %w", err)
	}
	fcols, exists, err := d.Columns(ctx, tx, name)
	tx.Rollback()
	if err != nil {
		return nil, fmt.Errorf("follower: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("follower table %s is missing", name)
	}
	ftype := map[string]string{}
	for _, c := range fcols {
		ftype[c.Name] = c.Type
	}
	var missingCols, srcTypes, folTypes []string
	for _, c := range t.Columns {
		ft, ok := ftype[c.Name]
		if !ok {
			missingCols = append(missingCols, c.Name)
		}
		srcTypes, folTypes = append(srcTypes, strings.ToLower(c.Type)), append(folTypes, ft)
	}
	if len(missingCols) > 0 {
		return nil, fmt.Errorf("follower table %s lacks column(s) %s", name, strings.Join(missingCols, ", "))
	}
	tp := &tablePlan{name: t.String(), cols: t.Columns, keyNames: t.Key, exact: src.engine == fol.engine && !inGo}
	for _, k := range t.Key {
		i := slices.IndexFunc(t.Columns, func(c Column) bool { return c.Name == k })
		if i < 0 {
			return nil, fmt.Errorf("primary key column %s not found", k)
		}
		tp.keyIdx = append(tp.keyIdx, i)
		tp.keyKinds = append(tp.keyKinds, t.Columns[i].Kind)
	}
	tp.src = tp.newSide("source", src.engine, src.db, quoteSource(src.engine, t),
		func(s string) string { return quoteSrcIdent(src.engine, s) }, srcTypes)
	tp.fol = tp.newSide("follower", fol.engine, fol.db, d.QuoteName(name), d.QuoteIdent, folTypes)
	return tp, nil
}

// newSide is the SQL of one side, whose column types are types.
func (tp *tablePlan) newSide(label, engine string, q querier, table string, quote func(string) string, types []string) *side {
	s := &side{label: label, engine: engine, q: q, table: table}
	for i, c := range tp.cols {
		r := readExpr(engine, quote(c.Name), types[i], c.Kind, tp.exact, false)
		s.exprs, s.reads, s.kinds = append(s.exprs, r.expr), append(s.reads, r), append(s.kinds, c.Kind)
	}
	for _, i := range tp.keyIdx {
		c := tp.cols[i]
		b := readExpr(engine, quote(c.Name), types[i], c.Kind, true, true)
		s.order = append(s.order, orderExpr(engine, "t."+quote(c.Name), types[i]))
		s.keys = append(s.keys, "t."+quote(c.Name))
		s.bound, s.bread, s.bkind = append(s.bound, b.expr), append(s.bread, b), append(s.bkind, c.Kind)
		s.param = append(s.param, newKeyParam(engine, types[i], c.Kind))
	}
	return s
}

// compareInDatabase compares a same-engine pair: each chunk's checksum is
// computed by both databases; only the rows of chunks whose checksums
// differ are read and merged.
func compareInDatabase(ctx context.Context, tp *tablePlan, tr *TableReport, o Options) error {
	return walkChunks(ctx, tp.src, o.ChunkRows, func(c chunk) error {
		tr.Chunks++
		ss, err := tp.src.checksum(ctx, c)
		if err != nil {
			return err
		}
		fs, err := tp.fol.checksum(ctx, c)
		if err != nil {
			return err
		}
		if ss.matches(fs) {
			tr.SourceRows += ss.rows
			tr.FollowerRows += fs.rows
			return nil
		}
		tr.ChunksDiffered++
		tp.descending(o, c, ss, fs)
		return tp.mergeChunk(ctx, c, tr, o)
	})
}

// descending reports a chunk whose checksums differ (no key values).
func (tp *tablePlan) descending(o Options, c chunk, src, fol chunkSum) {
	o.progress("  %s chunk %d: checksums differ (%d source rows, %d follower rows): comparing its rows",
		tp.name, c.n, src.rows, fol.rows)
}

// mergeChunk reads chunk c from both sides in key order and merges them.
func (tp *tablePlan) mergeChunk(ctx context.Context, c chunk, tr *TableReport, o Options) error {
	var curs [2]*cursor
	for i, s := range []*side{tp.src, tp.fol} {
		q, args, err := s.rowsSQL(c)
		if err != nil {
			return err
		}
		if curs[i], err = tp.openCursor(ctx, s, q, args, tp.newOrderCheck(s.label)); err != nil {
			return fmt.Errorf("%s: chunk %d: %w", s.label, c.n, err)
		}
		defer curs[i].close()
	}
	return tp.merge(curs[0], curs[1], tr, o)
}

// compareInGo compares a cross-engine pair, whose values are made
// canonical in Go: each chunk's rows are read from both sides and hashed
// in Go; only chunks whose checksums differ are merged. The source is
// read chunk by chunk; the follower in one ordered stream, split at each
// chunk's last source key (its text forms need not parse as bounds on
// the follower's engine).
func compareInGo(ctx context.Context, tp *tablePlan, tr *TableReport, o Options) error {
	q, args, err := tp.fol.rowsSQL(chunk{})
	if err != nil {
		return err
	}
	fc, err := tp.openCursor(ctx, tp.fol, q, args, tp.newOrderCheck("follower"))
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	defer fc.close()
	fs := &followerStream{cur: fc, kinds: tp.keyKinds}
	srcOrder := tp.newOrderCheck("source")
	return walkChunks(ctx, tp.src, o.ChunkRows, func(c chunk) error {
		tr.Chunks++
		srcRows, err := tp.readChunk(ctx, tp.src, c, srcOrder)
		if err != nil {
			return err
		}
		if srcRows, err = tp.matching(srcRows); err != nil {
			return err
		}
		folRows, err := fs.take(c, srcRows)
		if err != nil {
			return fmt.Errorf("follower: %w", err)
		}
		ss, fsum := sumRows(srcRows), sumRows(folRows)
		if ss.matches(fsum) {
			tr.SourceRows += ss.rows
			tr.FollowerRows += fsum.rows
			return nil
		}
		tr.ChunksDiffered++
		tp.descending(o, c, ss, fsum)
		return tp.merge(&rowList{rows: srcRows}, &rowList{rows: folRows}, tr, o)
	})
}

// readChunk reads the rows of chunk c on s.
func (tp *tablePlan) readChunk(ctx context.Context, s *side, c chunk, check *orderCheck) ([]*row, error) {
	q, args, err := s.rowsSQL(c)
	if err != nil {
		return nil, err
	}
	cur, err := tp.openCursor(ctx, s, q, args, check)
	if err != nil {
		return nil, fmt.Errorf("%s: chunk %d: %w", s.label, c.n, err)
	}
	defer cur.close()
	var rows []*row
	for {
		r, err := cur.next()
		if err != nil {
			return nil, fmt.Errorf("%s: chunk %d: %w", s.label, c.n, err)
		}
		if r == nil {
			return rows, nil
		}
		rows = append(rows, r)
	}
}

// followerStream hands out the follower's ordered rows chunk by chunk.
type followerStream struct {
	cur   rowSource
	kinds []Kind
	ahead *row // read, not yet handed out
	done  bool
}

// take returns the follower rows of chunk c whose source rows are src:
// every remaining row for the last chunk, else the rows with keys up to
// the last source key (none when the source chunk came back empty: rows
// deleted since its bound was read; they fall in the next chunk).
func (f *followerStream) take(c chunk, src []*row) ([]*row, error) {
	var hi []string
	switch {
	case c.hi == nil:
	case len(src) == 0:
		return nil, nil
	default:
		hi = src[len(src)-1].key
	}
	var out []*row
	for {
		if f.ahead == nil && !f.done {
			r, err := f.cur.next()
			if err != nil {
				return nil, err
			}
			f.ahead, f.done = r, r == nil
		}
		if f.ahead == nil || (hi != nil && compareKeys(f.kinds, f.ahead.key, hi) > 0) {
			return out, nil
		}
		out, f.ahead = append(out, f.ahead), nil
	}
}

// rowSource yields rows in key order; nil at the end.
type rowSource interface {
	next() (*row, error)
}

// rowList is rows already read.
type rowList struct {
	rows []*row
	i    int
}

func (l *rowList) next() (*row, error) {
	if l.i == len(l.rows) {
		return nil, nil
	}
	l.i++
	return l.rows[l.i-1], nil
}

// merge merges the source's and the follower's rows of a chunk like a
// sort-merge join: the smaller key is a row missing on the follower (only
// at the source) or an extra row (only on the follower); equal keys
// compare every column.
func (tp *tablePlan) merge(sc, fc rowSource, tr *TableReport, o Options) error {
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
			c = compareKeys(tp.keyKinds, s.key, f.key)
		}
		switch {
		case c < 0:
			tr.Missing++
			add(Diff{Kind: "missing", Key: keyText(tp.keyNames, s.shown(tp.keyIdx))})
		case c > 0:
			tr.Extra++
			add(Diff{Kind: "extra", Key: keyText(tp.keyNames, f.shown(tp.keyIdx))})
		default:
			if cds := tp.diffColumns(s, f, o.ShowValues); len(cds) > 0 {
				tr.Different++
				add(Diff{Kind: "different", Key: keyText(tp.keyNames, s.shown(tp.keyIdx)), Columns: cds})
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

// diffColumns lists the columns whose values differ between two rows of
// the same key; values only with showValues.
func (tp *tablePlan) diffColumns(s, f *row, showValues bool) []ColDiff {
	var cds []ColDiff
	for i, c := range tp.cols {
		if s.valid[i] != f.valid[i] || s.cmp[i] != f.cmp[i] {
			cd := ColDiff{Column: c.Name}
			if showValues {
				cd.Source, cd.Follower = s.display(i), f.display(i)
			}
			cds = append(cds, cd)
		}
	}
	return cds
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

// compareKeys orders two keys (comparison forms) of key kinds kinds.
func compareKeys(kinds []Kind, a, b []string) int {
	for i, k := range kinds {
		if c := compareKey(k, a[i], b[i]); c != 0 {
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

// orderCheck fails a side whose keys do not ascend strictly in the
// comparison's order: the merge would report false differences.
type orderCheck struct {
	label string
	kinds []Kind
	prev  []string
}

func (tp *tablePlan) newOrderCheck(label string) *orderCheck {
	return &orderCheck{label: label, kinds: tp.keyKinds}
}

func (c *orderCheck) next(key []string) error {
	if c.prev != nil && compareKeys(c.kinds, c.prev, key) >= 0 {
		return fmt.Errorf("the %s returns keys out of order (%v after %v): this key's order differs between the engines, the merge cannot compare it",
			c.label, key, c.prev)
	}
	c.prev = key
	return nil
}

// canonicalOn is the canonical form of text s read as r: a float parses
// at the precision its side printed it with.
func canonicalOn(k Kind, s string, r colRead) string {
	if k == KindFloat || k == KindFloat32 {
		bits := 64
		if r.f32 {
			bits = 32
		}
		if f, ok := parseFloat(s, bits); ok {
			return canonFloatValue(k, f)
		}
		return s
	}
	return Canonical(k, s)
}

// cursor streams one side's ordered rows and checks the order.
type cursor struct {
	rows  *sql.Rows
	tp    *tablePlan
	s     *side
	check *orderCheck
	vals  []any
	ptrs  []any
}

func (tp *tablePlan) openCursor(ctx context.Context, s *side, q string, args []any, check *orderCheck) (*cursor, error) {
	rows, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	c := &cursor{rows: rows, tp: tp, s: s, check: check, vals: make([]any, len(tp.cols)), ptrs: make([]any, len(tp.cols))}
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
	n := len(c.tp.cols)
	r := &row{raw: make([]string, n), cmp: make([]string, n), valid: make([]bool, n)}
	for i, col := range c.tp.cols {
		r.raw[i], r.valid[i] = rawText(c.vals[i], col.Kind, c.s.reads[i], c.s.engine)
		r.cmp[i] = r.raw[i]
		if r.valid[i] && !c.tp.exact {
			r.cmp[i] = canonicalOn(col.Kind, r.raw[i], c.s.reads[i])
		}
	}
	r.key = make([]string, len(c.tp.keyIdx))
	for i, j := range c.tp.keyIdx {
		r.key[i] = r.cmp[j]
	}
	if c.check != nil {
		if err := c.check.next(r.key); err != nil {
			return nil, err
		}
	}
	return r, nil
}
