package postgres

// PostgreSQL follower type mapping (ColumnType).
//
// From a PostgreSQL source (Column.Type is format_type, e.g. "numeric(12,2)"):
//
//	source column                              follower column
//	built-in type, or an array of one          the same type: Column.Type verbatim (lossless by construction)
//	enum type                                  text (arrays of enums: text[]); the labels are not copied
//	domain                                     its base type by kind, with the base's length, precision and
//	                                           scale: numeric(10,2), character varying(40), timestamp(3) with
//	                                           time zone, …; the domain's constraints are not copied
//	any other type (composite, extension)      by kind: text for KindText and KindString (citext → text)
//
// Built-in here means: smallint, integer, bigint, oid, numeric, real, double
// precision, boolean, text, character varying, character, bpchar, name,
// "char", bytea, date, time and timestamp with or without time zone,
// interval (any fields), uuid, json, jsonb, xml, money, inet, cidr, macaddr,
// macaddr8, bit, bit varying, point, line, lseg, box, path, polygon, circle,
// tsvector, tsquery, pg_lsn and the built-in range and multirange types.
// money's text is read under the follower's lc_monetary: keep it equal to
// the source's.
//
// From a MySQL/MariaDB source (Column.Type is COLUMN_TYPE, e.g. "int(11) unsigned"):
//
//	source column                              follower column
//	any column of KindBool                     boolean
//	tinyint(1)                                 smallint (not boolean: it holds -128..127)
//	tinyint [unsigned], smallint, year         smallint
//	smallint unsigned, mediumint [unsigned],   integer
//	  int
//	int unsigned, bigint                       bigint
//	bigint unsigned                            numeric(20,0)
//	decimal(p,s)                               numeric(p,s)
//	float / double                             real / double precision
//	bit(n) (KindUint/KindInt)                  bit(n); the value is written as n binary digits
//	char(n), varchar(n)                        character varying(n) (both count characters)
//	tinytext … longtext, set(…), enum(…)       text
//	binary(n), varbinary(n), blobs             bytea
//	date                                       date; zero dates are ErrUnsupported values
//	time(p)                                    interval: MySQL TIME is a duration (-838:59:59 to 838:59:59)
//	datetime(p)                                timestamp(p) without time zone
//	timestamp(p)                               timestamp(p) with time zone
//	json                                       json (the text as sent; jsonb would reorder keys and drop
//	                                           duplicates)
//	anything else                              by kind, as below
//
// By kind (domains, unknown types): bool → boolean, int → bigint, uint →
// numeric(20,0), float → double precision, decimal → numeric[(p,s)], string
// → character varying(n) or text, bytes → bytea, date → date, time → time(p)
// without time zone (interval from MySQL), timestamp[tz] → timestamp(p)
// with[out] time zone, interval → interval, uuid → uuid, json → json, enum →
// text, text → text, array → the element's type + "[]".
//
// Every value is sent as a text literal that the server casts to the
// column's type (see params.go), so values keep their exact text form.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

// builtinBases are the base names (typmods and "[]" removed) of the
// PostgreSQL types a PostgreSQL follower recreates verbatim.
var builtinBases = map[string]bool{}

func init() {
	for _, t := range strings.Split("smallint integer bigint oid numeric real double_precision boolean text "+
		"character_varying character bpchar name \"char\" bytea date time_without_time_zone time_with_time_zone "+
		"timestamp_without_time_zone timestamp_with_time_zone uuid json jsonb xml money inet cidr macaddr macaddr8 "+
		"bit bit_varying point line lseg box path polygon circle tsvector tsquery pg_lsn int4range int8range "+
		"numrange tsrange tstzrange daterange int4multirange int8multirange nummultirange tsmultirange "+
		"tstzmultirange datemultirange", " ") {
		builtinBases[strings.ReplaceAll(t, "_", " ")] = true
	}
}

