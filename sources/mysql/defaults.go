package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/walship/walship/ordering"
)

// Column defaults. The binlog does not say what the rows a table held
// when a column was added read in it: MariaDB adds a column with a
// constant default (or the implicit default of a NOT NULL column) without
// writing a row. walship reads each captured column's default from
// information_schema.COLUMNS with the keys (once, and again after DDL, as
// of now) and carries it with the column (ordering.Default), so a sink
// adding the column gives its follower rows the same value:
//
//	COLUMN_DEFAULT (MariaDB)       carried
//	a literal: 'x', 1.50, b'101'   its value, read as SELECT DEFAULT(col) shows it and decoded like a snapshot row
//	                               (none when the table is empty: no row reads it)
//	NULL, or none on a nullable    nothing (NULL)
//	none on a NOT NULL column      the implicit default: 0, '', the first enum label, zero dates; Expr for other types
//	an expression: uuid(),         Expr: its values are not in the log (current_timestamp() included: MariaDB
//	  current_timestamp()            evaluates it when the ALTER copies each row)
//	AUTO_INCREMENT, generated      Expr
//
// On MySQL, COLUMN_DEFAULT is unquoted and an expression is marked
// DEFAULT_GENERATED in EXTRA.

var numericLiteral = regexp.MustCompile(`^[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$`)

// defaultKind classifies one information_schema.COLUMNS row: literal (the
// value is SELECT DEFAULT(col)), implicit (NOT NULL without a default),
// expr (with the expression), or none.
func defaultKind(def sql.NullString, nullable bool, extra, generation string, mariadb bool) (kind string, expr string) {
	extra = strings.ToLower(extra)
	switch {
	case strings.Contains(extra, "auto_increment"):
		return "expr", "AUTO_INCREMENT"
	case strings.Contains(extra, "generated") && !strings.Contains(extra, "default_generated"):
		return "expr", "AS (" + generation + ")"
	case !def.Valid && nullable:
		return "none", ""
	case !def.Valid:
		return "implicit", ""
	case strings.Contains(extra, "default_generated"):
		return "expr", def.String
	case !mariadb:
		return "literal", ""
	case def.String == "NULL":
		return "none", ""
	case strings.HasPrefix(def.String, "'"), numericLiteral.MatchString(def.String),
		strings.HasPrefix(def.String, "b'"), strings.HasPrefix(strings.ToLower(def.String), "0x"):
		return "literal", ""
	}
	return "expr", def.String
}

// implicitDefault is the value MariaDB gives the rows of a NOT NULL column
// added without a default, or false when walship does not know it.
func implicitDefault(c ordering.Column) (ordering.Value, bool) {
	t := strings.ToLower(c.Type)
	switch c.Kind {
	case ordering.KindInt:
		return ordering.Int(0), true
	case ordering.KindUint:
		return ordering.Uint(0), true
	case ordering.KindFloat:
		return ordering.Float(0), true
	case ordering.KindDecimal:
		if c.Scale > 0 {
			return ordering.Decimal("0." + strings.Repeat("0", c.Scale)), true
		}
		return ordering.Decimal("0"), true
	case ordering.KindString:
		if strings.HasPrefix(t, "char") || strings.HasPrefix(t, "varchar") || strings.Contains(t, "text") {
			return ordering.String(""), true
		}
	case ordering.KindEnum:
		if len(c.Enum) > 0 {
			return ordering.Enum(c.Enum[0]), true
		}
	case ordering.KindDate:
		return ordering.Special(ordering.KindDate, "0000-00-00"), true
	case ordering.KindTimestamp:
		if strings.HasPrefix(t, "datetime") {
			return ordering.Special(ordering.KindTimestamp, "0000-00-00 00:00:00"), true
		}
	case ordering.KindTime:
		return ordering.Time(0), true
	}
	return ordering.Value{}, false
}

// loadDefaults reads the defaults of schema.table's columns (see above).
func loadDefaults(ctx context.Context, db *sql.DB, schema, table string, mariadb bool) (map[string]*ordering.Default, error) {
	name := schema + "." + table
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_DEFAULT, IS_NULLABLE = 'YES', EXTRA, COALESCE(GENERATION_EXPRESSION, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("defaults of %s: %w", name, err)
	}
	out := map[string]*ordering.Default{}
	var literals, implicit []string
	for rows.Next() {
		var col, extra, gen string
		var def sql.NullString
		var nullable bool
		if err := rows.Scan(&col, &def, &nullable, &extra, &gen); err != nil {
			rows.Close()
			return nil, fmt.Errorf("defaults of %s: %w", name, err)
		}
		switch kind, expr := defaultKind(def, nullable, extra, gen, mariadb); kind {
		case "expr":
			out[col] = &ordering.Default{Expr: expr}
		case "literal":
			literals = append(literals, col)
		case "implicit":
			implicit = append(implicit, col)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("defaults of %s: %w", name, err)
	}
	if len(literals) == 0 && len(implicit) == 0 {
		return out, nil
	}
	st, err := snapshotTableOf(ctx, db, schema, table)
	if err != nil {
		return nil, err
	}
	for _, col := range implicit {
		i := st.table.ColumnIndex(col)
		if i < 0 {
			continue
		}
		if v, ok := implicitDefault(st.table.Columns[i]); ok {
			out[col] = &ordering.Default{Value: v}
		} else {
			out[col] = &ordering.Default{Expr: "(the implicit default of a NOT NULL " + st.table.Columns[i].Type + ")"}
		}
	}
	var exprs []string
	var idx []int
	for _, col := range literals {
		i := st.table.ColumnIndex(col)
		if i < 0 || i < len(st.text) && st.text[i] == catalogHidden {
			continue
		}
		e := "DEFAULT(" + catalogQuote(col) + ")"
		if strings.Contains(st.table.Columns[i].Type, "float") || strings.Contains(st.table.Columns[i].Type, "double") {
			e = "CAST(" + e + " AS DOUBLE)"
		}
		exprs, idx = append(exprs, e), append(idx, i)
	}
	if len(exprs) == 0 {
		return out, nil
	}
	vals := make([]sql.RawBytes, len(exprs))
	dest := make([]any, len(exprs))
	for i := range vals {
		dest[i] = &vals[i]
	}
	r, err := db.QueryContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+catalogQuote(schema)+"."+catalogQuote(table)+" LIMIT 1")
	if err != nil {
		return nil, fmt.Errorf("defaults of %s: %w", name, err)
	}
	defer r.Close()
	if !r.Next() {
		return out, r.Err() // no row reads a default
	}
	if err := r.Scan(dest...); err != nil {
		return nil, fmt.Errorf("defaults of %s: %w", name, err)
	}
	for k, i := range idx {
		if vals[k] == nil {
			continue
		}
		text := catalogPlain
		if i < len(st.text) {
			text = st.text[i]
		}
		v, err := st.cols[i].fromText(vals[k], text)
		if err != nil {
			// Not a value walship reads: a sink adding the column stops
			// rather than leave the rows NULL.
			out[st.table.Columns[i].Name] = &ordering.Default{Expr: "(a default of type " + st.table.Columns[i].Type + " walship cannot read)"}
			continue
		}
		out[st.table.Columns[i].Name] = &ordering.Default{Value: v}
	}
	return out, r.Err()
}
