package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/walship/walship/sinks/sqlsink"
)

var mySynonyms = map[string]string{
	"integer": "int", "bool": "tinyint", "boolean": "tinyint", "dec": "decimal", "numeric": "decimal",
	"fixed": "decimal", "real": "double", "json": "longtext", // MariaDB's JSON is LONGTEXT
}

var intRank = map[string]int{"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 5}

// textBytes and blobBytes are the capacities of the TEXT and BLOB types.
var textBytes = map[string]int{"tinytext": 255, "text": 65535, "mediumtext": 1<<24 - 1, "longtext": 1<<32 - 1}
var blobBytes = map[string]int{"tinyblob": 255, "blob": 65535, "mediumblob": 1<<24 - 1, "longblob": 1<<32 - 1}

// normalize parses a type and fills MySQL's defaults: display widths
// (and year(4)) dropped, decimal → decimal(10,0), datetime/time/timestamp → (0).
func normalize(s string) (myType, bool) {
	t, ok := parseMyType(s)
	if syn, found := mySynonyms[t.base]; found {
		t.base = syn
	}
	switch {
	case intRank[t.base] > 0 || t.base == "year":
		t.args = nil // display widths; MariaDB shows year as year(4)
	case t.base == "decimal":
		for len(t.args) < 2 {
			t.args = append(t.args, []string{"10", "0"}[len(t.args)])
		}
	case t.base == "datetime" || t.base == "time" || t.base == "timestamp":
		if len(t.args) == 0 {
			t.args = []string{"0"}
		}
	}
	return t, ok
}

func num(t myType, i int) int {
	n, err := strconv.Atoi(t.arg(i))
	if err != nil {
		return -1
	}
	return n
}

// TypeCompatible reports whether a follower column of type have takes every
// value of a column created as want: the same type after normalizing
// (display widths, BOOLEAN = TINYINT(1), JSON = LONGTEXT on MariaDB,
// defaults), or a wider one: a larger integer, a DECIMAL with at least as
// many integer and fraction digits, DOUBLE for FLOAT, a longer
// VARCHAR/VARBINARY or a TEXT/BLOB type with room for it, a datetime/time
// of higher precision, an ENUM with every wanted label. The VARCHAR(255)
// and VARBINARY(255) that CreateTable makes of TEXT/BLOB key columns are
// accepted for their TEXT/BLOB types (strict mode rejects longer values).
func (d *Dialect) TypeCompatible(have, want string) bool {
	h, ok1 := normalize(have)
	w, ok2 := normalize(want)
	if !ok1 || !ok2 {
		return strings.EqualFold(strings.TrimSpace(have), strings.TrimSpace(want))
	}
	if h.base == w.base && h.unsigned == w.unsigned && slices.Equal(h.args, w.args) {
		return true
	}
	switch {
	case intRank[h.base] > 0:
		if intRank[w.base] == 0 {
			return false
		}
		if h.unsigned == w.unsigned {
			return intRank[h.base] >= intRank[w.base]
		}
		return !h.unsigned && intRank[h.base] > intRank[w.base]
	case h.base == "decimal":
		hp, hs, wp, ws := num(h, 0), num(h, 1), num(w, 0), num(w, 1)
		return w.base == "decimal" && hs >= ws && hp-hs >= wp-ws && !(h.unsigned && !w.unsigned)
	case h.base == "double":
		return w.base == "float" && !(h.unsigned && !w.unsigned)
	case h.base == "varchar":
		switch {
		case w.base == "varchar" || w.base == "char":
			return num(h, 0) >= num(w, 0)
		case w.base == "enum":
			return num(h, 0) >= longestLabel(w)
		}
		return textBytes[w.base] > 0 && num(h, 0) >= 255 // a key column made VARCHAR(255)
	case textBytes[h.base] > 0:
		switch {
		case w.base == "varchar" || w.base == "char":
			return textBytes[h.base] >= 4*num(w, 0)
		case textBytes[w.base] > 0:
			return textBytes[h.base] >= textBytes[w.base]
		}
		return w.base == "enum" || w.base == "set"
	case h.base == "varbinary":
		if w.base == "varbinary" || w.base == "binary" {
			return num(h, 0) >= num(w, 0)
		}
		return blobBytes[w.base] > 0 && num(h, 0) >= 255 // a key column made VARBINARY(255)
	case blobBytes[h.base] > 0:
		if w.base == "varbinary" || w.base == "binary" {
			return blobBytes[h.base] >= num(w, 0)
		}
		return blobBytes[h.base] >= blobBytes[w.base] && blobBytes[w.base] > 0
	case h.base == "datetime" || h.base == "time":
		return h.base == w.base && num(h, 0) >= num(w, 0)
	case h.base == "enum":
		return w.base == "enum" && subset(w.args, h.args)
	}
	return false
}

func longestLabel(t myType) int {
	n := 0
	for _, a := range t.args {
		n = max(n, len([]rune(a))-2) // quotes
	}
	return n
}

func subset(small, big []string) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}

// intDigits is the decimal digits of each integer type's largest value
// (signed; unsigned types have as many, bigint unsigned one more).
var intDigits = map[string]int{"tinyint": 3, "smallint": 5, "mediumint": 8, "int": 10, "bigint": 19}

var intNames = []string{"", "tinyint", "smallint", "mediumint", "int", "bigint"}

