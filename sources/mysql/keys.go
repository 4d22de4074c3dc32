package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering"
)

// keyCache adds what the binlog does not carry — unique keys, foreign
// keys, the foreign-key actions InnoDB performs without logging them and
// the period columns of a system-versioned table — to table shapes, from
// information_schema. A table's keys are read once and again after DDL
// touching it (forget). The shape returned is a copy per binlog shape, so
// every event of one shape shares one Table.
type keyCache struct {
	db     *sql.DB
	keys   map[string]tableKeys           // schema.table -> keys
	shapes map[*ordering.Table]keyedShape // binlog shape -> shape with keys
	// captured says which tables the source captures: cascades into the
	// others are not carried (their follower tables are left alone).
	captured func(schema, table string) bool
	// logged is set when the server writes cascaded rows to the binlog
	// itself (MySQL's SQL-layer foreign keys): then no cascade is carried.
	logged bool
	// mariadb says how information_schema shows defaults (defaults.go).
	mariadb bool
}

type tableKeys struct {
	unique [][]string
	fks    []ordering.ForeignKey
	serial bool
	period *sysPeriod // system-versioned: its period columns (versioning.go)
	// refs are the foreign keys referencing the table with an action that
	// changes child rows (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT),
	// from captured child tables.
	refs []ordering.Cascade
	// defaults are the column defaults by column name (defaults.go).
	defaults map[string]*ordering.Default
	// indexes are the secondary indexes (indexes.go).
	indexes []ordering.Index
	checks  []ordering.Check
}

// keyedShape is the shape changes of one binlog shape are published
// with, and, for a system-versioned table, how its rows translate.
type keyedShape struct {
	table *ordering.Table
	sv    *sysVersioning
}

func newKeyCache(db *sql.DB, captured func(schema, table string) bool) *keyCache {
	return &keyCache{db: db, keys: map[string]tableKeys{}, shapes: map[*ordering.Table]keyedShape{}, captured: captured}
}

// keysOf returns the cached keys of schema.table, loading them if needed.
func (c *keyCache) keysOf(ctx context.Context, schema, table string) (tableKeys, error) {
	q := schema + "." + table
	if k, ok := c.keys[q]; ok {
		return k, nil
	}
	k, err := c.load(ctx, schema, table)
	if err != nil {
		return k, err
	}
	c.keys[q] = k
	return k, nil
}

// cascades is the closure of the unlogged foreign-key actions a change of
// schema.table can set off: the actions of the foreign keys referencing
// it, then of those referencing their child tables, and so on (each table
// once: self-references and cycles end).
func (c *keyCache) cascades(ctx context.Context, schema, table string) ([]ordering.Cascade, error) {
	if c.logged {
		return nil, nil
	}
	type name struct{ schema, table string }
	seen := map[name]bool{{schema, table}: true}
	queue := []name{{schema, table}}
	var out []ordering.Cascade
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		k, err := c.keysOf(ctx, n.schema, n.table)
		if err != nil {
			return nil, err
		}
		for _, r := range k.refs {
			out = append(out, r)
			child := name{r.ChildSchema, r.ChildTable}
			if !seen[child] {
				seen[child] = true
				queue = append(queue, child)
			}
		}
	}
	return out, nil
}

// forget drops what is known of a table (after DDL); "" forgets all.
func (c *keyCache) forget(qualified string) {
	if qualified == "" {
		clear(c.keys)
		clear(c.shapes)
		return
	}
	delete(c.keys, qualified)
	for k := range c.shapes {
		if k.QualifiedName() == qualified {
			delete(c.shapes, k)
		}
	}
}

// withKeys returns t with its unique and foreign keys (see view).
func (c *keyCache) withKeys(ctx context.Context, t *ordering.Table) (*ordering.Table, error) {
	s, _, err := c.view(ctx, t)
	return s, err
}

