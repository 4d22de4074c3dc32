package mysql

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/ordering"
)

// TestCascadeCatalog: the shape of a parent table carries the foreign-key
// actions InnoDB performs without logging, of the captured child tables
// and transitively of theirs; RESTRICT keys and tables not captured are
// left out.
func TestCascadeCatalog(t *testing.T) {
	testenv.Integration(t)
	h := newHarness(t,
		`CREATE TABLE p (id bigint PRIMARY KEY, code varchar(8) NOT NULL, UNIQUE KEY (code))`,
		`CREATE TABLE c (id bigint PRIMARY KEY, pid bigint, pcode varchar(8),
			CONSTRAINT c_p FOREIGN KEY (pid) REFERENCES p(id) ON DELETE CASCADE,
			CONSTRAINT c_code FOREIGN KEY (pcode) REFERENCES p(code) ON UPDATE CASCADE ON DELETE SET NULL)`,
		`CREATE TABLE g (id bigint PRIMARY KEY, cid bigint, FOREIGN KEY (cid) REFERENCES c(id) ON DELETE SET NULL)`,
		`CREATE TABLE x (id bigint PRIMARY KEY, pid bigint, FOREIGN KEY (pid) REFERENCES p(id) ON DELETE CASCADE)`,
		`CREATE TABLE r (id bigint PRIMARY KEY, pid bigint, FOREIGN KEY (pid) REFERENCES p(id) ON DELETE RESTRICT)`,
		`CREATE TABLE tree (id bigint PRIMARY KEY, up bigint, FOREIGN KEY (up) REFERENCES tree(id) ON DELETE CASCADE)`,
	)
	ctx := context.Background()
	logged, err := cascadesLogged(ctx, h.db, "mariadb")
	if err != nil || logged {
		t.Fatalf("cascadesLogged(mariadb) = %v, %v; MariaDB never logs them", logged, err)
	}
	keys := newKeyCache(h.db, func(_, table string) bool { return table != "x" })
	for _, c := range []struct {
		table string
		want  []ordering.Cascade
	}{
		{"p", []ordering.Cascade{
			{ChildSchema: h.Name, ChildTable: "c", Columns: []string{"pcode"}, ParentSchema: h.Name, ParentTable: "p",
				ParentColumns: []string{"code"}, OnDelete: ordering.ActionSetNull, OnUpdate: ordering.ActionCascade},
			{ChildSchema: h.Name, ChildTable: "c", Columns: []string{"pid"}, ParentSchema: h.Name, ParentTable: "p",
				ParentColumns: []string{"id"}, OnDelete: ordering.ActionCascade},
			{ChildSchema: h.Name, ChildTable: "g", Columns: []string{"cid"}, ParentSchema: h.Name, ParentTable: "c",
				ParentColumns: []string{"id"}, OnDelete: ordering.ActionSetNull},
		}},
		{"g", nil},
		{"tree", []ordering.Cascade{{ChildSchema: h.Name, ChildTable: "tree", Columns: []string{"up"}, ParentSchema: h.Name,
			ParentTable: "tree", ParentColumns: []string{"id"}, OnDelete: ordering.ActionCascade}}},
	} {
		shape := &ordering.Table{Schema: h.Name, Name: c.table, PrimaryKey: []string{"id"},
			Columns: []ordering.Column{{Name: "id", Kind: ordering.KindInt}, {Name: "code", Kind: ordering.KindString}, {Name: "cid", Kind: ordering.KindInt}}}
		got, err := keys.withKeys(ctx, shape)
		if err != nil {
			t.Fatal(err)
		}
		if c.table == "g" {
			if fks := got.ForeignKeys; len(fks) != 1 || fks[0].OnDelete != ordering.ActionSetNull || fks[0].OnUpdate != "" {
				t.Errorf("foreign keys of g: %+v, want its ON DELETE SET NULL", fks)
			}
		}
		g, _ := json.Marshal(got.Cascades)
		w, _ := json.Marshal(c.want)
		if string(g) != string(w) {
			t.Errorf("cascades of %s:\n got %s\nwant %s", c.table, g, w)
		}
	}
}
