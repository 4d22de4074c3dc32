package sqlite

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/walship/walship/ordering"
)

// Literal is v as an SQLite constant of the storage class Param binds:
// integers, reals (always with a decimal point or exponent, so they stay
// REAL), X'…' blobs and quoted text.
func (d *Dialect) Literal(c ordering.Column, v ordering.Value) (string, error) {
	p, err := d.Param(c, v)
	if err != nil {
		return "", err
	}
	switch p := p.(type) {
	case nil:
		return "NULL", nil
	case int64:
		return strconv.FormatInt(p, 10), nil
	case float64:
		switch {
		case math.IsInf(p, 1):
			return "9e999", nil
		case math.IsInf(p, -1):
			return "-9e999", nil
		}
		s := strconv.FormatFloat(p, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s, nil
	case []byte:
		return fmt.Sprintf("X'%x'", p), nil
	case string:
		if strings.IndexByte(p, 0) >= 0 {
			return "", unsupported(c, "an SQLite default cannot hold a NUL character")
		}
		return "'" + strings.ReplaceAll(p, "'", "''") + "'", nil
	}
	return "", fmt.Errorf("sqlite sink: column %s: no literal for %T", c.Name, p)
}
