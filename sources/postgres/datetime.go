package postgres

// Exact parsers for the ISO text forms PostgreSQL's date/time output
// functions write under DateStyle=ISO (and the interval shape check for
// IntervalStyle=iso_8601):
//
//	date         YYYY-MM-DD[ BC]
//	time         HH:MM:SS[.ffffff]                      (24:00:00 allowed)
//	timestamp    YYYY-MM-DD HH:MM:SS[.ffffff][ BC]
//	timestamptz  YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]][ BC]
//
// time.Parse is not used: PostgreSQL years run from 4713 BC to 5874897 AD
// (dates) and 294276 AD (timestamps), with "BC" instead of a sign. The
// calendar is the proleptic Gregorian one PostgreSQL uses; "0044-03-15 BC"
// is astronomical year -43. Days are counted from 1970-01-01 with Howard
// Hinnant's days_from_civil algorithm.

import (
	"errors"
	"math/big"
	"strconv"
	"strings"

	"github.com/walship/walship/ordering"
)

const (
	usPerSec = int64(1_000_000)
	usPerDay = 86_400 * usPerSec
	// maxYearDigits bounds the year field so that day arithmetic never
	// overflows (PostgreSQL's largest year has 7 digits).
	maxYearDigits = 9
)

// errOutOfRange reports a well-formed timestamp whose microseconds since
// 1970 do not fit in an int64 (after about 294247-01-10 or before about
// 290308 BC).
var errOutOfRange = errors.New("timestamp out of int64 microsecond range")

// civil is a parsed date/time text. Year is as written (always >= 1); BC
// flags the era.
type civil struct {
	year       int64
	month, day int
	tod        int64 // microseconds since midnight
	zone       int64 // seconds east of UTC
	bc         bool
}

// daysFromCivil returns the number of days from 1970-01-01 to the proleptic
// Gregorian date y-m-d, y astronomical (1 BC is 0, 2 BC is -1).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400                     // [0, 399]
	mp := int64((m + 9) % 12)              // March = 0
	doy := (153*mp+2)/5 + int64(d) - 1     // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return era*146097 + doe - 719468       // 719468: 0000-03-01 → 1970-01-01
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y int64, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// astroYear is the astronomical year of c.
func (c *civil) astroYear() int64 {
	if c.bc {
		return 1 - c.year
	}
	return c.year
}

// days is c's date as days since 1970-01-01.
func (c *civil) days() int64 { return daysFromCivil(c.astroYear(), c.month, c.day) }

// parseDateText parses a date: "YYYY-MM-DD[ BC]".
func parseDateText(s string) (int64, error) {
	c, err := parseCivil(s, false, false)
	if err != nil {
		return 0, err
	}
	return c.days(), nil
}

// parseTimestampText parses a timestamp (withZone false) or timestamptz
// (withZone true) and returns microseconds since 1970-01-01 00:00:00 of
// the wall clock, respectively UTC. A well-formed value beyond the int64
// range returns errOutOfRange.
func parseTimestampText(s string, withZone bool) (int64, error) {
	c, err := parseCivil(s, true, withZone)
	if err != nil {
		return 0, err
	}
	return epochMicros(c.days(), c.tod-c.zone*usPerSec)
}

// epochMicros is days*usPerDay + off, checked for overflow.
func epochMicros(days, off int64) (int64, error) {
	// Fast path: |days| well inside the range, |off| < 2 days.
	const safeDays = 100_000_000 // about year 275,000
	if days > -safeDays && days < safeDays {
		return days*usPerDay + off, nil
	}
	r := new(big.Int).Mul(big.NewInt(days), big.NewInt(usPerDay))
	r.Add(r, big.NewInt(off))
	if !r.IsInt64() {
		return 0, errOutOfRange
	}
	return r.Int64(), nil
}

// parseTimeText parses a time of day "HH:MM:SS[.ffffff]" into
// microseconds since midnight; "24:00:00" is 86400000000.
func parseTimeText(s string) (int64, error) {
	p := dtScanner{s: s}
	c := civil{}
	if err := p.clock(&c); err != nil {
		return 0, err
	}
	if p.i != len(s) {
		return 0, p.fail("trailing characters")
	}
	return c.tod, nil
}

