package verify

import (
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonValue is a parsed JSON document that keeps what encoding/json's
// maps lose: member order, duplicate keys and each number's text.
type jsonValue struct {
	kind    byte // '{', '[', 's' string, 'n' number, 'l' literal (true, false, null)
	text    string
	members []jsonMember // objects, in document order
	items   []*jsonValue // arrays
}

type jsonMember struct {
	key string
	val *jsonValue
}

// parseJSON parses exactly one JSON document.
func parseJSON(s string) (*jsonValue, bool) {
	if !utf8.ValidString(s) {
		return nil, false
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	v, ok := parseJSONValue(d)
	if !ok {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

func parseJSONValue(d *json.Decoder) (*jsonValue, bool) {
	tok, err := d.Token()
	if err != nil {
		return nil, false
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := &jsonValue{kind: '{'}
			for d.More() {
				kt, err := d.Token()
				k, ok := kt.(string)
				if err != nil || !ok {
					return nil, false
				}
				val, ok := parseJSONValue(d)
				if !ok {
					return nil, false
				}
				v.members = append(v.members, jsonMember{key: k, val: val})
			}
			if end, err := d.Token(); err != nil || end != json.Delim('}') {
				return nil, false
			}
			return v, true
		case '[':
			v := &jsonValue{kind: '['}
			for d.More() {
				it, ok := parseJSONValue(d)
				if !ok {
					return nil, false
				}
				v.items = append(v.items, it)
			}
			if end, err := d.Token(); err != nil || end != json.Delim(']') {
				return nil, false
			}
			return v, true
		}
		return nil, false
	case string:
		return &jsonValue{kind: 's', text: t}, true
	case json.Number:
		return &jsonValue{kind: 'n', text: string(t)}, true
	case bool:
		return &jsonValue{kind: 'l', text: strconv.FormatBool(t)}, true
	case nil:
		return &jsonValue{kind: 'l', text: "null"}, true
	}
	return nil, false
}

// dupKeys reports whether any object in v repeats a key.
func (v *jsonValue) dupKeys() bool {
	seen := map[string]bool{}
	for _, m := range v.members {
		if seen[m.key] || m.val.dupKeys() {
			return true
		}
		seen[m.key] = true
	}
	for _, it := range v.items {
		if it.dupKeys() {
			return true
		}
	}
	return false
}

// sortMembers orders an object's members, keeping the last of duplicate
// keys first in its group: jsonb orders keys by length, then bytes;
// otherwise by bytes.
func sortMembers(ms []jsonMember, jsonb bool) {
	slices.SortStableFunc(ms, func(a, b jsonMember) int {
		if jsonb && len(a.key) != len(b.key) {
			return len(a.key) - len(b.key)
		}
		return strings.Compare(a.key, b.key)
	})
}

// write encodes v. Duplicate keys keep their last value (jsonb's rule;
// canonJSON refuses duplicates before). jsonb: ", " and ": " between
// items, keys by length then bytes, numbers as numeric prints them; else
// no spaces, keys by bytes, numbers as written.
func (v *jsonValue) write(b *strings.Builder, jsonb bool) {
	itemSep, keySep := ",", ":"
	if jsonb {
		itemSep, keySep = ", ", ": "
	}
	switch v.kind {
	case '{':
		// Last value of a key wins: keep the last occurrence of each.
		last := map[string]int{}
		for i, m := range v.members {
			last[m.key] = i
		}
		var ms []jsonMember
		for i, m := range v.members {
			if last[m.key] == i {
				ms = append(ms, m)
			}
		}
		sortMembers(ms, jsonb)
		b.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				b.WriteString(itemSep)
			}
			writeJSONString(b, m.key)
			b.WriteString(keySep)
			m.val.write(b, jsonb)
		}
		b.WriteByte('}')
	case '[':
		b.WriteByte('[')
		for i, it := range v.items {
			if i > 0 {
				b.WriteString(itemSep)
			}
			it.write(b, jsonb)
		}
		b.WriteByte(']')
	case 's':
		writeJSONString(b, v.text)
	case 'n':
		if jsonb {
			if d, ok := parseDecimal(v.text); ok {
				b.WriteString(d.String())
				return
			}
		}
		b.WriteString(v.text)
	default:
		b.WriteString(v.text)
	}
}

// writeJSONString escapes s as PostgreSQL's escape_json does.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[c>>4])
				b.WriteByte("0123456789abcdef"[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}
