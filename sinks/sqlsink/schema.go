package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/walship/walship/ordering"
)

// ErrIncompatible is wrapped when a source column changed in a way the
// follower table cannot follow.
var ErrIncompatible = errors.New("incompatible schema change")

// ErrNameClash is wrapped when two source tables map to one follower table.
var ErrNameClash = errors.New("two source tables map to one follower table")

// target is the follower name of a source table.
func (a *Applier) target(t *ordering.Table) Name {
	if r, ok := a.cfg.Rename[t.Schema+"."+t.Name]; ok {
		if s, tbl, ok := strings.Cut(r, "."); ok && a.d.Engine() == "postgres" {
			return Name{Schema: s, Table: tbl}
		}
		return a.d.Target(t.Schema, r)
	}
	n := a.d.Target(t.Schema, t.Name)
	n.Table = a.cfg.Prefix + n.Table
	return n
}

// EnsureSchema implements sinks.Follower.
func (a *Applier) EnsureSchema(ctx context.Context, source string, tables []*ordering.Table) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range tables {
		if _, ok := a.shapes[t]; ok {
			continue
		}
		sh, err := a.ensure(ctx, source, t)
		if err != nil {
			return err
		}
		a.shapes[t] = sh
	}
	return nil
}

func (a *Applier) ensure(ctx context.Context, source string, t *ordering.Table) (*shape, error) {
	name := a.target(t)
	owner := source + " " + t.QualifiedName()
	if prev, ok := a.owners[name]; ok && prev != owner {
		return nil, fmt.Errorf("%w: %s and %s both map to %s; rename one in the sink's tables mapping", ErrNameClash, prev, owner, name)
	}
	a.owners[name] = owner
	srcEngine := a.cfg.SourceEngines[source]

	ft := a.tables[name]
	if ft == nil {
		tx, err := a.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		cols, exists, err := a.d.Columns(ctx, tx, name)
		tx.Rollback()
		if err != nil {
			return nil, fmt.Errorf("inspect follower table %s: %w", name, err)
		}
		if !exists {
			defs := make([]ColumnDef, len(t.Columns))
			for i, c := range t.Columns {
				typ, err := a.d.ColumnType(c, srcEngine)
				if err != nil {
					return nil, fmt.Errorf("create %s: column %s: %w", name, c.Name, err)
				}
				defs[i] = ColumnDef{Name: c.Name, Type: typ, NotNull: !c.Nullable}
			}
			for _, ddl := range a.d.CreateTable(name, defs, t.PrimaryKey) {
				if _, err := a.db.ExecContext(ctx, ddl); err != nil {
					return nil, fmt.Errorf("create follower table %s: %w", name, err)
				}
			}
			a.log.Info("created follower table", "table", name.String(), "from", owner, "columns", len(defs))
			tx, err := a.db.BeginTx(ctx, nil)
			if err != nil {
				return nil, err
			}
			cols, _, err = a.d.Columns(ctx, tx, name)
			tx.Rollback()
			if err != nil {
				return nil, fmt.Errorf("inspect follower table %s: %w", name, err)
			}
		}
		ft = &table{name: name, cols: map[string]FollowerColumn{}, mapped: map[string]string{}}
		for _, c := range cols {
			ft.cols[c.Name] = c
		}
		if !exists {
			for _, c := range t.Columns {
				ft.mapped[c.Name], _ = a.d.ColumnType(c, srcEngine)
			}
		}
		a.tables[name] = ft
	}
	if err := a.evolve(ctx, ft, t, srcEngine); err != nil {
		return nil, err
	}
	sh := &shape{name: name, src: t}
	for _, k := range t.PrimaryKey {
		sh.key = append(sh.key, t.ColumnIndex(k))
	}
	return sh, nil
}

// evolve brings a follower table to a new source shape: added columns,
// dropped columns, changed types.
func (a *Applier) evolve(ctx context.Context, ft *table, t *ordering.Table, srcEngine string) error {
	inShape := map[string]bool{}
	for _, c := range t.Columns {
		inShape[c.Name] = true
		want, err := a.d.ColumnType(c, srcEngine)
		if err != nil {
			return fmt.Errorf("table %s: column %s: %w", ft.name, c.Name, err)
		}
		have, ok := ft.cols[c.Name]
		if !ok {
			def := ColumnDef{Name: c.Name, Type: want}
			if _, err := a.db.ExecContext(ctx, a.d.AddColumn(ft.name, def)); err != nil {
				return fmt.Errorf("add column %s to %s: %w", c.Name, ft.name, err)
			}
			a.log.Info("added follower column", "table", ft.name.String(), "column", c.Name, "type", want)
			ft.cols[c.Name] = FollowerColumn{Name: c.Name, Type: strings.ToLower(want), Nullable: true}
			ft.mapped[c.Name] = want
			continue
		}
		if prev, ok := ft.mapped[c.Name]; ok && prev != want && !a.d.TypeCompatible(have.Type, want) {
			return fmt.Errorf("%w: column %s of %s changed from %s to %s at the source; the follower column is %s: alter or rebuild the follower table",
				ErrIncompatible, c.Name, ft.name, prev, want, have.Type)
		}
		ft.mapped[c.Name] = want
	}
	for name, fc := range ft.cols {
		if inShape[name] {
			continue
		}
		switch {
		case a.cfg.DropColumns:
			if _, err := a.db.ExecContext(ctx, a.d.DropColumn(ft.name, name)); err != nil {
				return fmt.Errorf("drop column %s of %s: %w", name, ft.name, err)
			}
			delete(ft.cols, name)
			a.log.Info("dropped follower column", "table", ft.name.String(), "column", name)
		case !fc.Nullable:
			if _, err := a.db.ExecContext(ctx, a.d.DropNotNull(ft.name, ColumnDef{Name: name, Type: fc.Type})); err != nil {
				return fmt.Errorf("make column %s of %s nullable: %w", name, ft.name, err)
			}
			fc.Nullable = true
			ft.cols[name] = fc
			a.log.Info("kept dropped column as nullable", "table", ft.name.String(), "column", name)
		}
	}
	return nil
}
