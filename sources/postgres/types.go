package postgres

// PostgreSQL type mapping.
//
// pgoutput sends column values in text format: the output function of the
// column's type, run in the walsender's session. The source fixes that
// session's settings, and every parser below relies on them:
//
//	DateStyle=ISO, MDY  IntervalStyle=iso_8601  TimeZone=UTC
//	extra_float_digits=3  bytea_output=hex
//
// Values decode to ordering kinds as follows (Column.Type is always
// format_type(oid, typmod), e.g. "numeric(12,2)", "character varying(40)[]"):
//
//	PostgreSQL type                    Kind          Value / notes
//	int2, int4, int8, oid              int           Int
//	numeric                            decimal       the exact text; "NaN", "Infinity", "-Infinity" kept; never a float
//	float4, float8                     float         Float; NaN, ±Infinity, -0 kept; float4 parsed as float32, then widened
//	bool                               bool          't' / 'f'
//	text, varchar, bpchar, name,       string        the text; bpchar keeps its padding
//	  other base types of category S (citext)
//	bytea                              bytes         "\x…" hex
//	date                               date          days since 1970-01-01; "infinity"/"-infinity" → Special; BC years
//	time                               time          µs since midnight; "24:00:00" = 86400000000
//	timestamp                          timestamp     µs since 1970 of the wall clock; ±infinity → Special
//	timestamptz                        timestamptz   µs since 1970 UTC, any ±HH[:MM[:SS]] offset; ±infinity → Special
//	interval                           interval      ISO 8601 as the server writes it ("P1Y2M3DT4H5M6.78S", "PT0S", "P-1Y-2M3D")
//	uuid                               uuid          canonical lower-case text
//	json, jsonb                        json          the text as sent
//	enum types                         enum          the label; Column.Enum has the labels in sort order
//	domains                            the base type's kind; Column.Type is the domain's name, Length/
//	                                                 Precision/Scale/Enum come from the base type
//	arrays (category A)                array         nested Array values, one level per dimension;
//	                                                 Column.Elem is the element kind; bounds like "[0:1]=" dropped
//
// CARRIED AS TEXT (KindText, the server's output text verbatim): timetz
// ("13:45:00+02"), bit and varbit ("0101"), money, inet, cidr, macaddr,
// macaddr8, the geometric types (point, line, lseg, box, path, polygon,
// circle), xml, tsvector, tsquery, jsonpath, range and multirange types,
// composite types, hstore, "char", int2vector, oidvector, the reg* types,
// xid, pg_lsn, and every other type not named above.
//
// Timestamps beyond the int64 microsecond range (after 294247-01-10, up to
// PostgreSQL's 294276-12-31) cannot be an Int: they decode to Special with
// the server's text, so they still reach a PostgreSQL follower unchanged.
// Enum labels are not checked against Column.Enum: a label added by ALTER
// TYPE … ADD VALUE after the types were loaded still decodes.
//
// Decoding errors name the type and an offset, never the value: they may be
// logged, and row data must not be.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/ordering"
)

// pgType is a column type as the catalog describes it.
type pgType struct {
	OID    uint32
	Name   string // format_type(oid, typmod), e.g. "numeric(12,2)", "character varying(40)", "text[]", "mood"
	Typmod int32
	Kind   ordering.Kind // the logical kind values of this type decode to
	Elem   *pgType       // arrays: the element type (domains resolved); domains over arrays: the base's
	Base   *pgType       // domains: the base type (recursively resolved)
	Enum   []string      // enum labels in sort order (also set on domains over enums)
	Delim  byte          // arrays: the element type's typdelim, which array_out uses; ',' for almost all
}

// typeRef names a column type: pg_attribute's atttypid and atttypmod, or
// pgoutput's Relation message column type OID and modifier.
type typeRef struct {
	OID    uint32
	Typmod int32
}

