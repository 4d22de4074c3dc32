package verify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/walship/walship/config"
	"github.com/walship/walship/filter"
)

// The columns: and where: rules of the sink and of its source (issue 18)
// decide what the follower holds, so they decide what verify compares:
//   - a column excluded, hashed, masked or truncated is not compared (its
//     follower values are not the source's; the report says so);
//   - a table whose key is hashed is not compared at all: its rows cannot
//     be matched by key (the report says so);
//   - where rules (the source's and the sink's, both) select the source
//     rows compared: the follower must hold exactly the rows that match.
//     Such a table is compared in Go (compareInGo), the rules evaluated on
//     each source row.

// rowFilter is what the rules make verify compare of one table.
type rowFilter struct {
	skip      []string
	where     []string
	keyHashed bool
	notes     []string
}

// tableFilter is the rules of source table t for sink sk.
func tableFilter(src config.Source, sk config.Sink, t Table) rowFilter {
	var rf rowFilter
	name := t.String()
	if r, ok := src.Columns[name]; ok {
		rewritten := slices.Concat(r.Hash, r.Mask)
		for c := range r.Truncate {
			rewritten = append(rewritten, c)
		}
		slices.Sort(rewritten)
		for _, c := range r.Hash {
			if slices.Contains(t.Key, c) {
				rf.keyHashed = true
			}
		}
		rf.skip = append(rf.skip, r.Exclude...)
		rf.skip = append(rf.skip, rewritten...)
		if len(rewritten) > 0 {
			rf.notes = append(rf.notes, fmt.Sprintf("column(s) %s not compared: the source hashes, masks or truncates them (columns:)", strings.Join(rewritten, ", ")))
		}
	}
	if r, ok := sk.Columns[name]; ok {
		rf.skip = append(rf.skip, r.Exclude...)
	}
	if w, ok := src.Where[name]; ok {
		rf.where = append(rf.where, w)
	}
	if w, ok := sk.Where[name]; ok {
		rf.where = append(rf.where, w)
	}
	if len(rf.where) > 0 {
		rf.notes = append(rf.notes, "only the source rows that match the where rule(s) compared: "+strings.Join(rf.where, "; "))
	}
	if rf.keyHashed {
		rf.notes = []string{"not compared: the source hashes its key (columns:), so its rows cannot be matched by key"}
	}
	return rf
}

// apply is t without the columns not compared.
func (rf rowFilter) apply(t Table) Table {
	out := t
	out.Columns = slices.DeleteFunc(slices.Clone(t.Columns), func(c Column) bool { return slices.Contains(rf.skip, c.Name) })
	return out
}

// whereValue is a column's text as a where rule reads it (a number, a
// boolean, else the text).
func whereValue(k Kind, raw string) any {
	switch k {
	case KindInt, KindBit:
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return int(n)
		}
		if n, err := strconv.ParseUint(raw, 10, 64); err == nil {
			return int(n)
		}
	case KindDecimal, KindFloat, KindFloat32:
		if f, err := strconv.ParseFloat(raw, 64); err == nil {
			return f
		}
	case KindBool:
		switch strings.ToLower(raw) {
		case "t", "true", "1":
			return true
		case "f", "false", "0":
			return false
		}
	}
	return raw
}

// whereZero is a value of the type a column of kind k has in a rule.
func whereZero(k Kind) any {
	switch k {
	case KindInt, KindBit:
		return 0
	case KindDecimal, KindFloat, KindFloat32:
		return 0.0
	case KindBool:
		return false
	}
	return ""
}

// predicates compiles the rules against the compared columns.
func (tp *tablePlan) predicates(where []string) error {
	env := map[string]any{}
	for _, c := range tp.cols {
		env[c.Name] = whereZero(c.Kind)
	}
	for _, w := range where {
		p, err := filter.NewPredicate(w, env)
		if err != nil {
			return fmt.Errorf("the where rule %q cannot be evaluated by verify: %v", w, err)
		}
		tp.preds = append(tp.preds, p)
	}
	return nil
}

// matching is rows less those a where rule leaves out.
func (tp *tablePlan) matching(rows []*row) ([]*row, error) {
	if len(tp.preds) == 0 {
		return rows, nil
	}
	out := rows[:0]
	env := make(map[string]any, len(tp.cols))
	for _, r := range rows {
		for i, c := range tp.cols {
			if !r.valid[i] {
				env[c.Name] = nil
			} else {
				env[c.Name] = whereValue(c.Kind, r.raw[i])
			}
		}
		keep := true
		for _, p := range tp.preds {
			ok, err := p.Match(env)
			if err != nil {
				return nil, fmt.Errorf("source row %s: %w", keyText(tp.keyNames, r.key), err)
			}
			keep = keep && ok
		}
		if keep {
			out = append(out, r)
		}
	}
	return out, nil
}
