package sqlsink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
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
	if t.a.d.Engine() != "mysql" {
		for _, tbl := range tables {
			t.ddl = append(t.ddl, t.a.target(tbl))
		}
		return t.a.ensureAll(ctx, source, tables, t.tx)
	}
	// MySQL: DDL commits, so it runs on another connection, where it would
	// wait for this transaction's own metadata lock on a table it changed.
	// Then this transaction is rolled back first, the DDL runs, and the
	// transaction is applied again from its start (ErrSchemaRetry), with
	// the follower table already in its new shape.
	for _, tbl := range tables {
		t.a.mu.Lock()
		_, cached := t.a.shapes[tbl]
		t.a.mu.Unlock()
		if cached || !t.touched[t.a.target(tbl)] {
			continue
		}
		need, err := t.a.needsDDL(ctx, source, tbl)
		if err != nil {
			return err
		}
		if need {
			t.tx.Rollback()
			if err := t.a.ensureAll(ctx, source, tables, nil); err != nil {
				return err
			}
			return fmt.Errorf("%w: %s changed shape in the middle of a transaction that had already changed it", ErrSchemaRetry, t.a.target(tbl))
		}
	}
	return t.a.ensureAll(ctx, source, tables, nil)
}

// ErrSchemaRetry: the follower's schema had to change under a transaction
// that could not hold the change (MySQL's DDL cannot run inside it); the
// change was made and the transaction must be applied again from its
// start. Retryable.
var ErrSchemaRetry = errors.New("schema changed under a follower transaction: apply it again")

// needsDDL reports whether ensuring t's shape would change the follower
// table (read from the follower's catalog, no lock beyond a read).
func (a *Applier) needsDDL(ctx context.Context, source string, t *ordering.Table) (bool, error) {
	name := a.target(t)
	cols, exists, err := a.columns(ctx, nil, name)
	if err != nil {
		return false, fmt.Errorf("inspect follower table %s: %w", name, err)
	}
	if !exists {
		return true, nil
	}
	if a.dropsIndexes(name, t, a.cfg.SourceEngines[source]) {
		return true, nil
	}
	have := map[string]FollowerColumn{}
	for _, c := range cols {
		have[c.Name] = c
	}
	srcEngine := a.cfg.SourceEngines[source]
	inShape := map[string]bool{}
	for _, c := range t.Columns {
		inShape[c.Name] = true
		want, err := a.d.ColumnType(c, srcEngine)
		if err != nil {
			return false, fmt.Errorf("table %s: column %s: %w", name, c.Name, err)
		}
		fc, ok := have[c.Name]
		if !ok || !a.d.TypeCompatible(fc.Type, want) {
			return true, nil
		}
	}
	if a.cfg.DropColumns {
		for n := range have {
			if !inShape[n] {
				return true, nil
			}
		}
	}
	return false, nil
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
	if IsMeta(a.d.Engine(), name) {
		// walship's own bookkeeping: never altered to take a source's rows.
		return nil, fmt.Errorf("%w: %s maps to follower table %s, whose name walship keeps for its positions; map it to another name "+
			"(the sink's tables.rename or tables.prefix)", ErrNameClash, owner, name)
	}
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
	if len(t.Columns) == 0 {
		// A truncate of a table the source dropped without knowing its
		// shape any more: the follower table is emptied if it exists,
		// never created or changed.
		_, exists, err := a.columns(ctx, tx, name)
		if err != nil {
			return nil, fmt.Errorf("inspect follower table %s: %w", name, err)
		}
		return &shape{name: name, src: t, absent: !exists}, nil
	}

	ft := a.tables[name]
	if ft == nil {
		created := false
		cols, exists, err := a.columns(ctx, tx, name)
		if err != nil {
			return nil, fmt.Errorf("inspect follower table %s: %w", name, err)
		}
		if exists && isLegacyMeta(name, cols) {
			return nil, fmt.Errorf("%w: %s maps to follower table %s, which still holds positions of sinks an earlier walship wrote "+
				"(each sink moves its rows to %s when it starts on this version): start those sinks once, or map the table to another name "+
				"(the sink's tables.rename or tables.prefix)", ErrNameClash, owner, name, a.posT)
		}
		if !exists {
			if cols, exists, err = a.renameFrom(ctx, tx, t, name); err != nil {
				return nil, err
			}
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
			created = true
			cols, _, err = a.columns(ctx, tx, name)
			if err != nil {
				return nil, fmt.Errorf("inspect follower table %s: %w", name, err)
			}
		}
		ft = &table{name: name, cols: map[string]FollowerColumn{}}
		for _, c := range cols {
			ft.cols[c.Name] = c
		}
		if ft.src, ft.stored, err = a.loadShape(ctx, tx, name); err != nil {
			return nil, err
		}
		if err := a.loadIndexes(ctx, tx, ft); err != nil {
			return nil, err
		}
		if created {
			var ex execer = a.db
			if tx != nil {
				ex = tx
			}
			// A table of this name dropped earlier left its records.
			if _, err := ex.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE sink = %s AND tbl = %s", a.d.QuoteName(a.indexT),
				a.d.Placeholder(0), a.d.Placeholder(1)), a.cfg.Sink, name.String()); err != nil && a.cfg.Sink != "" {
				return nil, fmt.Errorf("clear %s of %s: %w", a.indexT, name, err)
			}
			if err := a.recordIndex(ctx, ex, ft, wantIndex{kind: kindTable, ddl: "created"}, false); err != nil {
				return nil, err
			}
			ft.created = true
		}
		a.tables[name] = ft
	}
	if err := a.evolve(ctx, tx, ft, t, srcEngine); err != nil {
		return nil, err
	}
	if err := a.indexShape(ctx, tx, source, ft, t); err != nil {
		return nil, err
	}
	sh := &shape{name: name, src: t, types: map[string]string{}}
	for n, c := range ft.cols {
		sh.types[n] = c.Type
	}
	for _, k := range t.PrimaryKey {
		sh.key = append(sh.key, t.ColumnIndex(k))
	}
	return sh, nil
}

