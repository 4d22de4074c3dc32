package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/walship/walship/ordering"
)

// Cascades the source did not log (ordering.Cascade): MariaDB's InnoDB
// deletes, updates or nulls child rows for ON DELETE/UPDATE CASCADE and
// SET NULL without writing them to the binlog. The applier replays them on
// the follower right after the parent change that set them off, in the
// same follower transaction, so the follower passes through the states the
// source did: the child rows the source engine changed are exactly the
// follower's child rows that reference the parent's old key at that point
// of the transaction, because the follower held the source's state before
// the transaction (commits in source order) and has applied the changes of
// the transaction that came before (log order).
//
// The statements are set-based (DELETE/UPDATE child WHERE fk = old key)
// and do not require any row to match. When the child table's own rows are
// referenced by further cascades, the referenced columns of the rows about
// to change are read first, and the cascade goes on from each of them
// (two-level chains, self-references), up to InnoDB's limit of 15 levels.
//
// Parallel apply: a change that sets off a cascade makes its transaction a
// writeset barrier (ordering.Writeset), so it runs alone, after every
// earlier transaction and before every later one.

// ErrCascade is wrapped when a foreign-key action of the source cannot be
// replayed on the follower.
var ErrCascade = errors.New("cannot replay the source's foreign-key action")

// maxCascadeDepth is InnoDB's limit on nested cascades: a source statement
// going deeper fails, so a deeper replay means a cycle gone wrong.
const maxCascadeDepth = 15

// cascade replays the cascades ch sets off; ch has just been applied.
func (t *Tx) cascade(ctx context.Context, sh *shape, ch *ordering.Change) error {
	src := sh.src
	for i := range src.Cascades {
		c := &src.Cascades[i]
		if c.ParentSchema != src.Schema || c.ParentTable != src.Name {
			continue
		}
		del := ch.Op == ordering.OpDelete
		var act ordering.Action
		switch ch.Op {
		case ordering.OpDelete:
			act = c.OnDelete
		case ordering.OpUpdate:
			act = c.OnUpdate
			if act != "" && !ordering.KeyChanged(src, c.ParentColumns, ch) {
				act = ""
			}
		}
		if act == "" {
			continue
		}
		old, err := t.keyParams(sh, ch.Before, c, ch.Op, "before")
		if err != nil {
			return err
		}
		var newKey []any
		if !del && act == ordering.ActionCascade {
			if newKey, err = t.keyParams(sh, ch.After, c, ch.Op, "after"); err != nil {
				return err
			}
		}
		if err := t.act(ctx, src.Cascades, c, del, act, old, newKey, 1); err != nil {
			return err
		}
	}
	return nil
}

// keyParams are the parameters of the parent's referenced columns in row.
func (t *Tx) keyParams(sh *shape, row []ordering.Value, c *ordering.Cascade, op ordering.Op, which string) ([]any, error) {
	out := make([]any, len(c.ParentColumns))
	for j, col := range c.ParentColumns {
		i := sh.src.ColumnIndex(col)
		if row == nil || i < 0 || i >= len(row) || row[i].IsUnchanged() {
			return nil, &ChangeError{Table: sh.name.String(), Op: op, Err: fmt.Errorf(
				"%w: the source sent no %s value of column %s, referenced by %s.%s (set binlog_row_image=FULL)",
				ErrCascade, which, col, c.ChildSchema, c.ChildTable)}
		}
		p, err := t.param(sh, i, row[i], op)
		if err != nil {
			return nil, err
		}
		out[j] = p
	}
	return out, nil
}

