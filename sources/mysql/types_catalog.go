package mysql

// Table shapes from information_schema, and rows from SELECT.
//
// This file is long on purpose: it is one table, the catalog's view of
// every column type beside the binlog's (types.go), kept in one place so
// that the two can be read against each other line by line.
//
// The snapshot reads tables with SELECT before any of their TABLE_MAP
// events, and a TRUNCATE can name a table the stream has not mapped yet.
// snapshotTableOf builds the shape newBinlogTable would build from the
// table's TABLE_MAP event: for each information_schema.COLUMNS row it
// computes the binlog type code and TABLE_MAP metadata the server writes
// (catalogBinlogType), the collation id (information_schema.COLLATIONS;
// MariaDB 10.10+ UCA 14 collations through
// COLLATION_CHARACTER_SET_APPLICABILITY.FULL_COLLATION_NAME), signedness
// from COLUMN_TYPE and enum/set labels parsed from it (catalogLabels), then
// runs the same describe. The primary key is the server's: the PRIMARY
// index, or else the unique index whose columns COLUMNS marks PRI (a
// UNIQUE NOT NULL key the server promotes, which the binlog also reports
// as the primary key). Unique and foreign keys stay empty, as from the
// binlog.
//
// textRow reads a row that database/sql fetched with the text protocol —
// ParseTime false, session time_zone '+00:00', results in utf8mb4, the
// columns of selectList — into the Values the binlog decoding gives: each
// text is turned into the Go value go-mysql produces for that column and
// decoded by binlogColumn.decode, except character data, which the server
// already converted to UTF-8.
//
// FLOAT and DOUBLE: MariaDB (and MySQL) print a FLOAT with 6 significant
// digits (16777217 shows as 16777200, 1.2345678 as 1.23457), and a
// FLOAT(M,D) or DOUBLE(M,D) with D decimals, while the stored value is
// not always the float nearest that text (DOUBLE(10,2) stores -0.1 as
// -0.09999999999999998). Neither text restores the stored bits.
// selectList reads FLOAT and DOUBLE columns as CAST(col AS DOUBLE): the
// exact value (a FLOAT's float32 widened), printed with the digits that
// round-trip, and textRow takes it back to the float32 or float64
// exactly. Given a bare column's text instead it takes the nearest float,
// which may not be the stored one.
//
// Limits, where the catalog cannot say what the binlog says:
//   - Enum and set labels come from COLUMN_TYPE, which information_schema
//     converts to utf8mb3: a label character outside the BMP (an emoji)
//     shows as '?'. Such a label then differs from the binlog's, and a row
//     holding it is an error in textRow (the value is not a known label).
//   - Pre-5.6 TIME, DATETIME and TIMESTAMP columns (never upgraded) look
//     like current ones: they are taken as TIME2, DATETIME2, TIMESTAMP2.
//   - MariaDB's long UNIQUE keys (on blobs, or USING HASH) add a hidden
//     column DB_ROW_HASH_n per key after the table's columns: the binlog
//     carries it (a nullable-as-the-key bigint unsigned) and so does this
//     shape, but no SELECT can read it: its snapshot value is NULL (and
//     selectList selects NULL for it).
//   - A system-versioned table's shape is that of its current rows, as
//     the stream publishes it (versioning.go): MariaDB's implicit period
//     columns (row_start, row_end) are not in information_schema.COLUMNS,
//     and explicit ones (GENERATION_EXPRESSION 'ROW START' / 'ROW END')
//     are left out; ROW END is left out of the keys (STATISTICS lists it
//     in an explicit-period table's keys). A transaction-precise table
//     (BIGINT UNSIGNED periods) is refused (ErrTrxPrecise): MariaDB
//     binlogs its changes as statements.
//   - Compressed columns (MariaDB COMPRESSED) are an error, as in the
//     binlog (go-mysql cannot decode them).
//   - MySQL's JSON text is normalized to go-mysql's rendering (numbers as
//     int64, uint64 or float64; keys sorted; compact): equal for documents
//     of strings, numbers, literals, arrays and objects; scalars stored
//     from SQL values (CAST(date AS JSON), decimals) render differently.
//   - Text in charsets that types_charset.go decodes (the single-byte
//     ones) is selected as its bytes (CAST AS BINARY) and decoded there,
//     as the binlog's is: the server's conversion would turn bytes the
//     charset does not define into '?', and the decoding refuses them
//     (ErrUndefinedBytes). Other charsets are converted by the server.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/shopspring/decimal"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

