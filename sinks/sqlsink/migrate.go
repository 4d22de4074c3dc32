package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrPositionsTwice is returned by Prepare when a sink's positions are
// both in walship's tables and in the tables of an earlier version: an
// earlier walship ran again after this one moved them, and which of the
// two is current cannot be told.
var ErrPositionsTwice = errors.New("positions recorded twice")

// legacyColumns are the columns of the positions and applied tables of
// versions that kept them as walship_positions and walship_applied.
var legacyColumns = map[string][]string{
	LegacyPositionsTable: {"sink", "source", "seq", "position", "commit_ts", "offsets", "applied_at"},
	LegacyAppliedTable:   {"sink", "source", "seq", "position", "commit_ts"},
}

// isLegacyMeta reports whether the follower table n, with columns cols,
// is the positions or applied table of an earlier walship: its name and
// exactly its columns.
func isLegacyMeta(n Name, cols []FollowerColumn) bool {
	for name, want := range legacyColumns {
		if !strings.EqualFold(n.Table, name) || len(cols) != len(want) {
			continue
		}
		same := true
		for i, c := range cols {
			same = same && strings.EqualFold(c.Name, want[i])
		}
		if same {
			return true
		}
	}
	return false
}

// migrate moves this sink's rows out of the tables of earlier versions
// (walship_positions and walship_applied, unqualified: the connection's
// default schema or database) into MetaNames, in one follower transaction
// under the sink's lock, so a restart on this version resumes exactly where
// the earlier one stopped. It drops the old tables once no sink's rows are
// left in them; other sinks sharing the follower move theirs when they
// start. Nothing to move is not an error.
func (a *Applier) migrate(ctx context.Context) error {
	oldPos, oldApp := Name{Table: LegacyPositionsTable}, Name{Table: LegacyAppliedTable}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	cols, ok, err := a.d.Columns(ctx, tx, oldPos)
	if err != nil || !ok || !isLegacyMeta(oldPos, cols) {
		return err
	}
	cols, appOK, err := a.d.Columns(ctx, tx, oldApp)
	if err != nil {
		return err
	}
	appOK = appOK && isLegacyMeta(oldApp, cols)

	ph := a.d.Placeholder(0)
	count := func(n Name, where bool) (int, error) {
		q := "SELECT count(*) FROM " + a.d.QuoteName(n)
		var args []any
		if where {
			q += " WHERE sink = " + ph
			args = append(args, a.cfg.Sink)
		}
		var c int
		err := tx.QueryRowContext(ctx, q, args...).Scan(&c)
		return c, err
	}
	old, err := count(oldPos, true)
	if err != nil {
		return fmt.Errorf("read %s: %w", oldPos, err)
	}
	if old > 0 {
		have, err := count(a.posT, true)
		if err != nil {
			return fmt.Errorf("read %s: %w", a.posT, err)
		}
		if have > 0 {
			return fmt.Errorf("%w: sink %s has positions in %s and in %s, which an earlier walship wrote after this version had moved them: "+
				"delete the sink's rows from the table that is stale (the older applied_at) and start again", ErrPositionsTwice, a.cfg.Sink, a.posT, oldPos)
		}
		move := func(from, to Name, cols string) error {
			q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s WHERE sink = %s",
				a.d.QuoteName(to), cols, cols, a.d.QuoteName(from), ph)
			if _, err := tx.ExecContext(ctx, q, a.cfg.Sink); err != nil {
				return fmt.Errorf("move the positions of sink %s from %s to %s: %w", a.cfg.Sink, from, to, err)
			}
			return nil
		}
		if err := move(oldPos, a.posT, a.identList(legacyColumns[LegacyPositionsTable])); err != nil {
			return err
		}
		if appOK {
			if err := move(oldApp, a.appT, a.identList(legacyColumns[LegacyAppliedTable])); err != nil {
				return err
			}
		}
	}
	for _, n := range []Name{oldPos, oldApp} {
		if n == oldApp && !appOK {
			continue
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+a.d.QuoteName(n)+" WHERE sink = "+ph, a.cfg.Sink); err != nil {
			return fmt.Errorf("move the positions of sink %s out of %s: %w", a.cfg.Sink, n, err)
		}
	}
	if err := a.fence(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if old > 0 {
		a.log.Info("moved the sink's positions to walship's own tables", "sink", a.cfg.Sink, "from", oldPos.String(), "to", a.posT.String())
	}
	return a.dropLegacy(ctx, oldPos, oldApp, appOK)
}

// dropLegacy drops the earlier version's tables when no sink's rows are
// left in them.
func (a *Applier) dropLegacy(ctx context.Context, oldPos, oldApp Name, appOK bool) error {
	tables := []Name{oldPos}
	if appOK {
		tables = append([]Name{oldApp}, tables...)
	}
	for _, n := range tables {
		var left int
		if err := a.db.QueryRowContext(ctx, "SELECT count(*) FROM "+a.d.QuoteName(n)).Scan(&left); err != nil {
			return fmt.Errorf("read %s: %w", n, err)
		}
		if left > 0 {
			return nil // another sink's rows: it moves them when it starts
		}
	}
	for _, n := range tables {
		if _, err := a.db.ExecContext(ctx, "DROP TABLE "+a.d.QuoteName(n)); err != nil {
			return fmt.Errorf("drop %s, emptied into walship's own tables: %w", n, err)
		}
	}
	a.log.Info("dropped the tables of an earlier walship, now empty", "tables", len(tables))
	return nil
}

// identList quotes and joins names.
func (a *Applier) identList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = a.d.QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}
