package sqlite

// SQLite follower type mapping (ColumnType) and value encodings (Param).
// SQLite stores INTEGER, REAL, TEXT and BLOB; the declared types below have
// exactly those affinities, so SQLite never converts a value (a NUMERIC
// column would turn the decimal text "12.30" into the real 12.3). The
// mapping is by kind and the same for PostgreSQL and MySQL sources:
//
//	kind                 declared type   stored value
//	bool                 INTEGER         1 / 0
//	int                  INTEGER         the int64
//	uint                 INTEGER         the int64; above 9223372036854775807 ErrUnsupported (SQLite would make it REAL)
//	float                REAL            the float64, ±Infinity included; -0 reads 0 (a REAL column stores integral
//	                                     values as integers); NaN ErrUnsupported (SQLite stores NULL)
//	decimal              TEXT            the exact text ("-12.3400", "NaN", "Infinity")
//	string, enum, uuid,  TEXT            the text (an enum's label, a uuid's canonical text, ISO 8601 intervals,
//	  interval, text                     other types in the source's text form)
//	bytes                BLOB            the bytes
//	date                 TEXT            "YYYY-MM-DD"; astronomical years outside 0000-9999 signed
//	                                     ("-0043-03-15" is 44 BC); specials as their text ("infinity", "0000-00-00")
//	time                 TEXT            "HH:MM:SS.ffffff", "-838:59:59.000000" for a negative MySQL TIME
//	timestamp            TEXT            "YYYY-MM-DD HH:MM:SS.ffffff"; specials as their text
//	timestamptz          TEXT            "YYYY-MM-DD HH:MM:SS.ffffff+00:00" (UTC); specials as their text
//	json                 TEXT            the document text
//	array                TEXT            a JSON array as PostgreSQL's to_json writes it (jsontext.go)
//
// Temporal text always has six fractional digits, so for years 0000-9999
// text order is time order, and SQLite's date and time functions read it.
//
// TypeCompatible compares affinities: a column takes the values of another
// type with the same affinity, and a column without a declared type (BLOB
// affinity, no conversion) takes everything.

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sinks/sqltext"
)

// ColumnType maps a source column to INTEGER, REAL, TEXT or BLOB.
func (d *Dialect) ColumnType(c ordering.Column, srcEngine string) (string, error) {
	if srcEngine != "postgres" && srcEngine != "mysql" {
		return "", fmt.Errorf("sqlite sink: column %s: unknown source engine %q", c.Name, srcEngine)
	}
	switch c.Kind {
	case ordering.KindBool, ordering.KindInt, ordering.KindUint:
		return "INTEGER", nil
	case ordering.KindFloat:
		return "REAL", nil
	case ordering.KindBytes:
		return "BLOB", nil
	case ordering.KindArray:
		if c.Elem == ordering.KindNull || c.Elem == ordering.KindUnchanged {
			return "", unsupported(c, "array of %s", c.Elem)
		}
		return "TEXT", nil
	case ordering.KindDecimal, ordering.KindString, ordering.KindDate, ordering.KindTime, ordering.KindTimestamp,
		ordering.KindTimestampTZ, ordering.KindInterval, ordering.KindUUID, ordering.KindJSON, ordering.KindEnum, ordering.KindText:
		return "TEXT", nil
	}
	return "", unsupported(c, "no SQLite type for kind %s", c.Kind)
}

func unsupported(c ordering.Column, format string, args ...any) error {
	return fmt.Errorf("%w: column %s: %s", sqlsink.ErrUnsupported, c.Name, fmt.Sprintf(format, args...))
}

// affinity is SQLite's column affinity of a declared type (§3.1 of
// https://www.sqlite.org/datatype3.html).
func affinity(t string) string {
	u := strings.ToUpper(t)
	switch {
	case strings.Contains(u, "INT"):
		return "INTEGER"
	case strings.Contains(u, "CHAR") || strings.Contains(u, "CLOB") || strings.Contains(u, "TEXT"):
		return "TEXT"
	case strings.Contains(u, "BLOB") || strings.TrimSpace(u) == "":
		return "BLOB"
	case strings.Contains(u, "REAL") || strings.Contains(u, "FLOA") || strings.Contains(u, "DOUB"):
		return "REAL"
	}
	return "NUMERIC"
}

// TypeCompatible reports equal affinities, or a have column of BLOB
// affinity, which stores every value as given.
func (d *Dialect) TypeCompatible(have, want string) bool {
	h := affinity(have)
	return h == affinity(want) || h == "BLOB"
}

// Param converts a value of column c into a driver argument.
func (d *Dialect) Param(c ordering.Column, v ordering.Value) (any, error) {
	switch v.Kind() {
	case ordering.KindNull:
		return nil, nil
	case ordering.KindUnchanged:
		return nil, fmt.Errorf("sqlite sink: column %s: an unchanged (unsent) value has no parameter", c.Name)
	case ordering.KindBool:
		if v.Bool() {
			return int64(1), nil
		}
		return int64(0), nil
	case ordering.KindInt:
		return v.Int(), nil
	case ordering.KindUint:
		if v.Uint() > math.MaxInt64 {
			return nil, unsupported(c, "SQLite integers are signed 64-bit: unsigned values above 9223372036854775807 do not fit")
		}
		return int64(v.Uint()), nil
	case ordering.KindFloat:
		if math.IsNaN(v.Float()) {
			return nil, unsupported(c, "SQLite stores NaN as NULL")
		}
		return v.Float(), nil
	case ordering.KindBytes:
		b := v.Bytes()
		if b == nil {
			b = []byte{} // an empty BLOB, not NULL
		}
		return b, nil
	case ordering.KindDate, ordering.KindTimestamp, ordering.KindTimestampTZ:
		if v.IsSpecial() {
			return v.Special(), nil
		}
		s, err := sqltext.ISOTemporal(v, ' ')
		if err != nil {
			return nil, unsupported(c, "%v", err)
		}
		return s, nil
	case ordering.KindTime:
		return string(sqltext.AppendDuration(nil, v.Int())), nil
	case ordering.KindArray:
		b, err := sqltext.AppendJSON(nil, v, 0)
		if err != nil {
			return nil, unsupported(c, "%v", err)
		}
		return string(b), nil
	case ordering.KindDecimal, ordering.KindString, ordering.KindText, ordering.KindEnum, ordering.KindJSON,
		ordering.KindUUID, ordering.KindInterval:
		return v.Text(), nil
	}
	return nil, unsupported(c, "value of kind %s", v.Kind())
}

// WidenType is never possible: SQLite cannot change a column's declared
// type (and so its affinity) without rebuilding the table. A column whose
// affinity would convert the values (a decimal's text into a NUMERIC or
// REAL column) stops the sink instead.
func (d *Dialect) WidenType(have, want string) (string, bool) { return "", false }

// AlterType is not supported (WidenType never asks for it).
func (d *Dialect) AlterType(_ context.Context, _ *sql.Tx, n sqlsink.Name, c sqlsink.FollowerColumn, typ string) (string, error) {
	return "", fmt.Errorf("%w: sqlite sink: column %s of %s cannot be altered to %s", sqlsink.ErrUnsupported, c.Name, n, typ)
}
