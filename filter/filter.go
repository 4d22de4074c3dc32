package filter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm"

	"github.com/walship/walship/ordering"
)

// MaskText is what a masked value becomes.
const MaskText = "****"

// Table is the rules of one table.
type Table struct {
	Exclude  []string
	Hash     []string
	Mask     []string
	Truncate map[string]int
	// Where is an expr-lang expression; "" keeps every row.
	Where string
}

// Rules are the rules by table ("schema.table").
type Rules map[string]Table

// Errors, classified.
var (
	// ErrRule is wrapped when a rule does not fit a table's shape (an
	// unknown column, a key column excluded, a predicate that does not
	// compile against it).
	ErrRule = errors.New("filter rule")
	// ErrPredicate is wrapped when a where rule fails on a row.
	ErrPredicate = errors.New("where rule failed on a row")
	// ErrNoBefore is wrapped when a change lacks the values a where rule
	// reads (the source sent no full before image).
	ErrNoBefore = errors.New("the change lacks values the where rule reads")
	// ErrNoHashKey is wrapped when a table hashes columns and no key is set.
	ErrNoHashKey = errors.New("columns are hashed but no hash key is set (hash_key or hash_key_file)")
)

// Filter applies Rules to changes.
type Filter struct {
	rules Rules
	key   []byte

	mu     sync.Mutex
	shapes map[*ordering.Table]*shapeRules
}

// New returns a Filter of rules, hashing with key. Each where rule is
// parsed now (CheckWhere); the shapes are checked when first met.
func New(rules Rules, key []byte) (*Filter, error) {
	for name, t := range rules {
		if len(t.Hash) > 0 && len(key) == 0 {
			return nil, fmt.Errorf("%w: %s", ErrNoHashKey, name)
		}
		if t.Where != "" {
			if err := CheckWhere(t.Where); err != nil {
				return nil, fmt.Errorf("%w: %s: where: %v", ErrRule, name, err)
			}
		}
	}
	return &Filter{rules: rules, key: key, shapes: map[*ordering.Table]*shapeRules{}}, nil
}

// Empty reports whether f changes nothing.
func (f *Filter) Empty() bool { return f == nil || len(f.rules) == 0 }

// HashesKey reports whether table's rules hash one of the key columns.
func (f *Filter) HashesKey(table string, key []string) bool {
	if f == nil {
		return false
	}
	for _, c := range f.rules[table].Hash {
		if slices.Contains(key, c) {
			return true
		}
	}
	return false
}

// Rules is the rules of table, and whether it has any.
func (f *Filter) Rules(table string) (Table, bool) {
	if f == nil {
		return Table{}, false
	}
	t, ok := f.rules[table]
	return t, ok
}

// shapeRules is what the rules make of one shape.
type shapeRules struct {
	out  *ordering.Table
	keep []int // source column of each column of out
	hash []bool
	mask []bool
	trim []int // characters kept, 0: all
	// where, compiled against the source shape; cols the source columns
	// it reads.
	where *vm.Program
	cols  []int
	// rewrite: any column rule applies.
	rewrite bool
}

// Shape is t as it goes on: the rules' columns applied. An error wraps
// ErrRule.
func (f *Filter) Shape(t *ordering.Table) (*ordering.Table, error) {
	sr, err := f.shape(t)
	if err != nil || sr == nil {
		return t, err
	}
	return sr.out, nil
}

// shape is the rules of t (nil: none), made once per shape.
func (f *Filter) shape(t *ordering.Table) (*shapeRules, error) {
	if f == nil {
		return nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if sr, ok := f.shapes[t]; ok {
		return sr, nil
	}
	rules, ok := f.rules[t.QualifiedName()]
	if !ok {
		f.shapes[t] = nil
		return nil, nil
	}
	sr, err := build(t, rules, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRule, t.QualifiedName(), err)
	}
	f.shapes[t] = sr
	f.shapes[sr.out] = nil // what the rules made passes as it is
	return sr, nil
}

// CheckTable checks r against t: every column it names exists (a
// Filter passes over a column a shape lacks: one dropped at the source
// since), no key column is excluded, masked or truncated, the where rule
// compiles against t's column types.
func CheckTable(t *ordering.Table, r Table) error {
	_, err := build(t, r, true)
	return err
}

