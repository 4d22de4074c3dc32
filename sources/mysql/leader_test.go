package mysql

import (
	"slices"
	"testing"
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
