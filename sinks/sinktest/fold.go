package sinktest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks"
	"github.com/walship/walship/sinks/sqlsink"
)

// FoldTriggers are the engine's statements that make follower table br
// (quoted name given) log each UPDATE into table trig (id, bal).
type FoldTriggers func(br, trig string) []string

// Fold applies a hot-row workload (TPC-B-like: branches, tellers,
// accounts, history, with foreign keys on the follower) as one follower
// transaction of many source transactions and checks the folded outcome:
// the follower state, the statements sent (far fewer than the changes),
// what an UPDATE trigger saw (one row per branch, with its last balance);
// then a window the follower refuses folded (a unique key the source does
// not declare, whose value moves between rows) is applied change by
// change, and ends right.
func Fold(t *testing.T, ctx context.Context, d sqlsink.Dialect, db *sql.DB, triggers FoldTriggers) {
	t.Helper()
	q := func(table string) string { return d.QuoteName(d.Target("public", table)) }
	Exec(t, ctx, db,
		"CREATE TABLE "+q("br")+" (id bigint NOT NULL PRIMARY KEY, bal bigint)",
		"CREATE TABLE "+q("te")+" (id bigint NOT NULL PRIMARY KEY, bid bigint, bal bigint, FOREIGN KEY (bid) REFERENCES "+q("br")+" (id))",
		"CREATE TABLE "+q("ac")+" (id bigint NOT NULL PRIMARY KEY, bid bigint, bal bigint, FOREIGN KEY (bid) REFERENCES "+q("br")+" (id))",
		"CREATE TABLE "+q("hi")+" (id bigint NOT NULL PRIMARY KEY, tid bigint, aid bigint, delta bigint, "+
			"FOREIGN KEY (tid) REFERENCES "+q("te")+" (id), FOREIGN KEY (aid) REFERENCES "+q("ac")+" (id))",
		"CREATE TABLE "+q("trig")+" (id bigint, bal bigint)",
		"CREATE TABLE "+q("uq")+" (id bigint NOT NULL PRIMARY KEY, code varchar(10), UNIQUE (code))")
	Exec(t, ctx, db, triggers(q("br"), q("trig"))...)

	fk := func(col, parent string) ordering.ForeignKey {
		return ordering.ForeignKey{Columns: []string{col}, ParentSchema: "public", ParentTable: parent, ParentColumns: []string{"id"}}
	}
	tbl := func(name string, cols ...string) *ordering.Table {
		t := &ordering.Table{Schema: "public", Name: name, PrimaryKey: []string{"id"}}
		for _, c := range append([]string{"id"}, cols...) {
			t.Columns = append(t.Columns, ordering.Column{Name: c, Kind: ordering.KindInt, Type: "bigint", Nullable: c != "id", Precision: -1, Scale: -1})
		}
		return t
	}
	br, te, ac, hi := tbl("br", "bal"), tbl("te", "bid", "bal"), tbl("ac", "bid", "bal"), tbl("hi", "tid", "aid", "delta")
	te.ForeignKeys = []ordering.ForeignKey{fk("bid", "br")}
	ac.ForeignKeys = []ordering.ForeignKey{fk("bid", "br")}
	hi.ForeignKeys = []ordering.ForeignKey{fk("tid", "te"), fk("aid", "ac")}
	uq := &ordering.Table{Schema: "public", Name: "uq", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		{Name: "id", Kind: ordering.KindInt, Type: "bigint", Precision: -1, Scale: -1},
		{Name: "code", Kind: ordering.KindString, Type: "character varying(10)", Nullable: true, Length: 10, Precision: -1, Scale: -1}}}
	a := Applier(t, ctx, d, "fold")
	if err := a.EnsureSchema(ctx, "pg", []*ordering.Table{br, te, ac, hi, uq}); err != nil {
		t.Fatal(err)
	}
	ints := func(vals ...int64) []ordering.Value {
		out := make([]ordering.Value, len(vals))
		for i, v := range vals {
			out[i] = ordering.Int(v)
		}
		return out
	}
	ins := func(t *ordering.Table, vals ...int64) ordering.Change {
		return ordering.Change{Table: t, Op: ordering.OpInsert, After: ints(vals...)}
	}
	// An update as pgoutput sends it with the key unchanged: no before image.
	upd := func(t *ordering.Table, vals ...int64) ordering.Change {
		return ordering.Change{Table: t, Op: ordering.OpUpdate, After: ints(vals...)}
	}
	del := func(t *ordering.Table, id int64) ordering.Change {
		before := []ordering.Value{ordering.Int(id)}
		for len(before) < len(t.Columns) {
			before = append(before, ordering.Unchanged())
		}
		return ordering.Change{Table: t, Op: ordering.OpDelete, Before: before}
	}
	apply := func(changes []ordering.Change) {
		t.Helper()
		tx, err := a.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range changes {
			if err := tx.Apply(ctx, "pg", &changes[i]); err != nil {
				tx.Rollback()
				t.Fatalf("change %d: %v", i, err)
			}
		}
		if err := tx.Record(ctx, "pg", []sinks.Applied{}); err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// The accounts and tellers, and an older history row.
	var setup []ordering.Change
	for b := int64(1); b <= 5; b++ {
		setup = append(setup, ins(br, b, 0))
	}
	for i := int64(1); i <= 20; i++ {
		setup = append(setup, ins(te, i, 1+i%5, 0), ins(ac, i, 1+i%5, 0))
	}
	setup = append(setup, ins(hi, 1, 1, 1, 0))
	apply(setup)

	before := a.Stats()
	brBal, teBal, acBal := map[int64]int64{}, map[int64]int64{}, map[int64]int64{}
	var work []ordering.Change
	for n := int64(0); n < 100; n++ {
		b, tl, ac1, delta := 1+n%5, 1+(n*7)%20, 1+(n*13)%20, n%9-4
		brBal[b] += delta
		teBal[tl] += delta
		acBal[ac1] += delta
		work = append(work, upd(br, b, brBal[b]), upd(te, tl, 1+tl%5, teBal[tl]), upd(ac, ac1, 1+ac1%5, acBal[ac1]),
			ins(hi, 100+n, tl, ac1, delta))
	}
	work = append(work,
		// Inserted, then updated twice: one insert of the last values.
		ins(ac, 100, 1, 5), upd(ac, 100, 2, 6), upd(ac, 100, 2, 7),
		// Inserted and deleted: nothing.
		ins(ac, 101, 1, 1), del(ac, 101),
		// A new branch, a teller of it, an older teller moved to it.
		ins(br, 6, 0), ins(te, 21, 6, 0), upd(te, 2, 6, teBal[2]),
		// An older row deleted: written in its place.
		del(hi, 1))
	apply(work)
	sent := a.Stats().Statements - before.Statements
	changes := int64(len(work))
	t.Logf("%d changes written in %d statements", changes, sent)
	if sent > 55 { // one per row changed (45 updated), one per table inserted into, the delete
		t.Errorf("%d changes took %d statements; folded, they need 50", changes, sent)
	}
	got := func(query string) string {
		t.Helper()
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var a, b sql.NullInt64
			if err := rows.Scan(&a, &b); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d:%d", a.Int64, b.Int64))
		}
		return strings.Join(out, " ")
	}
	want := func(m map[int64]int64, ids ...int64) string {
		var out []string
		for _, id := range ids {
			out = append(out, fmt.Sprintf("%d:%d", id, m[id]))
		}
		return strings.Join(out, " ")
	}
	if g, w := got("SELECT id, bal FROM "+q("br")+" ORDER BY id"), want(brBal, 1, 2, 3, 4, 5, 6); g != w {
		t.Errorf("branches %s, want %s", g, w)
	}
	if g, w := got("SELECT id, bal FROM "+q("trig")+" ORDER BY id"), want(brBal, 1, 2, 3, 4, 5); g != w {
		t.Errorf("the UPDATE trigger of branches saw %s, want one row per branch with its last balance: %s", g, w)
	}
	if g := got("SELECT id, bal FROM " + q("ac") + " WHERE id >= 100 ORDER BY id"); g != "100:7" {
		t.Errorf("accounts inserted in the window: %s, want 100:7", g)
	}
	if g := got("SELECT count(*), sum(delta) FROM " + q("hi")); g != "100:-4" {
		t.Errorf("history: count:sum %s, want 100:-4", g)
	}
	if g := got("SELECT id, bid FROM " + q("te") + " WHERE id IN (2, 21) ORDER BY id"); g != "2:6 21:6" {
		t.Errorf("tellers moved to the new branch: %s", g)
	}
	if g := got("SELECT sum(bal), count(*) FROM " + q("te")); g != fmt.Sprintf("%d:21", sum(teBal)) {
		t.Errorf("tellers: sum:count %s, want %d:21", g, sum(teBal))
	}
	if g := got("SELECT sum(bal), count(*) FROM " + q("ac")); g != fmt.Sprintf("%d:21", sum(acBal)+7) {
		t.Errorf("accounts: sum:count %s, want %d:21", g, sum(acBal)+7)
	}

	// A unique key the follower has and the source's shape does not: code
	// 'a' moves from row 1 to a new row 2. Folded, the insert would come
	// first and collide; the window is applied in log order instead.
	str := func(s string) ordering.Value { return ordering.String(s) }
	apply([]ordering.Change{{Table: uq, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(1), str("a")}}})
	unfolded := a.Stats().Unfolded
	apply([]ordering.Change{
		{Table: uq, Op: ordering.OpUpdate, After: []ordering.Value{ordering.Int(1), str("b")}},
		{Table: uq, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(2), str("a")}},
	})
	if a.Stats().Unfolded != unfolded+1 {
		t.Errorf("the refused window was not applied unfolded: %d unfolded windows, want %d", a.Stats().Unfolded, unfolded+1)
	}
	rows, err := db.QueryContext(ctx, "SELECT id, code FROM "+q("uq")+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var codes []string
	for rows.Next() {
		var id int64
		var code string
		if err := rows.Scan(&id, &code); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, fmt.Sprintf("%d:%s", id, code))
	}
	if g := strings.Join(codes, " "); g != "1:b 2:a" {
		t.Errorf("uq: %s, want 1:b 2:a", g)
	}
}

func sum(m map[int64]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}
