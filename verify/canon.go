package verify

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Kind is the comparison class of a source column.
type Kind int

const (
	KindOther Kind = iota
	KindInt
	KindDecimal
	KindFloat32
	KindFloat
	KindBool
	KindText
	KindBytes
	KindDate
	KindTime
	KindTimestamp
	KindTimestampTZ
	KindJSON
	KindUUID
	KindArray
	KindInterval
	KindJSONB
	KindBit // MySQL BIT(n): its unsigned integer value (what the source carries)
)

var kindNames = [...]string{"other", "integer", "decimal", "real", "double", "boolean", "text", "bytes", "date", "time",
	"timestamp", "timestamptz", "json", "uuid", "array", "interval", "jsonb", "bit"}

func (k Kind) String() string { return kindNames[k] }

// pgKind classifies a PostgreSQL base type name (domains resolved).
func pgKind(typname string, isArray bool, typtype string) Kind {
	if isArray {
		return KindArray
	}
	if typtype == "e" {
		return KindText
	}
	switch typname {
	case "int2", "int4", "int8", "oid":
		return KindInt
	case "numeric":
		return KindDecimal
	case "float4":
		return KindFloat32
	case "float8":
		return KindFloat
	case "bool":
		return KindBool
	case "text", "varchar", "bpchar", "name", "citext", "char":
		return KindText
	case "bytea":
		return KindBytes
	case "date":
		return KindDate
	case "time":
		return KindTime
	case "timestamp":
		return KindTimestamp
	case "timestamptz":
		return KindTimestampTZ
	case "json":
		return KindJSON
	case "jsonb":
		return KindJSONB
	case "uuid":
		return KindUUID
	case "interval":
		return KindInterval
	}
	return KindOther
}

// mysqlKind classifies an information_schema DATA_TYPE.
func mysqlKind(dataType string) Kind {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return KindInt
	case "decimal", "numeric":
		return KindDecimal
	case "float":
		return KindFloat32
	case "double", "real":
		return KindFloat
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return KindText
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return KindBytes
	case "date":
		return KindDate
	case "time":
		return KindTime
	case "datetime":
		return KindTimestamp
	case "timestamp":
		return KindTimestampTZ
	case "json":
		return KindJSON
	case "uuid":
		return KindUUID
	case "bit":
		return KindBit
	}
	return KindOther
}

// rawText turns a scanned driver value of a column of kind k, read as r
// on engine, into text. Bytes of a bytes column become lower-case hex
// unless the query already produced hex; a MySQL float read as WKB
// becomes its exact double's shortest text. On SQLite, whose columns hold
// any storage class, a value of another class than the one the kind is
// stored as (TEXT where BLOB belongs, a REAL in an integer column) gets a
// prefix naming its class: it equals no value of the right class.
func rawText(v any, k Kind, r colRead, engine string) (string, bool) {
	if v == nil {
		return "", false
	}
	if r.bits {
		// A PostgreSQL bit string holding a MySQL BIT: its value.
		s := fmt.Sprint(v)
		if b, ok := v.([]byte); ok {
			s = string(b)
		}
		if n, ok := new(big.Int).SetString(s, 2); ok && s != "" {
			return n.String(), true
		}
		return "(bits " + s + ")", true
	}
	if r.wkb {
		s, ok := v.(string)
		if b, isBytes := v.([]byte); isBytes {
			s, ok = string(b), true
		}
		if f, err := wkbX(s); ok && err == nil {
			return strconv.FormatFloat(f, 'g', -1, 64), true
		}
		return fmt.Sprintf("(unreadable WKB %q)", s), true
	}
	prefix := ""
	if engine == "sqlite" {
		prefix = sqliteClassMismatch(v, k)
	}
	switch x := v.(type) {
	case []byte:
		if k == KindBytes && !r.hex {
			return prefix + hex.EncodeToString(x), true
		}
		return prefix + string(x), true
	case string:
		if k == KindBytes && !r.hex {
			return prefix + hex.EncodeToString([]byte(x)), true
		}
		return prefix + x, true
	case int64:
		return prefix + strconv.FormatInt(x, 10), true
	case float64:
		return prefix + strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case time.Time:
		return prefix + x.UTC().Format("2006-01-02 15:04:05.999999"), true
	}
	return prefix + fmt.Sprint(v), true
}

