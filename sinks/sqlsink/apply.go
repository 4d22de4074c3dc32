package sqlsink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/walship/walship/ordering"
)

// maxParams bounds the parameters of one multi-row statement (SQLite's
// limit is 32766, MySQL's and PostgreSQL's 65535).
const maxParams = 30000

// maxRows bounds the rows of one multi-row statement.
const maxRows = 500

// Bulk loads (BulkLoader dialects): a batch of at least bulkMinRows rows
// goes through the bulk path; pending rows are flushed at bulkMaxRows or
// bulkMaxBytes of parameter text, which bounds a transaction's memory
// however many rows it carries.
const (
	bulkMinRows  = 1000
	bulkMaxRows  = 10000
	bulkMaxBytes = 8 << 20
)

// maxBulkSavepoints bounds the savepoints of direct bulk upserts in one
// follower transaction; with the fold's maxSavepoints it stays within
// PostgreSQL's cache of 64 subtransactions.
const maxBulkSavepoints = 24

// Apply implements sinks.FollowerTx.
func (t *Tx) Apply(ctx context.Context, source string, ch *ordering.Change) error {
	t.a.mu.Lock()
	sh := t.a.shapes[ch.Table]
	t.a.mu.Unlock()
	if sh == nil {
		return fmt.Errorf("apply a change of %s: EnsureSchema was not called for this shape", ch.Table.QualifiedName())
	}
	if t.touched == nil {
		t.touched = map[Name]bool{}
	}
	t.touched[sh.name] = true
	if ch.Table.Backfilling {
		// An incremental snapshot's chunk may have brought the row, or
		// may not have yet, or may have left it out because this change
		// is newer (sources/backfill.go): a whole new row is written as
		// an upsert (a key change deletes the old key first).
		switch {
		case ch.Op == ordering.OpInsert, ch.Op == ordering.OpUpdate && complete(ch.After):
			if ch.Op == ordering.OpUpdate && ch.Before != nil && len(ch.Table.PrimaryKey) > 0 && ordering.KeyChanged(ch.Table, ch.Table.PrimaryKey, ch) {
				del := ordering.Change{Table: ch.Table, Op: ordering.OpDelete, Before: ch.Before}
				if err := t.Apply(ctx, source, &del); err != nil {
					return err
				}
			}
			c := *ch
			c.Op, c.Before = ordering.OpRead, nil
			ch = &c
		}
	}
	if ch.Op == ordering.OpPrune {
		if err := t.flush(ctx); err != nil {
			return err
		}
		return t.prune(ctx, sh, ch)
	}
	if (ch.Op == ordering.OpInsert || ch.Op == ordering.OpUpdate || ch.Op == ordering.OpDelete) && !ch.Table.Backfilling {
		if policy, counters, ok := t.a.resolution(sh); ok {
			// Checked against the follower's row, one by one (conflict.go).
			if err := t.flush(ctx); err != nil {
				return err
			}
			return t.resolve(ctx, source, sh, ch, policy, counters)
		}
	}
	if ch.Op != ordering.OpRead && ch.Op != ordering.OpTruncate && !t.noFold && !ch.Table.Backfilling {
		if len(t.pendRows) > 0 {
			if err := t.flushPend(ctx); err != nil {
				return err
			}
		}
		held, err := t.hold(ctx, sh, ch)
		if err != nil {
			return err
		}
		if held {
			if t.win.full() {
				return t.flush(ctx)
			}
			return nil
		}
	}
	switch ch.Op {
	case ordering.OpInsert, ordering.OpRead:
		limit := maxRows
		if t.bulk != nil {
			limit = bulkMaxRows
		}
		if t.win != nil || t.pend != sh || t.pendOp != ch.Op || len(t.pendRows) >= limit || t.pendBytes >= bulkMaxBytes {
			if err := t.flush(ctx); err != nil {
				return err
			}
		}
		row, size := t.row(ch)
		if ch.Op == ordering.OpRead && ch.Table.Backfilling && len(sh.key) > 0 {
			t.seeRead(sh, row)
		}
		if ch.Op == ordering.OpRead && len(sh.key) > 0 {
			// An upsert statement must not carry one key twice (a snapshot
			// redone inside one batch): the second starts a new statement.
			k, err := t.rowKey(sh, row, ch.Op)
			if err != nil {
				return err
			}
			if _, dup := t.pendKeys[k]; dup {
				if err := t.flush(ctx); err != nil {
					return err
				}
			}
			if t.pendKeys == nil {
				t.pendKeys = map[string]struct{}{}
			}
			t.pendKeys[k] = struct{}{}
		}
		t.pend, t.pendOp = sh, ch.Op
		t.pendRows = append(t.pendRows, row)
		t.pendBytes += size
		return nil
	}
	if ch.Op == ordering.OpTruncate {
		if sh.absent {
			return nil // nothing to empty
		}
		// Consecutive truncates gather into one statement (TableTruncater);
		// rows pending before them are written first.
		if len(t.pendRows) > 0 || t.win != nil {
			if err := t.flush(ctx); err != nil {
				return err
			}
		}
		if !slices.Contains(t.pendTrunc, sh) {
			t.pendTrunc = append(t.pendTrunc, sh)
		}
		return nil
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	switch ch.Op {
	case ordering.OpUpdate:
		return t.update(ctx, sh, ch)
	case ordering.OpDelete:
		return t.delete(ctx, sh, ch)
	}
	return fmt.Errorf("apply to %s: unknown op %q", sh.name, ch.Op)
}

func (t *Tx) param(sh *shape, i int, v ordering.Value, op ordering.Op) (any, error) {
	p, err := t.a.d.Param(sh.src.Columns[i], v)
	if err != nil {
		// The dialect's error names the column and why.
		return nil, &ChangeError{Table: sh.name.String(), Op: op, Err: err}
	}
	return p, nil
}

func (t *Tx) fail(sh *shape, op ordering.Op, err error) error {
	return serverError(t.a.d, sh.name.String(), op, err)
}

// paramSize is a parameter's size for the window's bytes bound.
func paramSize(p any) int {
	switch v := p.(type) {
	case string:
		return len(v) + 8
	case []byte:
		return len(v) + 8
	}
	return 8
}

// valueSize is a value's size for the pending-bytes bound.
func valueSize(v ordering.Value) int {
	n := len(v.Text()) + 8
	for _, e := range v.Elems() {
		n += valueSize(e)
	}
	return n
}

// rowKey is an injective text of a row's key values (appendKey).
func (t *Tx) rowKey(sh *shape, row []ordering.Value, op ordering.Op) (string, error) {
	b := t.keyBuf[:0]
	var err error
	for _, k := range sh.key {
		if b, err = t.appendKey(b, sh, k, row[k], op); err != nil {
			return "", err
		}
	}
	t.keyBuf = b
	return string(b), nil
}

// appendKey appends an injective text of key column k's value v: an
// integer as its decimal digits, anything else as its parameter. Every
// key text of the window is made here, so a row's key reads the same
// from every image.
func (t *Tx) appendKey(b []byte, sh *shape, k int, v ordering.Value, op ordering.Op) ([]byte, error) {
	switch v.Kind() {
	case ordering.KindInt:
		b = strconv.AppendInt(append(b, 'i'), v.Int(), 10)
		return append(b, ';'), nil
	case ordering.KindUint:
		b = strconv.AppendUint(append(b, 'i'), v.Uint(), 10)
		return append(b, ';'), nil
	}
	p, err := t.param(sh, k, v, op)
	if err != nil {
		return b, err
	}
	return appendKeyParam(b, p), nil
}

func appendKeyParam(b []byte, p any) []byte {
	switch v := p.(type) {
	case nil:
		return append(b, "n;"...)
	case string:
		b = append(b, 's')
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
		return append(b, ';')
	case []byte:
		b = append(b, 'b')
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
		return append(b, ';')
	}
	return fmt.Appendf(b, "%T:%v;", p, p)
}

// flush writes the pending truncates, then the pending rows: one bulk load when the dialect has one
// and the batch is large, otherwise multi-row statements within the
// engines' parameter limits.
func (t *Tx) flush(ctx context.Context) error {
	if err := t.truncate(ctx); err != nil {
		return err
	}
	if err := t.flushWindow(ctx); err != nil {
		return err
	}
	return t.flushPend(ctx)
}

// flushPend writes the pending snapshot rows (or, unfolded, inserts).
func (t *Tx) flushPend(ctx context.Context) error {
	if len(t.pendRows) == 0 {
		return nil
	}
	sh, rows, op := t.pend, t.pendRows, t.pendOp
	t.pend, t.pendRows, t.pendBytes, t.pendKeys = nil, nil, 0, nil
	return t.writeRows(ctx, sh, op, rows)
}

// writeRows writes rows of sh: snapshot rows as upserts, inserts as
// inserts; one bulk load when the dialect has one and the rows are many,
// otherwise multi-row statements within the engines' parameter limits.
func (t *Tx) writeRows(ctx context.Context, sh *shape, op ordering.Op, rows [][]ordering.Value) error {
	if len(rows) == 0 {
		return nil
	}
	cols := make([]string, len(sh.src.Columns))
	for i, c := range sh.src.Columns {
		cols[i] = c.Name
	}
	var key []string
	if op == ordering.OpRead {
		key = sh.src.PrimaryKey
	}
	if t.bulk != nil && len(rows) >= bulkMinRows {
		// An upsert may first try a plain load inside a savepoint (see
		// BulkRows.Direct): within the transaction's savepoint budget, and
		// not again for a table whose rows were there already.
		direct := len(key) > 0 && t.bulkSavepoints < maxBulkSavepoints && !t.conflicted[sh.name]
		if direct {
			t.bulkSavepoints++
		}
		res, err := t.bulk.BulkLoad(ctx, t.conn, BulkRows{Name: sh.name, Columns: sh.src.Columns, Types: sh.types,
			Key: key, Rows: rows, Direct: direct})
		switch {
		case errors.Is(err, ErrBulkDeclined):
			// Nothing written: the statements below write the rows.
		case err != nil:
			return t.fail(sh, op, err)
		default:
			if direct && res.Conflict {
				if t.conflicted == nil {
					t.conflicted = map[Name]bool{}
				}
				t.conflicted[sh.name] = true
			}
			return nil
		}
	}
	per := max(1, min(maxRows, maxParams/len(cols)))
	for len(rows) > 0 {
		chunk := rows[:min(per, len(rows))]
		rows = rows[len(chunk):]
		var q string
		if len(key) > 0 {
			q = t.a.d.Upsert(sh.name, cols, key, len(chunk))
		} else {
			q = t.insert(sh.name, cols, len(chunk))
		}
		args := make([]any, 0, len(chunk)*len(cols))
		for _, r := range chunk {
			for i, v := range r {
				p, err := t.param(sh, i, v, op)
				if err != nil {
					return err
				}
				args = append(args, p)
			}
		}
		t.a.stats.statements.Add(1)
		if _, err := t.run(ctx, q, args); err != nil {
			return t.fail(sh, op, err)
		}
	}
	return nil
}

// truncate writes the pending truncates: one statement with a
// TableTruncater dialect, else one per table, children first.
func (t *Tx) truncate(ctx context.Context) error {
	if len(t.pendTrunc) == 0 {
		return nil
	}
	shs := t.pendTrunc
	t.pendTrunc = nil
	if tt, ok := t.a.d.(TableTruncater); ok {
		names := make([]Name, len(shs))
		for i, sh := range shs {
			names[i] = sh.name
		}
		if _, err := t.tx.ExecContext(ctx, tt.TruncateTables(names)); err != nil {
			return t.fail(shs[0], ordering.OpTruncate, err)
		}
		return nil
	}
	for _, sh := range childrenFirst(shs) {
		if _, err := t.tx.ExecContext(ctx, t.a.d.Truncate(sh.name)); err != nil {
			return t.fail(sh, ordering.OpTruncate, err)
		}
	}
	return nil
}

// childrenFirst orders shapes so that a table comes before the tables its
// foreign keys reference: a DELETE FROM of a parent whose children still
// hold rows fails. Otherwise (and in a cycle) the order received is kept.
func childrenFirst(shs []*shape) []*shape {
	out := make([]*shape, 0, len(shs))
	state := map[*shape]int{} // 1 visiting, 2 done
	var visit func(*shape)
	visit = func(p *shape) {
		if state[p] != 0 {
			return
		}
		state[p] = 1
		for _, c := range shs {
			if c != p && references(c.src, p.src) {
				visit(c)
			}
		}
		state[p] = 2
		out = append(out, p)
	}
	for _, sh := range shs {
		visit(sh)
	}
	return out
}

// references reports whether a foreign key of child references parent.
func references(child, parent *ordering.Table) bool {
	for _, fk := range child.ForeignKeys {
		if fk.ParentSchema == parent.Schema && fk.ParentTable == parent.Name {
			return true
		}
	}
	return false
}

func (t *Tx) insert(n Name, cols []string, rows int) string {
	d := t.a.d
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.QuoteName(n))
	b.WriteString(" (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.QuoteIdent(c))
	}
	b.WriteString(") VALUES ")
	p := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for i := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.Placeholder(p))
			p++
		}
		b.WriteString(")")
	}
	return b.String()
}

