package sqlite

import (
	"errors"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

func TestCreateIndex(t *testing.T) {
	n := sqlsink.Name{Table: "users"}
	cols := map[string]sqlsink.FollowerColumn{"email": {Type: "TEXT"}, "name": {Type: "TEXT"}, "deleted_at": {Type: "TEXT"}}
	for _, c := range []struct {
		ix          ordering.Index
		src         string
		ddl, weaker string
		unsupported bool
	}{
		{ix: ordering.Index{Unique: true, Parts: []ordering.IndexPart{{Column: "email", Desc: true}}}, src: "mysql",
			ddl: `CREATE UNIQUE INDEX "i" ON "users" ("email" DESC)`},
		// PostgreSQL expressions and predicates SQLite evaluates alike.
		{ix: ordering.Index{Parts: []ordering.IndexPart{{Expr: "lower(name)"}}, Where: "(deleted_at IS NULL)"}, src: "postgres",
			ddl: `CREATE INDEX "i" ON "users" (lower("name")) WHERE "deleted_at" IS NULL`},
		{ix: ordering.Index{Unique: true, Parts: []ordering.IndexPart{{Expr: "lower((email)::text)"}}}, src: "postgres",
			ddl: `CREATE INDEX "i" ON "users" (lower("email"))`, weaker: "a unique index on an expression, built non-unique"},
		{ix: ordering.Index{Parts: []ordering.IndexPart{{Expr: "(data ->> 'x'::text)"}}}, src: "postgres", unsupported: true},
		{ix: ordering.Index{Parts: []ordering.IndexPart{{Column: "email"}}, Where: "(name = 'x'::text)"}, src: "postgres", unsupported: true},
		{ix: ordering.Index{Method: "gin", Parts: []ordering.IndexPart{{Column: "email"}}}, src: "postgres", unsupported: true},
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
