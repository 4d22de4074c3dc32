package sqlsink

import (
	"testing"

	"github.com/walship/walship/config"
)

// TestMetaNamesAreOwnTables: the tables Prepare creates are the ones a
// source's table patterns leave out (config.OwnTable), on every engine, so
// a follower that is itself a source never captures them by a wildcard.
func TestMetaNamesAreOwnTables(t *testing.T) {
	for _, engine := range []string{"postgres", "mysql", "sqlite"} {
		p, a := MetaNames(engine)
		for _, n := range []Name{p, a, MetaShapes(engine), MetaIndexes(engine), MetaConflicts(engine)} {
			schema := n.Schema
			if schema == "" {
				schema = "shop"
			}
			if !config.OwnTable(schema, n.Table) || !IsMeta(engine, n) {
				t.Errorf("%s: %s is not one of walship's own tables", engine, n)
			}
			if config.MatchTable([]string{schema + ".*", "*.*"}, schema, n.Table) {
				t.Errorf("%s: a wildcard captures %s", engine, n)
			}
			if !config.MatchTable([]string{schema + "." + n.Table}, schema, n.Table) {
				t.Errorf("%s: naming %s does not capture it", engine, n)
			}
		}
	}
	if IsMeta("postgres", Name{Schema: "public", Table: "positions"}) || IsMeta("mysql", Name{Table: "walship_positions"}) {
		t.Error("a name walship does not use is reserved")
	}
}
