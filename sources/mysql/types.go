package mysql

// MySQL/MariaDB type mapping.
//
// Row images are decoded by go-mysql's replication package (v1.16) and
// converted here. The source syncs with
//
//	BinlogSyncerConfig{UseDecimal: true, ParseTime: false, TimestampStringLocation: time.UTC}
//
// decode accepts what go-mysql returns under either UseDecimal and either
// ParseTime; with ParseTime false, TimestampStringLocation MUST be UTC:
// TIMESTAMP values then arrive as UTC text and are read back as UTC.
//
// A table's shape comes from its TABLE_MAP event alone, never from
// information_schema, so every row is decoded with the shape it was
// written with: column names, primary key, nullability, signedness,
// collations, enum and set labels and geometry subtypes all need
// binlog_row_metadata=FULL (newBinlogTable refuses an event without them).
// Column.Type is a COLUMN_TYPE-style name built from the binlog type, its
// metadata, signedness and charset. The binlog has no display widths or
// ZEROFILL: "int unsigned", never "int(10) unsigned"; and a BOOLEAN
// (tinyint(1)) cannot be told from a tinyint: it arrives as "tinyint" of
// kind int, values 0 and 1.
//
//	binlog type (Column.Type)          Kind         Value / notes
//	tinyint, smallint, mediumint,      int, uint    Int; unsigned columns Uint, from the signedness bitmap, whatever
//	  int, bigint [unsigned]                        Go type go-mysql used (an unsigned 255 arriving as int8(-1) is 255)
//	year                               int          the year; 0 for YEAR 0000
//	bit(n)                             uint         the n bits as an unsigned integer (bit(64) up to 2^64-1)
//	decimal(p,s) [unsigned]            decimal      the exact text with exactly s fraction digits ("3.50", "-0.010")
//	float, double [unsigned]           float        float's float32 widened exactly
//	char(n), varchar(n), tinytext,     string       UTF-8, converted from the column's charset (types_charset.go);
//	  text, mediumtext, longtext                    n counts characters (the binlog's bytes / charset max length);
//	                                                char loses its trailing spaces (as SELECT shows it)
//	binary(n), varbinary(n), tinyblob, bytes        the bytes; binary(n) re-padded with 0x00 to n bytes (the binlog
//	  blob, mediumblob, longblob                    strips them)
//	enum('a',…)                        enum         the label (Column.Enum); index 0, the invalid-value '', is ""
//	set('x',…)                         text         the member labels comma-joined in declared order ("x,z"); ""
//	json (MySQL)                       json         the document text go-mysql renders from binary JSON; an empty
//	                                                document (INSERT IGNORE) is "null"
//	date                               date         days since 1970-01-01
//	time, time(p)                      time         signed µs, -838:59:59.999999 to 838:59:59.999999
//	datetime, datetime(p)              timestamp    µs since 1970 of the wall clock
//	timestamp, timestamp(p)            timestamptz  µs since 1970 UTC (the binlog stores epoch seconds)
//	geometry, point, linestring, …     bytes        MySQL's internal geometry value: a 4-byte little-endian SRID,
//	                                                then the WKB (strip 4 bytes for plain WKB)
//
// Zero and invalid dates become Special values with the text MySQL shows,
// fractional digits included: "0000-00-00", "2024-00-15", "2024-02-30"
// (ALLOW_INVALID_DATES), "0000-00-00 00:00:00.000" for a zero
// datetime(3) or timestamp(3). Fractional seconds are the stored digits,
// exactly p of them (MySQL rounds on insert, MariaDB truncates unless
// sql_mode has TIME_ROUND_FRACTIONAL).
//
// Column.Length is the declared length in characters (char, varchar), bytes
// (binary, varbinary) or bits (bit), 0 for the text and blob types;
// Precision and Scale are a decimal's; Precision is the fractional-second
// digits of time, datetime and timestamp (0 when none are declared).
//
// CARRIED AS TEXT (KindText): set values only. MariaDB types that the
// binlog logs in their storage form arrive in that form: JSON is a
// longtext with a JSON_VALID check (kind string, Column.Type "longtext");
// UUID, INET6 and INET4 are binary(16), binary(16) and binary(4) bytes
// (the UUID's 16 bytes in text order, addresses in network order).
//
// Errors (the table cannot be captured): pre-5.0 DECIMAL, MySQL 9 VECTOR,
// charsets without a UTF-8 decoder (types_charset.go), a partial JSON
// update (binlog_row_value_options=PARTIAL_JSON), a MINIMAL or NOBLOB row
// image. Pre-5.6 TIME/DATETIME/TIMESTAMP columns (never upgraded) hold
// whole seconds only. Text and bytes never share memory with go-mysql's
// event buffer. Errors name the table, column and type, never the value.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/walship/walship/ordering"
)