// view returns the shape changes of t are published with: t with its
// unique and foreign keys and, when t is a binlog shape of a
// system-versioned table, without its period columns; sv then translates
// its rows (nil for other tables).
func (c *keyCache) view(ctx context.Context, t *ordering.Table) (*ordering.Table, *sysVersioning, error) {
	binlog := t
	if s, ok := c.shapes[t]; ok {
		return s.table, s.sv, nil
	}
	k, err := c.keysOf(ctx, t.Schema, t.Name)
	if err != nil {
		return nil, nil, err
	}
	casc, err := c.cascades(ctx, t.Schema, t.Name)
	if err != nil {
		return nil, nil, err
	}
	var sv *sysVersioning
	if k.period != nil {
		v, stripped, found, err := newSysVersioning(t, k.period)
		if err != nil {
			return nil, nil, err
		}
		if found {
			sv, t = v, stripped
		}
	}
	s := *t
	s.UniqueKeys, s.ForeignKeys, s.Serial = nil, nil, t.Serial || k.serial
	for _, uk := range k.unique {
		if hasColumns(t, uk) {
			s.UniqueKeys = append(s.UniqueKeys, uk)
		} else {
			s.Serial = true // the catalog and the binlog disagree: stay safe
		}
	}
	for _, fk := range k.fks {
		if hasColumns(t, fk.Columns) {
			s.ForeignKeys = append(s.ForeignKeys, fk)
		} else {
			s.Serial = true
		}
	}
	for _, r := range casc {
		if r.ParentSchema == t.Schema && r.ParentTable == t.Name && !hasColumns(t, r.ParentColumns) {
			s.Serial = true // the catalog and the binlog disagree: stay safe
		}
	}
	s.Cascades = casc
	s.Checks = k.checks
	s.Indexes = nil
	for _, ix := range k.indexes {
		if indexOn(t, ix) {
			s.Indexes = append(s.Indexes, ix)
		}
	}
	if len(k.defaults) > 0 {
		s.Columns = append([]ordering.Column(nil), s.Columns...)
		for i := range s.Columns {
			s.Columns[i].Default = k.defaults[s.Columns[i].Name]
		}
	}
	if len(c.shapes) > 10000 {
		clear(c.shapes)
	}
	c.shapes[binlog] = keyedShape{table: &s, sv: sv}
	return &s, sv, nil
}

func hasColumns(t *ordering.Table, cols []string) bool {
	for _, c := range cols {
		if t.ColumnIndex(c) < 0 {
			return false
		}
	}
	return true
}