// act applies action a of cascade c to the follower's child rows whose
// columns equal old, the parent's key before it was deleted (parentDeleted)
// or updated: deletes them (ON DELETE CASCADE), sets the columns to NULL
// (SET NULL) or to newKey (ON UPDATE CASCADE). Then it goes on with the
// child table's own cascades that the change sets off.
func (t *Tx) act(ctx context.Context, all []ordering.Cascade, c *ordering.Cascade, parentDeleted bool, a ordering.Action,
	old, newKey []any, depth int) error {
	del := parentDeleted && a == ordering.ActionCascade // the child rows go
	for _, v := range old {
		if v == nil {
			return nil // a key with a NULL part is referenced by no row
		}
	}
	name := t.a.target(&ordering.Table{Schema: c.ChildSchema, Name: c.ChildTable})
	if into := t.a.cfg.CascadeInto; into != nil && !into(c.ChildSchema, c.ChildTable) {
		// Left alone; but the tables that are not must not depend on it.
		if far := reaches(all, c, into); far != "" {
			return &ChangeError{Table: name.String(), Op: opOf(parentDeleted), Err: fmt.Errorf(
				"%w: the foreign-key actions of %s.%s reach %s through %s.%s, whose follower table is left alone: include it too",
				ErrCascade, c.ParentSchema, c.ParentTable, far, c.ChildSchema, c.ChildTable)}
		}
		return nil
	}
	if depth > maxCascadeDepth {
		return &ChangeError{Table: name.String(), Op: opOf(del), Err: fmt.Errorf(
			"%w: cascades nested deeper than %d levels (the source allows no more)", ErrCascade, maxCascadeDepth)}
	}
	if a == ordering.ActionSetDefault {
		return &ChangeError{Table: name.String(), Op: opOf(del), Err: fmt.Errorf(
			"%w: ON %s SET DEFAULT of the foreign key from %s.%s to %s.%s: the follower's defaults are not the source's",
			ErrCascade, strings.ToUpper(opName(opOf(parentDeleted))), c.ChildSchema, c.ChildTable, c.ParentSchema, c.ParentTable)}
	}
	ok, err := t.followerHas(ctx, name)
	if err != nil || !ok {
		return err // no follower table: no rows to change
	}
	d := t.a.d

	// The child table's cascades this change sets off.
	var next []*ordering.Cascade
	for i := range all {
		n := &all[i]
		if n.ParentSchema != c.ChildSchema || n.ParentTable != c.ChildTable {
			continue
		}
		if del && n.OnDelete != "" || !del && n.OnUpdate != "" && overlaps(n.ParentColumns, c.Columns) {
			next = append(next, n)
		}
	}
	var cols []string
	for _, n := range next {
		for _, col := range n.ParentColumns {
			if !slices.Contains(cols, col) {
				cols = append(cols, col)
			}
		}
	}

	var sets []string
	var args []any
	if !del {
		for j, col := range c.Columns {
			var v any
			if a == ordering.ActionCascade {
				v = newKey[j]
			}
			sets = append(sets, d.QuoteIdent(col)+" = "+d.Placeholder(len(args)))
			args = append(args, v)
		}
	}
	where := func(first int) string {
		conds := make([]string, len(c.Columns))
		for j, col := range c.Columns {
			conds[j] = d.QuoteIdent(col) + " = " + d.Placeholder(first+j)
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, old...)

	// Read what the next cascades need of the rows about to change.
	var rows [][]any
	if len(cols) > 0 {
		quoted := make([]string, len(cols))
		for i, col := range cols {
			quoted[i] = d.QuoteIdent(col)
		}
		q := "SELECT " + strings.Join(quoted, ", ") + " FROM " + d.QuoteName(name) + where(0)
		if rows, err = t.query(ctx, q, old, len(cols)); err != nil {
			return serverError(d, name.String(), opOf(del), err)
		}
	}

	var q string
	if del {
		q = "DELETE FROM " + d.QuoteName(name) + where(0)
	} else {
		q = "UPDATE " + d.QuoteName(name) + " SET " + strings.Join(sets, ", ") + where(len(sets))
	}
	if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
		return serverError(d, name.String(), opOf(del), err)
	}

	for _, r := range rows {
		for _, n := range next {
			nOld := make([]any, len(n.ParentColumns))
			for j, col := range n.ParentColumns {
				nOld[j] = r[slices.Index(cols, col)]
			}
			na := n.OnDelete
			var nNew []any
			if !del {
				na = n.OnUpdate
				if na == ordering.ActionCascade {
					// The referenced columns as the action left them.
					nNew = slices.Clone(nOld)
					for j, col := range n.ParentColumns {
						if k := slices.Index(c.Columns, col); k >= 0 {
							nNew[j] = nil
							if a == ordering.ActionCascade {
								nNew[j] = newKey[k]
							}
						}
					}
				}
			}
			if err := t.act(ctx, all, n, del, na, nOld, nNew, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// query reads all rows of q (width columns each) as driver values, which
// go back as parameters of the next statements.
func (t *Tx) query(ctx context.Context, q string, args []any, width int) ([][]any, error) {
	rs, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out [][]any
	for rs.Next() {
		row := make([]any, width)
		ptrs := make([]any, width)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rs.Err()
}

// followerHas reports whether the follower has table n (a child table no
// change of which reached this follower yet may be missing: then it has no
// rows either). Only a table seen is remembered.
func (t *Tx) followerHas(ctx context.Context, n Name) (bool, error) {
	t.a.mu.Lock()
	ok := t.a.present[n]
	t.a.mu.Unlock()
	if ok {
		return true, nil
	}
	_, exists, err := t.a.d.Columns(ctx, t.tx, n)
	if err != nil {
		return false, fmt.Errorf("inspect follower table %s: %w", n, err)
	}
	if exists {
		t.a.mu.Lock()
		t.a.present[n] = true
		t.a.mu.Unlock()
	}
	return exists, nil
}

// reaches names a table into accepts that the cascades below c's child
// table lead to, or "".
func reaches(all []ordering.Cascade, c *ordering.Cascade, into func(schema, table string) bool) string {
	seen := map[string]bool{c.ChildSchema + "." + c.ChildTable: true}
	queue := []*ordering.Cascade{c}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for i := range all {
			n := &all[i]
			if n.ParentSchema != from.ChildSchema || n.ParentTable != from.ChildTable {
				continue
			}
			if into(n.ChildSchema, n.ChildTable) {
				return n.ChildSchema + "." + n.ChildTable
			}
			if q := n.ChildSchema + "." + n.ChildTable; !seen[q] {
				seen[q] = true
				queue = append(queue, n)
			}
		}
	}
	return ""
}

// ApplyCascades replays the cascades ch sets off without applying ch: a
// replay of some tables applies the changes of the other tables only for
// their foreign-key actions on the tables it rebuilds.
func (t *Tx) ApplyCascades(ctx context.Context, ch *ordering.Change) error {
	if len(ch.Table.Cascades) == 0 || !ch.Table.Cascading(ch) {
		return nil
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	return t.cascade(ctx, &shape{name: t.a.target(ch.Table), src: ch.Table}, ch)
}

// cascadeIndexes is the DDL indexing, on a follower table walship creates,
// the columns of each foreign key whose unlogged actions it replays (InnoDB
// has that index on the source), so a replayed cascade finds its rows by
// index rather than by scanning the table. A key that begins the primary
// key needs none.
func (a *Applier) cascadeIndexes(n Name, t *ordering.Table) []string {
	var out []string
	seen := map[string]bool{}
	for _, fk := range t.ForeignKeys {
		id := strings.Join(fk.Columns, "\x00")
		if fk.OnDelete == "" && fk.OnUpdate == "" || seen[id] || len(fk.Columns) == 0 ||
			len(fk.Columns) <= len(t.PrimaryKey) && slices.Equal(fk.Columns, t.PrimaryKey[:len(fk.Columns)]) {
			continue
		}
		seen[id] = true
		cols := make([]string, len(fk.Columns))
		for i, c := range fk.Columns {
			if t.ColumnIndex(c) < 0 {
				cols = nil
				break
			}
			cols[i] = a.d.QuoteIdent(c)
		}
		if cols == nil {
			continue
		}
		out = append(out, "CREATE INDEX "+a.d.QuoteIdent(indexName(n.Table, fk.Columns))+" ON "+a.d.QuoteName(n)+
			" ("+strings.Join(cols, ", ")+")")
	}
	return out
}

// indexName is <table>_<columns>_fk, shortened with a hash to fit every
// engine's 63-character limit. It names the table: SQLite's index names
// are per database, PostgreSQL's per schema.
func indexName(table string, cols []string) string {
	name := table + "_" + strings.Join(cols, "_") + "_fk"
	if len(name) <= 60 {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s_%08x_fk", strings.ToValidUTF8(name[:48], ""), h.Sum32())
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func opOf(del bool) ordering.Op {
	if del {
		return ordering.OpDelete
	}
	return ordering.OpUpdate
}