// ColumnType maps a source column to a PostgreSQL column type.
func (d *Dialect) ColumnType(c ordering.Column, srcEngine string) (string, error) {
	switch srcEngine {
	case "postgres":
		if isBuiltin(c.Type) {
			return c.Type, nil
		}
		return byKind(c, false)
	case "mysql":
		return fromMySQL(c)
	}
	return "", fmt.Errorf("postgres sink: column %s: unknown source engine %q", c.Name, srcEngine)
}

// isBuiltin reports a format_type name of a built-in type or an array of one.
func isBuiltin(t string) bool {
	base := strings.TrimRight(t, "[]")
	if base == "" || strings.Contains(base, ".") {
		return false
	}
	p := parsePG(base)
	return builtinBases[p.base] || strings.HasPrefix(p.base, "interval")
}

func unsupported(c ordering.Column, format string, args ...any) error {
	return fmt.Errorf("%w: column %s: %s", sqlsink.ErrUnsupported, c.Name, fmt.Sprintf(format, args...))
}

// byKind maps a column by its kind and declared length/precision/scale.
// mysqlTime maps KindTime to interval (MySQL TIME is a signed duration).
func byKind(c ordering.Column, mysqlTime bool) (string, error) {
	switch c.Kind {
	case ordering.KindBool:
		return "boolean", nil
	case ordering.KindInt:
		return "bigint", nil
	case ordering.KindUint:
		return "numeric(20,0)", nil
	case ordering.KindFloat:
		return "double precision", nil
	case ordering.KindDecimal:
		if p, s, ok := decimalSpec(c); ok {
			return fmt.Sprintf("numeric(%d,%d)", p, s), nil
		}
		return "numeric", nil
	case ordering.KindString:
		if c.Length > 0 {
			return fmt.Sprintf("character varying(%d)", c.Length), nil
		}
		return "text", nil
	case ordering.KindBytes:
		return "bytea", nil
	case ordering.KindDate:
		return "date", nil
	case ordering.KindTime:
		if mysqlTime {
			return "interval", nil
		}
		return "time" + precision(c) + " without time zone", nil
	case ordering.KindTimestamp:
		return "timestamp" + precision(c) + " without time zone", nil
	case ordering.KindTimestampTZ:
		return "timestamp" + precision(c) + " with time zone", nil
	case ordering.KindInterval:
		return "interval", nil
	case ordering.KindUUID:
		return "uuid", nil
	case ordering.KindJSON:
		return "json", nil
	case ordering.KindEnum, ordering.KindText:
		return "text", nil
	case ordering.KindArray:
		if c.Elem == ordering.KindArray || c.Elem == ordering.KindNull || c.Elem == ordering.KindUnchanged {
			return "", unsupported(c, "array of %s", c.Elem)
		}
		e := c
		e.Kind, e.Elem, e.Type = c.Elem, 0, strings.TrimSuffix(c.Type, "[]")
		t, err := byKind(e, mysqlTime)
		return t + "[]", err
	}
	return "", unsupported(c, "no PostgreSQL type for kind %s", c.Kind)
}

// precision is "(p)" for a declared fractional-second precision 0..6: from
// the type name when it has one ("timestamp(3) with time zone",
// "datetime(3)"), else Column.Precision (-1: not declared).
func precision(c ordering.Column) string {
	if i := strings.IndexByte(c.Type, '('); i >= 0 {
		if j := strings.IndexByte(c.Type[i:], ')'); j > 0 {
			if p, err := strconv.Atoi(c.Type[i+1 : i+j]); err == nil && p >= 0 && p <= 6 {
				return "(" + strconv.Itoa(p) + ")"
			}
		}
	}
	if my := parseMyType(c.Type); len(my.args) == 0 && !strings.Contains(c.Type, "zone") &&
		(my.base == "datetime" || my.base == "timestamp" || my.base == "time") {
		return "(0)" // MySQL without fsp: whole seconds
	}
	if c.Precision >= 0 && c.Precision <= 6 && !strings.Contains(c.Type, " ") && c.Type != "" {
		return "(" + strconv.Itoa(c.Precision) + ")"
	}
	return ""
}