// build makes the rules of t; strict, a column the rules name that t
// lacks is an error.
func build(t *ordering.Table, r Table, strict bool) (*shapeRules, error) {
	n := len(t.Columns)
	sr := &shapeRules{hash: make([]bool, n), mask: make([]bool, n), trim: make([]int, n)}
	excluded := make([]bool, n)
	rewritten := map[string]bool{} // columns whose values change (not hash)
	truncated := slices.Sorted(maps.Keys(r.Truncate))
	// Each rule, over its columns: keyOK says whether a key column may
	// take it, apply records it.
	for _, rule := range []struct {
		name  string
		cols  []string
		keyOK bool
		apply func(i int, c string) error
	}{
		{"exclude", r.Exclude, false, func(i int, c string) error { excluded[i], rewritten[c] = true, true; return nil }},
		{"hash", r.Hash, true, func(i int, c string) error { sr.hash[i] = true; return nil }},
		{"mask", r.Mask, false, func(i int, c string) error { sr.mask[i], rewritten[c] = true, true; return nil }},
		{"truncate", truncated, false, func(i int, c string) error {
			if k := t.Columns[i].Kind; k != ordering.KindString && k != ordering.KindText {
				return fmt.Errorf("truncate: %s is %s, not text", c, t.Columns[i].Type)
			}
			if r.Truncate[c] <= 0 {
				return fmt.Errorf("truncate: %s: %d characters", c, r.Truncate[c])
			}
			sr.trim[i], rewritten[c] = r.Truncate[c], true
			return nil
		}},
	} {
		for _, c := range rule.cols {
			i := t.ColumnIndex(c)
			switch {
			case i < 0 && strict:
				return nil, fmt.Errorf("%s: no column %s", rule.name, c)
			case i < 0:
				continue // dropped at the source since: nothing to apply
			case !rule.keyOK && slices.Contains(t.PrimaryKey, c):
				return nil, fmt.Errorf("%s: %s is a primary-key column (the rows would lose their identity; hash it instead)", rule.name, c)
			}
			if err := rule.apply(i, c); err != nil {
				return nil, err
			}
		}
	}
	for i := range n {
		if (sr.hash[i] || sr.mask[i] || sr.trim[i] > 0) && excluded[i] {
			return nil, fmt.Errorf("%s is excluded and rewritten", t.Columns[i].Name)
		}
	}
	if r.Where != "" {
		prog, cols, err := compile(t, r.Where)
		if err != nil {
			return nil, fmt.Errorf("where: %v", err)
		}
		sr.where, sr.cols = prog, cols
	}
	sr.rewrite = len(rewritten) > 0 || len(r.Hash) > 0
	out := *t
	if sr.rewrite {
		out.Columns = nil
		for i, c := range t.Columns {
			if excluded[i] {
				continue
			}
			switch {
			case sr.hash[i]:
				c = ordering.Column{Name: c.Name, Kind: ordering.KindString, Type: "varchar(64)", Nullable: c.Nullable, Length: 64, Precision: -1, Scale: -1}
			case sr.mask[i]:
				c = ordering.Column{Name: c.Name, Kind: ordering.KindString, Type: "text", Nullable: c.Nullable, Precision: -1, Scale: -1}
			case sr.trim[i] > 0:
				if c.Length == 0 || c.Length > sr.trim[i] {
					c.Length = sr.trim[i]
				}
				c.Default = nil
			}
			out.Columns = append(out.Columns, c)
			sr.keep = append(sr.keep, i)
		}
		hashed := map[string]bool{}
		for _, c := range r.Hash {
			hashed[c] = true
		}
		touches := func(cols []string, alsoHashed bool) bool {
			for _, c := range cols {
				if rewritten[c] || alsoHashed && hashed[c] {
					return true
				}
			}
			return false
		}
		out.UniqueKeys = slices.DeleteFunc(slices.Clone(t.UniqueKeys), func(k []string) bool { return touches(k, false) })
		out.ForeignKeys = slices.DeleteFunc(slices.Clone(t.ForeignKeys), func(fk ordering.ForeignKey) bool { return touches(fk.Columns, true) })
		out.Cascades = slices.DeleteFunc(slices.Clone(t.Cascades), func(c ordering.Cascade) bool {
			return t.Schema == c.ParentSchema && t.Name == c.ParentTable && touches(c.ParentColumns, true)
		})
		out.Indexes = slices.DeleteFunc(slices.Clone(t.Indexes), func(ix ordering.Index) bool {
			for _, p := range ix.Parts {
				if p.Column == "" || rewritten[p.Column] || hashed[p.Column] {
					return true
				}
			}
			return ix.Where != ""
		})
		out.Checks = nil
	}
	sr.out = &out
	return sr, nil
}

