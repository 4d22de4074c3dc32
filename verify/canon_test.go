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
		{KindDecimal, "1.5e2", "150", "150"},
		{KindDecimal, "1e-3", "0.001", "0.001"},
		{KindDecimal, "-0.00", "0", "0"},
		{KindDecimal, "NaN", "NaN", "NaN"},
		{KindFloat, "-0", "0", "0"},
		{KindFloat, "Infinity", "+Inf", "Infinity"},
		{KindFloat, "0.30000000000000004", "3.0000000000000004e-01", "0.30000000000000004"},
		{KindFloat32, "1.0000001", "1.0000001192092896", "1.0000001"},
		{KindBytes, "deadbeef", "deadbeef", "deadbeef"},
		{KindDate, "0001-01-01 BC", "0000-01-01", "0000-01-01"},
		{KindDate, "0002-03-04 BC", "-0001-03-04", "-0001-03-04"},
		{KindTime, "24:00:00", "24:00:00.000000", "86400000000"},
		{KindTime, "-838:59:59", "-3020399000000", "-3020399000000"},
		{KindTimestamp, "2024-01-02 03:04:05.5", "2024-01-02T03:04:05.500000", "2024-01-02 03:04:05.500000"},
		{KindTimestampTZ, "2024-01-02 03:04:05+00", "2024-01-02 03:04:05.000000+00:00", "2024-01-02 03:04:05.000000"},
		{KindTimestampTZ, "2024-01-02 05:04:05+02", "2024-01-02 03:04:05", "2024-01-02 03:04:05.000000"},
		{KindTimestamp, "infinity", "infinity", "infinity"},
		{KindJSON, `{"b": 1, "b": 2}`, `{"b": 1, "b": 2}`, `{"b": 1, "b": 2}`},
		{KindJSONB, `{"bb": 1.50, "a": [1, null], "bb": 1e2}`, `{"a": [1, null], "bb": 100}`, `{"a": [1, null], "bb": 100}`},
		{KindJSONB, `{"k": "\u00e9\n", "x": 1.50E1}`, `{"k": "é\n", "x": 15.0}`, `{"k": "é\n", "x": 15.0}`},
		{KindArray, `["a b", null, "NULL"]`, `["a b",null,"NULL"]`, `["a b",null,"NULL"]`},
		{KindUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{KindText, "ab  ", "ab  ", "ab  "},
	} {
		ga, gb := Canonical(c.k, c.a), Canonical(c.k, c.b)
		if ga != c.want || gb != c.want {
			t.Errorf("%s: %q → %q, %q → %q, want %q", c.k, c.a, ga, c.b, gb, c.want)
		}
	}
	// Issue 29's loose forms (cases 3 and 7), each a different value.
	for _, c := range []struct {
		k    Kind
		a, b string
	}{
		{KindText, "ab ", "ab"},
		{KindDecimal, "1.5", "1.05"},
		{KindDecimal, "1e-50", "0"},
		{KindDecimal, "nan", "NaN"},
		{KindDecimal, " 5", "5"},
		{KindInt, " 5", "5"},
		{KindInt, "05", "5"},
		{KindBool, "yes", "1"},
		{KindFloat32, "1234567", "1234568"},
		{KindFloat32, "1.0000001", "1"},
		{KindFloat32, "1.0000001", "1.00000001"},
		{KindFloat, "0.1", "0.1000000000000001"},
		{KindFloat, " 1", "1"},
		{KindDate, "2024-01-02", "2024-01-02 junk"},
		{KindDate, "2024-01-02", "2024-01-02T00:00:00"},
		{KindDate, "2024-13-02", "2024-13-02 "},
		{KindTimestamp, "2024-01-02 03:04:05", "2024-01-02 05:04:05+02"},
		{KindTimestamp, "2024-01-02 03:04:05", "2024-01-02X03:04:05"},
		{KindTimestamp, "infinity", "Infinity"},
		{KindJSON, `{"b": 1, "b": 2}`, `{"b": 2}`},
		{KindJSON, `{"a": 1, "b": 2}`, `{"b": 2, "a": 1}`},
		{KindJSON, `[1] [2]`, `[1]`},
		{KindJSONB, `{"a": 1}`, `{"a": 1} x`},
		{KindArray, `[1.0]`, `[1]`},
		{KindUUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{KindBytes, `\xdeadbeef`, "deadbeef"},
		{KindBytes, "DEADBEEF", "deadbeef"},
		{KindTime, "1 mon", "2592000000000"},
		{KindTime, "00:00:60", "00:01:00"},
		{KindInterval, "P1M", "PT720H"},
	} {
		if Canonical(c.k, c.a) == Canonical(c.k, c.b) {
			t.Errorf("%s: %q and %q must differ, both → %q", c.k, c.a, c.b, Canonical(c.k, c.a))
		}
	}
}

func TestFloatExact(t *testing.T) {
	f32 := colRead{f32: true}
	// PostgreSQL real text (shortest float32), MariaDB FLOAT widened
	// exactly, and a double holding the float32's decimal: one value.
	for _, s := range []string{"1.0000001", "1.0000001192092896"} {
		if got := canonicalOn(KindFloat32, s, colRead{}); got != "1.0000001" {
			t.Errorf("double %s as real: %q", s, got)
		}
	}
	if got := canonicalOn(KindFloat32, "1.0000001", f32); got != "1.0000001" {
		t.Errorf("real text: %q", got)
	}
	if canonicalOn(KindFloat32, "1.0000002", colRead{}) == canonicalOn(KindFloat32, "1.0000001", f32) {
		t.Error("a double that is neither the float32 nor its decimal must differ")
	}
	if x, err := wkbX("0101000000333333333333D33F0000000000000000"); err != nil || x != 0.3 {
		t.Errorf("wkb: %v %v", x, err)
	}
	if got, _ := rawText("0101000000000000200000F03F0000000000000000", KindFloat32, colRead{wkb: true}, "mysql"); got != "1.0000001192092896" {
		t.Errorf("wkb raw: %q", got)
	}
}

func TestSQLiteStorageClass(t *testing.T) {
	blob, _ := rawText([]byte("ab"), KindBytes, colRead{}, "sqlite")
	text, _ := rawText("ab", KindBytes, colRead{}, "sqlite")
	if blob == text || blob != "6162" {
		t.Errorf("bytes as BLOB %q and as TEXT %q must differ", blob, text)
	}
	i, _ := rawText(int64(5), KindInt, colRead{}, "sqlite")
	s, _ := rawText("5", KindInt, colRead{}, "sqlite")
	if i == s || i != "5" {
		t.Errorf("integer %q and text %q must differ", i, s)
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
	// A partition is compared on its own only when no ancestor matches.
	anc := "public\x1fpt\x1epublic\x1fpt_root"
	if !underMatched([]string{"public.pt"}, anc) || underMatched([]string{"public.pt_eu"}, anc) || underMatched([]string{"public.*"}, "") {
		t.Error("partitions under a matched ancestor")
	}
}
