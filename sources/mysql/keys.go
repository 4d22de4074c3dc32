package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering"
)

// keyCache adds what the binlog does not carry — unique keys, foreign
// keys and the period columns of a system-versioned table — to table
// shapes, from information_schema. A table's keys are read once and again
// after DDL touching it (forget). The shape returned is a copy per binlog
// shape, so every event of one shape shares one Table.
type keyCache struct {
	db     *sql.DB
	keys   map[string]tableKeys           // schema.table -> keys
	shapes map[*ordering.Table]keyedShape // binlog shape -> shape with keys
}

type tableKeys struct {
	unique [][]string
	fks    []ordering.ForeignKey
	serial bool
	period *sysPeriod // system-versioned: its period columns (versioning.go)
}

// keyedShape is the shape changes of one binlog shape are published
// with, and, for a system-versioned table, how its rows translate.
type keyedShape struct {
	table *ordering.Table
	sv    *sysVersioning
}

func newKeyCache(db *sql.DB) *keyCache {
	return &keyCache{db: db, keys: map[string]tableKeys{}, shapes: map[*ordering.Table]keyedShape{}}
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
	k, ok := c.keys[t.QualifiedName()]
	if !ok {
		var err error
		if k, err = c.load(ctx, t.Schema, t.Name); err != nil {
			return nil, nil, err
		}
		c.keys[t.QualifiedName()] = k
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
	rows, err = c.db.QueryContext(ctx, `SELECT CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
		FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION`, schema, table)
	if err != nil {
		return k, fmt.Errorf("foreign keys of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	fks := map[string]*ordering.ForeignKey{}
	var names []string
	for rows.Next() {
		var name, col, ps, pt, pc string
		if err := rows.Scan(&name, &col, &ps, &pt, &pc); err != nil {
			return k, err
		}
		fk := fks[name]
		if fk == nil {
			fk = &ordering.ForeignKey{ParentSchema: ps, ParentTable: pt}
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
	return k, rows.Err()
}

// matches reports whether schema.table matches one of the patterns.
func matches(patterns []string, schema, table string) bool {
	return config.MatchTable(patterns, schema, table)
}
