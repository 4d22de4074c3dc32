package ordering

import (
	"fmt"
	"math"
	"strconv"
)

// Kind is the logical type of a Value. It is engine-neutral: each source
// maps its native types onto these kinds, and each sink maps them back.
type Kind uint8

// The kinds. Comments say which field of a Value holds the data.
const (
	KindNull        Kind = iota // SQL NULL
	KindUnchanged               // value not sent by the source (unchanged TOAST); never NULL
	KindBool                    // Bool()
	KindInt                     // Int(): signed integers up to 64 bits
	KindUint                    // Uint(): unsigned integers up to 64 bits
	KindFloat                   // Float(): float4/float8/double, NaN and ±Inf included
	KindDecimal                 // Text(): exact decimal text ("-12.3400", "NaN", "Infinity")
	KindString                  // Text(): character data, UTF-8
	KindBytes                   // Bytes(): binary data
	KindDate                    // Int(): days since 1970-01-01, or Special()
	KindTime                    // Int(): microseconds since midnight (may be negative or over 24h for MySQL TIME)
	KindTimestamp               // Int(): microseconds since 1970-01-01 of a wall-clock time (no time zone), or Special()
	KindTimestampTZ             // Int(): microseconds since 1970-01-01 UTC, or Special()
	KindInterval                // Text(): ISO 8601 duration with exact months, days, seconds ("P1Y2M3DT4H5M6.5S")
	KindUUID                    // Text(): canonical lower-case UUID
	KindJSON                    // Text(): JSON document text as the source stored it
	KindEnum                    // Text(): the label
	KindArray                   // Elems(): one dimension of values, nested for more
	KindText                    // Text(): any other type, in the source's text form (see the source's doc)
)

var kindNames = [...]string{
	KindNull: "null", KindUnchanged: "unchanged", KindBool: "bool", KindInt: "int", KindUint: "uint",
	KindFloat: "float", KindDecimal: "decimal", KindString: "string", KindBytes: "bytes", KindDate: "date",
	KindTime: "time", KindTimestamp: "timestamp", KindTimestampTZ: "timestamptz", KindInterval: "interval",
	KindUUID: "uuid", KindJSON: "json", KindEnum: "enum", KindArray: "array", KindText: "text",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown kind %q", ErrMalformed, s)
}

// Value is one column value of a row image. The zero Value is NULL.
// Values are immutable once built; share them freely.
type Value struct {
	kind  Kind
	num   uint64  // bool, int, uint, float bits, date, time, timestamps
	str   string  // decimal, string, bytes, interval, uuid, json, enum, text, temporal specials
	elems []Value // array elements
}

// Constructors, one per kind.

func Null() Value                  { return Value{} }
func Unchanged() Value             { return Value{kind: KindUnchanged} }
func Bool(b bool) Value            { return Value{kind: KindBool, num: b2u(b)} }
func Int(i int64) Value            { return Value{kind: KindInt, num: uint64(i)} }
func Uint(u uint64) Value          { return Value{kind: KindUint, num: u} }
func Float(f float64) Value        { return Value{kind: KindFloat, num: math.Float64bits(f)} }
func Decimal(text string) Value    { return Value{kind: KindDecimal, str: text} }
func String(s string) Value        { return Value{kind: KindString, str: s} }
func Bytes(b []byte) Value         { return Value{kind: KindBytes, str: string(b)} }
func Date(days int64) Value        { return Value{kind: KindDate, num: uint64(days)} }
func Time(micros int64) Value      { return Value{kind: KindTime, num: uint64(micros)} }
func Timestamp(micros int64) Value { return Value{kind: KindTimestamp, num: uint64(micros)} }
func TimestampTZ(micros int64) Value {
	return Value{kind: KindTimestampTZ, num: uint64(micros)}
}
func Interval(iso string) Value  { return Value{kind: KindInterval, str: iso} }
func UUID(text string) Value     { return Value{kind: KindUUID, str: text} }
func JSON(text string) Value     { return Value{kind: KindJSON, str: text} }
func Enum(label string) Value    { return Value{kind: KindEnum, str: label} }
func Text(text string) Value     { return Value{kind: KindText, str: text} }
func Array(elems ...Value) Value { return Value{kind: KindArray, elems: elems} }

// Special is a date or timestamp that has no instant: PostgreSQL's
// "infinity" and "-infinity", MySQL's zero dates "0000-00-00" and
// "0000-00-00 00:00:00". k is KindDate, KindTimestamp or KindTimestampTZ.
func Special(k Kind, literal string) Value { return Value{kind: k, str: literal} }

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Kind reports the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports SQL NULL.
func (v Value) IsNull() bool { return v.kind == KindNull }

// IsUnchanged reports a value the source did not send.
func (v Value) IsUnchanged() bool { return v.kind == KindUnchanged }

// Accessors. Each returns the zero value for kinds it does not apply to.

func (v Value) Bool() bool      { return v.kind == KindBool && v.num == 1 }
func (v Value) Int() int64      { return int64(v.num) }
func (v Value) Uint() uint64    { return v.num }
func (v Value) Float() float64  { return math.Float64frombits(v.num) }
func (v Value) Text() string    { return v.str }
func (v Value) Bytes() []byte   { return []byte(v.str) }
func (v Value) Elems() []Value  { return v.elems }
func (v Value) IsSpecial() bool { return v.str != "" && isTemporal(v.kind) }
func (v Value) Special() string { return v.str }
func isTemporal(k Kind) bool    { return k == KindDate || k == KindTimestamp || k == KindTimestampTZ }

// Equal reports whether two values are identical, kind included. NaN
// equals NaN here: the question is "same data", not IEEE comparison.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind || v.num != o.num || v.str != o.str || len(v.elems) != len(o.elems) {
		return false
	}
	for i := range v.elems {
		if !v.elems[i].Equal(o.elems[i]) {
			return false
		}
	}
	return true
}

// String formats the value for debugging. It prints row data: never log
// it by default.
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "NULL"
	case KindUnchanged:
		return "<unchanged>"
	case KindBool:
		return strconv.FormatBool(v.Bool())
	case KindInt:
		return strconv.FormatInt(v.Int(), 10)
	case KindUint:
		return strconv.FormatUint(v.Uint(), 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case KindBytes:
		return fmt.Sprintf("%x", v.str)
	case KindDate, KindTime, KindTimestamp, KindTimestampTZ:
		if v.IsSpecial() {
			return v.str
		}
		return v.kind.String() + ":" + strconv.FormatInt(v.Int(), 10)
	case KindArray:
		return fmt.Sprint(v.elems)
	}
	return v.str
}