// sqliteClassMismatch is the prefix marking a SQLite value whose storage
// class is not the one the SQLite sink stores kind k as ("" when it is).
func sqliteClassMismatch(v any, k Kind) string {
	var want string
	switch k {
	case KindInt, KindBool, KindBit:
		want = "INTEGER"
	case KindFloat, KindFloat32:
		want = "REAL"
	case KindBytes:
		want = "BLOB"
	case KindOther:
		return ""
	default:
		want = "TEXT"
	}
	var got string
	switch v.(type) {
	case int64:
		got = "INTEGER"
	case float64:
		got = "REAL"
	case []byte:
		got = "BLOB"
	case string:
		got = "TEXT"
	default:
		return ""
	}
	if got == want {
		return ""
	}
	return "(stored as " + got + ") "
}

// wkbX is the X coordinate of a point's WKB given as hex: 1 byte order,
// 4 bytes type, 8 bytes X.
func wkbX(s string) (float64, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return 0, err
	}
	if len(b) < 13 {
		return 0, fmt.Errorf("WKB of %d bytes", len(b))
	}
	bits := binary.LittleEndian.Uint64(b[5:13])
	if b[0] == 0 {
		bits = binary.BigEndian.Uint64(b[5:13])
	}
	return math.Float64frombits(bits), nil
}

// Canonical is the cross-engine canonical form of the text s of a column
// of kind k. It is strict: a form it cannot parse exactly (spaces around
// a number, a date followed by anything, a zone on a timestamp without
// one) is returned as it is, so it equals only the same text. Floats read
// as text parse as float64 here; sides that read a single-precision text
// use canonFloatValue (see cursor.next).
func Canonical(k Kind, s string) string {
	switch k {
	case KindInt, KindBit:
		if isInteger(s) || s == "0" {
			return s
		}
	case KindBool:
		switch s {
		case "t", "true", "1":
			return "1"
		case "f", "false", "0":
			return "0"
		}
	case KindDecimal:
		return canonDecimal(s)
	case KindFloat, KindFloat32:
		if f, ok := parseFloat(s, 64); ok {
			return canonFloatValue(k, f)
		}
	case KindDate:
		return canonDate(s)
	case KindTime:
		return canonTime(s)
	case KindTimestamp, KindTimestampTZ:
		return canonTimestamp(s, k == KindTimestampTZ)
	case KindJSONB:
		if out, ok := normalizeJSONB(s); ok {
			return out
		}
	case KindArray:
		return canonJSON(s)
	}
	// Text, bytes (lower-case hex on every side), json (kept as the
	// source wrote it, duplicate keys and order included), uuids,
	// intervals and other types: exactly.
	return s
}

func isInteger(s string) bool {
	t := strings.TrimPrefix(s, "-")
	if t == "" || (len(t) > 1 && t[0] == '0') {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return s != "-0"
}

// canonDecimal is a decimal's value: sign, no leading zeros, no trailing
// fraction zeros (1.50 = 1.5000, as engines pad to their column's scale),
// exponents expanded exactly; NaN, Infinity and -Infinity as PostgreSQL
// spells them. Anything else (spaces, a plus sign) is returned as it is.
func canonDecimal(s string) string {
	switch s {
	case "NaN", "Infinity", "-Infinity":
		return s
	}
	d, ok := parseDecimal(s)
	if !ok {
		return s
	}
	d.frac = strings.TrimRight(d.frac, "0")
	return d.String()
}

// decimal is an exact decimal number: -int.frac.
type decimal struct {
	neg       bool
	int, frac string // digits; int without leading zeros ("" is 0)
}

func (d decimal) String() string {
	out := d.int
	if out == "" {
		out = "0"
	}
	if d.frac != "" {
		out += "." + d.frac
	}
	if d.neg && strings.Trim(d.int+d.frac, "0") != "" {
		out = "-" + out
	}
	return out
}

// parseDecimal parses [-]digits[.digits][e[+-]digits] exactly, keeping
// the fraction's trailing zeros (and the zeros an exponent implies, as
// PostgreSQL's numeric does: 1.50e1 is 15.0, 1e2 is 100).
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	t := s
	if strings.HasPrefix(t, "-") {
		d.neg, t = true, t[1:]
	}
	mant, exp := t, 0
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		mant = t[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(t[i+1:], "+"))
		if err != nil || t[i+1:] == "" || strings.HasPrefix(t[i+1:], "+-") || e > 100000 || e < -100000 {
			return d, false
		}
		exp = e
	}
	ip, fp, hasPoint := strings.Cut(mant, ".")
	if ip == "" && fp == "" || hasPoint && fp == "" && ip == "" {
		return d, false
	}
	for _, c := range ip + fp {
		if c < '0' || c > '9' {
			return d, false
		}
	}
	digits, point := ip+fp, len(ip)+exp
	scale := max(0, len(fp)-exp)
	switch {
	case point <= 0:
		digits = strings.Repeat("0", -point) + digits
		point = 0
	case point > len(digits):
		digits += strings.Repeat("0", point-len(digits))
	}
	d.int, d.frac = strings.TrimLeft(digits[:point], "0"), digits[point:]
	if len(d.frac) < scale {
		d.frac += strings.Repeat("0", scale-len(d.frac))
	} else {
		// Digits past the scale are zeros an exponent moved in (1.50e1).
		d.frac = d.frac[:scale] + strings.TrimRight(d.frac[scale:], "0")
	}
	return d, true
}

