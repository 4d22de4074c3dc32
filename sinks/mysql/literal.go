package mysql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/walship/walship/ordering"
)

// Literal is v as a MySQL constant: Param's value written as the driver
// interpolates it (InterpolateParams), with the backslash escapes the
// session's sql_mode keeps on.
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
	case uint64:
		return strconv.FormatUint(p, 10), nil
	case float64:
		return strconv.FormatFloat(p, 'g', -1, 64), nil
	case []byte:
		if len(p) == 0 {
			return "''", nil
		}
		return fmt.Sprintf("X'%x'", p), nil
	case string:
		return "'" + escapeString(p) + "'", nil // the connection's charset is utf8mb4 (an introducer breaks MariaDB's escapes in a DEFAULT)
	}
	return "", fmt.Errorf("mysql sink: column %s: no literal for %T", c.Name, p)
}

// escapeString escapes s as go-sql-driver's escapeStringBackslash does.
func escapeString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		case '\'', '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
