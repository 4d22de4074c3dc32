package envelope

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/walship/walship/ordering"
)

// The writer appends JSON by hand: field order is fixed (golden files pin
// it) and the hot path allocates little.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; KindString values are UTF-8 by contract.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript consumers; escape them.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendValue appends one column value in its Debezium JSON encoding.
func appendValue(b []byte, v ordering.Value) []byte {
	switch v.Kind() {
	case ordering.KindNull:
		return append(b, "null"...)
	case ordering.KindUnchanged:
		return appendString(b, Unavailable)
	case ordering.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case ordering.KindInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case ordering.KindUint:
		return strconv.AppendUint(b, v.Uint(), 10)
	case ordering.KindFloat:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return appendString(b, "NaN")
		case math.IsInf(f, 1):
			return appendString(b, "Infinity")
		case math.IsInf(f, -1):
			return appendString(b, "-Infinity")
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case ordering.KindBytes:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"')
	case ordering.KindDate, ordering.KindTime, ordering.KindTimestamp:
		if v.IsSpecial() {
			return appendString(b, v.Special())
		}
		return strconv.AppendInt(b, v.Int(), 10)
	case ordering.KindTimestampTZ:
		if v.IsSpecial() {
			return appendString(b, v.Special())
		}
		return appendString(b, formatZoned(v.Int()))
	case ordering.KindArray:
		b = append(b, '[')
		for i, e := range v.Elems() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case ordering.KindDecimal:
		return appendString(b, decimalOut(v.Text()))
	}
	// String, Interval, UUID, JSON, Enum, Text: their text.
	return appendString(b, v.Text())
}

// formatZoned formats UTC microseconds as Debezium's ZonedTimestamp text.
// Years outside 0000-9999 (PostgreSQL reaches 4713 BC and 294276 AD) get
// ISO 8601's expanded form: a sign and at least five digits, as Debezium
// writes them ("+10000-01-01T00:00:00Z", "-00043-03-15T12:00:00Z").
func formatZoned(micros int64) string {
	t := time.UnixMicro(micros).UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return fmt.Sprintf("%+06d", y) + t.Format("-01-02T15:04:05.999999Z")
	}
	return t.Format(zonedLayout)
}

// parseZoned is the inverse of formatZoned, for any year.
func parseZoned(s string) (time.Time, error) {
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		i := 1
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		y, err := strconv.Atoi(s[:i])
		if err != nil || i < 6 {
			return time.Time{}, fmt.Errorf("timestamp %q: bad expanded year", s)
		}
		// Parse the rest in a leap year, so Feb 29 is valid, then move it.
		rest, err := time.Parse(time.RFC3339Nano, "2000"+s[i:])
		if err != nil {
			return time.Time{}, err
		}
		return time.Date(y, rest.Month(), rest.Day(), rest.Hour(), rest.Minute(), rest.Second(), rest.Nanosecond(), time.UTC), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

const zonedLayout = "2006-01-02T15:04:05.999999Z"

// appendRow appends a row image as a JSON object in column order, or null.
func appendRow(b []byte, t *ordering.Table, row []ordering.Value) []byte {
	if row == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, c := range t.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, c.Name)
		b = append(b, ':')
		b = appendValue(b, row[i])
	}
	return append(b, '}')
}

// Debezium's decimal.handling.mode=string spells a decimal's special values
// as Java's enum names.
func decimalOut(text string) string {
	switch text {
	case "NaN":
		return "NAN"
	case "Infinity":
		return "POSITIVE_INFINITY"
	case "-Infinity":
		return "NEGATIVE_INFINITY"
	}
	return text
}

func decimalIn(text string) string {
	switch text {
	case "NAN":
		return "NaN"
	case "POSITIVE_INFINITY":
		return "Infinity"
	case "NEGATIVE_INFINITY":
		return "-Infinity"
	}
	return text
}
