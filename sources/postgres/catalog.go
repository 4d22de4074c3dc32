package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

// tableName is a schema-qualified table.
type tableName struct{ Schema, Name string }

func (t tableName) String() string { return t.Schema + "." + t.Name }

// quoted is the SQL identifier form.
func (t tableName) quoted() string {
	return pgx.Identifier{t.Schema, t.Name}.Sanitize()
}

// matches reports whether t matches one of the schema.table patterns.
func matches(patterns []string, t tableName) bool {
	return config.MatchTable(patterns, t.Schema, t.Name)
}

// catalogTable is a table of the catalog as listTables sees it.
type catalogTable struct {
	tableName
	// Partitioned: a partitioned table (relkind 'p'), captured by its
	// root: its rows are those of all its partitions.
	Partitioned bool
}

// listTables returns the ordinary and partitioned tables matching
// patterns; unlogged ones are never in the WAL, and a publication refuses
// them. A partition is listed only when none of its ancestors matches:
// when one does, the partition's rows are captured under that ancestor
// (publish_via_partition_root), never as a table of their own as well.
func listTables(ctx context.Context, conn *pgx.Conn, patterns []string) ([]catalogTable, error) {
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text, c.relkind = 'p',
			ARRAY(SELECT an.nspname::text FROM pg_partition_ancestors(c.oid) WITH ORDINALITY a(relid, ord)
			      JOIN pg_class ac ON ac.oid = a.relid JOIN pg_namespace an ON an.oid = ac.relnamespace
			      WHERE a.relid <> c.oid ORDER BY a.ord),
			ARRAY(SELECT ac.relname::text FROM pg_partition_ancestors(c.oid) WITH ORDINALITY a(relid, ord)
			      JOIN pg_class ac ON ac.oid = a.relid
			      WHERE a.relid <> c.oid ORDER BY a.ord)
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var out []catalogTable
	for rows.Next() {
		var t catalogTable
		var ancSchemas, ancNames []string
		if err := rows.Scan(&t.Schema, &t.Name, &t.Partitioned, &ancSchemas, &ancNames); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if !matches(patterns, t.tableName) || len(ancSchemas) != len(ancNames) {
			continue
		}
		underCaptured := false
		for i := range ancSchemas {
			underCaptured = underCaptured || matches(patterns, tableName{ancSchemas[i], ancNames[i]})
		}
		if !underCaptured {
			out = append(out, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return out, nil
}

// publicationTables returns the tables the publication streams that match
// patterns: exactly what the snapshot must read.
func publicationTables(ctx context.Context, conn *pgx.Conn, pub string, patterns []string) ([]tableName, error) {
	rows, err := conn.Query(ctx, `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2`, pub)
	if err != nil {
		return nil, fmt.Errorf("tables of publication %s: %w", pub, err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableName, error) {
		var t tableName
		return t, r.Scan(&t.Schema, &t.Name)
	})
	if err != nil {
		return nil, fmt.Errorf("tables of publication %s: %w", pub, err)
	}
	var out []tableName
	for _, t := range all {
		if matches(patterns, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// column is one column of a relation as the stream describes it.
type column struct {
	Name    string
	Type    typeRef
	Key     bool // part of the replica identity
	Dropped bool // only from the catalog: attisdropped
}

// relation is a decoded table shape: the model's Table plus the decoders.
type relation struct {
	id      uint32
	table   *ordering.Table
	types   []*pgType // per column
	keyCols []bool    // replica identity columns
	capture bool      // matches the configured patterns
	// after is the shape changes take after the first one of a renamed
	// table, whose shape names the old name (recreate.go); nil otherwise.
	after *ordering.Table
	// partitioned: a partitioned table, whose rows are those of its
	// partitions (set for the snapshot, which reads it without ONLY).
	partitioned bool
	// oldKeyOnly: old row images carry only the key, whatever their type
	// says (a partitioned table with REPLICA IDENTITY FULL and partitions
	// without it).
	oldKeyOnly bool
	// gone: the table was dropped after the change was written; its keys
	// are the stream's replica identity flags.
	gone bool
}

// constraints fills the primary key, unique keys and foreign keys of t
// from the catalog (relid). Unique indexes on expressions or with a
// predicate cannot be keyed: the table is marked Serial. A partitioned
// table's keys are its own (partitioned) indexes, which every partition
// shares.
func constraints(ctx context.Context, conn *pgx.Conn, relid uint32, t *ordering.Table) error {
	rows, err := conn.Query(ctx, `SELECT i.indisprimary,
			i.indexprs IS NOT NULL OR i.indpred IS NOT NULL AS unkeyable,
			ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, ord)
			      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.ord)
		FROM pg_index i WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid
		ORDER BY i.indisprimary DESC, i.indexrelid`, relid)
	if err != nil {
		return fmt.Errorf("keys of %s: %w", t.QualifiedName(), err)
	}
	for rows.Next() {
		var primary, unkeyable bool
		var cols []string
		if err := rows.Scan(&primary, &unkeyable, &cols); err != nil {
			rows.Close()
			return fmt.Errorf("keys of %s: %w", t.QualifiedName(), err)
		}
		switch {
		case unkeyable:
			t.Serial = true
		case primary:
			t.PrimaryKey = cols
		default:
			t.UniqueKeys = append(t.UniqueKeys, cols)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("keys of %s: %w", t.QualifiedName(), err)
	}
	rows, err = conn.Query(ctx, `SELECT
			ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
			      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.ord),
			pn.nspname::text, pc.relname::text,
			ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
			      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.ord)
		FROM pg_constraint c
		JOIN pg_class pc ON pc.oid = c.confrelid
		JOIN pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE c.conrelid = $1 AND c.contype = 'f'
		  -- A foreign key to a partitioned table has internal clones, one
		  -- per partition; the key is the one to the root.
		  AND NOT (c.conparentid <> 0 AND pc.relispartition)
		ORDER BY c.oid`, relid)
	if err != nil {
		return fmt.Errorf("foreign keys of %s: %w", t.QualifiedName(), err)
	}
	fks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ordering.ForeignKey, error) {
		var fk ordering.ForeignKey
		return fk, r.Scan(&fk.Columns, &fk.ParentSchema, &fk.ParentTable, &fk.ParentColumns)
	})
	if err != nil {
		return fmt.Errorf("foreign keys of %s: %w", t.QualifiedName(), err)
	}
	t.ForeignKeys = fks
	if err := indexes(ctx, conn, relid, t); err != nil {
		return err
	}
	return checks(ctx, conn, relid, t)
}

// buildRelation resolves a relation's column types and constraints into a
// new immutable Table. The columns, their types and the replica identity
// key flags are the Relation message's: the table as of the change. Its
// constraints come from the catalog as of now; a table dropped since keeps
// the stream's key flags as its primary key and runs serially (its unique
// and foreign keys are unknown). A type dropped since is ErrTypeGone,
// permanent: restarting would meet it again.
//
// rw, when not nil, gives the table's newest rewrite by an expression
// before position before (rewrites.go).
func buildRelation(ctx context.Context, conn *pgx.Conn, relid uint32, name tableName, cols []column, patterns []string,
	rw *rewrites, before offsets.LSN) (*relation, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = $1)`, relid).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up %s: %w", name, err)
	}
	refs := make([]typeRef, len(cols))
	for i, c := range cols {
		refs[i] = c.Type
	}
	types, err := loadTypes(ctx, conn, refs)
	var gone *typeGoneError
	if errors.As(err, &gone) {
		for _, c := range cols {
			if c.Type.OID == gone.oid {
				return nil, typeGone(c, name)
			}
		}
		// A type a column's type is built on (an array's element, a
		// domain's base).
		return nil, supervise.Permanent(fmt.Errorf("%w: a type the columns of %s use (oid %d) is no longer in the catalog; "+
			"walship cannot decode their values: exclude %s from tables: and rebuild its followers (walship replay --resnapshot)",
			ErrTypeGone, name, gone.oid, name))
	}
	if err != nil {
		return nil, fmt.Errorf("column types of %s: %w", name, err)
	}
	attrs, err := columnAttrs(ctx, conn, relid)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", name, err)
	}
	rel := &relation{id: relid, capture: matches(patterns, name),
		table: &ordering.Table{Schema: name.Schema, Name: name.Name}}
	for _, c := range cols {
		pt := types[c.Type]
		if pt == nil {
			return nil, typeGone(c, name)
		}
		rel.types = append(rel.types, pt)
		rel.keyCols = append(rel.keyCols, c.Key)
		col := pt.column(c.Name, !attrs[c.Name].notNull)
		if col.Default, err = attrs[c.Name].columnDefault(pt); err != nil {
			return nil, fmt.Errorf("default of column %s of %s: %w", c.Name, name, err)
		}
		rel.table.Columns = append(rel.table.Columns, col)
	}
	if !exists {
		// Dropped since: the key flags are the replica identity as of the
		// change (the caller drops them under REPLICA IDENTITY FULL).
		for _, c := range cols {
			if c.Key {
				rel.table.PrimaryKey = append(rel.table.PrimaryKey, c.Name)
			}
		}
		rel.table.Serial = true
		rel.gone = true
		return rel, nil
	}
	if err := constraints(ctx, conn, relid, rel.table); err != nil {
		return nil, err
	}
	if rw != nil && rel.capture {
		if rel.table.Rewrite, err = rw.last(ctx, conn, relid, before); err != nil {
			return nil, fmt.Errorf("rewrites of %s: %w", name, err)
		}
	}
	// A key column the stream does not carry (dropped since) cannot key rows.
	for _, k := range append(append([]string{}, rel.table.PrimaryKey...), flatten(rel.table.UniqueKeys)...) {
		if rel.table.ColumnIndex(k) < 0 {
			rel.table.Serial = true
		}
	}
	return rel, nil
}

// typeGone is the permanent error of column c of table name, whose type
// was dropped.
func typeGone(c column, name tableName) error {
	return supervise.Permanent(fmt.Errorf("%w: column %s of %s has type oid %d, which is no longer in the catalog; "+
		"walship cannot decode its values: exclude %s from tables: and rebuild its followers (walship replay --resnapshot)",
		ErrTypeGone, c.Name, name, c.Type.OID, name))
}

func flatten(keys [][]string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k...)
	}
	sort.Strings(out)
	return out
}

// attr is what the catalog says of a column beyond the Relation message.
type attr struct {
	notNull bool
	// missing is the text of the value rows older than the column read
	// (attmissingval: ADD COLUMN with a non-volatile default, evaluated
	// once, now() included), when hasMissing.
	hasMissing bool
	missing    *string
	// expr is the column's default expression (pg_attrdef), or "identity".
	expr string
}

// columnDefault is the ordering.Default of a column of type pt: the
// missing value when the catalog has one; else, for a column with a
// default expression, that expression (its rows' values are not in the
// log: a volatile default, or a table rewrite since, gave them); else nil
// (NULL).
func (a attr) columnDefault(pt *pgType) (*ordering.Default, error) {
	switch {
	case a.hasMissing && a.missing != nil:
		v, err := pt.decode([]byte(*a.missing))
		if err != nil {
			// Not a value walship decodes: a sink adding the column stops
			// rather than leave the rows NULL.
			return &ordering.Default{Expr: "(a missing value walship cannot decode: " + a.expr + ")"}, nil
		}
		return &ordering.Default{Value: v}, nil
	case a.hasMissing:
		return nil, nil // missing value NULL
	case a.expr != "":
		return &ordering.Default{Expr: a.expr}, nil
	}
	return nil, nil
}

// columnAttrs reads the catalog's NOT NULL flags, missing values and
// default expressions of a table's columns, as of now.
func columnAttrs(ctx context.Context, conn *pgx.Conn, relid uint32) (map[string]attr, error) {
	rows, err := conn.Query(ctx, `SELECT a.attname::text, a.attnotnull, a.atthasmissing,
			CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END,
			CASE WHEN a.attidentity <> '' THEN 'identity' ELSE COALESCE(pg_get_expr(d.adbin, d.adrelid), '') END
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, relid)
	if err != nil {
		return nil, err
	}
	m := map[string]attr{}
	for rows.Next() {
		var n string
		var a attr
		if err := rows.Scan(&n, &a.notNull, &a.hasMissing, &a.missing, &a.expr); err != nil {
			rows.Close()
			return nil, err
		}
		m[n] = a
	}
	return m, rows.Err()
}

// catalogColumns reads a table's live columns (for the snapshot, which
// has no Relation message).
func catalogColumns(ctx context.Context, conn *pgx.Conn, t tableName) (uint32, []column, error) {
	relid, _, err := catalogTableOf(ctx, conn, t)
	if err != nil {
		return 0, nil, err
	}
	rows, err := conn.Query(ctx, `SELECT a.attname::text, a.atttypid, a.atttypmod,
			COALESCE(a.attnum = ANY ((SELECT i.indkey::int2[] FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary)::int2[]), false)
		FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, relid)
	if err != nil {
		return 0, nil, fmt.Errorf("columns of %s: %w", t, err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		return c, r.Scan(&c.Name, &c.Type.OID, &c.Type.Typmod, &c.Key)
	})
	if err != nil {
		return 0, nil, fmt.Errorf("columns of %s: %w", t, err)
	}
	return relid, cols, nil
}

// catalogTableOf returns a table's oid and whether it is partitioned.
func catalogTableOf(ctx context.Context, conn *pgx.Conn, t tableName) (relid uint32, partitioned bool, err error) {
	err = conn.QueryRow(ctx, `SELECT oid, relkind = 'p' FROM pg_class WHERE oid = $1::regclass`, t.quoted()).Scan(&relid, &partitioned)
	if err != nil {
		return 0, false, fmt.Errorf("table %s: %w", t, err)
	}
	return relid, partitioned, nil
}
