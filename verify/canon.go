package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Kind is the comparison class of a source column.
type Kind int

const (
	KindOther Kind = iota
	KindInt
	KindDecimal
	KindFloat32
	KindFloat
	KindBool
	KindText
	KindBytes
	KindDate
	KindTime
	KindTimestamp
	KindTimestampTZ
	KindJSON
	KindUUID
	KindArray
	KindInterval
)

var kindNames = [...]string{"other", "integer", "decimal", "real", "double", "boolean", "text", "bytes", "date", "time",
	"timestamp", "timestamptz", "json", "uuid", "array", "interval"}

func (k Kind) String() string { return kindNames[k] }

// pgKind classifies a PostgreSQL base type name (domains resolved).
func pgKind(typname string, isArray bool, typtype string) Kind {
	if isArray {
		return KindArray
	}
	if typtype == "e" {
		return KindText
	}
	switch typname {
	case "int2", "int4", "int8", "oid":
		return KindInt
	case "numeric":
		return KindDecimal
	case "float4":
		return KindFloat32
	case "float8":
		return KindFloat
	case "bool":
		return KindBool
	case "text", "varchar", "bpchar", "name", "citext", "char":
		return KindText
	case "bytea":
		return KindBytes
	case "date":
		return KindDate
	case "time":
		return KindTime
	case "timestamp":
		return KindTimestamp
	case "timestamptz":
		return KindTimestampTZ
	case "json", "jsonb":
		return KindJSON
	case "uuid":
		return KindUUID
	case "interval":
		return KindInterval
	}
	return KindOther
}

// mysqlKind classifies an information_schema DATA_TYPE.
func mysqlKind(dataType string) Kind {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return KindInt
	case "decimal", "numeric":
		return KindDecimal
	case "float":
		return KindFloat32
	case "double", "real":
		return KindFloat
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return KindText
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return KindBytes
	case "date":
		return KindDate
	case "time":
		return KindTime
	case "datetime":
		return KindTimestamp
	case "timestamp":
		return KindTimestampTZ
	case "json":
		return KindJSON
	case "uuid":
		return KindUUID
	}
	return KindOther
}

// rawText turns a scanned driver value into text. Bytes of a bytes column
// become lower-case hex unless the query already produced hex.
func rawText(v any, k Kind, hexAlready bool) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case []byte:
		if k == KindBytes && !hexAlready {
			return hex.EncodeToString(x), true
		}
		return string(x), true
	case string:
		if k == KindBytes && !hexAlready {
			return hex.EncodeToString([]byte(x)), true
		}
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999"), true
	}
	return fmt.Sprint(v), true
}

// Canonical is the cross-engine canonical form of the text s of a column
// of kind k. A form it cannot parse is returned as it is (compared as
// text).
func Canonical(k Kind, s string) string {
	switch k {
	case KindInt:
		return strings.TrimSpace(s)
	case KindBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "1", "y", "yes", "on":
			return "1"
		case "f", "false", "0", "n", "no", "off":
			return "0"
		}
	case KindDecimal:
		return canonDecimal(s)
	case KindFloat, KindFloat32:
		return canonFloat(s, k == KindFloat32)
	case KindBytes:
		return strings.ToLower(strings.TrimPrefix(s, `\x`))
	case KindDate:
		return canonDate(s)
	case KindTime:
		return canonTime(s)
	case KindTimestamp, KindTimestampTZ:
		return canonTimestamp(s)
	case KindJSON, KindArray:
		return canonJSON(s)
	case KindUUID:
		return strings.ToLower(strings.TrimSpace(s))
	}
	return s
}

func canonDecimal(s string) string {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "nan":
		return "NaN"
	case "infinity", "+infinity", "inf", "+inf":
		return "Infinity"
	case "-infinity", "-inf":
		return "-Infinity"
	}
	neg := false
	t := s
	if strings.HasPrefix(t, "-") {
		neg, t = true, t[1:]
	} else {
		t = strings.TrimPrefix(t, "+")
	}
	if strings.ContainsAny(t, "eE") {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return s
		}
		return canonDecimal(r.FloatString(40))
	}
	ip, fp, _ := strings.Cut(t, ".")
	for _, c := range ip + fp {
		if c < '0' || c > '9' {
			return s
		}
	}
	ip = strings.TrimLeft(ip, "0")
	fp = strings.TrimRight(fp, "0")
	if ip == "" {
		ip = "0"
	}
	out := ip
	if fp != "" {
		out += "." + fp
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}

