package mysql

// MariaDB/MySQL follower type mapping (ColumnType).
//
// From a PostgreSQL source (Column.Type is format_type):
//
//	source column                      follower column
//	smallint / integer / bigint        SMALLINT / INT / BIGINT (oid: INT UNSIGNED; other int kinds: BIGINT)
//	boolean                            BOOLEAN (TINYINT(1)), values 1/0
//	numeric(p,s)                       DECIMAL(p,s); negative scale numeric(p,-s): DECIMAL(p+s,0); s > p:
//	                                   DECIMAL(s,s). Beyond DECIMAL's limits (65 digits, scale 38 on MariaDB,
//	                                   30 on MySQL) the limits, and values that do not fit are ErrUnsupported
//	numeric (unconstrained)            DECIMAL(65,30): a value with more than 35 integer or 30 fraction
//	                                   digits, NaN or ±Infinity is ErrUnsupported, never rounded
//	real / double precision            FLOAT / DOUBLE; NaN and ±Infinity values are ErrUnsupported; -0 reads 0
//	character varying(n), character(n) VARCHAR(n) when n <= 16383, else LONGTEXT (character(n) keeps its padding)
//	text, citext, other strings        LONGTEXT
//	bytea                              LONGBLOB
//	date                               DATE; years 0000-9999 (astronomical), others and ±infinity ErrUnsupported
//	time(p)                            TIME(p) (default 6)
//	timestamp(p)                       DATETIME(p) (default 6); years 0000-9999
//	timestamptz(p)                     DATETIME(p) holding UTC (TIMESTAMP would end in 2038)
//	interval                           VARCHAR(64), the ISO 8601 text
//	uuid                               CHAR(36)
//	json, jsonb                        JSON (MariaDB: LONGTEXT with a JSON_VALID check), the text as sent
//	enum                               ENUM(labels…) in the source's order; VARCHAR(255) when the labels are
//	                                   unknown or MySQL cannot keep them (empty, trailing spaces, > 255 chars)
//	arrays                             JSON: a JSON array as PostgreSQL's to_json writes it (jsontext.go)
//	other types (KindText)             LONGTEXT with the source's text
//
// From a MySQL/MariaDB source (Column.Type is COLUMN_TYPE): the type
// verbatim when it is a known MySQL type whose values have the column's
// kind, except timestamp(p) → DATETIME(p) holding UTC (no 2038 limit, no
// automatic ON UPDATE) and char/varchar(n) over 16383 → LONGTEXT;
// anything else by kind as above.
//
// Every table is created with DEFAULT CHARSET=utf8mb4 and a binary
// collation (MariaDB utf8mb4_nopad_bin, MySQL 8 utf8mb4_0900_bin) so keys
// compare like the source's: 'a' ≠ 'A' and 'a' ≠ 'a '. Source column
// charsets and collations are not copied.
//
// CreateTable adjusts two things the row format imposes: primary key
// columns of a TEXT/JSON type become VARCHAR(255) and of a BLOB type
// VARBINARY(255) (a longer key value is then rejected by strict mode,
// never truncated); when the VARCHAR columns exceed the 65,535-byte row
// limit, the widest non-key VARCHAR/VARBINARY columns become TEXT/BLOB.
// TypeCompatible accepts both.

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

// maxVarchar is the longest utf8mb4 VARCHAR (65,535 bytes / 4).
const maxVarchar = 16383

// ColumnType maps a source column to a MySQL column type.
func (d *Dialect) ColumnType(c ordering.Column, srcEngine string) (string, error) {
	switch srcEngine {
	case "mysql":
		if t, ok := d.verbatim(c); ok {
			return t, nil
		}
	case "postgres":
	default:
		return "", fmt.Errorf("mysql sink: column %s: unknown source engine %q", c.Name, srcEngine)
	}
	return d.byKind(c)
}

func unsupported(c ordering.Column, format string, args ...any) error {
	return fmt.Errorf("%w: column %s: %s", sqlsink.ErrUnsupported, c.Name, fmt.Sprintf(format, args...))
}

// kindsOf lists, per MySQL base type, the kinds whose values it takes.
var kindsOf = map[string][]ordering.Kind{}

