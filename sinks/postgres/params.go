package postgres

// Value encodings. The pool runs pgx in simple-protocol mode: every
// parameter travels as a quoted literal in the statement text and the
// server casts it to the column's type, exactly as if the source's output
// text were typed into psql. So Param returns text (bytea: []byte, which
// pgx writes as '\x…') in PostgreSQL's input syntax under DateStyle=ISO,
// IntervalStyle=iso_8601, TimeZone=UTC:
//
//	kind          text sent                                    notes
//	bool          t / f
//	int, uint     decimal digits                               bit(n) columns of a MySQL source: n binary digits
//	float         strconv 'g' shortest; NaN, Infinity, -Infinity (PostgreSQL's spellings); -0 kept
//	decimal       the exact text (NaN, ±Infinity included)
//	date          YYYY-MM-DD[ BC]; infinity/-infinity as is    MySQL zero dates: ErrUnsupported
//	time          [-]HH:MM:SS.ffffff (hours may pass 24: MySQL TIME into interval)
//	timestamp     YYYY-MM-DD HH:MM:SS.ffffff[ BC]              specials (±infinity, the source's text of
//	timestamptz   YYYY-MM-DD HH:MM:SS.ffffff+00[ BC]             out-of-range years) as is
//	interval      the ISO 8601 text
//	array         an array literal: {"a","b\"c",NULL,{…}}; every element quoted and escaped, box[] uses ';'
//	others        the text (strings, uuid, json, enum labels, KindText)
//
// Text with a NUL character is ErrUnsupported: PostgreSQL text cannot hold
// it (a MySQL source can send it).

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqltext"
)

// Param converts a value of column c into a driver argument.
func (d *Dialect) Param(c ordering.Column, v ordering.Value) (any, error) {
	switch v.Kind() {
	case ordering.KindNull:
		return nil, nil
	case ordering.KindUnchanged:
		return nil, fmt.Errorf("postgres sink: column %s: an unchanged (unsent) value has no parameter", c.Name)
	case ordering.KindBytes:
		b := v.Bytes()
		if b == nil {
			b = []byte{} // empty bytea, not NULL
		}
		return b, nil
	}
	return text(c, v)
}

// text is v in PostgreSQL's input syntax.
func text(c ordering.Column, v ordering.Value) (string, error) {
	switch v.Kind() {
	case ordering.KindBool:
		if v.Bool() {
			return "t", nil
		}
		return "f", nil
	case ordering.KindInt:
		if isBitType(c) {
			if v.Int() < 0 {
				return "", unsupported(c, "negative value for bit(n)")
			}
			return bits(c, uint64(v.Int()))
		}
		return strconv.FormatInt(v.Int(), 10), nil
	case ordering.KindUint:
		if isBitType(c) {
			return bits(c, v.Uint())
		}
		return strconv.FormatUint(v.Uint(), 10), nil
	case ordering.KindFloat:
		return formatFloat(v.Float()), nil
	case ordering.KindDecimal:
		return v.Text(), nil
	case ordering.KindBytes:
		return `\x` + fmt.Sprintf("%x", v.Bytes()), nil
	case ordering.KindDate:
		if v.IsSpecial() {
			return special(c, v)
		}
		if d := v.Int(); d < -sqltext.MaxDays || d > sqltext.MaxDays {
			return "", unsupported(c, "date out of range")
		}
		return string(appendDate(nil, v.Int())), nil
	case ordering.KindTime:
		return string(sqltext.AppendDuration(nil, v.Int())), nil
	case ordering.KindTimestamp, ordering.KindTimestampTZ:
		if v.IsSpecial() {
			return special(c, v)
		}
		return timestamp(v.Int(), v.Kind() == ordering.KindTimestampTZ), nil
	case ordering.KindString, ordering.KindText, ordering.KindEnum, ordering.KindJSON,
		ordering.KindUUID, ordering.KindInterval:
		if strings.IndexByte(v.Text(), 0) >= 0 {
			return "", unsupported(c, "PostgreSQL text cannot hold a NUL character")
		}
		return v.Text(), nil
	case ordering.KindArray:
		var b strings.Builder
		delim := byte(',')
		if parsePG(c.Type).base == "box" {
			delim = ';' // box's typdelim: its text has commas
		}
		if err := arrayLiteral(&b, c, v, delim, 0); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	return "", unsupported(c, "value of kind %s", v.Kind())
}

// maxArrayDims is PostgreSQL's MAXDIM.
const maxArrayDims = 6

// arrayLiteral writes v as array_in reads it: braces per dimension, every
// non-NULL element double-quoted with " and \ backslash-escaped.
func arrayLiteral(b *strings.Builder, c ordering.Column, v ordering.Value, delim byte, depth int) error {
	if depth >= maxArrayDims {
		return unsupported(c, "array has more than %d dimensions", maxArrayDims)
	}
	b.WriteByte('{')
	for i, e := range v.Elems() {
		if i > 0 {
			b.WriteByte(delim)
		}
		switch e.Kind() {
		case ordering.KindNull:
			b.WriteString("NULL")
			continue
		case ordering.KindArray:
			if err := arrayLiteral(b, c, e, delim, depth+1); err != nil {
				return err
			}
			continue
		case ordering.KindUnchanged:
			return unsupported(c, "unchanged array element")
		}
		s, err := text(c, e)
		if err != nil {
			return err
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return nil
}

// formatFloat writes f as float8in/float4in read it.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// special passes PostgreSQL's infinity and out-of-range text through and
// refuses MySQL's zero dates, which no PostgreSQL date can hold.
func special(c ordering.Column, v ordering.Value) (string, error) {
	s := v.Special()
	if sqltext.IsZeroDateText(s) {
		return "", unsupported(c, "MySQL zero date (year, month or day 0) has no PostgreSQL equivalent")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", unsupported(c, "NUL character in a date")
	}
	return s, nil
}

// appendDate appends YYYY-MM-DD, with " BC" for astronomical years <= 0.
func appendDate(b []byte, days int64) []byte {
	y, m, d := sqltext.CivilFromDays(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	b = sqltext.AppendPad(b, uint64(y), 4)
	b = sqltext.AppendMD(b, m, d)
	if bc {
		b = append(b, " BC"...)
	}
	return b
}

// timestamp formats µs since 1970 as YYYY-MM-DD HH:MM:SS.ffffff[+00][ BC].
func timestamp(us int64, tz bool) string {
	return string(appendTimestamp(make([]byte, 0, 36), us, tz))
}

// appendTimestamp appends timestamp's text.
func appendTimestamp(b []byte, us int64, tz bool) []byte {
	days, tod := sqltext.SplitMicros(us)
	start := len(b)
	b = appendDate(b, days)
	bc := len(b)-start > 3 && string(b[len(b)-3:]) == " BC"
	if bc {
		b = b[:len(b)-3]
	}
	b = append(b, ' ')
	b = sqltext.AppendClock(b, uint64(tod))
	if tz {
		b = append(b, "+00"...)
	}
	if bc {
		b = append(b, " BC"...)
	}
	return b
}

// isBitType reports a bit(n) column, whose integer values (a MySQL source's
// BIT) are written as binary digits.
func isBitType(c ordering.Column) bool {
	return parseMyType(c.Type).base == "bit"
}

// bits writes u as exactly n binary digits for bit(n).
func bits(c ordering.Column, u uint64) (string, error) {
	n := bitWidth(parseMyType(c.Type))
	s := strconv.FormatUint(u, 2)
	if len(s) > n {
		return "", unsupported(c, "value needs more than %d bits", n)
	}
	return strings.Repeat("0", n-len(s)) + s, nil
}