func canonFloat(s string, single bool) string {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		// ParseFloat reports range errors with ±Inf; anything else is text.
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return s
		}
	}
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	if single {
		return strconv.FormatFloat(float64(float32(f)), 'g', 6, 32)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// splitYear parses a leading (optionally signed) year and applies a PostgreSQL
// " BC" suffix: it returns the astronomical year text (0000 is 1 BC) and the rest.
func splitYear(s string) (year string, rest string, ok bool) {
	s = strings.TrimSpace(s)
	bc := false
	if strings.HasSuffix(s, " BC") {
		bc, s = true, strings.TrimSuffix(s, " BC")
	}
	sign := ""
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		sign, s = s[:1], s[1:]
	}
	i := strings.IndexByte(s, '-')
	if i < 4 {
		return "", "", false
	}
	y, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return "", "", false
	}
	if sign == "-" {
		y = -y
	}
	if bc {
		y = 1 - y
	}
	if y < 0 {
		return fmt.Sprintf("-%04d", -y), s[i:], true
	}
	return fmt.Sprintf("%04d", y), s[i:], true
}

func canonDate(s string) string {
	if l := strings.ToLower(strings.TrimSpace(s)); strings.HasSuffix(l, "infinity") {
		return l
	}
	y, rest, ok := splitYear(s)
	if !ok || len(rest) < 6 {
		return s
	}
	return y + rest[:6]
}

// canonTime is microseconds: from [-]H+:MM:SS[.f] or an integer (already
// microseconds).
func canonTime(s string) string {
	t := strings.TrimSpace(s)
	if _, err := strconv.ParseInt(t, 10, 64); err == nil {
		return t
	}
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(t, "-")
	parts := strings.Split(t, ":")
	if len(parts) != 3 {
		return s
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	sec, frac, _ := strings.Cut(parts[2], ".")
	sv, err3 := strconv.ParseInt(sec, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || len(frac) > 6 {
		return s
	}
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	us := ((h*60+m)*60+sv)*1_000_000 + f
	if neg {
		us = -us
	}
	return strconv.FormatInt(us, 10)
}

func canonTimestamp(s string) string {
	if l := strings.ToLower(strings.TrimSpace(s)); strings.HasSuffix(l, "infinity") {
		return l
	}
	y, rest, ok := splitYear(s)
	// rest: -MM-DD[ T]HH:MM:SS[.f][zone]
	if !ok || len(rest) < 15 {
		return s
	}
	date := rest[:6]
	clock := rest[7:]
	if len(clock) < 8 {
		return s
	}
	hms, tail := clock[:8], clock[8:]
	frac := ""
	if strings.HasPrefix(tail, ".") {
		i := 1
		for i < len(tail) && tail[i] >= '0' && tail[i] <= '9' {
			i++
		}
		frac, tail = tail[1:i], tail[i:]
	}
	if len(frac) > 6 {
		return s
	}
	frac = (frac + "000000")[:6]
	out := y + date + " " + hms + "." + frac
	zone := strings.TrimSpace(tail)
	switch zone {
	case "", "Z", "+00", "+00:00", "-00", "+0000", "UTC":
		return out
	}
	if len(y) != 4 {
		return s
	}
	if len(zone) == 3 {
		zone += ":00"
	}
	tm, err := time.Parse("2006-01-02 15:04:05.000000-07:00", out+zone)
	if err != nil {
		return s
	}
	return tm.UTC().Format("2006-01-02 15:04:05.000000")
}

func canonJSON(s string) string {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return s
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return s
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// compareKey orders two canonical key values of kind k: numbers
// numerically, everything else by bytes.
func compareKey(k Kind, a, b string) int {
	switch k {
	case KindInt, KindDecimal, KindTime:
		ra, oka := new(big.Rat).SetString(a)
		rb, okb := new(big.Rat).SetString(b)
		if oka && okb {
			return ra.Cmp(rb)
		}
	case KindFloat, KindFloat32:
		fa, ea := strconv.ParseFloat(a, 64)
		fb, eb := strconv.ParseFloat(b, 64)
		if ea == nil && eb == nil {
			switch {
			case fa < fb:
				return -1
			case fa > fb:
				return 1
			}
			return 0
		}
	case KindBool:
		// PostgreSQL text is true/false: order by the canonical 0/1.
		return strings.Compare(Canonical(KindBool, a), Canonical(KindBool, b))
	}
	return strings.Compare(a, b)
}
