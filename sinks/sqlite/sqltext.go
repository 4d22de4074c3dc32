package sqlite

import "github.com/walship/walship/sinks/sqltext"

// The calendar and text helpers shared by the dialects (sinks/sqltext).
var (
	civilFromDays  = sqltext.CivilFromDays
	splitMicros    = sqltext.SplitMicros
	appendPad      = sqltext.AppendPad
	appendClock    = sqltext.AppendClock
	appendDuration = sqltext.AppendDuration
	appendMD       = sqltext.AppendMD
	isZeroDateText = sqltext.IsZeroDateText
)

const (
	usPerSec = sqltext.UsPerSec
	usPerDay = sqltext.UsPerDay
	maxDays  = sqltext.MaxDays
)

// JSON text of values, shared with the other dialects (sinks/sqltext).
var (
	appendJSON       = sqltext.AppendJSON
	appendJSONString = sqltext.AppendJSONString
	isJSONNumber     = sqltext.IsJSONNumber
	appendISODate    = sqltext.AppendISODate
	isoTemporal      = sqltext.ISOTemporal
)
