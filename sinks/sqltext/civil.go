package sqltext

// Calendar arithmetic for the temporal encodings of the SQL dialects (each
// dialect formats years its own way).
// The calendar is the proleptic Gregorian one PostgreSQL uses, with
// astronomical years (1 BC is year 0); days count from 1970-01-01.

const (
	UsPerSec = int64(1_000_000)
	UsPerDay = 86_400 * UsPerSec
	// MaxDays bounds the day numbers the formatters accept: far beyond any
	// engine's range, far below int64 overflow in CivilFromDays.
	MaxDays = int64(1) << 40
)

// CivilFromDays is the inverse of days_from_civil (Howard Hinnant's
// algorithm): the astronomical year, month and day of days since 1970-01-01.
// |z| must not exceed MaxDays.
func CivilFromDays(z int64) (y int64, m, d int) {
	z += 719468 // 0000-03-01 → 1970-01-01
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100) // [0, 365]
	mp := (5*doy + 2) / 153                  // March = 0
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// SplitMicros splits microseconds since 1970-01-01 00:00:00 into whole days
// and the microseconds since that day's midnight (floor division).
func SplitMicros(us int64) (days, tod int64) {
	days, tod = us/UsPerDay, us%UsPerDay
	if tod < 0 {
		days--
		tod += UsPerDay
	}
	return days, tod
}

// AppendPad appends n in decimal, zero-padded to width digits.
func AppendPad(b []byte, n uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	for pad := width - (len(tmp) - i); pad > 0; pad-- {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// AppendClock appends HH:MM:SS.ffffff for us microseconds; hours may exceed
// 23 (24:00:00, or a MySQL TIME duration).
func AppendClock(b []byte, us uint64) []byte {
	b = AppendPad(b, us/3_600_000_000, 2)
	b = append(b, ':')
	b = AppendPad(b, us/60_000_000%60, 2)
	b = append(b, ':')
	b = AppendPad(b, us/1_000_000%60, 2)
	b = append(b, '.')
	return AppendPad(b, us%1_000_000, 6)
}

// AppendDuration appends a signed [-]HH:MM:SS.ffffff.
func AppendDuration(b []byte, us int64) []byte {
	u := uint64(us)
	if us < 0 {
		b = append(b, '-')
		u = -u // two's complement: correct for MinInt64 too
	}
	return AppendClock(b, u)
}

// AppendMD appends -MM-DD: "-03-15".
func AppendMD(b []byte, m, d int) []byte {
	b = append(b, '-')
	b = AppendPad(b, uint64(m), 2)
	b = append(b, '-')
	return AppendPad(b, uint64(d), 2)
}

// IsZeroDateText reports MySQL's zero dates and zero-in-date values
// ("0000-00-00", "2024-00-15 …"): text whose year is 0000 or whose month or
// day is 00. PostgreSQL writes year 1 BC as "0001-… BC", never "0000".
func IsZeroDateText(s string) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s[:4] == "0000" || s[5:7] == "00" || s[8:10] == "00"
}