// parseFloat parses a float text as engines print it: digits, Infinity,
// -Infinity, NaN (PostgreSQL), inf and nan (SQLite through Go).
func parseFloat(s string, bits int) (float64, bool) {
	switch s {
	case "NaN", "nan", "NaN(0)":
		return math.NaN(), true
	case "Infinity", "+Inf", "inf", "+inf":
		return math.Inf(1), true
	case "-Infinity", "-Inf", "-inf":
		return math.Inf(-1), true
	}
	if s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, "_xXpP") || strings.EqualFold(strings.TrimLeft(s, "+-"), "inf") ||
		strings.EqualFold(strings.TrimLeft(s, "+-"), "infinity") || strings.EqualFold(strings.TrimLeft(s, "+-"), "nan") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, false
	}
	return f, true
}

// canonFloatValue is the canonical form of a float value v (exact: every
// engine's text or bytes of it were read without loss). Doubles compare
// by their exact binary value. A single-precision column compares by its
// float32 value, which a follower may hold either widened exactly or as
// the double nearest the float32's shortest decimal text (what a sink that
// writes the decimal into a double column stores); any other double is a
// different value. Signed zeros are equal, as IEEE 754 compares them.
func canonFloatValue(k Kind, v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	case v == 0:
		return "0"
	}
	if k == KindFloat32 {
		f32 := float32(v)
		short := strconv.FormatFloat(float64(f32), 'g', -1, 32)
		if float64(f32) == v {
			return short
		}
		if d, err := strconv.ParseFloat(short, 64); err == nil && d == v {
			return short
		}
		return "double:" + strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// splitYear parses a leading (optionally signed) year of at least four
// digits and applies a PostgreSQL " BC" suffix: it returns the
// astronomical year text (0000 is 1 BC) and the rest.
func splitYear(s string) (year string, rest string, ok bool) {
	bc := false
	if strings.HasSuffix(s, " BC") {
		bc, s = true, strings.TrimSuffix(s, " BC")
	}
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = s[:1], s[1:]
	}
	i := strings.IndexByte(s, '-')
	if i < 4 || !allDigits(s[:i]) {
		return "", "", false
	}
	y, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return "", "", false
	}
	if sign == "-" {
		y = -y
	}
	if bc {
		y = 1 - y
	}
	if y < 0 {
		return fmt.Sprintf("-%04d", -y), s[i:], true
	}
	return fmt.Sprintf("%04d", y), s[i:], true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// twoDigits parses exactly two digits at most max.
func twoDigits(s string, max int) bool {
	if len(s) != 2 || !allDigits(s) {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n <= max
}

// monthDay checks "-MM-DD".
func monthDay(s string) bool {
	return len(s) == 6 && s[0] == '-' && s[3] == '-' && twoDigits(s[1:3], 12) && s[1:3] != "00" &&
		twoDigits(s[4:6], 31) && s[4:6] != "00"
}

// canonDate is YYYY-MM-DD with a signed astronomical year; the whole text
// must be a date.
func canonDate(s string) string {
	if s == "infinity" || s == "-infinity" {
		return s
	}
	y, rest, ok := splitYear(s)
	if !ok || !monthDay(rest) {
		return s
	}
	return y + rest
}

// canonTime is microseconds: from [-]H+:MM:SS[.f] or an integer (already
// microseconds).
func canonTime(s string) string {
	if isInteger(s) || s == "0" {
		return s
	}
	t := strings.TrimPrefix(s, "-")
	neg := t != s
	parts := strings.Split(t, ":")
	if len(parts) != 3 || !allDigits(parts[0]) || !twoDigits(parts[1], 59) {
		return s
	}
	sec, frac, hasFrac := strings.Cut(parts[2], ".")
	if !twoDigits(sec, 59) || len(frac) > 6 || hasFrac && !allDigits(frac) {
		return s
	}
	h, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return s
	}
	m, _ := strconv.ParseInt(parts[1], 10, 64)
	sv, _ := strconv.ParseInt(sec, 10, 64)
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	us := ((h*60+m)*60+sv)*1_000_000 + f
	if neg {
		us = -us
	}
	return strconv.FormatInt(us, 10)
}