func init() {
	add := func(bases string, kinds ...ordering.Kind) {
		for _, b := range strings.Fields(bases) {
			kindsOf[b] = kinds
		}
	}
	add("tinyint smallint mediumint int integer bigint", ordering.KindInt, ordering.KindUint, ordering.KindBool)
	add("decimal numeric dec fixed", ordering.KindDecimal)
	add("float double real", ordering.KindFloat)
	add("bit", ordering.KindUint, ordering.KindInt, ordering.KindBytes)
	add("char varchar", ordering.KindString, ordering.KindText, ordering.KindEnum)
	add("tinytext text mediumtext longtext", ordering.KindString, ordering.KindText, ordering.KindEnum, ordering.KindJSON)
	add("binary varbinary tinyblob blob mediumblob longblob", ordering.KindBytes)
	add("enum", ordering.KindEnum, ordering.KindString)
	add("set", ordering.KindString, ordering.KindText)
	add("date", ordering.KindDate)
	add("time", ordering.KindTime)
	add("datetime timestamp", ordering.KindTimestamp, ordering.KindTimestampTZ)
	add("year", ordering.KindInt, ordering.KindUint)
	add("json", ordering.KindJSON, ordering.KindString, ordering.KindText)
}

// verbatim is a MySQL source's own type when it is safe to reuse.
func (d *Dialect) verbatim(c ordering.Column) (string, bool) {
	t, ok := parseMyType(c.Type)
	if !ok {
		return "", false
	}
	found := false
	for _, k := range kindsOf[t.base] {
		found = found || k == c.Kind
	}
	if !found {
		return "", false
	}
	switch t.base {
	case "timestamp":
		return fmt.Sprintf("DATETIME(%d)", fsp(c)), true
	case "char", "varchar":
		if n, err := strconv.Atoi(t.arg(0)); err != nil || n > maxVarchar {
			return "LONGTEXT", true
		}
	}
	return strings.TrimSpace(c.Type), true
}

// byKind maps a column by its kind, sized by the PostgreSQL type name.
func (d *Dialect) byKind(c ordering.Column) (string, error) {
	typ := strings.ToLower(strings.TrimSpace(c.Type))
	switch c.Kind {
	case ordering.KindBool:
		return "BOOLEAN", nil
	case ordering.KindInt:
		switch typ {
		case "smallint", "int2":
			return "SMALLINT", nil
		case "integer", "int", "int4":
			return "INT", nil
		case "oid":
			return "INT UNSIGNED", nil
		}
		return "BIGINT", nil
	case ordering.KindUint:
		return "BIGINT UNSIGNED", nil
	case ordering.KindFloat:
		if typ == "real" || typ == "float4" || typ == "float" {
			return "FLOAT", nil
		}
		return "DOUBLE", nil
	case ordering.KindDecimal:
		p, s := d.decimalTarget(c)
		return fmt.Sprintf("DECIMAL(%d,%d)", p, s), nil
	case ordering.KindString:
		if c.Length > 0 && c.Length <= maxVarchar {
			return fmt.Sprintf("VARCHAR(%d)", c.Length), nil
		}
		return "LONGTEXT", nil
	case ordering.KindBytes:
		return "LONGBLOB", nil
	case ordering.KindDate:
		return "DATE", nil
	case ordering.KindTime:
		return fmt.Sprintf("TIME(%d)", fsp(c)), nil
	case ordering.KindTimestamp, ordering.KindTimestampTZ:
		return fmt.Sprintf("DATETIME(%d)", fsp(c)), nil
	case ordering.KindInterval:
		return "VARCHAR(64)", nil
	case ordering.KindUUID:
		return "CHAR(36)", nil
	case ordering.KindJSON, ordering.KindArray:
		if c.Kind == ordering.KindArray && (c.Elem == ordering.KindNull || c.Elem == ordering.KindUnchanged) {
			return "", unsupported(c, "array of %s", c.Elem)
		}
		return "JSON", nil
	case ordering.KindEnum:
		return enumType(c.Enum), nil
	case ordering.KindText:
		return "LONGTEXT", nil
	}
	return "", unsupported(c, "no MySQL type for kind %s", c.Kind)
}

// enumType is ENUM(labels) when MySQL keeps every label exactly (it
// strips trailing spaces, and labels are at most 255 characters), else
// VARCHAR(255).
func enumType(labels []string) string {
	if len(labels) == 0 || len(labels) > 65535 {
		return "VARCHAR(255)"
	}
	q := make([]string, len(labels))
	for i, l := range labels {
		if l == "" || strings.TrimRight(l, " ") != l || utf8.RuneCountInString(l) > 255 || !utf8.ValidString(l) {
			return "VARCHAR(255)"
		}
		q[i] = quoteString(l)
	}
	return "ENUM(" + strings.Join(q, ",") + ")"
}