// evolve brings a follower table to a new source shape: added columns,
// dropped columns, changed types.
func (a *Applier) evolve(ctx context.Context, tx *sql.Tx, ft *table, t *ordering.Table, srcEngine string) (err error) {
	if err := a.renamed(ctx, tx, ft, t); err != nil {
		return err
	}
	if err := a.narrowed(ctx, tx, ft, t, srcEngine); err != nil {
		return err
	}
	if err := a.rewritten(ctx, tx, ft, t); err != nil {
		return err
	}
	changed := false
	defer func() {
		if err == nil {
			err = a.saveShape(ctx, tx, ft, t)
		}
		if err == nil {
			ft.src = t // a stop stays a stop when the batch is retried
		}
		if err == nil && changed && a.cfg.Sink != "" {
			// Verify after DDL: the one table to compare.
			a.log.Info("follower table changed with its source's schema; compare it", "table", ft.name.String(),
				"command", "walship verify --sink "+a.cfg.Sink+" --tables "+t.QualifiedName())
		}
	}()
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
			if err := a.columnDefault(ctx, tx, ft, t, c, &def); err != nil {
				return err
			}
			if err := a.exec(ctx, tx, a.d.AddColumn(ft.name, def)); err != nil {
				return fmt.Errorf("add column %s to %s: %w", c.Name, ft.name, err)
			}
			changed = true
			a.log.Info("added follower column", "table", ft.name.String(), "column", c.Name, "type", want,
				"with_default", def.Default != "")
			ft.cols[c.Name] = FollowerColumn{Name: c.Name, Type: strings.ToLower(want), Nullable: true}
			continue
		}
		// Every column is checked against the follower's real type, for
		// tables walship did not create and for changes made while it was
		// stopped: a narrower column would round or truncate.
		if !a.d.TypeCompatible(have.Type, want) {
			if err := a.widen(ctx, tx, ft, have, c, want); err != nil {
				return err
			}
			changed = true
		}
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
			changed = true
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

