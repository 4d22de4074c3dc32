package verify

import "testing"

func TestCanonical(t *testing.T) {
	for _, c := range []struct {
		k          Kind
		a, b, want string
	}{
		{KindBool, "true", "1", "1"},
		{KindBool, "f", "0", "0"},
		{KindDecimal, "-12.3400", "-12.34", "-12.34"},
		{KindDecimal, "0.000000000000000000000000000000", "0", "0"},
		{KindDecimal, "00012.000", "12", "12"},
		{KindDecimal, "NaN", "nan", "NaN"},
		{KindFloat, "-0", "0", "0"},
		{KindFloat, "Infinity", "+Inf", "Infinity"},
		{KindFloat32, "3.1415927", "3.14159", "3.14159"},
		{KindBytes, `\xdeadbeef`, "deadbeef", "deadbeef"},
		{KindDate, "0001-01-01 BC", "0000-01-01", "0000-01-01"},
		{KindDate, "0002-03-04 BC", "-0001-03-04", "-0001-03-04"},
		{KindTime, "24:00:00", "24:00:00.000000", "86400000000"},
		{KindTime, "-838:59:59", "-3020399000000", "-3020399000000"},
		{KindTimestamp, "2024-01-02 03:04:05.5", "2024-01-02T03:04:05.500000", "2024-01-02 03:04:05.500000"},
		{KindTimestampTZ, "2024-01-02 03:04:05+00", "2024-01-02 03:04:05.000000+00:00", "2024-01-02 03:04:05.000000"},
		{KindTimestampTZ, "2024-01-02 05:04:05+02", "2024-01-02 03:04:05", "2024-01-02 03:04:05.000000"},
		{KindTimestamp, "infinity", "Infinity", "infinity"},
		{KindJSON, `{"b": 1.50, "a": [1, null]}`, `{"a":[1,null],"b":1.50}`, `{"a":[1,null],"b":1.50}`},
		{KindArray, `["a b", null, "NULL"]`, `["a b",null,"NULL"]`, `["a b",null,"NULL"]`},
		{KindUUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{KindText, "ab  ", "ab  ", "ab  "},
	} {
		ga, gb := Canonical(c.k, c.a), Canonical(c.k, c.b)
		if ga != c.want || gb != c.want {
			t.Errorf("%s: %q → %q, %q → %q, want %q", c.k, c.a, ga, c.b, gb, c.want)
		}
	}
	if Canonical(KindText, "ab ") == Canonical(KindText, "ab") {
		t.Error("text padding must count")
	}
	if Canonical(KindDecimal, "1.5") == Canonical(KindDecimal, "1.05") {
		t.Error("decimals differ")
	}
}

func TestCompareKey(t *testing.T) {
	if compareKey(KindInt, "2", "19") >= 0 || compareKey(KindDecimal, "-1.5", "-1") >= 0 || compareKey(KindText, "B", "a") >= 0 {
		t.Error("key order")
	}
	if compareKey(KindTime, "-5", "3") >= 0 {
		t.Error("time order")
	}
}

func TestMatches(t *testing.T) {
	if !matches([]string{"public.*"}, "public", "orders") || matches([]string{"public.o*"}, "public", "items") ||
		!matches([]string{"db_1.*"}, "db_1", "t") {
		t.Error("patterns")
	}
}
