package sqlsink

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/walship/walship/ordering"
)

// Folding: the row changes of a follower transaction (up to a batch of
// source transactions) are held back in a window and written as their net
// effect per key, since only the transaction's final state is ever
// visible on the follower. Inserts gather per table into multi-row
// statements, tables written parents first (by the shapes' foreign keys);
// an update of a row inserted in the window is folded into the insert, an
// update of a row updated in the window into that update (one UPDATE of
// the union of the changed columns, with the last values), a delete of a
// row inserted in the window removes the insert. The held updates are
// written after the inserts. Everything else (a delete of an older row, a
// truncate, a change that changes a primary key, a change of a keyless
// table, a change that sets off a replayed cascade, an update of a table
// with unique keys whose before image does not show them unchanged)
// writes the window first and is then applied as it comes, so nothing is
// moved past it.
//
// Why the order may change: the follower commits the window's changes in
// one transaction, and the final state is the source's, so only the
// statements on the way must succeed. A held update changes neither the
// row's primary key nor (as far as the follower can tell) a unique key, so
// it conflicts with no insert of another row; its row exists at the start
// of the window (or is inserted in it); and an update that made a row
// reference a parent inserted in the window is written after that insert.
// Where the follower still refuses the folded statements (constraints the
// source does not have, a self-referencing table on MySQL, whose foreign
// keys are checked row by row), the window is rolled back to a savepoint
// and applied change by change in log order, so the outcome never depends
// on folding. A savepoint is taken only for a window whose statements are
// not in log order, at most maxSavepoints per transaction (PostgreSQL's
// subtransaction cache); past that the transaction is applied unfolded.
//
// Triggers on the follower see the net statements: a row inserted and
// updated in one window fires one INSERT trigger with its last values, a
// row updated many times one UPDATE trigger, a row inserted and deleted
// none; statement order differs from the source's as above.

// maxSavepoints bounds the savepoints of one follower transaction.
const maxSavepoints = 32

// window is the changes held back for folding.
type window struct {
	groups  []*insGroup // first seen first
	byShape map[*shape]*insGroup
	upd     []*updEntry
	byKey   map[foldKey]*updEntry
	// raw are the held changes in log order, for the unfolded fallback.
	raw         []heldChange
	rows, bytes int
	// inOrder: writing the groups then the updates is log order, and
	// nothing was folded.
	inOrder bool
	last    *insGroup
	updSeen bool
}

type heldChange struct {
	sh *shape
	ch *ordering.Change
}

type foldKey struct {
	sh  *shape
	key string
}

// insGroup is the held inserts of one table.
type insGroup struct {
	sh   *shape
	rows [][]ordering.Value // after images (copied before a fold changes one); nil: inserted and deleted in the window
	at   map[string]int     // key -> index in rows (keyed tables)
}

// updEntry is the held update of one row.
type updEntry struct {
	sh   *shape
	key  []any       // the key's parameters
	vals map[int]any // column index -> last value
	cols []int       // the columns set, first set first
}

// NoFold implements sinks.Folder: a big transaction streamed from the log
// is applied as it comes (its changes are not held).
func (t *Tx) NoFold() { t.noFold = true }

