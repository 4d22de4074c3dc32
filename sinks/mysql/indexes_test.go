package mysql

import (
	"errors"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

func TestCreateIndex(t *testing.T) {
	n := sqlsink.Name{Table: "users"}
	cols := map[string]sqlsink.FollowerColumn{"email": {Type: "varchar(200)"}, "bio": {Type: "text"}, "doc": {Type: "json"},
		"a": {Type: "varchar(500)"}, "b": {Type: "varchar(500)"}, "n": {Type: "bigint(20)"}}
	part := func(c string) ordering.IndexPart { return ordering.IndexPart{Column: c} }
	for _, c := range []struct {
		ix          ordering.Index
		src         string
		ddl, weaker string
		unsupported bool
	}{
		{ix: ordering.Index{Unique: true, Parts: []ordering.IndexPart{part("email")}}, src: "postgres",
			ddl: "CREATE UNIQUE INDEX `i` ON `users` (`email`)"},
		// A text column needs a prefix: unique over a prefix would refuse
		// rows the source accepts, so it is built non-unique.
		{ix: ordering.Index{Unique: true, Parts: []ordering.IndexPart{part("n"), part("bio")}}, src: "postgres",
			ddl: "CREATE INDEX `i` ON `users` (`n`, `bio`(191))", weaker: "a unique key over a column InnoDB indexes only by a prefix, built non-unique"},
		{ix: ordering.Index{Parts: []ordering.IndexPart{{Column: "bio", Prefix: 20}, {Column: "n", Desc: true}}}, src: "mysql",
			ddl: "CREATE INDEX `i` ON `users` (`bio`(20), `n` DESC)"},
		{ix: ordering.Index{Method: "FULLTEXT", Parts: []ordering.IndexPart{part("bio")}}, src: "mysql",
			ddl: "CREATE FULLTEXT INDEX `i` ON `users` (`bio`)"},
		{ix: ordering.Index{Parts: []ordering.IndexPart{part("doc")}}, src: "postgres", unsupported: true},
		{ix: ordering.Index{Parts: []ordering.IndexPart{part("a"), part("b")}}, src: "postgres", unsupported: true}, // 4000 key bytes
		{ix: ordering.Index{Parts: []ordering.IndexPart{{Expr: "lower(email)"}}}, src: "postgres", unsupported: true},
		{ix: ordering.Index{Where: "n > 0", Parts: []ordering.IndexPart{part("n")}}, src: "postgres", unsupported: true},
		{ix: ordering.Index{Method: "gin", Parts: []ordering.IndexPart{part("doc")}}, src: "postgres", unsupported: true},
		{ix: ordering.Index{Unique: true, Deferrable: true, Parts: []ordering.IndexPart{part("n")}}, src: "postgres",
			ddl: "CREATE INDEX `i` ON `users` (`n`)", weaker: "a deferrable unique constraint, built as a plain index"},
	} {
		ddl, weaker, err := dia.CreateIndex(n, "i", &c.ix, c.src, cols)
		if c.unsupported {
			if !errors.Is(err, sqlsink.ErrUnsupported) {
				t.Errorf("%+v: got %q, %v; want unsupported", c.ix, ddl, err)
			}
			continue
		}
		if err != nil || ddl != c.ddl || weaker != c.weaker {
			t.Errorf("%+v:\n got %q %q %v\nwant %q %q", c.ix, ddl, weaker, err, c.ddl, c.weaker)
		}
	}
}