// Filter rewrites ch by the rules of its table and reports whether it
// goes on. ch's images are replaced, never written in place.
func (f *Filter) Filter(ch *ordering.Change) (bool, error) {
	sr, err := f.shape(ch.Table)
	if err != nil || sr == nil {
		return err == nil, err
	}
	if sr.where != nil {
		keep, err := sr.decide(ch)
		if err != nil || !keep {
			return false, err
		}
	}
	if ch.Op == ordering.OpPrune && slices.ContainsFunc(ch.Table.PrimaryKey, func(k string) bool { return sr.hash[ch.Table.ColumnIndex(k)] }) {
		return false, fmt.Errorf("%w: %s: an incremental snapshot cannot delete rows not seen when the key is hashed (its order is lost)", ErrRule, ch.Table.QualifiedName())
	}
	if sr.rewrite {
		ch.Before = f.row(sr, ch.Before)
		ch.After = f.row(sr, ch.After)
	}
	ch.Table = sr.out
	return true, nil
}

// row is one image rewritten.
func (f *Filter) row(sr *shapeRules, in []ordering.Value) []ordering.Value {
	if in == nil {
		return nil
	}
	out := make([]ordering.Value, len(sr.keep))
	for j, i := range sr.keep {
		v := in[i]
		if v.IsNull() || v.IsUnchanged() {
			out[j] = v
			continue
		}
		switch {
		case sr.hash[i]:
			out[j] = ordering.String(f.hashOf(v))
		case sr.mask[i]:
			out[j] = ordering.String(MaskText)
		case sr.trim[i] > 0:
			out[j] = trim(v, sr.trim[i])
		default:
			out[j] = v
		}
	}
	return out
}

// hashOf is the hex HMAC-SHA-256 of v's text.
func (f *Filter) hashOf(v ordering.Value) string {
	m := hmac.New(sha256.New, f.key)
	switch v.Kind() {
	case ordering.KindBytes:
		m.Write(v.Bytes())
	default:
		m.Write([]byte(v.String()))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// trim cuts a text value to n characters.
func trim(v ordering.Value, n int) ordering.Value {
	s := v.Text()
	if utf8.RuneCountInString(s) <= n {
		return v
	}
	i, c := 0, 0
	for i = range s {
		if c == n {
			break
		}
		c++
	}
	s = s[:i]
	if v.Kind() == ordering.KindText {
		return ordering.Text(s)
	}
	return ordering.String(s)
}

// decide applies the where rule to ch: whether it goes on, as what.
func (sr *shapeRules) decide(ch *ordering.Change) (bool, error) {
	t := ch.Table
	switch ch.Op {
	case ordering.OpTruncate, ordering.OpPrune:
		return true, nil
	case ordering.OpInsert, ordering.OpRead:
		return sr.match(t, ch.After, nil)
	case ordering.OpDelete:
		return sr.match(t, ch.Before, nil)
	case ordering.OpUpdate:
		before := ch.Before
		if before == nil {
			// No old image: only the key, unchanged, is known.
			before = make([]ordering.Value, len(t.Columns))
			for i := range before {
				before[i] = ordering.Unchanged()
			}
			for _, k := range t.PrimaryKey {
				i := t.ColumnIndex(k)
				before[i] = ch.After[i]
			}
		}
		was, err := sr.match(t, before, nil)
		if err != nil {
			return false, err
		}
		is, err := sr.match(t, ch.After, before)
		if err != nil {
			return false, err
		}
		switch {
		case was && is:
			return true, nil
		case is:
			// Moved in: the whole row, as an insert.
			after := slices.Clone(ch.After)
			for i, v := range after {
				if v.IsUnchanged() {
					if before[i].IsUnchanged() {
						return false, fmt.Errorf("%w: %s: an update moved a row into the where rule, and column %s was not sent (set REPLICA IDENTITY FULL)", ErrNoBefore, t.QualifiedName(), t.Columns[i].Name)
					}
					after[i] = before[i]
				}
			}
			ch.Op, ch.Before, ch.After = ordering.OpInsert, nil, after
			return true, nil
		case was:
			// Moved out: a delete of the old row.
			ch.Op, ch.After = ordering.OpDelete, nil
			if ch.Before == nil {
				ch.Before = before
			}
			return true, nil
		}
		return false, nil
	}
	return true, nil
}
