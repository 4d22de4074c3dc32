package mysql

import (
	"slices"
	"strconv"
	"strings"
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
// dropped, decimal → decimal(10,0), datetime/time/timestamp → (0).
func normalize(s string) (myType, bool) {
	t, ok := parseMyType(s)
	if syn, found := mySynonyms[t.base]; found {
		t.base = syn
	}
	switch {
	case intRank[t.base] > 0:
		t.args = nil
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
		return textBytes[w.base] > 0 // a key column made VARCHAR(255)
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
		return blobBytes[w.base] > 0 // a key column made VARBINARY(255)
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