// canonTimestamp is YYYY-MM-DD HH:MM:SS.ffffff; with a zone (allowed only
// when zoned: a timestamp without time zone that carries an offset is a
// different value) in UTC.
func canonTimestamp(s string, zoned bool) string {
	if s == "infinity" || s == "-infinity" {
		return s
	}
	y, rest, ok := splitYear(s)
	// rest: -MM-DD[ T]HH:MM:SS[.f][zone]
	if !ok || len(rest) < 15 || !monthDay(rest[:6]) || rest[6] != ' ' && rest[6] != 'T' {
		return s
	}
	date, clock := rest[:6], rest[7:]
	if len(clock) < 8 || clock[2] != ':' || clock[5] != ':' || !twoDigits(clock[:2], 24) || !twoDigits(clock[3:5], 59) ||
		!twoDigits(clock[6:8], 60) {
		return s
	}
	hms, tail := clock[:8], clock[8:]
	frac := ""
	if strings.HasPrefix(tail, ".") {
		i := 1
		for i < len(tail) && tail[i] >= '0' && tail[i] <= '9' {
			i++
		}
		frac, tail = tail[1:i], tail[i:]
		if frac == "" {
			return s
		}
	}
	if len(frac) > 6 {
		return s
	}
	frac = (frac + "000000")[:6]
	out := y + date + " " + hms + "." + frac
	if tail == "" {
		return out
	}
	if !zoned {
		return s
	}
	switch tail {
	case "Z", "+00", "+00:00":
		return out
	}
	if len(y) != 4 || len(tail) != 3 && len(tail) != 6 || tail[0] != '+' && tail[0] != '-' {
		return s
	}
	if len(tail) == 3 {
		tail += ":00"
	}
	tm, err := time.Parse("2006-01-02 15:04:05.000000-07:00", out+tail)
	if err != nil {
		return s
	}
	return tm.UTC().Format("2006-01-02 15:04:05.000000")
}

// canonJSON is a JSON document (PostgreSQL arrays read as array_to_json)
// re-encoded with sorted keys and the numbers' own text; text that is not
// exactly one JSON document, or has duplicate keys, is returned as it is.
func canonJSON(s string) string {
	v, ok := parseJSON(s)
	if !ok || v.dupKeys() {
		return s
	}
	var b strings.Builder
	v.write(&b, false)
	return b.String()
}

// normalizeJSONB is a document as PostgreSQL's jsonb stores and prints
// it: duplicate keys keep their last value, keys ordered by length then
// bytes, ", " and ": " between items, numbers as numeric prints them.
func normalizeJSONB(s string) (string, bool) {
	v, ok := parseJSON(s)
	if !ok {
		return "", false
	}
	var b strings.Builder
	v.write(&b, true)
	return b.String(), true
}

// compareKey orders two canonical key values of kind k: numbers
// numerically, everything else by bytes.
func compareKey(k Kind, a, b string) int {
	switch k {
	case KindInt, KindDecimal, KindTime, KindBit:
		ra, oka := new(big.Rat).SetString(a)
		rb, okb := new(big.Rat).SetString(b)
		if oka && okb {
			return ra.Cmp(rb)
		}
	case KindFloat, KindFloat32:
		fa, ea := strconv.ParseFloat(a, 64)
		fb, eb := strconv.ParseFloat(b, 64)
		if ea == nil && eb == nil {
			switch {
			case fa < fb:
				return -1
			case fa > fb:
				return 1
			}
			return 0
		}
	case KindBool:
		// PostgreSQL text is true/false: order by the canonical 0/1.
		return strings.Compare(Canonical(KindBool, a), Canonical(KindBool, b))
	}
	return strings.Compare(a, b)
}

// Kinds lists every comparison class, KindOther first.
func Kinds() []Kind {
	out := make([]Kind, len(kindNames))
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// PostgresKind is the comparison class of a PostgreSQL column whose base
// type (domains resolved) is typname, of typtype, an array or not.
func PostgresKind(typname string, isArray bool, typtype string) Kind {
	return pgKind(typname, isArray, typtype)
}

// MySQLKind is the comparison class of an information_schema DATA_TYPE.
func MySQLKind(dataType string) Kind { return mysqlKind(dataType) }