// hold takes ch into the window, folding it, and reports whether it did;
// when not, the caller writes the window and applies ch itself.
func (t *Tx) hold(ctx context.Context, sh *shape, ch *ordering.Change) (bool, error) {
	if t.noFold {
		return false, nil
	}
	src := sh.src
	keyed := len(sh.key) > 0
	switch ch.Op {
	case ordering.OpInsert:
		row, size := t.row(ch)
		var k string
		if keyed {
			var err error
			if k, err = t.rowKey(sh, row, ch.Op); err != nil {
				return false, err
			}
		}
		w := t.window()
		g := w.byShape[sh]
		if g == nil {
			g = &insGroup{sh: sh}
			if keyed {
				g.at = map[string]int{}
			}
			w.byShape[sh] = g
			w.groups = append(w.groups, g)
		} else if g != w.last {
			w.inOrder = false
		}
		if w.updSeen {
			w.inOrder = false
		}
		w.last = g
		if keyed {
			if _, dup := g.at[k]; dup {
				return false, nil // the follower refuses it as the source would have
			}
			g.at[k] = len(g.rows)
		}
		g.rows = append(g.rows, row)
		w.rows++
		w.bytes += size
		w.raw = append(w.raw, heldChange{sh, ch})
		return true, nil
	case ordering.OpUpdate:
		if !keyed || src.Serial || len(src.Cascades) > 0 && src.Cascading(ch) || ch.After == nil {
			return false, nil
		}
		if ch.Before != nil && ordering.KeyChanged(src, src.PrimaryKey, ch) {
			return false, nil
		}
		for _, uk := range src.UniqueKeys {
			if ch.Before == nil || ordering.KeyChanged(src, uk, ch) {
				return false, nil // it may free or take a unique value
			}
		}
		key, k, err := t.keyOf(sh, ch)
		if err != nil {
			return false, err
		}
		w := t.window()
		if g := w.byShape[sh]; g != nil {
			if i, ok := g.at[k]; ok {
				row := slices.Clone(g.rows[i]) // not the insert's own image
				for c, v := range ch.After {
					if v.IsUnchanged() {
						continue
					}
					w.bytes += valueSize(v)
					row[c] = v
				}
				g.rows[i] = row
				w.inOrder = false
				w.raw = append(w.raw, heldChange{sh, ch})
				return true, nil
			}
		}
		e := w.byKey[foldKey{sh, k}]
		if e == nil {
			e = &updEntry{sh: sh, key: key, vals: map[int]any{}}
			w.byKey[foldKey{sh, k}] = e
			w.upd = append(w.upd, e)
			w.rows++
		} else {
			w.inOrder = false
		}
		w.updSeen = true
		for c, v := range ch.After {
			if v.IsUnchanged() || slices.Contains(sh.key, c) {
				continue // the key is unchanged
			}
			p, err := t.param(sh, c, v, ch.Op)
			if err != nil {
				return false, err
			}
			if _, set := e.vals[c]; !set {
				e.cols = append(e.cols, c)
			}
			e.vals[c] = p
			w.bytes += paramSize(p)
		}
		w.raw = append(w.raw, heldChange{sh, ch})
		return true, nil
	case ordering.OpDelete:
		if !keyed || t.win == nil || len(src.Cascades) > 0 && src.Cascading(ch) {
			return false, nil
		}
		g := t.win.byShape[sh]
		if g == nil {
			return false, nil
		}
		_, k, err := t.keyOf(sh, ch)
		if err != nil {
			return false, err
		}
		i, ok := g.at[k]
		if !ok {
			return false, nil
		}
		g.rows[i] = nil
		delete(g.at, k)
		t.win.inOrder = false
		t.win.raw = append(t.win.raw, heldChange{sh, ch})
		return true, nil
	}
	return false, nil
}

// window returns the open window, opening one.
func (t *Tx) window() *window {
	if t.win == nil {
		t.win = &window{byShape: map[*shape]*insGroup{}, byKey: map[foldKey]*updEntry{}, inOrder: true}
	}
	return t.win
}

// full reports whether the window should be written now.
func (w *window) full() bool {
	return w.rows >= bulkMaxRows || w.bytes >= bulkMaxBytes
}

// row is an insert's after image, and its size.
func (t *Tx) row(ch *ordering.Change) ([]ordering.Value, int) {
	size := 0
	for _, v := range ch.After {
		size += valueSize(v)
	}
	return ch.After, size
}

// keyOf is the primary key of the changed row: its parameters and text.
func (t *Tx) keyOf(sh *shape, ch *ordering.Change) ([]any, string, error) {
	img := ch.Before
	if img == nil || img[sh.key[0]].IsUnchanged() {
		img = ch.After
	}
	if img == nil {
		return nil, "", &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("no image holds the primary key")}
	}
	key := make([]any, len(sh.key))
	for i, k := range sh.key {
		if img[k].IsUnchanged() {
			return nil, "", &ChangeError{Table: sh.name.String(), Op: ch.Op, Err: fmt.Errorf("no image holds the primary key")}
		}
		p, err := t.param(sh, k, img[k], ch.Op)
		if err != nil {
			return nil, "", err
		}
		key[i] = p
	}
	text, err := t.rowKey(sh, img, ch.Op)
	return key, text, err
}

// flushWindow writes the held changes folded: inserts per table, parents
// first, then the updates. When the follower refuses them out of log
// order, it applies them one by one in log order instead.
func (t *Tx) flushWindow(ctx context.Context) error {
	w := t.win
	if w == nil {
		return nil
	}
	t.win = nil
	shs := make([]*shape, len(w.groups))
	for i, g := range w.groups {
		shs[i] = g.sh
	}
	order := childrenFirst(shs)
	for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
		order[i], order[j] = order[j], order[i]
	}
	inOrder := w.inOrder
	for i := range order {
		inOrder = inOrder && order[i] == shs[i]
	}
	t.a.stats.changes.Add(int64(len(w.raw)))
	if inOrder {
		return t.writeWindow(ctx, w, order)
	}
	if t.savepoints >= maxSavepoints {
		t.noFold = true
		return t.writeRaw(ctx, w)
	}
	t.savepoints++
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT walship_fold"); err != nil {
		return fmt.Errorf("savepoint before folded changes: %w", err)
	}
	err := t.writeWindow(ctx, w, order)
	if err == nil {
		if _, err := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT walship_fold"); err != nil {
			return fmt.Errorf("release the savepoint of folded changes: %w", err)
		}
		return nil
	}
	if t.a.d.Retryable(err) {
		return err
	}
	if _, rerr := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT walship_fold"); rerr != nil {
		return fmt.Errorf("%w; and rolling back to the savepoint failed: %w", err, rerr)
	}
	t.a.stats.unfolded.Add(1)
	t.a.log.Debug("the follower refused folded changes; applying them one by one in log order", "changes", len(w.raw))
	return t.writeRaw(ctx, w)
}

