package postgres

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"

	"github.com/walship/walship/ordering"
)

// Binary COPY. A bulk load is written in COPY's binary format when every
// follower column's type is one of these, whose binary form a value of
// the listed kinds has exactly (the same stored value as its Param text
// read by the type's input function):
//
//	follower type                 kinds                          binary form
//	boolean                       bool                           1 byte
//	smallint, integer, bigint     int, uint within the type's    big-endian two's complement
//	                              range (not a bit(n) source)
//	double precision              float, not NaN                 IEEE 754 bits
//	text, character varying[(n)]  string, text, enum, json,      the bytes (varchar's length is
//	                              uuid, decimal; no NUL            checked by its receive function)
//	bytea                         bytes                          the bytes
//	timestamp, timestamptz        timestamp, timestamptz (same   µs since 2000-01-01, within
//	(no precision)                time zone-ness), not special   PostgreSQL's range
//	date                          date, not special, in range    days since 2000-01-01
//	uuid                          uuid in canonical text         16 bytes
//
// A value outside that (a NULL is always fine) makes the whole load text
// (errTextOnly), which writes it, or names its error, as the statement
// path does. Other types (numeric, float4, json, arrays, intervals, …)
// are always text.

// errTextOnly: the load must be written in text format.
var errTextOnly = errors.New("postgres sink: value has no exact binary COPY form here")

// pgEpochMicros and pgEpochDays are 2000-01-01 in µs and days since 1970.
const (
	pgEpochMicros = 946684800000000
	pgEpochDays   = 10957
	// PostgreSQL's timestamp range (MIN_TIMESTAMP, END_TIMESTAMP) and
	// date range (julian day 0 .. date of END_TIMESTAMP), relative to 2000.
	pgMinTimestamp = -211813488000000000
	pgEndTimestamp = 9223371331200000000
	pgMinDate      = -2451545
	pgEndDate      = 2147483494 - 2451545
)

// binType is a follower type with a binary form here.
type binType uint8

const (
	binNone binType = iota
	binBool
	binInt2
	binInt4
	binInt8
	binFloat8
	binText
	binBytea
	binTimestamp
	binTimestampTZ
	binDate
	binUUID
)

// binaryType maps a follower type (format_type's text, lower case) to its
// binary form here, or binNone.
func binaryType(t string) binType {
	switch t {
	case "boolean", "bool":
		return binBool
	case "smallint", "int2":
		return binInt2
	case "integer", "int", "int4":
		return binInt4
	case "bigint", "int8":
		return binInt8
	case "double precision", "float8":
		return binFloat8
	case "text":
		return binText
	case "bytea":
		return binBytea
	case "timestamp without time zone", "timestamp":
		return binTimestamp
	case "timestamp with time zone", "timestamptz":
		return binTimestampTZ
	case "date":
		return binDate
	case "uuid":
		return binUUID
	}
	if t == "character varying" || t == "varchar" ||
		strings.HasPrefix(t, "character varying(") && strings.HasSuffix(t, ")") && !strings.Contains(t, "[") {
		return binText
	}
	return binNone
}

// binaryColumns reports whether every column's follower type has a
// binary form here.
func binaryColumns(cols []ordering.Column, types map[string]string) bool {
	for _, c := range cols {
		if binaryType(types[c.Name]) == binNone || isBitType(c) {
			return false
		}
	}
	return true
}

var copyBinaryHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// encodeBinary writes rows in COPY's binary format, or fails with
// errTextOnly.
func encodeBinary(buf *bytes.Buffer, cols []ordering.Column, types map[string]string, rows [][]ordering.Value) error {
	bt := make([]binType, len(cols))
	for i, c := range cols {
		bt[i] = binaryType(types[c.Name])
	}
	b := append(buf.AvailableBuffer(), copyBinaryHeader...)
	var ok bool
	for _, r := range rows {
		b = binary.BigEndian.AppendUint16(b, uint16(len(r)))
		for i, v := range r {
			if b, ok = appendBinary(b, bt[i], v); !ok {
				return errTextOnly
			}
		}
		if len(b) >= 64<<10 {
			buf.Write(b)
			b = buf.AvailableBuffer()
		}
	}
	b = binary.BigEndian.AppendUint16(b, 0xffff)
	buf.Write(b)
	return nil
}

