package postgres

import (
	"fmt"
	"strings"

	"github.com/walship/walship/ordering"
)

// Literal is v as a PostgreSQL constant: Param's text in a quoted literal
// (standard_conforming_strings, which pgx's simple protocol requires, so
// only quotes are doubled), which the server casts to the column's type as
// it does a bound parameter.
func (d *Dialect) Literal(c ordering.Column, v ordering.Value) (string, error) {
	p, err := d.Param(c, v)
	if err != nil {
		return "", err
	}
	switch p := p.(type) {
	case nil:
		return "NULL", nil
	case []byte:
		return fmt.Sprintf(`'\x%x'`, p), nil
	case string:
		return "'" + strings.ReplaceAll(p, "'", "''") + "'", nil
	}
	return "", fmt.Errorf("postgres sink: column %s: no literal for %T", c.Name, p)
}