// parseCivil parses "YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM[:SS]]][ BC]".
// wantTime and wantZone say whether the time and the offset are required
// (true) or forbidden (false).
func parseCivil(s string, wantTime, wantZone bool) (civil, error) {
	var c civil
	p := dtScanner{s: s}
	y, n := p.number(maxYearDigits)
	if n < 1 {
		return c, p.fail("year expected")
	}
	c.year = y
	if !p.eat('-') {
		return c, p.fail("'-' expected")
	}
	m, ok := p.fixed(2)
	if !ok || !p.eat('-') {
		return c, p.fail("month expected")
	}
	d, ok := p.fixed(2)
	if !ok {
		return c, p.fail("day expected")
	}
	c.month, c.day = int(m), int(d)
	if wantTime {
		if !p.eat(' ') {
			return c, p.fail("time expected")
		}
		if err := p.clock(&c); err != nil {
			return c, err
		}
	}
	if wantZone {
		if err := p.offset(&c); err != nil {
			return c, err
		}
	}
	if p.rest() == " BC" {
		c.bc = true
		p.i = len(s)
	}
	if p.i != len(s) {
		return c, p.fail("trailing characters")
	}
	if c.year < 1 {
		return c, errors.New("year 0 does not exist")
	}
	if c.month < 1 || c.month > 12 || c.day < 1 || c.day > daysInMonth(c.astroYear(), c.month) {
		return c, errors.New("date out of range")
	}
	return c, nil
}

// dtScanner walks a date/time text. Its errors never quote the text.
type dtScanner struct {
	s string
	i int
}

func (p *dtScanner) rest() string { return p.s[p.i:] }

func (p *dtScanner) fail(what string) error {
	return errors.New("malformed date/time: " + what + " at offset " + strconv.Itoa(p.i))
}

func (p *dtScanner) eat(b byte) bool {
	if p.i < len(p.s) && p.s[p.i] == b {
		p.i++
		return true
	}
	return false
}

// number reads up to max decimal digits and returns the value and the
// digit count.
func (p *dtScanner) number(max int) (int64, int) {
	var v int64
	n := 0
	for p.i < len(p.s) && n < max && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		v = v*10 + int64(p.s[p.i]-'0')
		p.i++
		n++
	}
	return v, n
}

// fixed reads exactly n digits.
func (p *dtScanner) fixed(n int) (int64, bool) {
	v, got := p.number(n)
	return v, got == n
}

// clock reads "HH:MM:SS[.ffffff]" into c.tod.
func (p *dtScanner) clock(c *civil) error {
	h, ok1 := p.fixed(2)
	ok2 := p.eat(':')
	m, ok3 := p.fixed(2)
	ok4 := p.eat(':')
	s, ok5 := p.fixed(2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return p.fail("HH:MM:SS expected")
	}
	var frac int64
	if p.eat('.') {
		f, n := p.number(6)
		if n == 0 {
			return p.fail("fraction expected")
		}
		for ; n < 6; n++ {
			f *= 10
		}
		frac = f
		if p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			return p.fail("more than 6 fractional digits")
		}
	}
	if m > 59 || s > 59 || h > 24 || (h == 24 && (m != 0 || s != 0 || frac != 0)) {
		return errors.New("time of day out of range")
	}
	c.tod = ((h*60+m)*60+s)*usPerSec + frac
	return nil
}

// offset reads "±HH[:MM[:SS]]" into c.zone (seconds east of UTC).
func (p *dtScanner) offset(c *civil) error {
	sign := int64(1)
	switch {
	case p.eat('+'):
	case p.eat('-'):
		sign = -1
	default:
		return p.fail("UTC offset expected")
	}
	h, ok := p.fixed(2)
	if !ok {
		return p.fail("offset hours expected")
	}
	var m, s int64
	if p.eat(':') {
		if m, ok = p.fixed(2); !ok {
			return p.fail("offset minutes expected")
		}
		if p.eat(':') {
			if s, ok = p.fixed(2); !ok {
				return p.fail("offset seconds expected")
			}
		}
	}
	if m > 59 || s > 59 {
		return errors.New("UTC offset out of range")
	}
	c.zone = sign * ((h*60+m)*60 + s)
	return nil
}

// infinity recognises the special date/timestamp values.
func infinity(text []byte) (string, bool) {
	switch string(text) {
	case "infinity", "-infinity":
		return string(text), true
	}
	return "", false
}

func decodeTimestamp(text []byte, k ordering.Kind) (ordering.Value, error) {
	if s, ok := infinity(text); ok {
		return ordering.Special(k, s), nil
	}
	us, err := parseTimestampText(string(text), k == ordering.KindTimestampTZ)
	switch {
	case errors.Is(err, errOutOfRange):
		return ordering.Special(k, string(text)), nil
	case err != nil:
		return ordering.Value{}, err
	case k == ordering.KindTimestampTZ:
		return ordering.TimestampTZ(us), nil
	}
	return ordering.Timestamp(us), nil
}

// isISOInterval checks the shape of an iso_8601 interval: 'P', then
// signed numbers with designators Y M W D T H M S.
func isISOInterval(b []byte) bool {
	if len(b) < 2 || b[0] != 'P' {
		return false
	}
	for _, c := range b[1:] {
		if !(c >= '0' && c <= '9' || strings.IndexByte("-.YMWDTHS", c) >= 0) {
			return false
		}
	}
	return true
}
