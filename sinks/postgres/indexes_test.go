package postgres

import (
	"errors"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

func TestCreateIndex(t *testing.T) {
	n := sqlsink.Name{Schema: "s", Table: "users"}
	cols := map[string]sqlsink.FollowerColumn{"email": {Type: "character varying(200)"}, "bio": {Type: "text"},
		"long": {Type: "character varying(1000)"}, "n": {Type: "bigint"}}
	part := func(c string) ordering.IndexPart { return ordering.IndexPart{Column: c} }
	for _, c := range []struct {
		ix          ordering.Index
		src         string
		ddl, weaker string
		unsupported bool
	}{
		// A PostgreSQL source's own definition, exactly.
		{ix: ordering.Index{Unique: true, Def: "btree (lower(email)) WHERE (n > 0)", Parts: []ordering.IndexPart{{Expr: "lower(email)"}}}, src: "postgres",
			ddl: `CREATE UNIQUE INDEX "i" ON "s"."users" USING btree (lower(email)) WHERE (n > 0)`},
		{ix: ordering.Index{Unique: true, Deferrable: true, Def: "btree (n)", Parts: []ordering.IndexPart{part("n")}}, src: "postgres",
			ddl: `CREATE INDEX "i" ON "s"."users" USING btree (n)`, weaker: "a deferrable unique constraint, built as a plain index"},
		{ix: ordering.Index{Exclusion: true, Def: "gist (n)"}, src: "postgres", unsupported: true},
		// A MySQL source's prefix: whole values where a B-tree can.
		{ix: ordering.Index{Unique: true, Parts: []ordering.IndexPart{{Column: "email", Prefix: 10}, {Column: "n", Desc: true}}}, src: "mysql",
			ddl: `CREATE UNIQUE INDEX "i" ON "s"."users" ("email", "n" DESC)`, weaker: "unique over whole values where the source's is over a prefix"},
		{ix: ordering.Index{Parts: []ordering.IndexPart{{Column: "bio", Prefix: 20}}}, src: "mysql",
			ddl: `CREATE INDEX "i" ON "s"."users" USING hash ("bio")`},
		{ix: ordering.Index{Parts: []ordering.IndexPart{{Column: "long", Prefix: 20}, part("n")}}, src: "mysql", unsupported: true},
		{ix: ordering.Index{Unique: true, Method: "HASH", Parts: []ordering.IndexPart{part("bio")}}, src: "mysql",
			ddl: `CREATE INDEX "i" ON "s"."users" USING hash ("bio")`, weaker: "a hash key, built as a non-unique hash index"},
		{ix: ordering.Index{Method: "FULLTEXT", Parts: []ordering.IndexPart{part("bio")}}, src: "mysql", unsupported: true},
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
	if got := dia.DropIndex(n, "i"); got != `DROP INDEX IF EXISTS "s"."i"` {
		t.Errorf("DropIndex: %s", got)
	}
	fk := &ordering.ForeignKey{Columns: []string{"user_id"}, ParentColumns: []string{"id"}}
	if got, _ := dia.CreateForeignKey(n, "f", fk, sqlsink.Name{Schema: "s", Table: "p"}); got !=
		`ALTER TABLE "s"."users" ADD CONSTRAINT "f" FOREIGN KEY ("user_id") REFERENCES "s"."p" ("id") DEFERRABLE INITIALLY DEFERRED` {
		t.Errorf("CreateForeignKey: %s", got)
	}
	if _, err := dia.CreateCheck(n, "c", &ordering.Check{Def: "CHECK (n > 0)"}, "mysql"); !errors.Is(err, sqlsink.ErrUnsupported) {
		t.Errorf("a MySQL check on PostgreSQL: %v", err)
	}
}