// ColumnTypeError is a follower column narrower than its source column
// that the sink cannot widen without changing values (or whose ALTER the
// follower refused). It wraps ErrIncompatible, and Err when an ALTER
// failed.
type ColumnTypeError struct {
	Table      string // follower table
	Column     string
	SourceType string // the source's type name
	Want       string // the follower type the source column maps to
	Have       string // the follower column's type
	Err        error  // the failed ALTER's error, or nil
}

func (e *ColumnTypeError) Error() string {
	msg := fmt.Sprintf("%s: column %s of %s is %s on the follower, which does not hold every value of the source's %s (needs %s)",
		ErrIncompatible, e.Column, e.Table, e.Have, e.SourceType, e.Want)
	if e.Err != nil {
		return msg + "; widening it failed: " + e.Err.Error()
	}
	return msg + ", and the follower cannot widen it without changing stored values: alter the follower column to " +
		e.Want + " (or wider) or rebuild the table, then restart"
}

// Unwrap returns ErrIncompatible and the ALTER's error.
func (e *ColumnTypeError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrIncompatible, e.Err}
	}
	return []error{ErrIncompatible}
}

// widen alters follower column have of ft to a type taking every value of
// source column c (mapped to want) and every value it holds, or returns a
// ColumnTypeError. It never narrows a column.
func (a *Applier) widen(ctx context.Context, tx *sql.Tx, ft *table, have FollowerColumn, c ordering.Column, want string) error {
	cerr := &ColumnTypeError{Table: ft.name.String(), Column: c.Name, SourceType: c.Type, Want: want, Have: have.Type}
	typ, ok := a.d.WidenType(have.Type, want)
	if !ok {
		return cerr
	}
	var ddl string
	err := a.inTx(ctx, tx, func(tx *sql.Tx) error {
		var err error
		ddl, err = a.d.AlterType(ctx, tx, ft.name, have, typ)
		return err
	})
	if err == nil {
		err = a.exec(ctx, tx, ddl)
	}
	if err != nil {
		cerr.Err = err
		return cerr
	}
	cols, _, err := a.columns(ctx, tx, ft.name)
	if err != nil {
		return fmt.Errorf("inspect follower table %s: %w", ft.name, err)
	}
	for _, fc := range cols {
		if fc.Name == c.Name {
			ft.cols[c.Name] = fc
		}
	}
	if now := ft.cols[c.Name]; !a.d.TypeCompatible(now.Type, want) {
		cerr.Have, cerr.Err = now.Type, fmt.Errorf("the column is %s after the ALTER", now.Type)
		return cerr
	}
	a.log.Info("widened follower column", "table", ft.name.String(), "column", c.Name, "from", have.Type,
		"to", ft.cols[c.Name].Type, "source_type", c.Type)
	return nil
}

// inTx runs f in tx, or in a read transaction of its own.
func (a *Applier) inTx(ctx context.Context, tx *sql.Tx, f func(*sql.Tx) error) error {
	if tx != nil {
		return f(tx)
	}
	own, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer own.Rollback()
	return f(own)
}

// ErrNotInLog is wrapped when the source changed rows by a schema change
// that wrote no row to its log (a column added with a volatile default),
// so the follower cannot follow.
var ErrNotInLog = errors.New("a schema change changed rows the log does not carry")

// DefaultError is a column the source added with a default whose values
// in the rows it already held are not in the log (Default.Expr), to a
// follower table that holds rows. It wraps ErrNotInLog.
type DefaultError struct {
	Source string // source table
	Table  string // follower table
	Column string
	Expr   string // the source's default expression
}

