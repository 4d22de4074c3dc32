package sqlsink

import (
	"context"
	"database/sql"
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

// EnsureSchema implements sinks.Follower. It runs the DDL on connections
// of its own, outside any data transaction.
func (a *Applier) EnsureSchema(ctx context.Context, source string, tables []*ordering.Table) error {
	return a.ensureAll(ctx, source, tables, nil)
}

// EnsureSchema on a Tx evolves the schema from inside a data transaction
// (a big transaction whose shapes are only known as it streams). Engines
// with transactional DDL run it in the transaction; MySQL, whose DDL would
// commit the transaction, runs it on another connection.
func (t *Tx) EnsureSchema(ctx context.Context, source string, tables []*ordering.Table) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	if t.a.d.Engine() == "mysql" {
		return t.a.ensureAll(ctx, source, tables, nil)
	}
	return t.a.ensureAll(ctx, source, tables, t.tx)
}

// ensureAll resolves shapes one at a time (schemaMu), never holding mu
// during I/O: a worker inside a transaction may need mu meanwhile.
func (a *Applier) ensureAll(ctx context.Context, source string, tables []*ordering.Table, tx *sql.Tx) error {
	for _, t := range tables {
		a.mu.Lock()
		_, ok := a.shapes[t]
		a.mu.Unlock()
		if ok {
			continue
		}
		a.schemaMu.Lock()
		sh, err := a.ensure(ctx, source, t, tx)
		a.schemaMu.Unlock()
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.shapes[t] = sh
		a.mu.Unlock()
	}
	return nil
}

// execer runs DDL in a transaction or on the pool.
func (a *Applier) exec(ctx context.Context, tx *sql.Tx, q string) error {
	var err error
	if tx != nil {
		_, err = tx.ExecContext(ctx, q)
	} else {
		_, err = a.db.ExecContext(ctx, q)
	}
	return err
}

// columns introspects n, in tx when given.
func (a *Applier) columns(ctx context.Context, tx *sql.Tx, n Name) ([]FollowerColumn, bool, error) {
	if tx != nil {
		return a.d.Columns(ctx, tx, n)
	}
	own, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer own.Rollback()
	return a.d.Columns(ctx, own, n)
}

func (a *Applier) ensure(ctx context.Context, source string, t *ordering.Table, tx *sql.Tx) (*shape, error) {
	name := a.target(t)
	owner := source + " " + t.QualifiedName()
	a.mu.Lock()
	prev, clash := a.owners[name]
	if !clash {
		a.owners[name] = owner
	}
	a.mu.Unlock()
	if clash && prev != owner {
		return nil, fmt.Errorf("%w: %s and %s both map to %s; rename one in the sink's tables mapping", ErrNameClash, prev, owner, name)
	}
	srcEngine := a.cfg.SourceEngines[source]

	ft := a.tables[name]
	if ft == nil {
		cols, exists, err := a.columns(ctx, tx, name)
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
			for _, ddl := range append(a.d.CreateTable(name, defs, t.PrimaryKey), a.cascadeIndexes(name, t)...) {
				if err := a.exec(ctx, tx, ddl); err != nil {
					return nil, fmt.Errorf("create follower table %s: %w", name, err)
				}
			}
			a.log.Info("created follower table", "table", name.String(), "from", owner, "columns", len(defs))
			cols, _, err = a.columns(ctx, tx, name)
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
	if err := a.evolve(ctx, tx, ft, t, srcEngine); err != nil {
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
func (a *Applier) evolve(ctx context.Context, tx *sql.Tx, ft *table, t *ordering.Table, srcEngine string) error {
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
			if err := a.exec(ctx, tx, a.d.AddColumn(ft.name, def)); err != nil {
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
			if err := a.exec(ctx, tx, a.d.DropColumn(ft.name, name)); err != nil {
				return fmt.Errorf("drop column %s of %s: %w", name, ft.name, err)
			}
			delete(ft.cols, name)
			a.log.Info("dropped follower column", "table", ft.name.String(), "column", name)
		case !fc.Nullable:
			if err := a.exec(ctx, tx, a.d.DropNotNull(ft.name, ColumnDef{Name: name, Type: fc.Type})); err != nil {
				return fmt.Errorf("make column %s of %s nullable: %w", name, ft.name, err)
			}
			fc.Nullable = true
			ft.cols[name] = fc
			a.log.Info("kept dropped column as nullable", "table", ft.name.String(), "column", name)
		}
	}
	return nil
}