// where builds the condition finding the changed row: its primary key, or
// for a keyless table every column of the full before image. args start
// at placeholder index first.
func (t *Tx) where(sh *shape, ch *ordering.Change, first int) (string, []any, error) {
	d := t.a.d
	var conds []string
	var args []any
	if len(sh.key) > 0 {
		img := ch.Before
		if img == nil || img[sh.key[0]].IsUnchanged() {
			img = ch.After
		}
		if img == nil {
			return "", nil, &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("no image holds the primary key")}
		}
		for _, k := range sh.key {
			p, err := t.param(sh, k, img[k], ch.Op)
			if err != nil {
				return "", nil, err
			}
			conds = append(conds, d.QuoteIdent(sh.src.Columns[k].Name)+" = "+d.Placeholder(first+len(args)))
			args = append(args, p)
		}
		return strings.Join(conds, " AND "), args, nil
	}
	if ch.Before == nil {
		return "", nil, &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: ErrNoKey}
	}
	for i, v := range ch.Before {
		if v.IsUnchanged() {
			return "", nil, &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: ErrNoKey}
		}
		p, err := t.param(sh, i, v, ch.Op)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, d.NullSafeEqual(d.QuoteIdent(sh.src.Columns[i].Name), d.Placeholder(first+len(args))))
		args = append(args, p)
	}
	cond := strings.Join(conds, " AND ")
	// One row only: identical rows of a keyless table are distinct rows.
	q := d.QuoteName(sh.name)
	switch d.Engine() {
	case "postgres":
		cond = "ctid = (SELECT ctid FROM " + q + " WHERE " + cond + " LIMIT 1)"
	case "sqlite":
		cond = "rowid = (SELECT rowid FROM " + q + " WHERE " + cond + " LIMIT 1)"
	}
	return cond, args, nil
}