// binlogTable is a table as a TABLE_MAP event describes it, with a decoder per column.
type binlogTable struct {
	table *ordering.Table
	cols  []binlogColumn
	text  []catalogText // snapshot tables only: how SELECT shows each column (types_catalog.go)
}

// binlogColumn is what decoding one column's values needs.
type binlogColumn struct {
	typ      byte   // binlog type, ENUM and SET resolved from STRING
	meta     uint16 // the TABLE_MAP metadata
	unsigned bool
	binary   bool          // binary collation (63): bytes, not text
	raw      bool          // text captured as its bytes (Config.RawCharsets, types_raw.go)
	charset  *typesCharset // text columns (and enum/set labels)
	width    int           // integer bits; binary(n) bytes; decimal scale
	small    bool          // a decimal of at most 18 digits: its coefficient fits an int64
	enum     []string      // enum labels (UTF-8)
	set      []string      // set labels (UTF-8)
}

// newBinlogTable builds the model table from a TABLE_MAP event with full
// row metadata. Unique and foreign keys are not in the binlog: they stay
// empty.
func newBinlogTable(e *replication.TableMapEvent) (*binlogTable, error) {
	name := string(e.Schema) + "." + string(e.Table)
	n := int(e.ColumnCount)
	if len(e.ColumnType) != n || len(e.ColumnMeta) != n {
		return nil, fmt.Errorf("mysql: table %s: malformed TABLE_MAP event (%d columns, %d types)", name, n, len(e.ColumnType))
	}
	names := e.ColumnNameString()
	if len(names) != n {
		return nil, fmt.Errorf("mysql: table %s: the binlog's TABLE_MAP event has no column names: "+
			"set binlog_row_metadata=FULL on the source (it is MINIMAL or NO_LOG)", name)
	}
	t := &binlogTable{
		table: &ordering.Table{Schema: string(e.Schema), Name: string(e.Table), Columns: make([]ordering.Column, n)},
		cols:  make([]binlogColumn, n),
	}
	unsigned, collations, esCollations := e.UnsignedMap(), e.CollationMap(), e.EnumSetCollationMap()
	enums, sets, geoms := e.EnumStrValueMap(), e.SetStrValueMap(), e.GeometryTypeMap()
	for i := range n {
		c := &t.cols[i]
		c.typ, c.meta = e.ColumnType[i], e.ColumnMeta[i]
		size := 0 // CHAR/BINARY bytes
		if c.typ == mysql.MYSQL_TYPE_STRING && c.meta >= 256 {
			b0, b1 := byte(c.meta>>8), int(c.meta&0xff)
			if b0&0x30 != 0x30 { // length > 255: two bits of it live in the type byte
				c.typ, size = b0|0x30, b1|int((b0&0x30)^0x30)<<4
			} else {
				c.typ, size = b0, b1
			}
		} else if c.typ == mysql.MYSQL_TYPE_STRING {
			size = int(c.meta)
		}
		col := ordering.Column{Name: names[i]}
		_, col.Nullable = e.Nullable(i)
		u, ok := unsigned[i]
		if !ok && typesIntBits[c.typ] > 0 {
			return nil, fmt.Errorf("mysql: table %s column %s: no signedness in the TABLE_MAP event: set binlog_row_metadata=FULL", name, col.Name)
		}
		c.unsigned = u
		fail := func(err error) (*binlogTable, error) {
			return nil, fmt.Errorf("mysql: table %s column %s (binlog type %d): %w", name, col.Name, c.typ, err)
		}
		if e.IsCharacterColumn(i) || e.IsEnumOrSetColumn(i) {
			m := collations
			if e.IsEnumOrSetColumn(i) {
				m = esCollations
			}
			id, ok := m[i]
			switch {
			case ok:
				c.binary = id == binaryCollation
				cs, err := typesCollationCharset(id)
				if err != nil {
					return fail(err)
				}
				c.charset = cs
			case e.IsEnumOrSetColumn(i):
				c.charset = typesCharsets["utf8mb4"] // no enum/set charsets sent: take the labels as UTF-8
			default:
				return fail(errors.New("no collation in the TABLE_MAP event: set binlog_row_metadata=FULL"))
			}
		}
		if err := c.describe(&col, size, enums[i], sets[i]); err != nil {
			return fail(err)
		}
		if c.typ == mysql.MYSQL_TYPE_ENUM || c.typ == mysql.MYSQL_TYPE_SET {
			if col.Enum == nil {
				return fail(errors.New("no enum/set labels in the TABLE_MAP event: set binlog_row_metadata=FULL"))
			}
		}
		if geoms != nil && c.typ == mysql.MYSQL_TYPE_GEOMETRY {
			col.Type = typesGeometryName(geoms[i])
		}
		t.table.Columns[i] = col
	}
	for _, k := range e.PrimaryKey {
		if k >= uint64(n) {
			return nil, fmt.Errorf("mysql: table %s: primary key column %d of %d", name, k, n)
		}
		t.table.PrimaryKey = append(t.table.PrimaryKey, names[k])
	}
	return t, nil
}