// appendBinary appends v's field (length and bytes) as type t.
func appendBinary(b []byte, t binType, v ordering.Value) ([]byte, bool) {
	k := v.Kind()
	if k == ordering.KindNull {
		return binary.BigEndian.AppendUint32(b, 0xffffffff), true
	}
	switch t {
	case binBool:
		if k == ordering.KindBool {
			b = binary.BigEndian.AppendUint32(b, 1)
			if v.Bool() {
				return append(b, 1), true
			}
			return append(b, 0), true
		}
	case binInt2, binInt4, binInt8:
		var n int64
		switch k {
		case ordering.KindInt:
			n = v.Int()
		case ordering.KindUint:
			if v.Uint() > math.MaxInt64 {
				return b, false
			}
			n = int64(v.Uint())
		default:
			return b, false
		}
		switch t {
		case binInt2:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return b, false
			}
			b = binary.BigEndian.AppendUint32(b, 2)
			return binary.BigEndian.AppendUint16(b, uint16(n)), true
		case binInt4:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return b, false
			}
			b = binary.BigEndian.AppendUint32(b, 4)
			return binary.BigEndian.AppendUint32(b, uint32(n)), true
		}
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, uint64(n)), true
	case binFloat8:
		if k == ordering.KindFloat && !math.IsNaN(v.Float()) {
			b = binary.BigEndian.AppendUint32(b, 8)
			return binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float())), true
		}
	case binText:
		switch k {
		case ordering.KindString, ordering.KindText, ordering.KindEnum, ordering.KindJSON, ordering.KindUUID, ordering.KindDecimal:
			s := v.Text()
			if strings.IndexByte(s, 0) >= 0 || len(s) > math.MaxInt32 {
				return b, false
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
			return append(b, s...), true
		}
	case binBytea:
		if k == ordering.KindBytes {
			s := v.Text()
			if len(s) > math.MaxInt32 {
				return b, false
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
			return append(b, s...), true
		}
	case binTimestamp, binTimestampTZ:
		want := ordering.KindTimestamp
		if t == binTimestampTZ {
			want = ordering.KindTimestampTZ
		}
		if k == want && !v.IsSpecial() {
			us := v.Int()
			if us < pgMinTimestamp+pgEpochMicros || us-pgEpochMicros >= pgEndTimestamp {
				return b, false
			}
			b = binary.BigEndian.AppendUint32(b, 8)
			return binary.BigEndian.AppendUint64(b, uint64(us-pgEpochMicros)), true
		}
	case binDate:
		if k == ordering.KindDate && !v.IsSpecial() {
			d := v.Int() - pgEpochDays
			if d < pgMinDate || d >= pgEndDate {
				return b, false
			}
			b = binary.BigEndian.AppendUint32(b, 4)
			return binary.BigEndian.AppendUint32(b, uint32(int32(d))), true
		}
	case binUUID:
		if k == ordering.KindUUID {
			var u [16]byte
			if !parseUUID(v.Text(), &u) {
				return b, false
			}
			b = binary.BigEndian.AppendUint32(b, 16)
			return append(b, u[:]...), true
		}
	}
	return b, false
}

// parseUUID reads the canonical 8-4-4-4-12 hex form (either case).
func parseUUID(s string, u *[16]byte) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i--
			continue
		}
		hi, lo := unhex(s[i]), unhex(s[i+1])
		if hi < 0 || lo < 0 {
			return false
		}
		u[j] = byte(hi<<4 | lo)
		j++
	}
	return j == 16
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