// quoteString is a MySQL string literal (backslash escapes are on).
func quoteString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `''`, "\x00", `\0`)
	return "'" + r.Replace(s) + "'"
}

// fsp is the fractional-second precision (0-6) of the follower's TIME or
// DATETIME column: from the type name ("timestamp(3) with time zone",
// "datetime(3)"; MySQL's bare datetime/time/timestamp is 0, PostgreSQL's
// undeclared is 6), else Column.Precision, else 6.
func fsp(c ordering.Column) int {
	k := fspKey{c.Type, c.Precision}
	if p, ok := fspCache.Load(k); ok {
		return p.(int)
	}
	p := parseFsp(c)
	fspCache.Store(k, p)
	return p
}

// fspCache holds fsp by what it depends on: a column type is parsed once,
// not for each value.
var fspCache sync.Map // fspKey -> int

type fspKey struct {
	typ  string
	prec int
}

func parseFsp(c ordering.Column) int {
	t, _ := parseMyType(c.Type) // "timestamp(3) with time zone" parses as timestamp(3) (not ok, but args kept)
	if p, err := strconv.Atoi(t.arg(0)); err == nil && p >= 0 && p <= 6 {
		return p
	}
	if strings.Contains(c.Type, "zone") {
		return 6
	}
	if len(t.args) == 0 && (t.base == "datetime" || t.base == "timestamp" || t.base == "time") {
		return 0
	}
	if c.Precision >= 0 && c.Precision <= 6 && c.Type != "" && !strings.Contains(c.Type, " ") {
		return c.Precision
	}
	return 6
}

// decimalSpec is the declared precision and scale of a decimal column.
func decimalSpec(c ordering.Column) (p, s int, ok bool) {
	t, _ := parseMyType(c.Type)
	switch t.base {
	case "numeric", "decimal", "dec", "fixed":
		if len(t.args) == 0 {
			if t.base == "numeric" && c.Precision <= 0 {
				return 0, 0, false // PostgreSQL's unconstrained numeric
			}
			break
		}
		p, err := strconv.Atoi(t.arg(0))
		if err != nil || p <= 0 {
			return 0, 0, false
		}
		if len(t.args) > 1 {
			if s, err = strconv.Atoi(t.arg(1)); err != nil {
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

// decimalTarget is the follower DECIMAL(p,s) of a decimal column.
func (d *Dialect) decimalTarget(c ordering.Column) (p, s int) {
	dp, ds, ok := decimalSpec(c)
	if !ok {
		return 65, 30
	}
	s = max(ds, 0)
	p = max(dp-ds, 0) + s
	maxScale := d.server().maxScale
	if s > maxScale {
		s = maxScale
	}
	if p > 65 {
		p = 65
	}
	return max(p, s, 1), s
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

// parseMyType parses a MySQL type name. Enum and set labels keep their
// quotes and case. ok is false for anything but base[(args)] followed by
// unsigned/signed/zerofill words.
func parseMyType(s string) (myType, bool) {
	s = strings.TrimSpace(s)
	var t myType
	i := strings.IndexAny(s, "( ")
	if i < 0 {
		t.base = strings.ToLower(s)
		return t, isWord(t.base)
	}
	t.base, s = strings.ToLower(s[:i]), s[i:]
	if s[0] == '(' {
		end, quoted, start := -1, false, 1
		for j := 1; j < len(s) && end < 0; j++ {
			switch {
			case s[j] == '\'':
				quoted = !quoted // '' inside a label toggles twice
			case quoted:
				if s[j] == '\\' {
					j++
				}
			case s[j] == ',':
				t.args = append(t.args, strings.TrimSpace(s[start:j]))
				start = j + 1
			case s[j] == ')':
				t.args = append(t.args, strings.TrimSpace(s[start:j]))
				end = j
			}
		}
		if end < 0 {
			return myType{base: t.base}, false
		}
		s = s[end+1:]
	}
	ok := isWord(t.base)
	for _, w := range strings.Fields(strings.ToLower(s)) {
		t.unsigned = t.unsigned || w == "unsigned"
		ok = ok && (w == "unsigned" || w == "signed" || w == "zerofill")
	}
	return t, ok
}

func isWord(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}
