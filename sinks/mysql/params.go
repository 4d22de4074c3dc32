package mysql

// Value encodings. The pool interpolates parameters into the statement
// text (InterpolateParams) and reads results as text (ParseTime off); the
// session runs with time_zone '+00:00' and strict sql_mode, so a value the
// column cannot hold is an error, never a silent truncation. Param checks
// what strict mode lets through with a mere note (decimal and fractional
// second rounding) and what MySQL cannot store at all:
//
//	kind          parameter                                  ErrUnsupported
//	bool          int64 1 / 0
//	int, uint     int64, uint64 (uint64 max included)
//	float         float64                                    NaN, ±Infinity
//	decimal       the exact text                             NaN, ±Infinity, more integer or fraction
//	                                                         digits than the column's DECIMAL(p,s) holds
//	bytes         []byte
//	date          "YYYY-MM-DD"; MySQL zero dates as sent     years outside 0000-9999, ±infinity
//	time          "[-]HHH:MM:SS.ffffff"                      beyond ±838:59:59.999999; digits beyond TIME(p)
//	timestamp     "YYYY-MM-DD HH:MM:SS.ffffff" (UTC for      years outside 0000-9999, ±infinity, digits
//	  timestamptz   timestamptz); zero dates as sent           beyond DATETIME(p)
//	array         JSON text (jsontext.go)                    invalid UTF-8 text
//	others        the text (strings, interval, uuid, json, enum labels, KindText)

import (
	"fmt"
	"math"
	"strings"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqltext"
)

// maxTimeMicros is MySQL TIME's bound: 838:59:59.999999.
const maxTimeMicros = (838*3600+59*60+59)*sqltext.UsPerSec + 999_999

// Param converts a value of column c into a driver argument.
func (d *Dialect) Param(c ordering.Column, v ordering.Value) (any, error) {
	switch v.Kind() {
	case ordering.KindNull:
		return nil, nil
	case ordering.KindUnchanged:
		return nil, fmt.Errorf("mysql sink: column %s: an unchanged (unsent) value has no parameter", c.Name)
	case ordering.KindBool:
		if v.Bool() {
			return int64(1), nil
		}
		return int64(0), nil
	case ordering.KindInt:
		return v.Int(), nil
	case ordering.KindUint:
		return v.Uint(), nil
	case ordering.KindFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, unsupported(c, "MySQL floating-point columns cannot hold NaN or Infinity")
		}
		return f, nil
	case ordering.KindDecimal:
		return d.decimal(c, v.Text())
	case ordering.KindBytes:
		b := v.Bytes()
		if b == nil {
			b = []byte{}
		}
		return b, nil
	case ordering.KindDate:
		if v.IsSpecial() {
			return special(c, v)
		}
		if err := yearInRange(c, v.Int()); err != nil {
			return nil, err
		}
		return string(sqltext.AppendISODate(nil, v.Int())), nil
	case ordering.KindTime:
		us := v.Int()
		if us > maxTimeMicros || us < -maxTimeMicros {
			return nil, unsupported(c, "MySQL TIME holds -838:59:59.999999 to 838:59:59.999999")
		}
		if err := fraction(c, us); err != nil {
			return nil, err
		}
		return string(sqltext.AppendDuration(nil, us)), nil
	case ordering.KindTimestamp, ordering.KindTimestampTZ:
		if v.IsSpecial() {
			return special(c, v)
		}
		days, tod := sqltext.SplitMicros(v.Int())
		if err := yearInRange(c, days); err != nil {
			return nil, err
		}
		if err := fraction(c, tod); err != nil {
			return nil, err
		}
		b := sqltext.AppendISODate(make([]byte, 0, 26), days)
		b = append(b, ' ')
		return string(sqltext.AppendClock(b, uint64(tod))), nil
	case ordering.KindArray:
		b, err := sqltext.AppendJSON(nil, v, 0)
		if err != nil {
			return nil, unsupported(c, "%v", err)
		}
		return string(b), nil
	case ordering.KindString, ordering.KindText, ordering.KindEnum, ordering.KindJSON,
		ordering.KindUUID, ordering.KindInterval:
		return v.Text(), nil
	}
	return nil, unsupported(c, "value of kind %s", v.Kind())
}

// special passes MySQL's zero dates through (the session's sql_mode
// accepts them) and refuses PostgreSQL's infinity and out-of-range text.
func special(c ordering.Column, v ordering.Value) (any, error) {
	if s := v.Special(); sqltext.IsZeroDateText(s) {
		return s, nil
	}
	return nil, unsupported(c, "MySQL has no infinity or out-of-range dates")
}

// yearInRange checks that a date falls in years 0000-9999.
func yearInRange(c ordering.Column, days int64) error {
	if days < -sqltext.MaxDays || days > sqltext.MaxDays {
		return unsupported(c, "date out of range")
	}
	if y, _, _ := sqltext.CivilFromDays(days); y < 0 || y > 9999 {
		return unsupported(c, "MySQL dates hold years 0000 to 9999 (no BC)")
	}
	return nil
}

// fraction refuses sub-second digits the column's precision would round.
func fraction(c ordering.Column, us int64) error {
	p := fsp(c)
	unit := int64(math.Pow10(6 - p))
	if r := us % unit; r != 0 {
		return unsupported(c, "more fractional-second digits than the column's precision %d", p)
	}
	return nil
}

// decimal checks that text fits the column's DECIMAL(p,s) without
// rounding, counting significant digits (leading integer and trailing
// fraction zeros do not count).
func (d *Dialect) decimal(c ordering.Column, text string) (any, error) {
	s := strings.TrimPrefix(text, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		if s == "NaN" || s == "Infinity" {
			return nil, unsupported(c, "MySQL DECIMAL cannot hold NaN or Infinity")
		}
		return nil, unsupported(c, "not a plain decimal number")
	}
	intDigits := len(strings.TrimLeft(intPart, "0"))
	fracDigits := len(strings.TrimRight(frac, "0"))
	p, sc := d.decimalTarget(c)
	if intDigits > p-sc || fracDigits > sc {
		return nil, unsupported(c, "a value with %d integer and %d fraction digits does not fit DECIMAL(%d,%d)",
			intDigits, fracDigits, p, sc)
	}
	return text, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