// Built-in type OIDs (pg_type.dat; fixed across releases).
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt2Vector  = 22
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidOIDVector   = 30
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidInterval    = 1186
	oidTimeTZ      = 1266
	oidBit         = 1560
	oidVarbit      = 1562
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// builtinKinds maps the built-in base types that are not carried as text.
var builtinKinds = map[uint32]ordering.Kind{
	oidInt2: ordering.KindInt, oidInt4: ordering.KindInt, oidInt8: ordering.KindInt, oidOID: ordering.KindInt,
	oidNumeric: ordering.KindDecimal,
	oidFloat4:  ordering.KindFloat, oidFloat8: ordering.KindFloat,
	oidBool: ordering.KindBool,
	oidText: ordering.KindString, oidVarchar: ordering.KindString, oidBPChar: ordering.KindString, oidName: ordering.KindString,
	oidBytea:       ordering.KindBytes,
	oidDate:        ordering.KindDate,
	oidTime:        ordering.KindTime,
	oidTimestamp:   ordering.KindTimestamp,
	oidTimestampTZ: ordering.KindTimestampTZ,
	oidInterval:    ordering.KindInterval,
	oidUUID:        ordering.KindUUID,
	oidJSON:        ordering.KindJSON, oidJSONB: ordering.KindJSON,
}

// maxTypeDepth bounds domain and array nesting while resolving.
const maxTypeDepth = 16

// typeRow is one pg_type row, the columns the mapping needs.
type typeRow struct {
	OID        uint32
	Name       string // typname
	Type       byte   // typtype: b base, c composite, d domain, e enum, p pseudo, r range, m multirange
	Category   byte   // typcategory
	Elem       uint32 // typelem
	BaseType   uint32 // typbasetype (domains)
	BaseTypmod int32  // typtypmod (domains)
	Delim      byte   // typdelim
	Len        int16  // typlen
}

// isArray reports a true array type. int2vector and oidvector are
// category A too but print as "1 2 3": they stay text. So do fixed-length
// types with typelem (name, point), which are not category A.
func (r *typeRow) isArray() bool {
	return r.Category == 'A' && r.Elem != 0 && r.Len == -1 && r.OID != oidInt2Vector && r.OID != oidOIDVector
}

// dep returns the type a row's values are made of: a domain's base, an
// array's element; ref is the type with its typmod.
func (r *typeRow) dep(ref typeRef) (typeRef, bool) {
	switch {
	case r.Type == 'd':
		return typeRef{r.BaseType, r.BaseTypmod}, true
	case r.isArray():
		// An array column's typmod applies to its elements.
		return typeRef{r.Elem, ref.Typmod}, true
	}
	return typeRef{}, false
}

// loadTypes resolves the given type OIDs (with typmods) from pg_type and
// pg_enum: domains to their base type, arrays to their element, enum
// labels. It caches nothing itself. Queries use the simple protocol with
// literal integer lists, so they also run on a replication=database
// connection.
func loadTypes(ctx context.Context, conn *pgx.Conn, cols []typeRef) (map[typeRef]*pgType, error) {
	rows := map[uint32]*typeRow{}
	want := map[uint32]bool{}
	for _, c := range cols {
		want[c.OID] = true
	}
	for round := 0; len(want) > 0; round++ {
		if round > maxTypeDepth {
			return nil, errors.New("postgres: type resolution too deep")
		}
		got, err := queryTypeRows(ctx, conn, want)
		if err != nil {
			return nil, err
		}
		next := map[uint32]bool{}
		for oid := range want {
			r, ok := got[oid]
			if !ok {
				return nil, &typeGoneError{oid: oid}
			}
			rows[oid] = r
		}
		for _, r := range got {
			if d, ok := r.dep(typeRef{}); ok && rows[d.OID] == nil {
				next[d.OID] = true
			}
		}
		want = next
	}

	// Every (oid, typmod) pair reachable from cols, for format_type.
	refs := map[typeRef]bool{}
	var enums []uint32
	var walk func(typeRef, int)
	walk = func(ref typeRef, depth int) {
		if refs[ref] || depth > maxTypeDepth {
			return
		}
		refs[ref] = true
		r := rows[ref.OID]
		if r.Type == 'e' {
			enums = append(enums, r.OID)
		}
		if d, ok := r.dep(ref); ok {
			walk(d, depth+1)
		}
	}
	for _, c := range cols {
		walk(c, 0)
	}
	names, err := queryTypeNames(ctx, conn, refs)
	if err != nil {
		return nil, err
	}
	labels, err := queryEnumLabels(ctx, conn, enums)
	if err != nil {
		return nil, err
	}
	return buildTypes(cols, rows, names, labels)
}

