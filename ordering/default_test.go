package ordering

import (
	"encoding/json"
	"math"
	"testing"
)

func TestDefaultJSONRoundTrip(t *testing.T) {
	for _, v := range []Value{
		Bool(true), Int(-42), Uint(math.MaxUint64), Float(math.Copysign(0, -1)), Float(math.NaN()),
		Decimal("12.3400"), String("x'y\\z"), String(""), Bytes([]byte{0, 1, 255}), Date(-3), Time(86400e6 + 1),
		Timestamp(1_700_000_000_123_456), TimestampTZ(-1), Special(KindDate, "infinity"),
		Interval("P1Y"), UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), JSON(`{"a":1}`), Enum("b"), Text("(1,2)"),
		Array(Int(1), Null(), Array(String("q"))),
	} {
		col := Column{Name: "c", Kind: v.Kind(), Default: &Default{Value: v}}
		b, err := json.Marshal(col)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		var back Column
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if back.Default == nil || !back.Default.Value.Equal(v) || !back.Default.Constant() {
			t.Errorf("%s: got %+v, want %v", b, back.Default, v)
		}
	}
	b, _ := json.Marshal(Column{Name: "c", Default: &Default{Expr: "gen_random_uuid()"}})
	var back Column
	if err := json.Unmarshal(b, &back); err != nil || back.Default == nil || back.Default.Expr != "gen_random_uuid()" || back.Default.Constant() {
		t.Errorf("%s: %+v %v", b, back.Default, err)
	}
	// Records written before defaults were carried: no default.
	var old Column
	if err := json.Unmarshal([]byte(`{"name":"c","kind":"int","type":"integer"}`), &old); err != nil || old.Default != nil {
		t.Errorf("old column: %+v %v", old, err)
	}
	if err := json.Unmarshal([]byte(`{"name":"c","kind":"int","type":"integer","default":{"value":{"kind":"int","text":"x"}}}`), &back); err == nil {
		t.Errorf("a malformed default decoded")
	}
}