func (e *DefaultError) Error() string {
	return fmt.Sprintf("%s: column %s was added to %s with DEFAULT %s, which gave the rows the table already held values "+
		"the source's log does not carry; follower table %s holds rows, which would read NULL. Add the column to %s yourself "+
		"with the source's values and restart the sink, or rebuild the follower from a new snapshot (walship replay --resnapshot)",
		ErrNotInLog, e.Column, e.Source, e.Expr, e.Table, e.Table)
}

// Unwrap returns ErrNotInLog.
func (e *DefaultError) Unwrap() error { return ErrNotInLog }

// columnDefault sets def.Default to the literal of source column c's
// default, so that the follower's existing rows read what the source's
// do; or stops with a DefaultError when those values are not in the log
// and the follower table holds rows.
func (a *Applier) columnDefault(ctx context.Context, tx *sql.Tx, ft *table, t *ordering.Table, c ordering.Column, def *ColumnDef) error {
	d := c.Default
	switch {
	case d == nil:
		return nil
	case d.Constant():
		lit, err := a.d.Literal(c, d.Value)
		if err != nil {
			return fmt.Errorf("add column %s to %s with the source's default: %w", c.Name, ft.name, err)
		}
		def.Default = lit
		return nil
	case d.Expr == "":
		return nil
	}
	if empty, err := a.empty(ctx, tx, ft.name); err != nil || empty {
		return err // no row to give a value
	}
	return &DefaultError{Source: t.QualifiedName(), Table: ft.name.String(), Column: c.Name, Expr: d.Expr}
}

// empty reports whether follower table n holds no row.
func (a *Applier) empty(ctx context.Context, tx *sql.Tx, n Name) (bool, error) {
	var one int
	err := a.inTx(ctx, tx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT 1 FROM "+a.d.QuoteName(n)+" LIMIT 1").Scan(&one)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("inspect follower table %s: %w", n, err)
	}
	return false, nil
}

// RenameError is a shape change that both adds columns to a follower
// table and takes others away: a RENAME COLUMN, or a DROP COLUMN and an
// ADD COLUMN between two rows, which neither source's log tells apart.
// Adding the new column would leave the follower's existing rows NULL
// where a renamed column holds values at the source, so the sink stops.
// It wraps ErrNotInLog.
type RenameError struct {
	Source   string   // source table
	Table    string   // follower table
	Added    []string // columns in the new shape, not on the follower
	Vanished []string // follower columns the previous shape had, not the new one
}

func (e *RenameError) Error() string {
	return fmt.Sprintf("%s: in %s, column(s) %s appeared and %s vanished in one schema change: a RENAME COLUMN, or a DROP COLUMN "+
		"and an ADD COLUMN, which the source's log does not tell apart. On follower table %s, rename the column yourself if it "+
		"was renamed (ALTER TABLE … RENAME COLUMN %s TO %s), or drop the old one if it was dropped, then restart the sink",
		ErrNotInLog, e.Source, strings.Join(e.Added, ", "), strings.Join(e.Vanished, ", "), e.Table, e.Vanished[0], e.Added[0])
}

// Unwrap returns ErrNotInLog.
func (e *RenameError) Unwrap() error { return ErrNotInLog }

// renamed returns a *RenameError when t adds columns to ft, which holds
// rows, while columns of ft vanish from it: those the previous shape this
// process saw had, or, for the first shape a process sees, any follower
// column t lacks (a column kept after an earlier drop then stops the sink
// too, when a column was added across the restart; drop it on the
// follower, or set drop_columns).
func (a *Applier) renamed(ctx context.Context, tx *sql.Tx, ft *table, t *ordering.Table) error {
	if t.Recreated {
		return nil // a truncate of the old table's rows comes first
	}
	var added, vanished []string
	for _, c := range t.Columns {
		if _, ok := ft.cols[c.Name]; !ok {
			added = append(added, c.Name)
		}
	}
	if len(added) == 0 {
		return nil
	}
	for name := range ft.cols {
		if t.ColumnIndex(name) < 0 && (ft.src == nil || ft.src.ColumnIndex(name) >= 0) {
			vanished = append(vanished, name)
		}
	}
	if len(vanished) == 0 {
		return nil
	}
	if empty, err := a.empty(ctx, tx, ft.name); err != nil || empty {
		return err // no row to lose (a table emptied and created again)
	}
	sort.Strings(vanished)
	return &RenameError{Source: t.QualifiedName(), Table: ft.name.String(), Added: added, Vanished: vanished}
}