// querySimple runs a catalog query with the simple protocol and calls
// scan for each row.
func querySimple(ctx context.Context, conn *pgx.Conn, what, sql string, scan func(pgx.Rows) error) error {
	rs, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return fmt.Errorf("postgres: %s: %w", what, err)
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	return nil
}

func oidList(oids []uint32) string {
	list := make([]string, len(oids))
	for i, oid := range oids {
		list[i] = strconv.FormatUint(uint64(oid), 10)
	}
	return strings.Join(list, ",")
}

func queryTypeRows(ctx context.Context, conn *pgx.Conn, want map[uint32]bool) (map[uint32]*typeRow, error) {
	oids := make([]uint32, 0, len(want))
	for oid := range want {
		oids = append(oids, oid)
	}
	out := map[uint32]*typeRow{}
	err := querySimple(ctx, conn, "read pg_type", `SELECT t.oid::int8, t.typname::text, t.typtype::text,
		t.typcategory::text, t.typelem::int8, t.typbasetype::int8, t.typtypmod, t.typdelim::text, t.typlen
		FROM pg_catalog.pg_type t WHERE t.oid IN (`+oidList(oids)+`)`, func(rs pgx.Rows) error {
		var oid, elem, base int64
		var typtype, category, delim string
		r := &typeRow{}
		if err := rs.Scan(&oid, &r.Name, &typtype, &category, &elem, &base, &r.BaseTypmod, &delim, &r.Len); err != nil {
			return err
		}
		r.OID, r.Elem, r.BaseType = uint32(oid), uint32(elem), uint32(base)
		r.Type, r.Category, r.Delim = firstByte(typtype), firstByte(category), firstByte(delim)
		out[r.OID] = r
		return nil
	})
	return out, err
}

func queryTypeNames(ctx context.Context, conn *pgx.Conn, refs map[typeRef]bool) (map[typeRef]string, error) {
	names := map[typeRef]string{}
	vals := make([]string, 0, len(refs))
	for r := range refs {
		vals = append(vals, fmt.Sprintf("(%d::int8,(%d)::int4)", r.OID, r.Typmod))
	}
	if len(vals) == 0 {
		return names, nil
	}
	err := querySimple(ctx, conn, "format_type", `SELECT v.o, v.m, pg_catalog.format_type(v.o::oid, v.m)
		FROM (VALUES `+strings.Join(vals, ",")+`) AS v(o, m)`, func(rs pgx.Rows) error {
		var oid int64
		var mod int32
		var name string
		err := rs.Scan(&oid, &mod, &name)
		names[typeRef{uint32(oid), mod}] = name
		return err
	})
	return names, err
}

