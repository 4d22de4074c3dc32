package cluster

import (
	"fmt"
	"slices"
	"testing"
)

func members(fp string, owned ...[]string) []joined {
	var js []joined
	for i, o := range owned {
		js = append(js, joined{id: fmt.Sprintf("m%d", i), meta: memberMeta{Member: fmt.Sprintf("m%d", i), Fingerprint: fp, Owned: o}})
	}
	return js
}

// check: every component owned exactly once, shares differ by at most one.
func check(t *testing.T, comps []string, got map[string][]string) {
	t.Helper()
	seen := map[string]string{}
	lo, hi := len(comps), 0
	for id, cs := range got {
		for _, c := range cs {
			if o, ok := seen[c]; ok {
				t.Fatalf("%s owned by %s and %s", c, o, id)
			}
			seen[c] = id
		}
		lo, hi = min(lo, len(cs)), max(hi, len(cs))
	}
	if len(seen) != len(comps) {
		t.Fatalf("%d of %d components owned: %v", len(seen), len(comps), got)
	}
	if hi-lo > 1 {
		t.Fatalf("unbalanced: %v", got)
	}
}

func TestAssignSpreadsAndSticks(t *testing.T) {
	comps := []string{"sink/a", "sink/b", "sink/c", "source/x"}
	first := assign(comps, members("f", nil, nil, nil))
	check(t, comps, first)
	// The same members again, each reporting what it got: nothing moves.
	again := assign(comps, members("f", first["m0"], first["m1"], first["m2"]))
	for id := range first {
		if !slices.Equal(first[id], again[id]) {
			t.Errorf("%s: %v then %v", id, first[id], again[id])
		}
	}
	// m1 dies: only its components move.
	left := []joined{{id: "m0", meta: memberMeta{Fingerprint: "f", Owned: first["m0"]}}, {id: "m2", meta: memberMeta{Fingerprint: "f", Owned: first["m2"]}}}
	after := assign(comps, left)
	check(t, comps, after)
	for _, id := range []string{"m0", "m2"} {
		for _, c := range first[id] {
			if !slices.Contains(after[id], c) {
				t.Errorf("%s lost %s though it stayed", id, c)
			}
		}
	}
	// A new member joins two that own everything: it gets a share, and
	// the others keep the rest of theirs.
	two := members("f", []string{"sink/a", "sink/b"}, []string{"sink/c", "source/x"}, nil)
	grown := assign(comps, two)
	check(t, comps, grown)
	if len(grown["m2"]) != 1 {
		t.Errorf("newcomer got %v", grown["m2"])
	}
	moved := 0
	for _, id := range []string{"m0", "m1"} {
		moved += len(two[slices.IndexFunc(two, func(j joined) bool { return j.id == id })].meta.Owned) - len(grown[id])
	}
	if moved != 1 {
		t.Errorf("%d components moved, want 1: %v", moved, grown)
	}
}

func TestAssignSkipsOtherConfigurations(t *testing.T) {
	comps := []string{"sink/a", "sink/b"}
	js := members("f", nil, nil)
	js = append(js, joined{id: "m9", meta: memberMeta{Fingerprint: "other"}})
	got := assign(comps, js)
	check(t, comps, got)
	if len(got["m9"]) != 0 {
		t.Errorf("a member with another configuration got %v", got["m9"])
	}
	if _, ok := got["m9"]; !ok {
		t.Error("every member must be in the assignment")
	}
}

func TestAssignClaimsOnlyKnownAndFree(t *testing.T) {
	comps := []string{"sink/a", "sink/b", "sink/c"}
	// Both claim sink/a; one claims a component no longer configured.
	got := assign(comps, members("f", []string{"sink/a", "sink/gone"}, []string{"sink/a"}))
	check(t, comps, got)
	if !slices.Contains(got["m0"], "sink/a") {
		t.Errorf("m0 (the lower id) should keep sink/a: %v", got)
	}
}

func TestAssignMoreMembersThanComponents(t *testing.T) {
	comps := []string{"sink/a"}
	got := assign(comps, members("f", nil, nil, []string{"sink/a"}))
	check(t, comps, got)
	if !slices.Equal(got["m2"], []string{"sink/a"}) {
		t.Errorf("the owner should keep it: %v", got)
	}
}
