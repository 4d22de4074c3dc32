package mysql

// Temporal text as go-mysql formats it (with ParseTime false; DATE, TIME
// and zero or pre-1970 DATETIME values always), parsed by hand: time.Parse
// refuses zero and invalid dates and TIME's hours over 23.

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/walship/walship/ordering"
)

const typesMicrosPerDay = 86_400_000_000

// typesDateTime parses go-mysql's "YYYY-MM-DD[ HH:MM:SS[.f…]]". Zero
// dates, dates with zero parts and invalid dates are Special with the text.
func typesDateTime(k ordering.Kind, s string, clock bool) (ordering.Value, error) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' || clock != (len(s) > 10) || clock && s[10] != ' ' {
		return ordering.Value{}, errTypesFormat
	}
	y, ok1 := typesDigits(s[0:4])
	m, ok2 := typesDigits(s[5:7])
	d, ok3 := typesDigits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return ordering.Value{}, errTypesFormat
	}
	var tod int64
	if clock {
		var err error
		if tod, err = typesClock(s[11:]); err != nil {
			return ordering.Value{}, err
		}
		if tod >= typesMicrosPerDay {
			return ordering.Value{}, errTypesFormat
		}
	}
	date := time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
	if m == 0 || d == 0 || date.Month() != time.Month(m) || date.Day() != int(d) {
		return ordering.Special(k, strings.Clone(s)), nil
	}
	days := date.Unix() / 86400 // exact: midnight UTC
	switch k {
	case ordering.KindDate:
		return ordering.Date(days), nil
	case ordering.KindTimestamp:
		return ordering.Timestamp(days*typesMicrosPerDay + tod), nil
	}
	return ordering.TimestampTZ(days*typesMicrosPerDay + tod), nil
}

// typesClock parses "H…H:MM:SS[.f…]" (up to 6 fraction digits) into µs.
func typesClock(s string) (int64, error) {
	hms, frac, hasFrac := strings.Cut(s, ".")
	hs, rest, ok := strings.Cut(hms, ":")
	if !ok || len(rest) != 5 || rest[2] != ':' || len(hs) == 0 || len(hs) > 4 || hasFrac && (frac == "" || len(frac) > 6) {
		return 0, errTypesFormat
	}
	h, ok1 := typesDigits(hs)
	mi, ok2 := typesDigits(rest[:2])
	se, ok3 := typesDigits(rest[3:])
	f, ok4 := typesDigits(frac + "000000"[len(frac):])
	if !ok1 || !ok2 || !ok3 || !ok4 || mi > 59 || se > 59 {
		return 0, errTypesFormat
	}
	return ((h*60+mi)*60+se)*1_000_000 + f, nil
}

// time parses go-mysql's TIME text "[-]HH:MM:SS[.f…]" into signed µs.
func (c *binlogColumn) time(s string) (ordering.Value, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if c.typ == mysql.MYSQL_TYPE_TIME && len(s) >= 8 && s[len(s)-3] == ':' && s[len(s)-6] == ':' {
		// Pre-5.6 TIME is a signed 3-byte HHMMSS integer that go-mysql
		// prints unsigned ("1677:72:15" is -1 second): sign-extend it.
		h, ok1 := typesDigits(s[:len(s)-6])
		m, ok2 := typesDigits(s[len(s)-5 : len(s)-3])
		sec, ok3 := typesDigits(s[len(s)-2:])
		if raw := h*10000 + m*100 + sec; ok1 && ok2 && ok3 && raw >= 1<<23 {
			raw = 1<<24 - raw
			neg, s = true, fmt.Sprintf("%02d:%02d:%02d", raw/10000, raw/100%100, raw%100)
		}
	}
	us, err := typesClock(s)
	if err != nil || us > 838*3_600_000_000+59*60_000_000+59_999_999 {
		return ordering.Value{}, errTypesFormat
	}
	if neg {
		us = -us
	}
	return ordering.Time(us), nil
}

// typesDigits parses a run of ASCII digits.
func typesDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}
