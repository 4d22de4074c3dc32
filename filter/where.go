package filter

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/walship/walship/ordering"
)

// A where rule's row: each column by name as expr sees it. Integers are
// int, floats and decimals float64 (a decimal compares as a float), text
// of every kind (strings, enums, uuids, json, intervals) string, binary
// data its hex text, dates and timestamps time.Time (UTC), times of day
// time.Duration, booleans bool, arrays []any, NULL nil.

// CheckWhere parses a where rule without a shape: a syntax error names the
// position (line:column) in the expression.
func CheckWhere(where string) error {
	_, err := parser.Parse(where)
	return err
}

// zero is a value of the type column kind k has in a where rule's row.
func zero(k ordering.Kind) any {
	switch k {
	case ordering.KindBool:
		return false
	case ordering.KindInt, ordering.KindUint:
		return 0
	case ordering.KindFloat, ordering.KindDecimal:
		return 0.0
	case ordering.KindDate, ordering.KindTimestamp, ordering.KindTimestampTZ:
		return time.Time{}
	case ordering.KindTime:
		return time.Duration(0)
	case ordering.KindArray:
		return []any{}
	}
	return ""
}

// Env is the typed environment of t's where rules: what a predicate is
// checked against (unknown names, type errors).
func Env(t *ordering.Table) map[string]any {
	env := make(map[string]any, len(t.Columns))
	for _, c := range t.Columns {
		env[c.Name] = zero(c.Kind)
	}
	return env
}

// compile compiles where against t: the program and the columns it reads.
func compile(t *ordering.Table, where string) (*vm.Program, []int, error) {
	prog, err := expr.Compile(where, expr.Env(Env(t)), expr.AsBool())
	if err != nil {
		return nil, nil, err
	}
	var names identifiers
	node := prog.Node()
	ast.Walk(&node, &names)
	var cols []int
	for _, n := range names {
		if i := t.ColumnIndex(n); i >= 0 && !slices.Contains(cols, i) {
			cols = append(cols, i)
		}
	}
	return prog, cols, nil
}

// CompileWhere checks where against t (unknown columns, types).
func CompileWhere(t *ordering.Table, where string) error {
	_, _, err := compile(t, where)
	return err
}

type identifiers []string

func (v *identifiers) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		*v = append(*v, id.Value)
	}
}

// value is v as a where rule's row holds it.
func value(v ordering.Value) any {
	switch v.Kind() {
	case ordering.KindNull:
		return nil
	case ordering.KindBool:
		return v.Bool()
	case ordering.KindInt:
		return int(v.Int())
	case ordering.KindUint:
		return int(v.Uint())
	case ordering.KindFloat:
		return v.Float()
	case ordering.KindDecimal:
		var f float64
		fmt.Sscan(v.Text(), &f)
		return f
	case ordering.KindDate:
		if v.IsSpecial() {
			return nil
		}
		return time.Unix(v.Int()*86400, 0).UTC()
	case ordering.KindTimestamp, ordering.KindTimestampTZ:
		if v.IsSpecial() {
			return nil
		}
		return time.UnixMicro(v.Int()).UTC()
	case ordering.KindTime:
		return time.Duration(v.Int()) * time.Microsecond
	case ordering.KindBytes:
		return v.String()
	case ordering.KindArray:
		out := make([]any, len(v.Elems()))
		for i, e := range v.Elems() {
			out[i] = value(e)
		}
		return out
	}
	return v.Text()
}

// match evaluates the where rule on row (a value not sent is taken from
// fallback, when it has it).
func (sr *shapeRules) match(t *ordering.Table, row, fallback []ordering.Value) (bool, error) {
	if row == nil {
		return false, fmt.Errorf("%w: %s: no row image", ErrNoBefore, t.QualifiedName())
	}
	env := make(map[string]any, len(sr.cols))
	for _, i := range sr.cols {
		v := row[i]
		if v.IsUnchanged() && fallback != nil {
			v = fallback[i]
		}
		if v.IsUnchanged() {
			return false, fmt.Errorf("%w: %s: column %s was not sent (PostgreSQL: set REPLICA IDENTITY FULL; MySQL: binlog_row_image=FULL)", ErrNoBefore, t.QualifiedName(), t.Columns[i].Name)
		}
		env[t.Columns[i].Name] = value(v)
	}
	for _, c := range t.Columns {
		if _, ok := env[c.Name]; !ok {
			env[c.Name] = nil
		}
	}
	out, err := expr.Run(sr.where, env)
	if err != nil {
		return false, fmt.Errorf("%w: %s: %s", ErrPredicate, t.QualifiedName(), reason(err))
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%w: %s: the rule gave %T, not a boolean", ErrPredicate, t.QualifiedName(), out)
	}
	return b, nil
}

// reason says where a rule failed on a row without its message, which
// may quote the value (int("abc") names "abc"): the position in the rule
// and the kind of failure.
func reason(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		kind := "evaluation"
		if i := strings.IndexAny(fe.Message, ":("); i > 0 {
			kind = strings.TrimSpace(fe.Message[:i])
		}
		return fmt.Sprintf("%s failed at %d:%d of the rule (the value is not shown)", kind, fe.Line, fe.Column+1)
	}
	return "evaluation failed (the value is not shown)"
}

// WhereColumns are the columns of t that where reads.
func WhereColumns(t *ordering.Table, where string) ([]string, error) {
	_, cols, err := compile(t, where)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = t.Columns[c].Name
	}
	return out, nil
}

// Predicate is a where rule compiled against a row of named values of the
// given types (for a reader of rows other than changes: walship verify).
type Predicate struct {
	prog *vm.Program
}

// NewPredicate compiles where against env (a value of each column's type
// by name, as Env gives for a shape).
func NewPredicate(where string, env map[string]any) (*Predicate, error) {
	prog, err := expr.Compile(where, expr.Env(env), expr.AsBool())
	if err != nil {
		return nil, err
	}
	return &Predicate{prog: prog}, nil
}

// Match evaluates the rule on row; an error wraps ErrPredicate and shows
// no value.
func (p *Predicate) Match(row map[string]any) (bool, error) {
	out, err := expr.Run(p.prog, row)
	if err != nil {
		return false, fmt.Errorf("%w: %s", ErrPredicate, reason(err))
	}
	b, _ := out.(bool)
	return b, nil
}