// setList is the SET list of update ch: the values it sent, an unchanged
// key left out (SQLite counts a parent key in SET as modified and checks
// every referencing row; sameKey reports it).
func (t *Tx) setList(sh *shape, ch *ordering.Change) (sets []string, args []any, sameKey bool, err error) {
	d := t.a.d
	sameKey = len(sh.key) > 0 && (ch.Before == nil || !ordering.KeyChanged(sh.src, sh.src.PrimaryKey, ch))
	for i, v := range ch.After {
		if v.IsUnchanged() || sameKey && slices.Contains(sh.key, i) {
			continue
		}
		p, err := t.param(sh, i, v, ch.Op)
		if err != nil {
			return nil, nil, false, err
		}
		sets = append(sets, d.QuoteIdent(sh.src.Columns[i].Name)+" = "+d.Placeholder(len(args)))
		args = append(args, p)
	}
	return sets, args, sameKey, nil
}

func (t *Tx) update(ctx context.Context, sh *shape, ch *ordering.Change) error {
	d := t.a.d
	sets, args, sameKey, err := t.setList(sh, ch)
	if err != nil {
		return err
	}
	if len(sets) == 0 {
		if !sameKey {
			return nil // nothing the source sent changed
		}
		// Nothing but the key: the row must still be there.
		k := sh.key[0]
		p, err := t.param(sh, k, ch.After[k], ch.Op)
		if err != nil {
			return err
		}
		sets, args = []string{d.QuoteIdent(sh.src.Columns[k].Name) + " = " + d.Placeholder(0)}, []any{p}
	}
	cond, wargs, err := t.where(sh, ch, len(args))
	if err != nil {
		return err
	}
	q := "UPDATE " + d.QuoteName(sh.name) + " SET " + strings.Join(sets, ", ") + " WHERE " + cond
	if len(sh.key) == 0 && d.Engine() == "mysql" {
		q += " LIMIT 1"
	}
	if err := t.exec(ctx, sh, ch.Op, q, append(args, wargs...)); err != nil {
		return err
	}
	return t.cascade(ctx, sh, ch)
}

