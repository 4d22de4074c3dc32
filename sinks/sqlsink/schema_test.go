package sqlsink

import (
	"testing"

	"github.com/walship/walship/ordering"
)

func TestRounds(t *testing.T) {
	dec := func(p, s int) ordering.Column {
		return ordering.Column{Kind: ordering.KindDecimal, Precision: p, Scale: s}
	}
	ts := func(p int) ordering.Column { return ordering.Column{Kind: ordering.KindTimestamp, Precision: p} }
	for _, c := range []struct {
		from, to ordering.Column
		want     bool
	}{
		{dec(10, 4), dec(10, 2), true},
		{dec(10, 2), dec(12, 4), false},
		{dec(-1, -1), dec(10, 2), true},
		{dec(10, 2), dec(-1, -1), false},
		{dec(10, 2), ordering.Column{Kind: ordering.KindInt}, true},
		{ordering.Column{Kind: ordering.KindFloat}, dec(10, 2), true},
		{ordering.Column{Kind: ordering.KindInt}, ordering.Column{Kind: ordering.KindInt}, false},
		{ordering.Column{Kind: ordering.KindString, Length: 50}, ordering.Column{Kind: ordering.KindString, Length: 20}, false},
		{ts(-1), ts(3), true},
		{ts(3), ts(6), false},
		{ts(6), ts(-1), false},
		{ordering.Column{Kind: ordering.KindFloat, Type: "double precision"}, ordering.Column{Kind: ordering.KindFloat, Type: "real"}, true},
		{ordering.Column{Kind: ordering.KindFloat, Type: "double"}, ordering.Column{Kind: ordering.KindFloat, Type: "float unsigned"}, true},
		{ordering.Column{Kind: ordering.KindFloat, Type: "real"}, ordering.Column{Kind: ordering.KindFloat, Type: "double precision"}, false},
		{ordering.Column{Kind: ordering.KindFloat, Type: "float"}, ordering.Column{Kind: ordering.KindFloat, Type: "float"}, false},
	} {
		if got := rounds(c.from, c.to); got != c.want {
			t.Errorf("rounds(%+v, %+v) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
