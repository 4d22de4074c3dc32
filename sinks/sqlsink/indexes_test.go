package sqlsink

import (
	"strings"
	"testing"
)

func TestFollowerIndexName(t *testing.T) {
	n := Name{Schema: "s", Table: "users"}
	for _, c := range []struct{ engine, src, name, want string }{
		{"postgres", "postgres", "users_email", "users_email"},
		{"mysql", "postgres", "users_email", "users_email"},
		{"mysql", "mysql", "email", "email"},
		{"postgres", "mysql", "email", "users_email"}, // MySQL's names are per table
		{"sqlite", "mysql", "email", "users_email"},
	} {
		if got := FollowerIndexName(c.engine, c.src, n, c.name, 63); got != c.want {
			t.Errorf("%s from %s: %q, want %q", c.engine, c.src, got, c.want)
		}
	}
	long := strings.Repeat("é", 40) // 80 bytes
	got := FollowerIndexName("postgres", "postgres", n, long, 63)
	if len(got) > 63 || !strings.HasPrefix(long, got[:len(got)-9]) || got == FollowerIndexName("postgres", "postgres", n, long+"x", 63) {
		t.Errorf("shortened %q (%d bytes)", got, len(got))
	}
}