// decimalSpec is the declared precision and scale of a decimal column:
// from "numeric(p,s)"/"decimal(p,s)" or Column.Precision/Scale.
func decimalSpec(c ordering.Column) (p, s int, ok bool) {
	my := parseMyType(c.Type)
	if (my.base == "numeric" || my.base == "decimal") && len(my.args) > 0 {
		p, err := strconv.Atoi(my.args[0])
		if err != nil || p <= 0 {
			return 0, 0, false
		}
		if len(my.args) > 1 {
			if s, err = strconv.Atoi(my.args[1]); err != nil {
				return 0, 0, false
			}
		}
		return p, s, true
	}
	if c.Precision > 0 {
		return c.Precision, c.Scale, true
	}
	return 0, 0, false
}

// fromMySQL maps a MySQL source column.
func fromMySQL(c ordering.Column) (string, error) {
	if c.Kind == ordering.KindBool {
		return "boolean", nil
	}
	my := parseMyType(c.Type)
	switch c.Kind {
	case ordering.KindInt, ordering.KindUint:
		switch my.base {
		case "tinyint", "year":
			return "smallint", nil
		case "smallint":
			if my.unsigned {
				return "integer", nil
			}
			return "smallint", nil
		case "mediumint":
			return "integer", nil
		case "int", "integer":
			if my.unsigned {
				return "bigint", nil
			}
			return "integer", nil
		case "bigint":
			if my.unsigned {
				return "numeric(20,0)", nil
			}
			return "bigint", nil
		case "bit":
			return fmt.Sprintf("bit(%d)", bitWidth(my)), nil
		}
	case ordering.KindFloat:
		if my.base == "float" {
			return "real", nil
		}
	case ordering.KindString, ordering.KindText:
		switch my.base {
		case "char", "varchar":
			if n, err := strconv.Atoi(my.arg(0)); err == nil && n > 0 {
				return fmt.Sprintf("character varying(%d)", n), nil
			}
		case "bit":
			return fmt.Sprintf("bit(%d)", bitWidth(my)), nil
		}
		return "text", nil
	}
	return byKind(c, true)
}

// bitWidth is n of MySQL's bit(n) (bit alone is bit(1)).
func bitWidth(my myType) int {
	if n, err := strconv.Atoi(my.arg(0)); err == nil && n > 0 {
		return n
	}
	return 1
}

// myType is a parsed MySQL COLUMN_TYPE: "bigint(20) unsigned" is base
// "bigint", args ["20"], unsigned.
type myType struct {
	base     string
	args     []string
	unsigned bool
}

func (t myType) arg(i int) string {
	if i < len(t.args) {
		return t.args[i]
	}
	return ""
}

// parseMyType parses a MySQL type name; args of enum/set keep their quotes.
func parseMyType(s string) myType {
	s = strings.TrimSpace(s)
	var t myType
	i := strings.IndexAny(s, "( ")
	if i < 0 {
		t.base = strings.ToLower(s)
		return t
	}
	t.base, s = strings.ToLower(s[:i]), s[i:]
	if s[0] == '(' {
		end, quoted, start := -1, false, 1
		for j := 1; j < len(s) && end < 0; j++ {
			switch {
			case s[j] == '\'':
				quoted = !quoted // '' inside a label toggles twice
			case quoted:
			case s[j] == ',':
				t.args = append(t.args, strings.TrimSpace(s[start:j]))
				start = j + 1
			case s[j] == ')':
				t.args = append(t.args, strings.TrimSpace(s[start:j]))
				end = j
			}
		}
		if end < 0 {
			return myType{base: t.base}
		}
		s = s[end+1:]
	}
	for _, w := range strings.Fields(strings.ToLower(s)) {
		t.unsigned = t.unsigned || w == "unsigned"
	}
	return t
}