// WidenType is the type a follower column of type have is altered to for
// a source column created as want (see sqlsink.Dialect): want itself when
// it takes every value of have, else the union of the two: a signed
// integer wide enough for both (none for BIGINT and BIGINT UNSIGNED), a DECIMAL with the larger integer digits
// and the larger scale (within 65 digits and the server's largest scale),
// the longer CHAR/VARCHAR (LONGTEXT past 16383 characters), the TEXT type
// holding both a TEXT and a VARCHAR, an ENUM with
// have's labels followed by want's new ones. MySQL converts stored values
// by value on such an ALTER; anything else (date to datetime, text to
// integer) is not widened.
func (d *Dialect) WidenType(have, want string) (string, bool) {
	h, ok1 := normalize(have)
	w, ok2 := normalize(want)
	if !ok1 || !ok2 {
		return "", false
	}
	if d.TypeCompatible(want, have) {
		return strings.TrimSpace(want), true
	}
	switch {
	case intRank[h.base] > 0 && intRank[w.base] > 0:
		// Mixed signedness (same signedness is covered above).
		rank := max(intRank[h.base], intRank[w.base])
		if h.unsigned && intRank[h.base] >= intRank[w.base] || w.unsigned && intRank[w.base] >= intRank[h.base] {
			rank++
		}
		if rank < len(intNames) {
			return strings.ToUpper(intNames[rank]), true
		}
		return "", false // bigint unsigned and bigint: no integer type holds both
	case textBytes[h.base] > 0 && (w.base == "varchar" || w.base == "char"):
		need := max(textBytes[h.base], 4*num(w, 0))
		for _, t := range []string{"tinytext", "text", "mediumtext", "longtext"} {
			if textBytes[t] >= need {
				return strings.ToUpper(t), true
			}
		}
		return "", false
	case w.base == "decimal" && (h.base == "decimal" || intRank[h.base] > 0):
		hInt, hScale := intDigits[h.base], 0
		if h.unsigned && h.base == "bigint" {
			hInt = 20
		}
		if h.base == "decimal" {
			hInt, hScale = num(h, 0)-num(h, 1), num(h, 1)
		}
		wInt, wScale := num(w, 0)-num(w, 1), num(w, 1)
		if hInt < 0 || hScale < 0 || wInt < 0 || wScale < 0 {
			return "", false
		}
		s := max(hScale, wScale)
		p := max(hInt, wInt) + s
		if p > 65 || s > d.server().maxScale {
			return "", false
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", max(p, 1), s), true
	case (h.base == "char" || h.base == "varchar" || h.base == "enum") && (w.base == "char" || w.base == "varchar" || w.base == "enum"):
		if h.base == "enum" && w.base == "enum" {
			labels := slices.Clone(h.args)
			for _, l := range w.args {
				if !slices.Contains(labels, l) {
					labels = append(labels, l)
				}
			}
			return "ENUM(" + strings.Join(labels, ",") + ")", true
		}
		n := max(charLen(h), charLen(w))
		switch {
		case n <= 0:
			return "", false
		case h.base == "char" && w.base == "char" && n <= 255:
			return fmt.Sprintf("CHAR(%d)", n), true
		case n <= maxVarchar:
			return fmt.Sprintf("VARCHAR(%d)", n), true
		}
		return "LONGTEXT", true
	}
	return "", false
}

// charLen is the characters a CHAR/VARCHAR holds, or an ENUM's longest
// label.
func charLen(t myType) int {
	if t.base == "enum" {
		return longestLabel(t)
	}
	return num(t, 0)
}

// AlterType is ALTER TABLE … MODIFY COLUMN with the column's definition as
// SHOW CREATE TABLE gives it (nullability, collation, default, extra
// attributes, comment), its type replaced by typ.
func (d *Dialect) AlterType(ctx context.Context, tx *sql.Tx, n sqlsink.Name, c sqlsink.FollowerColumn, typ string) (string, error) {
	var name, create string
	if err := tx.QueryRowContext(ctx, "SHOW CREATE TABLE "+d.QuoteName(n)).Scan(&name, &create); err != nil {
		return "", fmt.Errorf("mysql sink: read the definition of %s: %w", n, err)
	}
	def, ok := columnDefinition(create, d.QuoteIdent(c.Name), typ)
	if !ok {
		return "", fmt.Errorf("mysql sink: no definition of column %s in SHOW CREATE TABLE %s", c.Name, n)
	}
	return "ALTER TABLE " + d.QuoteName(n) + " MODIFY COLUMN " + def, nil
}

// columnDefinition finds the line of quoted column col in a CREATE TABLE
// statement and returns it with its type (and any unsigned/signed/zerofill
// words) replaced by typ.
func columnDefinition(create, col, typ string) (string, bool) {
	for _, line := range strings.Split(create, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, col+" ")
		if !ok {
			continue
		}
		// The type runs to the first space outside parentheses and quotes.
		depth, quoted, end := 0, false, len(rest)
		for i := 0; i < len(rest) && end == len(rest); i++ {
			switch c := rest[i]; {
			case quoted && c == '\\':
				i++
			case c == '\'':
				quoted = !quoted
			case quoted:
			case c == '(':
				depth++
			case c == ')':
				depth--
			case c == ' ' && depth == 0:
				end = i
			}
		}
		tail := rest[end:]
		for {
			t := strings.TrimLeft(tail, " ")
			word, after, _ := strings.Cut(t, " ")
			switch strings.ToLower(word) {
			case "unsigned", "signed", "zerofill":
				tail = " " + after
				continue
			}
			break
		}
		tail = strings.TrimRight(strings.TrimSpace(tail), ",")
		if tail != "" {
			tail = " " + tail
		}
		return col + " " + typ + tail, true
	}
	return "", false
}