// TypeChangeError is a column whose type the source changed in a way that
// rounds the values the table held (fewer decimal places, fewer
// fractional-second digits, a decimal or float made an integer, a double
// made a single-precision float): the
// source's ALTER rewrote them without writing them to its log. It wraps
// ErrNotInLog.
type TypeChangeError struct {
	Source   string // source table
	Table    string // follower table
	Column   string
	From, To string // the source's types before and after
}

func (e *TypeChangeError) Error() string {
	return fmt.Sprintf("%s: column %s of %s changed from %s to %s at the source, which rounds the values the table held without "+
		"writing them to the log; follower table %s holds rows. Change the follower column the same way yourself (to %s, rounding "+
		"as the source did; on SQLite, round the values and run walship accept-ddl --sink SINK --tables %s) and restart the sink, "+
		"or rebuild the follower from a new snapshot (walship replay --resnapshot)",
		ErrNotInLog, e.Column, e.Source, e.From, e.To, e.Table, e.To, e.Source)
}

// Unwrap returns ErrNotInLog.
func (e *TypeChangeError) Unwrap() error { return ErrNotInLog }

// narrowed returns a *TypeChangeError when a column of t rounds the values
// of the same column in the previous shape this process saw of the table
// (or recorded in the follower: shapes.go), and the follower table holds
// rows, unless the follower column is no wider than the new type (the
// user changed it as the stop says; SQLite's columns take any value, so
// there walship accept-ddl says so).
func (a *Applier) narrowed(ctx context.Context, tx *sql.Tx, ft *table, t *ordering.Table, srcEngine string) error {
	if ft.src == nil || t.Recreated {
		return nil
	}
	for _, c := range t.Columns {
		i := ft.src.ColumnIndex(c.Name)
		if i < 0 || !rounds(ft.src.Columns[i], c) {
			continue
		}
		if have, ok := ft.cols[c.Name]; ok && a.d.Engine() != "sqlite" {
			// Changed the same way on the follower already (the way out):
			// the new type holds every value the follower column can.
			if want, err := a.d.ColumnType(c, srcEngine); err == nil && a.d.TypeCompatible(want, have.Type) {
				continue
			}
		}
		if empty, err := a.empty(ctx, tx, ft.name); err != nil || empty {
			return err
		}
		return &TypeChangeError{Source: t.QualifiedName(), Table: ft.name.String(), Column: c.Name, From: ft.src.Columns[i].Type, To: c.Type}
	}
	return nil
}

// RewriteError is a table whose stored rows the source rewrote by an
// expression after the shape the follower recorded (ordering.Rewrite: an
// ALTER … TYPE … USING): the new values are not in the log. It wraps
// ErrNotInLog.
type RewriteError struct {
	Source    string // source table
	Table     string // follower table
	Sink      string
	At        string // the source's position of the rewrite
	Statement string
}

func (e *RewriteError) Error() string {
	stmt := e.Statement
	if len(stmt) > 200 {
		stmt = stmt[:200] + "…"
	}
	return fmt.Sprintf("%s: %s was rewritten at the source (at %s) by a statement that gave its rows new values the log does not "+
		"carry: %q; follower table %s holds the old values. Rebuild the follower from a new snapshot (walship replay --resnapshot), or "+
		"change its rows the same way yourself, run walship accept-ddl --sink %s --tables %s, and restart the sink",
		ErrNotInLog, e.Source, e.At, stmt, e.Table, e.Sink, e.Source)
}

