package sqltext

// Array values as JSON text, and ISO 8601 temporal text.
//
// An array becomes a JSON array the way PostgreSQL's to_json writes one,
// so the element type (Column.Elem) tells how to read each element back:
//
//	element kind                     JSON
//	NULL                             null
//	bool                             true / false
//	int, uint                        number
//	float                            number; NaN, Infinity, -Infinity as strings
//	decimal                          the exact text as a number; NaN, ±Infinity as strings
//	date                             "YYYY-MM-DD" (astronomical years: 1 BC is "0000", 44 BC "-0043")
//	time                             "[-]HH:MM:SS.ffffff"
//	timestamp / timestamptz          "YYYY-MM-DDTHH:MM:SS.ffffff" / with "+00:00"; specials as their text
//	bytes                            "\\x…" hex, as PostgreSQL's to_json(bytea)
//	json                             the document itself
//	array                            a nested JSON array
//	others                           a string (invalid UTF-8: ErrUnsupported)

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/walship/walship/ordering"
)

// maxJSONDepth bounds nesting (PostgreSQL arrays have at most 6 dimensions).
const maxJSONDepth = 6

// AppendJSON appends v as JSON. The error says why, never what the value is.
func AppendJSON(b []byte, v ordering.Value, depth int) ([]byte, error) {
	switch v.Kind() {
	case ordering.KindNull:
		return append(b, "null"...), nil
	case ordering.KindBool:
		return strconv.AppendBool(b, v.Bool()), nil
	case ordering.KindInt:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case ordering.KindUint:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case ordering.KindFloat:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(b, `"NaN"`...), nil
		case math.IsInf(f, 1):
			return append(b, `"Infinity"`...), nil
		case math.IsInf(f, -1):
			return append(b, `"-Infinity"`...), nil
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64), nil
	case ordering.KindDecimal:
		if IsJSONNumber(v.Text()) {
			return append(b, v.Text()...), nil
		}
		return AppendJSONString(b, v.Text())
	case ordering.KindBytes:
		b = append(b, `"\\x`...)
		b = hex.AppendEncode(b, v.Bytes())
		return append(b, '"'), nil
	case ordering.KindDate, ordering.KindTimestamp, ordering.KindTimestampTZ:
		if v.IsSpecial() {
			return AppendJSONString(b, v.Special())
		}
		s, err := ISOTemporal(v, 'T')
		if err != nil {
			return nil, err
		}
		return AppendJSONString(b, s)
	case ordering.KindTime:
		return AppendJSONString(b, string(AppendDuration(nil, v.Int())))
	case ordering.KindJSON:
		if !json.Valid([]byte(v.Text())) {
			return nil, errors.New("array element is not valid JSON")
		}
		return append(b, v.Text()...), nil
	case ordering.KindArray:
		if depth >= maxJSONDepth {
			return nil, errors.New("array nested too deeply")
		}
		b = append(b, '[')
		for i, e := range v.Elems() {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = AppendJSON(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case ordering.KindString, ordering.KindText, ordering.KindEnum, ordering.KindUUID, ordering.KindInterval:
		return AppendJSONString(b, v.Text())
	}
	return nil, errors.New("array element of kind " + v.Kind().String())
}

// AppendJSONString appends s as a JSON string.
func AppendJSONString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("text is not valid UTF-8")
	}
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"'), nil
}

// IsJSONNumber reports a decimal text that is also a JSON number:
// -?digits[.digits], no leading zeros but a lone 0.
func IsJSONNumber(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' || i+1 == len(s) {
		return false
	}
	for _, c := range s[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// AppendISODate appends YYYY-MM-DD with the astronomical year: four digits
// for 0000-9999, else signed ("-0043-03-15", "+10000-01-01").
func AppendISODate(b []byte, days int64) []byte {
	y, m, d := CivilFromDays(days)
	switch {
	case y < 0:
		b = append(b, '-')
		b = AppendPad(b, uint64(-y), 4)
	case y > 9999:
		b = append(b, '+')
		b = AppendPad(b, uint64(y), 4)
	default:
		b = AppendPad(b, uint64(y), 4)
	}
	return AppendMD(b, m, d)
}

// ISOTemporal formats a non-special date, timestamp or timestamptz as ISO
// 8601 text: the date, sep, the clock with 6 fractional digits, and
// "+00:00" for timestamptz.
func ISOTemporal(v ordering.Value, sep byte) (string, error) {
	if v.Kind() == ordering.KindDate {
		if d := v.Int(); d < -MaxDays || d > MaxDays {
			return "", errors.New("date out of range")
		}
		return string(AppendISODate(nil, v.Int())), nil
	}
	days, tod := SplitMicros(v.Int())
	b := AppendISODate(make([]byte, 0, 40), days)
	b = append(b, sep)
	b = AppendClock(b, uint64(tod))
	if v.Kind() == ordering.KindTimestampTZ {
		b = append(b, "+00:00"...)
	}
	return string(b), nil
}