// writeWindow writes the groups in order, then the updates.
func (t *Tx) writeWindow(ctx context.Context, w *window, order []*shape) error {
	for _, sh := range order {
		g := w.byShape[sh]
		rows := g.rows[:0] // the window is done with them
		for _, r := range g.rows {
			if r != nil {
				rows = append(rows, r)
			}
		}
		if err := t.writeRows(ctx, sh, ordering.OpInsert, rows); err != nil {
			return err
		}
	}
	return t.writeUpdates(ctx, w.upd)
}

// writeUpdates writes held updates: those of one table that set the same
// columns in multi-row statements (MultiUpdater), the rest one by one.
func (t *Tx) writeUpdates(ctx context.Context, upd []*updEntry) error {
	type group struct {
		sh      *shape
		cols    []int
		entries []*updEntry
	}
	mu, multi := t.a.d.(MultiUpdater)
	var groups []*group
	byCols := map[string]*group{}
	for _, e := range upd {
		if len(e.cols) == 0 {
			// Nothing the source sent changed: the row must still be
			// there (SET key = key).
			for i, k := range e.sh.key {
				e.cols, e.vals[k] = append(e.cols, k), e.key[i]
			}
			if err := t.updateOne(ctx, e); err != nil {
				return err
			}
			continue
		}
		if !multi {
			if err := t.updateOne(ctx, e); err != nil {
				return err
			}
			continue
		}
		cols := slices.Clone(e.cols)
		slices.Sort(cols)
		k := fmt.Sprintf("%p%v", e.sh, cols)
		g := byCols[k]
		if g == nil {
			g = &group{sh: e.sh, cols: cols}
			byCols[k] = g
			groups = append(groups, g)
		}
		g.entries = append(g.entries, e)
	}
	for _, g := range groups {
		src := g.sh.src
		key := make([]string, len(g.sh.key))
		for i, k := range g.sh.key {
			key[i] = src.Columns[k].Name
		}
		cols := make([]string, len(g.cols))
		for i, c := range g.cols {
			cols[i] = src.Columns[c].Name
		}
		types := g.sh.types
		per := max(1, min(maxRows, maxParams/(len(key)+len(cols))))
		for rest := g.entries; len(rest) > 0; {
			chunk := rest[:min(per, len(rest))]
			rest = rest[len(chunk):]
			if len(chunk) == 1 {
				if err := t.updateOne(ctx, chunk[0]); err != nil {
					return err
				}
				continue
			}
			args := make([]any, 0, len(chunk)*(len(key)+len(cols)))
			for _, e := range chunk {
				args = append(args, e.key...)
				for _, c := range g.cols {
					args = append(args, e.vals[c])
				}
			}
			t.a.stats.statements.Add(1)
			res, err := t.tx.ExecContext(ctx, mu.MultiUpdate(g.sh.name, key, cols, types, len(chunk)), args...)
			if err != nil {
				return t.fail(g.sh, ordering.OpUpdate, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return t.fail(g.sh, ordering.OpUpdate, err)
			} else if n != int64(len(chunk)) {
				// A row is missing: one by one, to name the error.
				for _, e := range chunk {
					if err := t.updateOne(ctx, e); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// updateOne writes one held update.
func (t *Tx) updateOne(ctx context.Context, e *updEntry) error {
	d := t.a.d
	{
		var b strings.Builder
		b.WriteString("UPDATE ")
		b.WriteString(d.QuoteName(e.sh.name))
		b.WriteString(" SET ")
		args := make([]any, 0, len(e.cols)+len(e.key))
		for i, c := range e.cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.QuoteIdent(e.sh.src.Columns[c].Name) + " = " + d.Placeholder(len(args)))
			args = append(args, e.vals[c])
		}
		b.WriteString(" WHERE ")
		for i, k := range e.sh.key {
			if i > 0 {
				b.WriteString(" AND ")
			}
			b.WriteString(d.QuoteIdent(e.sh.src.Columns[k].Name) + " = " + d.Placeholder(len(args)))
			args = append(args, e.key[i])
		}
		return t.exec(ctx, e.sh, ordering.OpUpdate, b.String(), args)
	}
}

// writeRaw applies the held changes one by one, in log order.
func (t *Tx) writeRaw(ctx context.Context, w *window) error {
	for _, h := range w.raw {
		var err error
		switch h.ch.Op {
		case ordering.OpInsert:
			err = t.writeRows(ctx, h.sh, ordering.OpInsert, [][]ordering.Value{h.ch.After})
		case ordering.OpUpdate:
			err = t.update(ctx, h.sh, h.ch)
		case ordering.OpDelete:
			err = t.delete(ctx, h.sh, h.ch)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