// describe fills the column's kind, type name and sizes, and the decoder's
// width and labels.
func (c *binlogColumn) describe(col *ordering.Column, size int, enum, set []string) error {
	uns := ""
	if c.unsigned {
		uns = " unsigned"
	}
	kindInt := ordering.KindInt
	if c.unsigned {
		kindInt = ordering.KindUint
	}
	chars := func(bytes int) int { return bytes / max(c.charset.maxLen, 1) }
	fsp := int(c.meta)
	withFSP := func(base string) string {
		if fsp == 0 {
			return base
		}
		return base + "(" + strconv.Itoa(fsp) + ")"
	}
	var err error
	switch c.typ {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
		bits := typesIntBits[c.typ]
		base := map[int]string{8: "tinyint", 16: "smallint", 24: "mediumint", 32: "int", 64: "bigint"}[bits]
		col.Kind, col.Type, c.width = kindInt, base+uns, bits
	case mysql.MYSQL_TYPE_YEAR:
		col.Kind, col.Type = ordering.KindInt, "year" // MariaDB flags YEAR unsigned: not part of its name
	case mysql.MYSQL_TYPE_BIT:
		n := int(c.meta>>8)*8 + int(c.meta&0xff)
		col.Kind, col.Type, col.Length = ordering.KindUint, fmt.Sprintf("bit(%d)", n), n
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		col.Precision, col.Scale = int(c.meta>>8), int(c.meta&0xff)
		col.Kind, col.Type = ordering.KindDecimal, fmt.Sprintf("decimal(%d,%d)%s", col.Precision, col.Scale, uns)
		c.width, c.small = col.Scale, col.Precision <= 18
	case mysql.MYSQL_TYPE_FLOAT:
		col.Kind, col.Type = ordering.KindFloat, "float"+uns
	case mysql.MYSQL_TYPE_DOUBLE:
		col.Kind, col.Type = ordering.KindFloat, "double"+uns
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		col.Kind, col.Type = ordering.KindDate, "date"
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_TIMESTAMP:
		fsp = 0 // pre-5.6 formats: whole seconds
		fallthrough
	case mysql.MYSQL_TYPE_TIME2, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP2:
		if fsp > 6 {
			return fmt.Errorf("fractional-second precision %d", fsp)
		}
		col.Precision = fsp
		switch c.typ {
		case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
			col.Kind, col.Type = ordering.KindTime, withFSP("time")
		case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
			col.Kind, col.Type = ordering.KindTimestamp, withFSP("datetime")
		default:
			col.Kind, col.Type = ordering.KindTimestampTZ, withFSP("timestamp")
		}
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		if c.binary {
			col.Kind, col.Length = ordering.KindBytes, int(c.meta)
			col.Type = fmt.Sprintf("varbinary(%d)", col.Length)
		} else {
			col.Kind, col.Length = ordering.KindString, chars(int(c.meta))
			col.Type = fmt.Sprintf("varchar(%d)", col.Length)
		}
	case mysql.MYSQL_TYPE_STRING:
		if c.binary {
			col.Kind, col.Length, c.width = ordering.KindBytes, size, size
			col.Type = fmt.Sprintf("binary(%d)", size)
		} else {
			col.Kind, col.Length = ordering.KindString, chars(size)
			col.Type = fmt.Sprintf("char(%d)", col.Length)
		}
	case mysql.MYSQL_TYPE_BLOB:
		sizes := []string{"", "tiny", "", "medium", "long"}
		if c.meta < 1 || c.meta > 4 {
			return fmt.Errorf("blob length bytes %d", c.meta)
		}
		col.Kind, col.Type = ordering.KindString, sizes[c.meta]+"text"
		if c.binary {
			col.Kind, col.Type = ordering.KindBytes, sizes[c.meta]+"blob"
		}
	case mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET:
		labels := enum
		col.Kind, col.Type = ordering.KindEnum, "enum"
		if c.typ == mysql.MYSQL_TYPE_SET {
			labels, col.Kind, col.Type = set, ordering.KindText, "set"
		}
		if labels == nil {
			return nil // newBinlogTable reports it
		}
		col.Enum = make([]string, len(labels))
		quoted := make([]string, len(labels))
		for j, l := range labels {
			if col.Enum[j], err = c.charset.text([]byte(l)); err != nil {
				return fmt.Errorf("label %d: %w", j+1, err)
			}
			quoted[j] = typesQuote(col.Enum[j])
		}
		col.Type += "(" + strings.Join(quoted, ",") + ")"
		c.enum, c.set = col.Enum, nil
		if c.typ == mysql.MYSQL_TYPE_SET {
			c.enum, c.set = nil, col.Enum
		}
	case mysql.MYSQL_TYPE_JSON:
		col.Kind, col.Type = ordering.KindJSON, "json"
	case mysql.MYSQL_TYPE_GEOMETRY:
		col.Kind, col.Type = ordering.KindBytes, "geometry"
	default:
		return errors.New("unsupported column type")
	}
	return nil
}

