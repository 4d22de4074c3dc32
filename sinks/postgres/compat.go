package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/walship/walship/sinks/sqlsink"
)

// pgName is a parsed PostgreSQL type name.
type pgName struct {
	base string // canonical spelling: "character varying", "timestamp with time zone", "integer"
	mods []int  // typmod arguments, defaults filled in; nil when unconstrained
	dims int    // "[]" suffixes
}

var pgSynonyms = map[string]string{
	"int": "integer", "int4": "integer", "int2": "smallint", "int8": "bigint",
	"float4": "real", "float8": "double precision", "float": "double precision",
	"bool": "boolean", "varchar": "character varying", "char": "character", "bpchar": "character",
	"decimal": "numeric", "varbit": "bit varying",
	"timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
	"time": "time without time zone", "timetz": "time with time zone",
}

var intRank = map[string]int{"smallint": 1, "integer": 2, "bigint": 3}

var fractional = map[string]bool{
	"time without time zone": true, "time with time zone": true,
	"timestamp without time zone": true, "timestamp with time zone": true,
}

// parsePG parses a type name as format_type writes it, or a common
// synonym ("int4", "varchar(10)", "timestamptz(3)"). Names the parser does
// not understand come back whole in base, so they compare verbatim.
func parsePG(s string) pgName {
	var n pgName
	s = strings.TrimSpace(s)
	for strings.HasSuffix(s, "[]") {
		n.dims++
		s = strings.TrimSpace(s[:len(s)-2])
	}
	if i := strings.IndexByte(s, '('); i >= 0 && !strings.Contains(s, `"`) {
		j := strings.IndexByte(s[i:], ')')
		if j < 0 {
			return pgName{base: s, dims: n.dims}
		}
		for _, a := range strings.Split(s[i+1:i+j], ",") {
			v, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil {
				return pgName{base: s, dims: n.dims}
			}
			n.mods = append(n.mods, v)
		}
		s = s[:i] + " " + s[i+j+1:]
	}
	s = strings.Join(strings.Fields(s), " ")
	if !strings.Contains(s, `"`) {
		s = strings.ToLower(s)
	}
	if (s == "char" || s == "character" || s == "bit") && n.mods == nil {
		n.mods = []int{1} // bpchar alone is unlimited; character alone is character(1)
	}
	if syn, ok := pgSynonyms[s]; ok {
		s = syn
	}
	n.base = s
	switch {
	case fractional[s] || strings.HasPrefix(s, "interval"):
		if n.mods == nil {
			n.mods = []int{6}
		}
	case s == "numeric" && len(n.mods) == 1:
		n.mods = append(n.mods, 0)
	}
	return n
}

// TypeCompatible reports whether a follower column of type have takes every
// value of a column created as want: the same type after normalizing
// synonyms and defaults, or a strictly wider one (bigint ⊇ integer,
// numeric ⊇ numeric(p,s), text ⊇ character varying(n), double precision ⊇
// real, timestamp(6) ⊇ timestamp(3)). Anything else is false, including
// json/jsonb and every narrower type.
func (d *Dialect) TypeCompatible(have, want string) bool {
	h, w := parsePG(have), parsePG(want)
	if h.dims != w.dims {
		return false
	}
	if h.base == w.base && slices.Equal(h.mods, w.mods) {
		return true
	}
	switch {
	case intRank[h.base] > 0:
		return intRank[w.base] > 0 && intRank[h.base] >= intRank[w.base]
	case h.base == "numeric":
		if h.mods == nil {
			return w.base == "numeric" || intRank[w.base] > 0
		}
		return w.base == "numeric" && len(w.mods) == 2 && len(h.mods) == 2 &&
			h.mods[1] >= w.mods[1] && h.mods[0]-h.mods[1] >= w.mods[0]-w.mods[1]
	case h.base == "double precision":
		return w.base == "real"
	case h.base == "text" || h.base == "character varying" && h.mods == nil:
		return w.base == "text" || w.base == "character varying" || w.base == "character"
	case h.base == "character varying":
		return (w.base == "character varying" || w.base == "character") && len(w.mods) == 1 && h.mods[0] >= w.mods[0]
	case fractional[h.base] && h.base == w.base:
		return len(h.mods) == 1 && len(w.mods) == 1 && h.mods[0] >= w.mods[0]
	}
	return false
}

// intDigits is the decimal digits of the largest value of each integer
// type.
var intDigits = map[string]int{"smallint": 5, "integer": 10, "bigint": 19}

// WidenType is the type a follower column of type have is altered to for
// a source column created as want: want itself when it takes every value
// of have (a larger integer, a longer character varying or text, more
// fractional seconds, double precision for real, unconstrained numeric),
// or the union of two numerics (the larger integer digits and the larger
// scale) or of an integer and a numeric. character(n) is never altered
// (its cast drops trailing spaces), nor are types of different families.
func (d *Dialect) WidenType(have, want string) (string, bool) {
	h, w := parsePG(have), parsePG(want)
	if h.dims != w.dims || h.base == "character" {
		return "", false
	}
	dims := strings.Repeat("[]", h.dims)
	switch {
	case h.base == "character varying" && w.base == "character":
		if len(h.mods) != 1 || len(w.mods) != 1 {
			return "", false
		}
		return fmt.Sprintf("character varying(%d)%s", max(h.mods[0], w.mods[0]), dims), true
	case d.TypeCompatible(want, have):
		return want, true
	case w.base != "numeric" || w.mods == nil:
		return "", false
	}
	// want is numeric(p,s); have is a numeric(p,s) or an integer.
	hInt, hScale := intDigits[h.base], 0
	switch {
	case h.base == "numeric" && len(h.mods) == 2:
		hInt, hScale = h.mods[0]-h.mods[1], h.mods[1]
	case hInt == 0:
		return "", false
	}
	s := max(hScale, w.mods[1])
	p := max(hInt, w.mods[0]-w.mods[1]) + s
	if p < 1 || p > 1000 {
		return "", false
	}
	return fmt.Sprintf("numeric(%d,%d)%s", p, s, dims), true
}

// AlterType is ALTER TABLE … ALTER COLUMN … TYPE typ: the server casts
// every stored value, in the transaction (PostgreSQL DDL is
// transactional).
func (d *Dialect) AlterType(_ context.Context, _ *sql.Tx, n sqlsink.Name, c sqlsink.FollowerColumn, typ string) (string, error) {
	return "ALTER TABLE " + d.QuoteName(n) + " ALTER COLUMN " + d.QuoteIdent(c.Name) + " TYPE " + typ, nil
}
