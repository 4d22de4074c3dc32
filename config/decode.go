package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder turns a YAML node tree into a Config strictly: every unknown key,
// wrong type and undefined ${ENV} reference becomes an Error with its line,
// and decoding goes on so that all of them are reported at once.
type decoder struct {
	file   string
	lookup func(string) (string, bool) // environment
	errs   Errors
	nodes  map[string]*yaml.Node // key path -> value node, for later checks
	failed map[string]bool       // key paths that already have an error
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(Secret(""))
)

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	if d.failed == nil {
		d.failed = map[string]bool{}
	}
	if d.failed[path] && path != "" {
		return // one error per key: a wrong type needs no "missing" too
	}
	d.failed[path] = true
	e := &Error{File: d.file, Key: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		d.decode(n.Content[0], v, path)
		return
	}
	d.nodes[path] = n
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // absent: the default applies
	}
	switch {
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case v.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "expected a mapping, got %s", describe(n, false))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := join(path, k.Value)
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				d.errorf(k, key, "duplicate key %q", k.Value)
				continue
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, key)
			m.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
		v.Set(m)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, got %s", describe(n, false))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of keys, got %s", describe(n, false))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, key, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(k, key, "unknown key %q (valid keys: %s)", k.Value, strings.Join(sortedKeys(fields), ", "))
			continue
		}
		d.decode(val, v.Field(idx), key)
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	secret := v.Type() == secretType
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected %s, got %s", kindName(v.Type()), describe(n, secret))
		return
	}
	raw, ok := d.expand(n, path)
	if !ok {
		return
	}
	bad := func() {
		shown := *n
		shown.Value = raw
		d.errorf(n, path, "expected %s, got %s", kindName(v.Type()), describe(&shown, secret))
	}
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(raw)
		if err != nil || dur < 0 {
			bad()
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			bad()
			return
		}
		v.SetBool(b)
	case v.CanInt():
		i, err := strconv.ParseInt(raw, 10, v.Type().Bits())
		if err != nil {
			bad()
			return
		}
		v.SetInt(i)
	case v.CanUint():
		u, err := strconv.ParseUint(raw, 10, v.Type().Bits())
		if err != nil {
			bad()
			return
		}
		v.SetUint(u)
	default:
		panic("config: unsupported field type " + v.Type().String())
	}
}

// expand replaces ${NAME} with the environment's value; $${ stands for a
// literal ${. An unset variable is an error naming it.
func (d *decoder) expand(n *yaml.Node, path string) (string, bool) {
	s := n.Value
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	ok := true
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.errorf(n, path, "unterminated ${ in value")
			return "", false
		}
		name := s[i+2 : i+end]
		val, found := d.lookup(name)
		if !found {
			d.errorf(n, path, "environment variable %s is not set", name)
			ok = false
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
	return b.String(), ok
}

// yamlFields maps each yaml tag of t to its field index.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
	}
	return m
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 30s"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return "a non-negative integer"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Struct, t.Kind() == reflect.Pointer:
		return "a mapping of keys"
	}
	return t.String()
}

// describe names what a node holds, hiding the value of secrets.
func describe(n *yaml.Node, secret bool) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if secret {
		return "a value of the wrong type"
	}
	kind := strings.TrimPrefix(n.ShortTag(), "!!")
	if kind == "str" {
		kind = "string"
	}
	return fmt.Sprintf("%s %q", kind, n.Value)
}
