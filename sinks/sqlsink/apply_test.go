package sqlsink

import (
	"testing"

	"github.com/walship/walship/ordering"
)

func TestChildrenFirst(t *testing.T) {
	table := func(name string, parents ...string) *shape {
		tb := &ordering.Table{Schema: "s", Name: name}
		for _, p := range parents {
			tb.ForeignKeys = append(tb.ForeignKeys, ordering.ForeignKey{Columns: []string{p + "_id"}, ParentSchema: "s", ParentTable: p, ParentColumns: []string{"id"}})
		}
		return &shape{name: Name{Schema: "s", Table: name}, src: tb}
	}
	names := func(shs []*shape) string {
		var out string
		for _, sh := range shs {
			out += sh.name.Table + " "
		}
		return out
	}
	customers, orders, items, other := table("customers"), table("orders", "customers"), table("items", "orders", "customers"), table("other")
	self, a, b := table("self", "self"), table("a", "b"), table("b", "a")
	for _, c := range []struct {
		in   []*shape
		want string
	}{
		{[]*shape{items, orders, customers}, "items orders customers "},              // already children first
		{[]*shape{customers, orders, items}, "items orders customers "},              // parents first
		{[]*shape{orders, other, customers, items}, "items orders other customers "}, // unrelated keeps its place
		{[]*shape{self, other}, "self other "},                                       // a self reference
		{[]*shape{a, b}, "b a "},                                                     // a cycle ends
	} {
		if got := names(childrenFirst(c.in)); got != c.want {
			t.Errorf("childrenFirst(%s) = %s, want %s", names(c.in), got, c.want)
		}
	}
}