func queryEnumLabels(ctx context.Context, conn *pgx.Conn, oids []uint32) (map[uint32][]string, error) {
	labels := map[uint32][]string{}
	if len(oids) == 0 {
		return labels, nil
	}
	err := querySimple(ctx, conn, "read pg_enum", `SELECT e.enumtypid::int8, e.enumlabel::text
		FROM pg_catalog.pg_enum e WHERE e.enumtypid IN (`+oidList(oids)+`)
		ORDER BY e.enumtypid, e.enumsortorder`, func(rs pgx.Rows) error {
		var oid int64
		var label string
		err := rs.Scan(&oid, &label)
		labels[uint32(oid)] = append(labels[uint32(oid)], label)
		return err
	})
	return labels, err
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// buildTypes makes the pgType of every col from catalog rows: the pure half
// of loadTypes. names are format_type results (typname when missing),
// labels the enum labels by type OID.
func buildTypes(cols []typeRef, rows map[uint32]*typeRow, names map[typeRef]string, labels map[uint32][]string) (map[typeRef]*pgType, error) {
	memo := map[typeRef]*pgType{}
	var build func(typeRef, int) (*pgType, error)
	build = func(ref typeRef, depth int) (*pgType, error) {
		if t := memo[ref]; t != nil {
			return t, nil
		}
		if depth > maxTypeDepth {
			return nil, errors.New("postgres: type resolution too deep")
		}
		r := rows[ref.OID]
		if r == nil {
			return nil, &typeGoneError{oid: ref.OID}
		}
		t := &pgType{OID: ref.OID, Name: names[ref], Typmod: ref.Typmod, Delim: r.Delim}
		if t.Name == "" {
			t.Name = r.Name
		}
		switch {
		case r.Type == 'd':
			base, err := build(typeRef{r.BaseType, r.BaseTypmod}, depth+1)
			if err != nil {
				return nil, err
			}
			t.Base = base.resolved()
			t.Kind, t.Elem, t.Enum, t.Delim = t.Base.Kind, t.Base.Elem, t.Base.Enum, t.Base.Delim
		case r.isArray():
			elem, err := build(typeRef{r.Elem, ref.Typmod}, depth+1)
			if err != nil {
				return nil, err
			}
			t.Kind, t.Elem = ordering.KindArray, elem.resolved()
			if er := rows[r.Elem]; er != nil && er.Delim != 0 {
				t.Delim = er.Delim
			}
		case r.Type == 'e':
			t.Kind, t.Enum = ordering.KindEnum, labels[ref.OID]
		default:
			t.Kind = classify(r)
		}
		if t.Delim == 0 {
			t.Delim = ','
		}
		memo[ref] = t
		return t, nil
	}
	out := make(map[typeRef]*pgType, len(cols))
	for _, c := range cols {
		t, err := build(c, 0)
		if err != nil {
			return nil, err
		}
		out[c] = t
	}
	return out, nil
}

// classify maps a base, composite, range or pseudo type to its kind.
func classify(r *typeRow) ordering.Kind {
	if k, ok := builtinKinds[r.OID]; ok {
		return k
	}
	if r.Type == 'b' && r.Category == 'S' { // string types of extensions: citext
		return ordering.KindString
	}
	return ordering.KindText
}

// resolved follows domains down to their base type.
func (t *pgType) resolved() *pgType {
	for t.Base != nil {
		t = t.Base
	}
	return t
}

// column describes the column for the change model.
func (t *pgType) column(name string, nullable bool) ordering.Column {
	c := ordering.Column{Name: name, Kind: t.Kind, Type: t.Name, Nullable: nullable, Enum: t.Enum}
	s := t.resolved()
	if s.Kind == ordering.KindArray && s.Elem != nil {
		s = s.Elem.resolved()
		c.Elem = s.Kind
		c.Enum = s.Enum
	}
	mod := s.Typmod
	switch s.OID {
	case oidVarchar, oidBPChar:
		if mod >= 4 {
			c.Length = int(mod - 4)
		}
	case oidBit, oidVarbit:
		if mod > 0 {
			c.Length = int(mod)
		}
	case oidNumeric:
		c.Precision, c.Scale = -1, -1
		if mod >= 4 {
			m := mod - 4
			c.Precision = int(m>>16) & 0xffff
			c.Scale = (int(m&0x7ff) ^ 1024) - 1024 // 11-bit signed: numeric(p,-s) exists since PG 15
		}
	case oidTime, oidTimeTZ, oidTimestamp, oidTimestampTZ:
		c.Precision = -1
		if mod >= 0 {
			c.Precision = int(mod)
		}
	case oidInterval:
		c.Precision = -1
		if p := int(mod) & 0xffff; mod >= 0 && p != 0xffff {
			c.Precision = p
		}
	}
	return c
}

// decode turns the text form into a Value losslessly.
func (t *pgType) decode(text []byte) (ordering.Value, error) {
	v, err := t.resolved().decodeBase(text)
	if err != nil {
		return ordering.Value{}, fmt.Errorf("postgres: decode %s: %w", t.Name, err)
	}
	return v, nil
}

func (t *pgType) decodeBase(text []byte) (ordering.Value, error) {
	switch t.Kind {
	case ordering.KindInt:
		n, err := strconv.ParseInt(string(text), 10, 64)
		if err != nil {
			return ordering.Value{}, errors.New("not an integer")
		}
		return ordering.Int(n), nil
	case ordering.KindDecimal:
		if !isNumericText(text) {
			return ordering.Value{}, errors.New("not a numeric")
		}
		return ordering.Decimal(string(text)), nil
	case ordering.KindFloat:
		return decodeFloat(text, t.OID == oidFloat4)
	case ordering.KindBool:
		if len(text) == 1 && (text[0] == 't' || text[0] == 'f') {
			return ordering.Bool(text[0] == 't'), nil
		}
		return ordering.Value{}, errors.New("not 't' or 'f'")
	case ordering.KindString:
		return ordering.String(string(text)), nil
	case ordering.KindBytes:
		b, err := decodeBytea(text)
		if err != nil {
			return ordering.Value{}, err
		}
		return ordering.Bytes(b), nil
	case ordering.KindDate:
		if s, ok := infinity(text); ok {
			return ordering.Special(ordering.KindDate, s), nil
		}
		d, err := parseDateText(string(text))
		if err != nil {
			return ordering.Value{}, err
		}
		return ordering.Date(d), nil
	case ordering.KindTime:
		us, err := parseTimeText(string(text))
		if err != nil {
			return ordering.Value{}, err
		}
		return ordering.Time(us), nil
	case ordering.KindTimestamp, ordering.KindTimestampTZ:
		return decodeTimestamp(text, t.Kind)
	case ordering.KindInterval:
		if !isISOInterval(text) {
			return ordering.Value{}, errors.New("not an ISO 8601 interval (IntervalStyle must be iso_8601)")
		}
		return ordering.Interval(string(text)), nil
	case ordering.KindUUID:
		if !isUUIDText(text) {
			return ordering.Value{}, errors.New("not a uuid")
		}
		return ordering.UUID(strings.ToLower(string(text))), nil
	case ordering.KindJSON:
		return ordering.JSON(string(text)), nil
	case ordering.KindEnum:
		return ordering.Enum(string(text)), nil
	case ordering.KindArray:
		if t.Elem == nil {
			return ordering.Value{}, errors.New("array type without element type")
		}
		return parseArray(text, t.Delim, t.Elem.resolved().decodeBase)
	}
	return ordering.Text(string(text)), nil
}

// decodeFloat parses float4 as float32, so that the widened value is
// exactly the stored float32 (0.1 stays 0.100000001490116…).
func decodeFloat(text []byte, float4 bool) (ordering.Value, error) {
	bits := 64
	if float4 {
		bits = 32
	}
	s := string(text)
	switch s { // PostgreSQL's spellings only: ParseFloat would also take "inf"
	case "NaN":
		return ordering.Float(math.NaN()), nil
	case "Infinity":
		return ordering.Float(math.Inf(1)), nil
	case "-Infinity":
		return ordering.Float(math.Inf(-1)), nil
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return ordering.Value{}, errors.New("not a float")
	}
	return ordering.Float(f), nil
}

// isNumericText accepts numeric_out's output: NaN, ±Infinity, or an
// optionally negative decimal without exponent.
func isNumericText(b []byte) bool {
	switch string(b) {
	case "NaN", "Infinity", "-Infinity":
		return true
	}
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	digits, dot := 0, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func isUUIDText(b []byte) bool {
	if len(b) != 36 {
		return false
	}
	for i, c := range b {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// decodeBytea reads byteaout's hex format "\x0a1b…" (bytea_output=hex).
func decodeBytea(text []byte) ([]byte, error) {
	if len(text) < 2 || text[0] != '\\' || text[1] != 'x' {
		return nil, errors.New("bytea not in hex format (bytea_output must be hex)")
	}
	out := make([]byte, hex.DecodedLen(len(text)-2))
	if _, err := hex.Decode(out, text[2:]); err != nil {
		return nil, errors.New("malformed bytea hex")
	}
	return out, nil
}

// typeGoneError is a type OID pg_type no longer holds (dropped since the
// change that uses it was written).
type typeGoneError struct{ oid uint32 }

func (e *typeGoneError) Error() string {
	return fmt.Sprintf("postgres: type oid %d is not in pg_type", e.oid)
}