func (t *Tx) delete(ctx context.Context, sh *shape, ch *ordering.Change) error {
	d := t.a.d
	cond, args, err := t.where(sh, ch, 0)
	if err != nil {
		return err
	}
	q := "DELETE FROM " + d.QuoteName(sh.name) + " WHERE " + cond
	if len(sh.key) == 0 && d.Engine() == "mysql" {
		q += " LIMIT 1"
	}
	if err := t.exec(ctx, sh, ch.Op, q, args); err != nil {
		return err
	}
	return t.cascade(ctx, sh, ch)
}

// exec runs an update or delete that must change exactly one row.
func (t *Tx) exec(ctx context.Context, sh *shape, op ordering.Op, q string, args []any) error {
	t.a.stats.statements.Add(1)
	res, err := t.run(ctx, q, args)
	if err != nil {
		return t.fail(sh, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.fail(sh, op, err)
	}
	if n == 0 {
		if sh.src.Backfilling {
			return nil // its snapshot chunk, read after this change, comes later
		}
		return &ChangeError{Table: sh.name.String(), Op: op, Err: ErrNoRow}
	}
	return nil
}

// maxStmts bounds the statements a SQLite transaction keeps prepared.
const maxStmts = 64

// run executes a data statement. On SQLite, in-process, where preparing
// is a good part of a statement's cost, the transaction keeps its
// statements prepared and reuses them (the engine closes them with the
// transaction); elsewhere the driver's own statement handling is used.
func (t *Tx) run(ctx context.Context, q string, args []any) (sql.Result, error) {
	if t.a.d.Engine() != "sqlite" {
		return t.tx.ExecContext(ctx, q, args...)
	}
	st := t.stmts[q]
	if st == nil {
		if len(t.stmts) >= maxStmts {
			for k, old := range t.stmts {
				old.Close()
				delete(t.stmts, k)
			}
		}
		var err error
		if st, err = t.tx.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		if t.stmts == nil {
			t.stmts = map[string]*sql.Stmt{}
		}
		t.stmts[q] = st
	}
	return st.ExecContext(ctx, args...)
}

// complete reports whether row holds every column's value (none left out
// as unchanged, such as PostgreSQL's unchanged TOAST values).
func complete(row []ordering.Value) bool {
	for _, v := range row {
		if v.IsUnchanged() {
			return false
		}
	}
	return row != nil
}
