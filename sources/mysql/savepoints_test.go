package mysql

import (
	"strconv"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources"
)

// TestSavepoints replays savepoint scripts on a TxnBuffer (in memory and
// spilled) and checks which changes survive: "+n" adds change n, "s:x"
// sets savepoint x, "r:x" rolls back to it, "l:x" releases it; "!" is a
// savepoint that is not known.
func TestSavepoints(t *testing.T) {
	tbl := &ordering.Table{Schema: "s", Name: "t", Columns: []ordering.Column{{Name: "id", Kind: ordering.KindInt}}, PrimaryKey: []string{"id"}}
	for _, c := range []struct{ script, want string }{
		{"+1 s:a +2", "1 2"},
		{"+1 s:a +2 r:a +3", "1 3"},
		{"s:a +1 r:a", ""},
		{"+1 s:a +2 s:b +3 r:b +4", "1 2 4"},
		{"+1 s:a +2 s:b +3 r:a +4", "1 4"},
		{"+1 s:a +2 s:b +3 r:a +4 r:a +5", "1 5"},
		{"+1 s:a +2 r:a +3 s:b +4 r:a +5", "1 5"},
		{"+1 s:a +2 l:a +3", "1 2 3"},
		{"+1 s:a +2 s:b +3 l:a +4", "1 2 3 4"},
		{"+1 s:a +2 s:A +3 r:a +4", "1 2 4"}, // names are case-insensitive; setting one again moves it
		{"+1 s:a +2 s:b +3 s:a +4 r:b +5", "1 2 5"},
		{"+1 s:a +2 s:b +3 s:a +4 r:a +5", "1 2 3 5"},
		{"+1 s:a +2 s:b +3 r:a +4 r:b", "!"}, // b was forgotten by the rollback to a
		{"+1 s:a +2 l:a r:a", "!"},
		{"+1 r:x", "!"},
	} {
		for _, limit := range []int64{1 << 30, 1} {
			buf := sources.NewTxnBuffer(0, t.TempDir(), limit)
			var sp savepoints
			sp.reset()
			got := ""
			for _, step := range strings.Fields(c.script) {
				op, name, _ := strings.Cut(step, ":")
				switch op {
				case "s":
					sp.set(name)
				case "r":
					if !sp.rollbackTo(name, buf) {
						got = "!"
					}
				case "l":
					if !sp.release(name) {
						got = "!"
					}
				default:
					n, err := strconv.ParseInt(step[1:], 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					if err := buf.Add(sp.segment(), ordering.Change{Table: tbl, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(n)}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got == "" {
				var ids []string
				for ch, err := range buf.Changes() {
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, ch.After[0].String())
				}
				got = strings.Join(ids, " ")
				if len(ids) != buf.Live() {
					t.Errorf("%q: Live() = %d, read %d", c.script, buf.Live(), len(ids))
				}
			}
			if got != c.want {
				t.Errorf("%q (spilled %v): %q, want %q", c.script, buf.Spilled(), got, c.want)
			}
			buf.Close()
		}
	}
	// A new transaction starts with no savepoints.
	var sp savepoints
	sp.reset()
	sp.set("a")
	sp.reset()
	if sp.segment() != 0 || sp.release("a") {
		t.Errorf("reset kept state: %+v", sp)
	}
}