// querier is a *sql.DB or *sql.Conn (or *sql.Tx).
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// catalogText is how SELECT shows a column whose text needs more than its
// binlog type to read back.
type catalogText byte

const (
	catalogPlain  catalogText = iota // by the binlog type
	catalogUUID                      // MariaDB UUID: text "xxxxxxxx-xxxx-…", binary(16) in text order
	catalogINET6                     // MariaDB INET6: an IPv6 address, binary(16)
	catalogINET4                     // MariaDB INET4: an IPv4 address, binary(4)
	catalogHidden                    // MariaDB long-unique hash column: not selectable, NULL
)

// catalogColumn is one information_schema.COLUMNS row.
type catalogColumn struct {
	name       string
	dataType   string // DATA_TYPE
	columnType string // COLUMN_TYPE
	nullable   bool
	key        string // COLUMN_KEY
	octets     int64  // CHARACTER_OCTET_LENGTH
	precision  int64  // NUMERIC_PRECISION
	scale      int64  // NUMERIC_SCALE
	fsp        int64  // DATETIME_PRECISION
	collation  uint64 // collation id of COLLATION_NAME; 0 when NULL (binary types)
}

// catalogIndex is a unique index from information_schema.STATISTICS.
type catalogIndex struct {
	name    string
	hash    bool // INDEX_TYPE HASH
	columns []string
}

// catalogTable is the shape of a table from the catalog, for a TRUNCATE
// of a table the binlog has not described yet.
func catalogTable(ctx context.Context, db *sql.DB, schema, table string) (*ordering.Table, error) {
	t, err := snapshotTableOf(ctx, db, schema, table)
	if err != nil {
		return nil, err
	}
	return t.table, nil
}