// Unwrap returns ErrNotInLog.
func (e *RewriteError) Unwrap() error { return ErrNotInLog }

// rewritten returns a *RewriteError when t carries a rewrite of its rows
// that the shape the follower recorded does not, and the follower table
// holds rows. A table without a recorded shape (a follower of an earlier
// version, or one walship accept-ddl released) takes t's as its own.
func (a *Applier) rewritten(ctx context.Context, tx *sql.Tx, ft *table, t *ordering.Table) error {
	if t.Rewrite == nil || ft.src == nil || t.Recreated {
		return nil
	}
	if ft.src.Rewrite != nil && ft.src.Rewrite.At == t.Rewrite.At {
		return nil
	}
	if empty, err := a.empty(ctx, tx, ft.name); err != nil || empty {
		return err
	}
	return &RewriteError{Source: t.QualifiedName(), Table: ft.name.String(), Sink: a.cfg.Sink, At: t.Rewrite.At, Statement: t.Rewrite.Statement}
}

// rounds reports whether converting values of column from into column to
// may round them.
func rounds(from, to ordering.Column) bool {
	fsp := func(c ordering.Column) int {
		if c.Precision < 0 {
			return 6
		}
		return c.Precision
	}
	switch {
	case (from.Kind == ordering.KindDecimal || from.Kind == ordering.KindFloat) && (to.Kind == ordering.KindInt || to.Kind == ordering.KindUint):
		return true
	case from.Kind == ordering.KindFloat && to.Kind == ordering.KindDecimal:
		return true
	case from.Kind == ordering.KindFloat && to.Kind == ordering.KindFloat:
		return !single(from.Type) && single(to.Type) // double to single precision
	case from.Kind == ordering.KindDecimal && to.Kind == ordering.KindDecimal:
		return to.Scale >= 0 && (from.Scale < 0 || to.Scale < from.Scale)
	case from.Kind == to.Kind && (to.Kind == ordering.KindTimestamp || to.Kind == ordering.KindTimestampTZ || to.Kind == ordering.KindTime):
		return fsp(to) < fsp(from)
	}
	return false
}

// single reports a single-precision floating-point type name: PostgreSQL
// real (float4), MySQL FLOAT.
func single(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "real" || typ == "float4" || strings.HasPrefix(typ, "float") && !strings.HasPrefix(typ, "float8")
}

// renameFrom renames the follower table of t.RenamedFrom to name, when t
// was renamed at the source and that table exists, and returns its columns.
func (a *Applier) renameFrom(ctx context.Context, tx *sql.Tx, t *ordering.Table, name Name) ([]FollowerColumn, bool, error) {
	schema, table, ok := strings.Cut(t.RenamedFrom, ".")
	if !ok {
		return nil, false, nil
	}
	old := a.target(&ordering.Table{Schema: schema, Name: table})
	if old == name {
		return nil, false, nil
	}
	if _, exists, err := a.columns(ctx, tx, old); err != nil || !exists {
		return nil, false, err
	}
	ddl := a.d.RenameTable(old, name)
	if ddl == "" {
		return nil, false, nil
	}
	if err := a.exec(ctx, tx, ddl); err != nil {
		return nil, false, fmt.Errorf("rename follower table %s to %s: %w", old, name, err)
	}
	if err := a.moveShape(ctx, tx, old, name); err != nil {
		return nil, false, err
	}
	a.mu.Lock()
	delete(a.tables, old)
	delete(a.owners, old)
	a.mu.Unlock()
	a.log.Info("renamed follower table", "from", old.String(), "to", name.String(), "source", t.QualifiedName())
	cols, exists, err := a.columns(ctx, tx, name)
	if err != nil {
		return nil, false, fmt.Errorf("inspect follower table %s: %w", name, err)
	}
	return cols, exists, nil
}