func (c *keyCache) load(ctx context.Context, schema, table string) (tableKeys, error) {
	var k tableKeys
	var err error
	if k.period, err = catalogPeriod(ctx, c.db, schema, table); err != nil {
		return k, err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT s.INDEX_NAME, s.COLUMN_NAME, s.SUB_PART IS NOT NULL
		FROM information_schema.STATISTICS s
		WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0 AND s.INDEX_NAME <> 'PRIMARY'
		ORDER BY s.INDEX_NAME, s.SEQ_IN_INDEX`, schema, table)
	if err != nil {
		return k, fmt.Errorf("unique keys of %s.%s: %w", schema, table, err)
	}
	byIndex := map[string][]string{}
	var order []string
	for rows.Next() {
		var idx string
		var col sql.NullString
		var prefix bool
		if err := rows.Scan(&idx, &col, &prefix); err != nil {
			rows.Close()
			return k, err
		}
		if !col.Valid || prefix {
			// An expression or prefix index: conflicts cannot be keyed.
			k.serial = true
			continue
		}
		if _, ok := byIndex[idx]; !ok {
			order = append(order, idx)
		}
		byIndex[idx] = append(byIndex[idx], col.String)
	}
	rows.Close()
	for _, idx := range order {
		// A system-versioned table's unique keys end with ROW END: the
		// current rows are unique without it.
		k.unique = append(k.unique, k.period.without(byIndex[idx]))
	}
	rows, err = c.db.QueryContext(ctx, `SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME,
			k.REFERENCED_COLUMN_NAME, COALESCE(rc.DELETE_RULE, ''), COALESCE(rc.UPDATE_RULE, '')
		FROM information_schema.KEY_COLUMN_USAGE k
		LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA
			AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND rc.TABLE_NAME = k.TABLE_NAME
		WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION`, schema, table)
	if err != nil {
		return k, fmt.Errorf("foreign keys of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	fks := map[string]*ordering.ForeignKey{}
	var names []string
	for rows.Next() {
		var name, col, ps, pt, pc, del, upd string
		if err := rows.Scan(&name, &col, &ps, &pt, &pc, &del, &upd); err != nil {
			return k, err
		}
		fk := fks[name]
		if fk == nil {
			fk = &ordering.ForeignKey{ParentSchema: ps, ParentTable: pt}
			if !c.logged && (c.captured == nil || c.captured(ps, pt)) {
				fk.OnDelete, fk.OnUpdate = action(del), action(upd)
			}
			fks[name] = fk
			names = append(names, name)
		}
		fk.Columns = append(fk.Columns, col)
		fk.ParentColumns = append(fk.ParentColumns, pc)
	}
	sort.Strings(names)
	for _, n := range names {
		k.fks = append(k.fks, *fks[n])
	}
	if err := rows.Err(); err != nil {
		return k, err
	}
	rows.Close()
	if k.refs, err = c.loadRefs(ctx, schema, table); err != nil {
		return k, err
	}
	if k.defaults, err = loadDefaults(ctx, c.db, schema, table, c.mariadb); err != nil {
		return k, err
	}
	if k.indexes, err = loadIndexes(ctx, c.db, schema, table, c.mariadb); err != nil {
		return k, err
	}
	if k.checks, err = loadChecks(ctx, c.db, schema, table, c.mariadb); err != nil {
		return k, err
	}
	return k, nil
}

// loadRefs reads the foreign keys of captured tables that reference
// schema.table with an action changing child rows.
func (c *keyCache) loadRefs(ctx context.Context, schema, table string) ([]ordering.Cascade, error) {
	if c.logged {
		return nil, nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.DELETE_RULE, rc.UPDATE_RULE,
			k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME
		FROM information_schema.REFERENTIAL_CONSTRAINTS rc
		JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA
			AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME
		WHERE k.REFERENCED_TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME = ?
			AND (rc.DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT') OR rc.UPDATE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT'))
		ORDER BY rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("foreign keys referencing %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var out []ordering.Cascade
	var last string
	for rows.Next() {
		var cs, ct, name, del, upd, col, pcol string
		if err := rows.Scan(&cs, &ct, &name, &del, &upd, &col, &pcol); err != nil {
			return nil, err
		}
		if c.captured != nil && !c.captured(cs, ct) {
			continue // not captured: its follower table is left alone
		}
		if id := cs + "\x00" + ct + "\x00" + name; id != last || len(out) == 0 {
			last = id
			out = append(out, ordering.Cascade{ChildSchema: cs, ChildTable: ct, ParentSchema: schema, ParentTable: table,
				OnDelete: action(del), OnUpdate: action(upd)})
		}
		r := &out[len(out)-1]
		r.Columns = append(r.Columns, col)
		r.ParentColumns = append(r.ParentColumns, pcol)
	}
	return out, rows.Err()
}

// action maps a DELETE_RULE or UPDATE_RULE to the action a sink replays;
// RESTRICT and NO ACTION change no child row.
func action(rule string) ordering.Action {
	switch a := ordering.Action(rule); a {
	case ordering.ActionCascade, ordering.ActionSetNull, ordering.ActionSetDefault:
		return a
	}
	return ""
}

// errUnknownVariable is ER_UNKNOWN_SYSTEM_VARIABLE.
const errUnknownVariable = 1193

// cascadesLogged reports whether the server writes the rows its foreign-key
// actions change to the binlog. MariaDB never does (InnoDB performs them
// below the binlog); MySQL does from 9.6 on, where the SQL layer performs
// them, unless innodb_native_foreign_keys is ON.
func cascadesLogged(ctx context.Context, db *sql.DB, flavor string) (bool, error) {
	if flavor == "mariadb" {
		return false, nil
	}
	var native string
	err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.innodb_native_foreign_keys").Scan(&native)
	var me *gomysql.MySQLError
	switch {
	case errors.As(err, &me) && me.Number == errUnknownVariable:
		return false, nil // before 9.6: InnoDB's own foreign keys
	case err != nil:
		return false, fmt.Errorf("read innodb_native_foreign_keys: %w", err)
	}
	return native == "0" || strings.EqualFold(native, "OFF"), nil
}

// matches reports whether schema.table matches one of the patterns.
func matches(patterns []string, schema, table string) bool {
	return config.MatchTable(patterns, schema, table)
}
