package mysql

import (
	"slices"
	"testing"

	"github.com/walship/walship/offsets"
)

func TestMissingGTIDs(t *testing.T) {
	state := "0-1-100,0-2-105,1-1-7"
	for _, c := range []struct {
		shipped []string
		want    []string
	}{
		{[]string{"0-1-100", "1-1-7"}, nil},
		{[]string{"0-1-99", "0-2-105"}, nil},
		{[]string{"0-1-101"}, []string{"0-1-101"}}, // lost in asynchronous replication
		{[]string{"0-3-5", "2-1-1", "0-3-5"}, []string{"0-3-5", "2-1-1"}},
	} {
		got, err := missingGTIDs(state, c.shipped)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("missingGTIDs(%v) = %v, %v; want %v", c.shipped, got, err, c.want)
		}
	}
	if _, err := missingGTIDs("junk", []string{"0-1-1"}); err == nil {
		t.Error("a malformed gtid_binlog_state was accepted")
	}
}

// A follower's applied position holds a new leader's missing GTID when it
// has the same domain and server id at a sequence at least as high.
func TestHeldGTIDs(t *testing.T) {
	set, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, "0-1-20,1-2-5")
	if err != nil {
		t.Fatal(err)
	}
	applied := offsets.Position{Engine: offsets.EngineMariaDB, GTIDs: set}
	held, err := HeldGTIDs([]offsets.Position{applied}, []string{"0-1-20", "0-1-21", "1-2-3", "2-1-1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0-1-20", "1-2-3"}; !slices.Equal(held, want) {
		t.Fatalf("held %v, want %v", held, want)
	}
	if held, _ := HeldGTIDs([]offsets.Position{{Engine: offsets.EngineMariaDB}}, []string{"0-1-1"}); len(held) != 0 {
		t.Fatalf("an empty position holds %v", held)
	}
}
