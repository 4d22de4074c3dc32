package origins

import "testing"

// A source ignoring sink "a" matches a's sessions only: not those of a
// sink whose name starts with a's, nor other origins.
func TestPGMatcher(t *testing.T) {
	m := PGMatcher([]string{"a", "to_b"})
	for origin, want := range map[string]bool{
		PGName("a", 0): true, PGName("a", 17): true, PGName("to_b", 3): true,
		PGName("a_1", 0): false, PGName("ab", 0): false, "walship_a_": false, "walship_a": false,
		"pg_16384": false, "": false, PGName("to", 0): false,
	} {
		if m(origin) != want {
			t.Errorf("%q: %v, want %v", origin, !want, want)
		}
	}
}

// The derived server id is stable, in its range, and a configured one
// wins.
func TestServerID(t *testing.T) {
	a, b := ServerID("toA", 0), ServerID("toB", 0)
	if a == b || a != ServerID("toA", 0) || a < 3_000_000_000 || b < 3_000_000_000 {
		t.Errorf("derived ids %d %d", a, b)
	}
	if ServerID("toA", 42) != 42 {
		t.Error("the configured id is not used")
	}
}