// snapshotTableOf builds a table's shape from information_schema, the
// same as newBinlogTable builds it from the table's TABLE_MAP event.
func snapshotTableOf(ctx context.Context, q querier, schema, table string) (*binlogTable, error) {
	name := schema + "." + table
	var engine sql.NullString
	var version string
	err := q.QueryRowContext(ctx, `SELECT ENGINE, VERSION() FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table).Scan(&engine, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("mysql: table %s: not in information_schema.TABLES", name)
	}
	if err != nil {
		return nil, fmt.Errorf("mysql: table %s: read information_schema.TABLES: %w", name, err)
	}
	mariadb := strings.Contains(strings.ToLower(version), "mariadb")

	cols, collations, err := catalogColumns(ctx, q, schema, table)
	if err != nil {
		return nil, fmt.Errorf("mysql: table %s: %w", name, err)
	}
	// A system-versioned table's shape is that of its current rows: no
	// period columns, keys without ROW END (versioning.go).
	period, err := catalogPeriod(ctx, q, schema, table)
	if err != nil {
		return nil, err
	}
	if period != nil && period.trxID {
		return nil, supervise.Permanent(fmt.Errorf("mysql: table %s: %w: MariaDB binlogs its changes as statements, even with binlog_format=ROW", name, ErrTrxPrecise))
	}
	if period != nil {
		kept, keptCollations := cols[:0:0], collations[:0:0]
		for i, c := range cols {
			if !period.has(c.name) {
				kept, keptCollations = append(kept, c), append(keptCollations, collations[i])
			}
		}
		cols, collations = kept, keptCollations
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("mysql: table %s: no columns in information_schema.COLUMNS", name)
	}
	ids := map[string]uint64{}
	for i, cn := range collations {
		if !cn.Valid {
			continue
		}
		id, ok := ids[cn.String]
		if !ok {
			if id, err = catalogCollationID(ctx, q, cn.String); err != nil {
				return nil, fmt.Errorf("mysql: table %s column %s: %w", name, cols[i].name, err)
			}
			ids[cn.String] = id
		}
		cols[i].collation = id
	}
	indexes, err := catalogIndexes(ctx, q, schema, table)
	if err != nil {
		return nil, fmt.Errorf("mysql: table %s: %w", name, err)
	}
	for i := range indexes {
		indexes[i].columns = period.without(indexes[i].columns)
	}
	memory := strings.EqualFold(engine.String, "MEMORY") || strings.EqualFold(engine.String, "HEAP")
	return catalogBuild(schema, table, cols, indexes, mariadb && !memory, mariadb)
}

// catalogColumns reads the columns in table order, and their collation
// names.
func catalogColumns(ctx context.Context, q querier, schema, table string) ([]catalogColumn, []sql.NullString, error) {
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY,
			CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, COLLATION_NAME
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
		ORDER BY ORDINAL_POSITION`, schema, table)
	if err != nil {
		return nil, nil, fmt.Errorf("read information_schema.COLUMNS: %w", err)
	}
	defer rows.Close()
	var cols []catalogColumn
	var collations []sql.NullString
	for rows.Next() {
		var c catalogColumn
		var nullable string
		var key, collation sql.NullString
		var octets, precision, scale, fsp sql.NullInt64
		if err := rows.Scan(&c.name, &c.dataType, &c.columnType, &nullable, &key, &octets, &precision, &scale, &fsp, &collation); err != nil {
			return nil, nil, fmt.Errorf("read information_schema.COLUMNS: %w", err)
		}
		c.nullable, c.key = nullable == "YES", key.String
		c.octets, c.precision, c.scale, c.fsp = octets.Int64, precision.Int64, scale.Int64, fsp.Int64
		cols = append(cols, c)
		collations = append(collations, collation)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read information_schema.COLUMNS: %w", err)
	}
	return cols, collations, nil
}

// catalogCollationID is the id of a collation name.
func catalogCollationID(ctx context.Context, q querier, name string) (uint64, error) {
	var id sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT ID FROM information_schema.COLLATIONS WHERE COLLATION_NAME = ?", name).Scan(&id)
	if err == nil && id.Valid {
		return uint64(id.Int64), nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("collation %s: %w", name, err)
	}
	// MariaDB 10.10+: UCA 14 collations are listed by their full names
	// ("utf8mb4_uca1400_ai_ci") with ids only here. Older servers have
	// no such column: the error is the unknown collation.
	err = q.QueryRowContext(ctx, `SELECT ID FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY
		WHERE FULL_COLLATION_NAME = ?`, name).Scan(&id)
	if err == nil && id.Valid {
		return uint64(id.Int64), nil
	}
	return 0, fmt.Errorf("collation %s: no id in information_schema", name)
}

