package offsets

import (
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
)

// LSN is a PostgreSQL log sequence number, a byte position in the WAL.
type LSN uint64

// ParseLSN parses the server's "XXXXXXXX/XXXXXXXX" form.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("%w: LSN %q is not of the form XXXXXXXX/XXXXXXXX", ErrMalformed, s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: LSN %q has a part that is not hexadecimal", ErrMalformed, s)
	}
	return LSN(h<<32 | l), nil
}

// String formats the LSN as PostgreSQL does.
func (l LSN) String() string {
	b := make([]byte, 0, 17)
	b = strconv.AppendUint(b, uint64(l)>>32, 16)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(uint32(l)), 16)
	return strings.ToUpper(string(b))
}

// MarshalText implements encoding.TextMarshaler.
func (l LSN) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *LSN) UnmarshalText(b []byte) error {
	v, err := ParseLSN(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Value implements driver.Valuer, so an LSN can be a query argument to a
// pg_lsn parameter.
func (l LSN) Value() (driver.Value, error) { return l.String(), nil }

// Scan implements sql.Scanner from a pg_lsn or text column.
func (l *LSN) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return l.UnmarshalText([]byte(v))
	case []byte:
		return l.UnmarshalText(v)
	case nil:
		*l = 0
		return nil
	}
	return fmt.Errorf("%w: cannot scan %T into LSN", ErrMalformed, src)
}