// typesIntBits are the widths of the integer types.
var typesIntBits = map[byte]int{mysql.MYSQL_TYPE_TINY: 8, mysql.MYSQL_TYPE_SHORT: 16, mysql.MYSQL_TYPE_INT24: 24,
	mysql.MYSQL_TYPE_LONG: 32, mysql.MYSQL_TYPE_LONGLONG: 64}

// typesGeometryName is the type name of a geometry subtype (GEOMETRY_TYPE metadata).
func typesGeometryName(t uint64) string {
	names := []string{"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection"}
	if t < uint64(len(names)) {
		return names[t]
	}
	return "geometry"
}

// typesQuote quotes a label as COLUMN_TYPE does: quotes doubled, backslashes escaped.
func typesQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`, "\x00", `\0`).Replace(s) + "'"
}

// row decodes a whole row image. skipped are the columns the event left
// out (RowsEvent.SkippedColumns of the row): any is an error, walship
// needs binlog_row_image=FULL.
func (t *binlogTable) row(vals []any, skipped ...int) ([]ordering.Value, error) {
	if len(skipped) > 0 || len(vals) != len(t.cols) {
		return nil, fmt.Errorf("mysql: table %s: the row image has %d of %d columns: set binlog_row_image=FULL on the source",
			t.table.QualifiedName(), len(vals)-len(skipped), len(t.cols))
	}
	return t.fill(make([]ordering.Value, len(vals)), vals)
}

// rowFrom is row with the values carved from *slab while it has room: a
// rows event makes one slab for all its rows, not one slice per row. Each
// row's slice is capped, so appending to one never writes into the next.
func (t *binlogTable) rowFrom(slab *[]ordering.Value, vals []any, skipped []int) ([]ordering.Value, error) {
	s, n := *slab, len(vals)
	if len(skipped) > 0 || n != len(t.cols) || cap(s)-len(s) < n {
		return t.row(vals, skipped...)
	}
	*slab = s[:len(s)+n]
	return t.fill(s[len(s):len(s)+n:len(s)+n], vals)
}

func (t *binlogTable) fill(out []ordering.Value, vals []any) ([]ordering.Value, error) {
	for i, v := range vals {
		var err error
		if out[i], err = t.decode(i, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decode turns one go-mysql row value of column i into a Value.
func (t *binlogTable) decode(i int, v any) (ordering.Value, error) {
	if v == nil {
		return ordering.Null(), nil
	}
	val, err := t.cols[i].decode(v)
	if err != nil {
		col := t.table.Columns[i]
		return ordering.Value{}, fmt.Errorf("mysql: table %s column %s (%s): %w", t.table.QualifiedName(), col.Name, col.Type, err)
	}
	return val, nil
}

var errTypesFormat = errors.New("malformed value")

// typesFixed is the text of coef×10^-scale with scale digits after the
// point, as decimal.Decimal.StringFixed gives it, without its big.Int
// arithmetic (a tenth of the binlog source's CPU on a decimal column).
func typesFixed(coef int64, scale int) string {
	var buf [48]byte // 18 digits, the point, a leading 0 and the sign fit
	u := uint64(coef)
	if coef < 0 {
		u = -u
	}
	i := len(buf)
	for range scale {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	if scale > 0 {
		i--
		buf[i] = '.'
	}
	for {
		i--
		buf[i] = byte('0' + u%10)
		if u /= 10; u == 0 {
			break
		}
	}
	if coef < 0 {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

func (c *binlogColumn) decode(v any) (ordering.Value, error) {
	switch c.typ {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
		u, ok := typesBits(v)
		if !ok {
			break
		}
		if c.width < 64 {
			u &= 1<<c.width - 1
		}
		if c.unsigned {
			return ordering.Uint(u), nil
		}
		shift := 64 - c.width
		return ordering.Int(int64(u<<shift) >> shift), nil
	case mysql.MYSQL_TYPE_YEAR:
		if u, ok := typesBits(v); ok {
			return ordering.Int(int64(u)), nil
		}
	case mysql.MYSQL_TYPE_BIT:
		if u, ok := typesBits(v); ok {
			return ordering.Uint(u), nil
		}
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		switch d := v.(type) {
		case decimal.Decimal:
			if c.small && d.Exponent() == -int32(c.width) {
				return ordering.Decimal(typesFixed(d.CoefficientInt64(), c.width)), nil
			}
			return ordering.Decimal(d.StringFixed(int32(c.width))), nil
		case string: // UseDecimal false: go-mysql's text already has the scale's digits
			return ordering.Decimal(strings.Clone(d)), nil
		}
	case mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE:
		switch f := v.(type) {
		case float32:
			return ordering.Float(float64(f)), nil
		case float64:
			return ordering.Float(f), nil
		}
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_BLOB,
		mysql.MYSQL_TYPE_GEOMETRY:
		var b []byte
		switch s := v.(type) {
		case string:
			if !c.binary && !c.raw && c.typ != mysql.MYSQL_TYPE_GEOMETRY && (c.charset == nil || c.charset.decode == nil) {
				return ordering.String(strings.Clone(s)), nil // UTF-8 already
			}
			b = []byte(s)
		case []byte:
			b = s
		default:
			return ordering.Value{}, fmt.Errorf("unexpected Go type %T", v)
		}
		if c.raw {
			return ordering.Bytes(b), nil // copies; never padded
		}
		if c.binary || c.typ == mysql.MYSQL_TYPE_GEOMETRY {
			if c.typ == mysql.MYSQL_TYPE_STRING && len(b) < c.width {
				b = append(b[:len(b):len(b)], make([]byte, c.width-len(b))...)
			}
			return ordering.Bytes(b), nil // copies
		}
		s, err := c.charset.text(b)
		if err != nil {
			return ordering.Value{}, err
		}
		return ordering.String(s), nil
	case mysql.MYSQL_TYPE_ENUM:
		if u, ok := typesBits(v); ok {
			if u == 0 {
				return ordering.Enum(""), nil
			}
			if u > uint64(len(c.enum)) {
				return ordering.Value{}, fmt.Errorf("enum index %d of %d labels", u, len(c.enum))
			}
			return ordering.Enum(c.enum[u-1]), nil
		}
	case mysql.MYSQL_TYPE_SET:
		if u, ok := typesBits(v); ok {
			if len(c.set) < 64 && u>>len(c.set) != 0 {
				return ordering.Value{}, fmt.Errorf("set bits beyond its %d labels", len(c.set))
			}
			var members []string
			for j, l := range c.set {
				if u&(1<<j) != 0 {
					members = append(members, l)
				}
			}
			return ordering.Text(strings.Join(members, ",")), nil
		}
	case mysql.MYSQL_TYPE_JSON:
		switch j := v.(type) {
		case string:
			return ordering.JSON(strings.Clone(j)), nil
		case []byte:
			if len(j) == 0 {
				return ordering.JSON("null"), nil // MySQL reads an empty document as null
			}
			return ordering.JSON(string(j)), nil
		case *replication.JsonDiff:
			return ordering.Value{}, errors.New("a partial JSON update: set binlog_row_value_options='' on the source")
		}
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		if s, ok := v.(string); ok {
			return typesDateTime(ordering.KindDate, s, false)
		}
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		switch x := v.(type) {
		case string:
			return typesDateTime(ordering.KindTimestamp, x, true)
		case time.Time: // ParseTime: the wall clock, built in UTC
			wall := time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC)
			return ordering.Timestamp(wall.UnixMicro()), nil
		}
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		switch x := v.(type) {
		case string: // UTC text (TimestampStringLocation)
			return typesDateTime(ordering.KindTimestampTZ, x, true)
		case time.Time:
			return ordering.TimestampTZ(x.UnixMicro()), nil
		}
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		if s, ok := v.(string); ok {
			return c.time(s)
		}
	}
	return ordering.Value{}, fmt.Errorf("unexpected Go type %T", v)
}

// typesBits is an integer's two's-complement bits, whatever Go type holds it.
func typesBits(v any) (uint64, bool) {
	switch x := v.(type) {
	case int8:
		return uint64(x), true
	case int16:
		return uint64(x), true
	case int32:
		return uint64(x), true
	case int64:
		return uint64(x), true
	case int:
		return uint64(x), true
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case uint:
		return uint64(x), true
	}
	return 0, false
}