// catalogIndexes reads the unique indexes in the server's key order.
func catalogIndexes(ctx context.Context, q querier, schema, table string) ([]catalogIndex, error) {
	rows, err := q.QueryContext(ctx, `SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, INDEX_TYPE
		FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("read information_schema.STATISTICS: %w", err)
	}
	defer rows.Close()
	var out []catalogIndex
	at := map[string]int{}
	type part struct {
		seq int
		col string
	}
	parts := map[string][]part{}
	for rows.Next() {
		var idx, typ string
		var seq int
		var col sql.NullString // NULL: a MySQL functional key part
		if err := rows.Scan(&idx, &seq, &col, &typ); err != nil {
			return nil, fmt.Errorf("read information_schema.STATISTICS: %w", err)
		}
		if _, ok := at[idx]; !ok {
			at[idx] = len(out)
			out = append(out, catalogIndex{name: idx, hash: strings.EqualFold(typ, "HASH")})
		}
		parts[idx] = append(parts[idx], part{seq, col.String})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read information_schema.STATISTICS: %w", err)
	}
	for i := range out {
		ps := parts[out[i].name]
		cols := make([]string, len(ps))
		for _, p := range ps {
			if p.seq < 1 || p.seq > len(ps) {
				return nil, fmt.Errorf("index %s: key part %d of %d", out[i].name, p.seq, len(ps))
			}
			cols[p.seq-1] = p.col
		}
		out[i].columns = cols
	}
	return out, nil
}

// catalogBuild builds the table from its catalog rows. longHash: HASH
// unique indexes are MariaDB long unique keys, each with a hidden hash
// column. mariadb: geometry columns carry the binary collation, as
// MariaDB's TABLE_MAP events have it.
func catalogBuild(schema, table string, cols []catalogColumn, indexes []catalogIndex, longHash, mariadb bool) (*binlogTable, error) {
	name := schema + "." + table
	var hashKeys []catalogIndex
	if longHash {
		for _, ix := range indexes {
			if ix.hash && ix.name != "PRIMARY" {
				hashKeys = append(hashKeys, ix)
			}
		}
	}
	n := len(cols) + len(hashKeys)
	t := &binlogTable{
		table: &ordering.Table{Schema: schema, Name: table, Columns: make([]ordering.Column, n)},
		cols:  make([]binlogColumn, n),
		text:  make([]catalogText, n),
	}
	byName := map[string]int{}
	for i, cc := range cols {
		byName[strings.ToLower(cc.name)] = i
	}
	for i, cc := range cols {
		c := &t.cols[i]
		col := ordering.Column{Name: cc.name, Nullable: cc.nullable}
		typ, meta, size, text, err := catalogBinlogType(cc)
		if err != nil {
			return nil, fmt.Errorf("mysql: table %s column %s (%s): %w", name, cc.name, cc.columnType, err)
		}
		c.typ, c.meta, t.text[i] = typ, meta, text
		fail := func(err error) (*binlogTable, error) {
			return nil, fmt.Errorf("mysql: table %s column %s (binlog type %d): %w", name, col.Name, c.typ, err)
		}
		ct := strings.ToLower(cc.columnType)
		switch typ {
		case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
			mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE:
			c.unsigned = strings.Contains(ct, "unsigned")
		case mysql.MYSQL_TYPE_YEAR:
			c.unsigned = true // as MariaDB flags it; no part of the name
		}
		var enum, set []string
		switch typ {
		case mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET,
			mysql.MYSQL_TYPE_GEOMETRY:
			if typ == mysql.MYSQL_TYPE_GEOMETRY && !mariadb {
				break // MySQL sends no collation for geometry
			}
			id := cc.collation
			if id == 0 {
				id = binaryCollation // binary types have no COLLATION_NAME
			}
			cs, err := typesCollationCharset(id)
			if err != nil {
				return fail(err)
			}
			c.binary, c.charset = id == binaryCollation, cs
		}
		if typ == mysql.MYSQL_TYPE_ENUM || typ == mysql.MYSQL_TYPE_SET {
			labels, err := catalogLabels(cc.columnType)
			if err != nil {
				return fail(err)
			}
			if typ == mysql.MYSQL_TYPE_ENUM {
				enum = labels
			} else {
				set = labels
			}
			// The labels are UTF-8 already (describe converts binlog labels
			// from the column's charset).
			cs := c.charset
			c.charset = typesCharsets["utf8mb4"]
			err = c.describe(&col, size, enum, set)
			c.charset = cs
			if err != nil {
				return fail(err)
			}
		} else if err := c.describe(&col, size, nil, nil); err != nil {
			return fail(err)
		}
		if typ == mysql.MYSQL_TYPE_GEOMETRY {
			col.Type = catalogGeometryName(cc.dataType)
		}
		t.table.Columns[i] = col
	}
	// MariaDB's hidden hash columns follow the table's columns, one per
	// long unique key, named DB_ROW_HASH_<n> with n the first number free.
	num := 1
	for k, ix := range hashKeys {
		i := len(cols) + k
		hname := ""
		for {
			hname = "DB_ROW_HASH_" + strconv.Itoa(num)
			num++
			if _, taken := byName[strings.ToLower(hname)]; !taken {
				break
			}
		}
		byName[strings.ToLower(hname)] = i
		nullable := false
		for _, kc := range ix.columns {
			if j, ok := byName[strings.ToLower(kc)]; ok && j < len(cols) && cols[j].nullable {
				nullable = true
			}
		}
		c := &t.cols[i]
		c.typ, c.unsigned = mysql.MYSQL_TYPE_LONGLONG, true
		col := ordering.Column{Name: hname, Nullable: nullable}
		if err := c.describe(&col, 0, nil, nil); err != nil {
			return nil, err
		}
		t.table.Columns[i], t.text[i] = col, catalogHidden
	}
	t.table.PrimaryKey = catalogPrimaryKey(cols, indexes)
	return t, nil
}

// catalogPrimaryKey is the key the server treats as primary: PRIMARY, or
// else the unique index whose columns COLUMN_KEY marks PRI (the first
// UNIQUE key of NOT NULL whole columns).
func catalogPrimaryKey(cols []catalogColumn, indexes []catalogIndex) []string {
	for _, ix := range indexes {
		if ix.name == "PRIMARY" {
			return append([]string(nil), ix.columns...)
		}
	}
	pri := map[string]bool{}
	for _, c := range cols {
		if c.key == "PRI" {
			pri[strings.ToLower(c.name)] = true
		}
	}
	if len(pri) == 0 {
		return nil
	}
next:
	for _, ix := range indexes {
		if len(ix.columns) != len(pri) {
			continue
		}
		for _, c := range ix.columns {
			if !pri[strings.ToLower(c)] {
				continue next
			}
		}
		return append([]string(nil), ix.columns...)
	}
	return nil
}

// catalogBinlogType is the binlog type code and TABLE_MAP metadata the
// server writes for a column (ENUM and SET resolved from STRING, as
// newBinlogTable resolves them; meta stays the STRING metadata), the byte
// length of CHAR/BINARY columns, and how SELECT shows it.
func catalogBinlogType(c catalogColumn) (typ byte, meta uint16, size int, text catalogText, err error) {
	dt := strings.ToLower(strings.TrimSpace(c.dataType))
	if strings.Contains(strings.ToLower(c.columnType), "compressed*/") && dt != "enum" && dt != "set" {
		return 0, 0, 0, 0, errors.New("compressed columns are not supported")
	}
	u16 := func(v int64) uint16 { return uint16(min(max(v, 0), math.MaxUint16)) }
	switch dt {
	case "tinyint":
		typ = mysql.MYSQL_TYPE_TINY
	case "smallint":
		typ = mysql.MYSQL_TYPE_SHORT
	case "mediumint":
		typ = mysql.MYSQL_TYPE_INT24
	case "int", "integer":
		typ = mysql.MYSQL_TYPE_LONG
	case "bigint":
		typ = mysql.MYSQL_TYPE_LONGLONG
	case "year":
		typ = mysql.MYSQL_TYPE_YEAR
	case "bit":
		typ, meta = mysql.MYSQL_TYPE_BIT, u16(c.precision/8)<<8|u16(c.precision%8)
	case "decimal", "numeric":
		typ, meta = mysql.MYSQL_TYPE_NEWDECIMAL, u16(c.precision)<<8|u16(c.scale)&0xff
	case "float":
		typ, meta = mysql.MYSQL_TYPE_FLOAT, 4
	case "double", "real", "double precision":
		typ, meta = mysql.MYSQL_TYPE_DOUBLE, 8
	case "date":
		typ = mysql.MYSQL_TYPE_DATE
	case "time":
		typ, meta = mysql.MYSQL_TYPE_TIME2, u16(c.fsp)
	case "datetime":
		typ, meta = mysql.MYSQL_TYPE_DATETIME2, u16(c.fsp)
	case "timestamp":
		typ, meta = mysql.MYSQL_TYPE_TIMESTAMP2, u16(c.fsp)
	case "char", "binary":
		size = int(c.octets)
		typ, meta = mysql.MYSQL_TYPE_STRING, catalogStringMeta(mysql.MYSQL_TYPE_STRING, size)
	case "varchar", "varbinary":
		typ, meta = mysql.MYSQL_TYPE_VARCHAR, u16(c.octets)
	case "tinytext", "tinyblob":
		typ, meta = mysql.MYSQL_TYPE_BLOB, 1
	case "text", "blob":
		typ, meta = mysql.MYSQL_TYPE_BLOB, 2
	case "mediumtext", "mediumblob":
		typ, meta = mysql.MYSQL_TYPE_BLOB, 3
	case "longtext", "longblob":
		typ, meta = mysql.MYSQL_TYPE_BLOB, 4
	case "json": // MySQL's; MariaDB's JSON is a longtext
		typ, meta = mysql.MYSQL_TYPE_JSON, 4
	case "enum", "set":
		labels, err := catalogLabels(c.columnType)
		if err != nil {
			return 0, 0, 0, 0, err
		}
		typ, size = mysql.MYSQL_TYPE_ENUM, 1
		if len(labels) > 255 {
			size = 2
		}
		if dt == "set" {
			typ, size = mysql.MYSQL_TYPE_SET, (len(labels)+7)/8
			if size > 4 {
				size = 8
			}
		}
		meta = uint16(typ)<<8 | uint16(size)
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection":
		typ, meta = mysql.MYSQL_TYPE_GEOMETRY, 4
	case "uuid", "inet6", "inet4": // MariaDB: binary(16), binary(16), binary(4)
		size, text = 16, catalogUUID
		if dt == "inet6" {
			text = catalogINET6
		} else if dt == "inet4" {
			size, text = 4, catalogINET4
		}
		typ, meta = mysql.MYSQL_TYPE_STRING, catalogStringMeta(mysql.MYSQL_TYPE_STRING, size)
	case "vector": // MySQL 9: describe refuses it
		typ, meta = mysql.MYSQL_TYPE_VECTOR, 4
	default:
		return 0, 0, 0, 0, fmt.Errorf("unsupported column type %s", dt)
	}
	return typ, meta, size, text, nil
}

// catalogStringMeta is a STRING column's TABLE_MAP metadata: the real
// type in the high byte, with bits 8-9 of a length over 255 folded into
// it (XOR 0x30), the length's low byte in the low byte.
func catalogStringMeta(real byte, length int) uint16 {
	return uint16(real^byte((length&0x300)>>4))<<8 | uint16(length&0xff)
}

// catalogGeometryName is the type name of a geometry DATA_TYPE, as
// typesGeometryName names the binlog's subtypes.
func catalogGeometryName(dataType string) string {
	dt := strings.ToLower(dataType)
	if dt == "geomcollection" { // MySQL 8
		return "geometrycollection"
	}
	return dt
}

// catalogLabels parses the labels of an enum or set COLUMN_TYPE, as
//
//	enum('a','it''s','x\\y','b,c')
//
// Quotes are doubled; \0 \n \r \t \Z \b and \\ are escapes, any other \x
// is x.
func catalogLabels(columnType string) ([]string, error) {
	s := columnType
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return nil, errors.New("no labels in COLUMN_TYPE")
	}
	s = s[open+1:]
	labels := []string{}
	for {
		if len(s) == 0 || s[0] != '\'' {
			return nil, errors.New("malformed labels in COLUMN_TYPE")
		}
		s = s[1:]
		var b strings.Builder
		closed := false
		for len(s) > 0 && !closed {
			ch := s[0]
			switch {
			case ch == '\'' && len(s) > 1 && s[1] == '\'':
				b.WriteByte('\'')
				s = s[2:]
			case ch == '\'':
				closed = true
				s = s[1:]
			case ch == '\\' && len(s) > 1:
				e := s[1]
				switch e {
				case '0':
					e = 0
				case 'n':
					e = '\n'
				case 'r':
					e = '\r'
				case 't':
					e = '\t'
				case 'Z':
					e = 0x1a
				case 'b':
					e = '\b'
				}
				b.WriteByte(e)
				s = s[2:]
			default:
				b.WriteByte(ch)
				s = s[1:]
			}
		}
		if !closed {
			return nil, errors.New("unterminated label in COLUMN_TYPE")
		}
		labels = append(labels, b.String())
		if len(s) == 0 {
			return nil, errors.New("malformed labels in COLUMN_TYPE")
		}
		switch s[0] {
		case ',':
			s = s[1:]
		case ')':
			return labels, nil
		default:
			return nil, errors.New("malformed labels in COLUMN_TYPE")
		}
	}
}

// catalogQuote quotes an identifier.
func catalogQuote(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// selectList is the SELECT list whose text textRow reads: the columns in
// table order, FLOAT and DOUBLE columns as CAST(col AS DOUBLE) (the exact
// value; their own text can have too few digits), MariaDB's hidden hash
// columns (which no SELECT can read) as NULL.
func (t *binlogTable) selectList() string {
	out := make([]string, len(t.table.Columns))
	for i, c := range t.table.Columns {
		switch {
		case i < len(t.text) && t.text[i] == catalogHidden:
			out[i] = "NULL"
		case t.cols[i].typ == mysql.MYSQL_TYPE_FLOAT || t.cols[i].typ == mysql.MYSQL_TYPE_DOUBLE:
			out[i] = "CAST(" + catalogQuote(c.Name) + " AS DOUBLE)"
		case t.cols[i].ownDecoding():
			// The column's bytes, decoded as the binlog's are: the server
			// would turn bytes the charset does not define into '?'.
			out[i] = "CAST(" + catalogQuote(c.Name) + " AS BINARY)"
		default:
			out[i] = catalogQuote(c.Name)
		}
	}
	return strings.Join(out, ", ")
}

// textRow decodes a row SELECTed with the text protocol (selectList's
// columns; a NULL is a nil RawBytes) into the Values the binlog decoding
// gives for the same row.
func (t *binlogTable) textRow(vals []sql.RawBytes) ([]ordering.Value, error) {
	if len(vals) != len(t.cols) {
		return nil, fmt.Errorf("mysql: table %s: a row of %d columns for %d", t.table.QualifiedName(), len(vals), len(t.cols))
	}
	out := make([]ordering.Value, len(vals))
	for i, b := range vals {
		text := catalogPlain
		if i < len(t.text) {
			text = t.text[i]
		}
		if b == nil || text == catalogHidden {
			out[i] = ordering.Null()
			continue
		}
		v, err := t.cols[i].fromText(b, text)
		if err != nil {
			col := t.table.Columns[i]
			return nil, fmt.Errorf("mysql: table %s column %s (%s): %w", t.table.QualifiedName(), col.Name, col.Type, err)
		}
		out[i] = v
	}
	return out, nil
}

// fromText reads one column's text: into the Go value go-mysql produces
// for the column, then decode.
func (c *binlogColumn) fromText(b []byte, text catalogText) (ordering.Value, error) {
	s := string(b)
	switch text {
	case catalogUUID:
		h := strings.ReplaceAll(s, "-", "")
		raw, err := hex.DecodeString(h)
		if err != nil || len(raw) != 16 || len(s) != 36 {
			return ordering.Value{}, errTypesFormat
		}
		return c.decode(raw)
	case catalogINET6, catalogINET4:
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return ordering.Value{}, errTypesFormat
		}
		if text == catalogINET4 {
			if !a.Is4() {
				return ordering.Value{}, errTypesFormat
			}
			a4 := a.As4()
			return c.decode(a4[:])
		}
		a16 := a.As16()
		return c.decode(a16[:])
	}
	switch c.typ {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
		if c.unsigned {
			u, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return ordering.Value{}, errTypesFormat
			}
			return c.decode(u)
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return ordering.Value{}, errTypesFormat
		}
		return c.decode(i)
	case mysql.MYSQL_TYPE_YEAR:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return ordering.Value{}, errTypesFormat
		}
		return c.decode(i)
	case mysql.MYSQL_TYPE_BIT: // the bits' big-endian bytes
		if len(b) > 8 {
			return ordering.Value{}, errTypesFormat
		}
		var u uint64
		for _, x := range b {
			u = u<<8 | uint64(x)
		}
		return c.decode(u)
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		d, err := decimal.NewFromString(s)
		if err != nil {
			return ordering.Value{}, errTypesFormat
		}
		return c.decode(d)
	case mysql.MYSQL_TYPE_FLOAT:
		// CAST(col AS DOUBLE) text is the float32 exactly; FLOAT's own
		// 6-digit text is taken to the nearest float32.
		d, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return ordering.Value{}, errTypesFormat
		}
		if f := float32(d); float64(f) == d {
			return c.decode(f)
		}
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return ordering.Value{}, errTypesFormat
		}
		return c.decode(float32(f))
	case mysql.MYSQL_TYPE_DOUBLE:
		d, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return ordering.Value{}, errTypesFormat
		}
		return c.decode(d)
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_BLOB:
		if c.binary {
			return c.decode(b) // binary(n) re-padded
		}
		if c.ownDecoding() {
			return c.decode(b) // the column's bytes (selectList): decoded as in the binlog
		}
		return ordering.String(s), nil // the server converted it to UTF-8
	case mysql.MYSQL_TYPE_GEOMETRY:
		return c.decode(b)
	case mysql.MYSQL_TYPE_ENUM:
		for j, l := range c.enum {
			if l == s {
				return c.decode(int64(j + 1))
			}
		}
		if s == "" {
			return c.decode(int64(0)) // the invalid value ''
		}
		return ordering.Value{}, errors.New("the value is none of the labels information_schema shows (labels with characters outside the BMP show as '?')")
	case mysql.MYSQL_TYPE_SET:
		var bits uint64
		if s != "" {
			for _, m := range strings.Split(s, ",") {
				j := catalogIndexOf(c.set, m)
				if j < 0 || j >= 64 {
					return ordering.Value{}, errors.New("a member is none of the labels information_schema shows (labels with characters outside the BMP show as '?')")
				}
				bits |= 1 << j
			}
		}
		return c.decode(bits)
	case mysql.MYSQL_TYPE_JSON:
		j, err := catalogJSON(b)
		if err != nil {
			return ordering.Value{}, errTypesFormat
		}
		return c.decode(j)
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE, mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2,
		mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2, mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		return c.decode(s) // the text go-mysql formats; TIMESTAMP in UTC (session time_zone '+00:00')
	}
	return ordering.Value{}, errors.New("unsupported column type")
}

// ownDecoding reports whether the text column c is decoded by walship
// from its charset's bytes (types_charset.go) rather than taken as the
// server's UTF-8.
func (c *binlogColumn) ownDecoding() bool {
	switch c.typ {
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_BLOB:
		return !c.binary && c.charset != nil && c.charset.decode != nil
	}
	return false
}

func catalogIndexOf(labels []string, s string) int {
	for i, l := range labels {
		if l == s {
			return i
		}
	}
	return -1
}

// catalogJSON renders MySQL's JSON text as go-mysql renders the binary
// document: integers as int64 (uint64 beyond), other numbers as float64,
// then json.Marshal (sorted keys, no spaces).
func catalogJSON(b []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errTypesFormat
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			s := string(x)
			if !strings.ContainsAny(s, ".eE") {
				if i, err := strconv.ParseInt(s, 10, 64); err == nil {
					return i
				}
				if u, err := strconv.ParseUint(s, 10, 64); err == nil {
					return u
				}
			}
			f, _ := strconv.ParseFloat(s, 64)
			return f
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = walk(x[k])
			}
		}
		return v
	}
	return json.Marshal(walk(v))
}
