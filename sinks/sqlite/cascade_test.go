package sqlite

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// The source's unlogged foreign-key actions replayed by the applier on a
// SQLite file (the statements are the same on every engine; the
// integration tests in cmd/walship run them on all three).

func intTable(name string, cols ...string) *ordering.Table {
	t := &ordering.Table{Schema: "shop", Name: name, PrimaryKey: []string{"id"}}
	for _, c := range append([]string{"id"}, cols...) {
		t.Columns = append(t.Columns, ordering.Column{Name: c, Kind: ordering.KindInt, Type: "bigint", Nullable: c != "id"})
	}
	return t
}

func edge(child string, col, parent, pcol string, onDelete, onUpdate ordering.Action) ordering.Cascade {
	return ordering.Cascade{ChildSchema: "shop", ChildTable: child, Columns: []string{col},
		ParentSchema: "shop", ParentTable: parent, ParentColumns: []string{pcol}, OnDelete: onDelete, OnUpdate: onUpdate}
}

func row(vals ...int64) []ordering.Value {
	out := make([]ordering.Value, len(vals))
	for i, v := range vals {
		out[i] = ordering.Int(v)
		if v < 0 {
			out[i] = ordering.Null()
		}
	}
	return out
}

func TestCascades(t *testing.T) {
	for _, c := range []struct {
		name string
		into func(schema, table string) bool
		want string
	}{
		{"every table", nil, "c=[11:3] g=[102:11] n=[1:- 2:3] tree=[9:-]"},
		{"grandchildren left alone", func(_, table string) bool { return table != "g" }, "c=[11:3] g=[100:10 101:10 102:11] n=[1:- 2:3] tree=[9:-]"},
	} {
		t.Run(c.name, func(t *testing.T) { cascades(t, c.into, c.want) })
	}
}

func cascades(t *testing.T, into func(schema, table string) bool, want string) {
	d, db, ctx := follower(t)
	a := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "mysql"}, CascadeInto: into},
		d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	defer a.Close()

	// p <- c (ON DELETE CASCADE, ON UPDATE CASCADE) <- g (ON DELETE CASCADE)
	// p <- n (ON DELETE SET NULL, ON UPDATE CASCADE); tree <- tree (ON DELETE CASCADE)
	all := []ordering.Cascade{
		edge("c", "pid", "p", "id", ordering.ActionCascade, ordering.ActionCascade),
		edge("n", "pid", "p", "id", ordering.ActionSetNull, ordering.ActionCascade),
		edge("g", "cid", "c", "id", ordering.ActionCascade, ""),
	}
	p, cT, g, n, tree := intTable("p"), intTable("c", "pid"), intTable("g", "cid"), intTable("n", "pid"), intTable("tree", "up")
	p.Cascades, cT.Cascades = all, all[2:]
	cT.ForeignKeys = []ordering.ForeignKey{{Columns: []string{"pid"}, ParentSchema: "shop", ParentTable: "p",
		ParentColumns: []string{"id"}, OnDelete: ordering.ActionCascade}}
	tree.Cascades = []ordering.Cascade{edge("tree", "up", "tree", "id", ordering.ActionCascade, "")}
	tables := []*ordering.Table{p, cT, g, n, tree}
	if err := a.EnsureSchema(ctx, "src", tables); err != nil {
		t.Fatal(err)
	}
	apply := func(changes ...ordering.Change) {
		t.Helper()
		tx, err := a.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range changes {
			if err := tx.Apply(ctx, "src", &changes[i]); err != nil {
				tx.Rollback()
				t.Fatal(err)
			}
		}
		if err := tx.Record(ctx, "src", nil); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	ins := func(t *ordering.Table, vals ...int64) ordering.Change {
		return ordering.Change{Table: t, Op: ordering.OpInsert, After: row(vals...)}
	}
	apply(ins(p, 1), ins(p, 2), ins(cT, 10, 1), ins(cT, 11, 2), ins(g, 100, 10), ins(g, 101, 10), ins(g, 102, 11),
		ins(n, 1, 1), ins(n, 2, 2), ins(tree, 1, -1), ins(tree, 2, 1), ins(tree, 3, 2), ins(tree, 4, 3), ins(tree, 9, -1))
	apply(
		// Two levels: c 10 and its g 100, 101 go; n 1 is orphaned.
		ordering.Change{Table: p, Op: ordering.OpDelete, Before: row(1)},
		// ON UPDATE CASCADE: c 11 and n 2 follow p 2 to 3; g 102 keeps c 11.
		ordering.Change{Table: p, Op: ordering.OpUpdate, Before: row(2), After: row(3)},
		// A self-reference three levels deep.
		ordering.Change{Table: tree, Op: ordering.OpDelete, Before: row(1, -1)},
	)
	var got []string
	for _, tb := range []string{"c", "g", "n", "tree"} {
		rows, err := db.QueryContext(ctx, "SELECT id, "+map[string]string{"c": "pid", "g": "cid", "n": "pid", "tree": "up"}[tb]+
			" FROM "+tb+" ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		var rs []string
		for rows.Next() {
			var id int64
			var ref *int64
			if err := rows.Scan(&id, &ref); err != nil {
				t.Fatal(err)
			}
			r := "-"
			if ref != nil {
				r = itoa(*ref)
			}
			rs = append(rs, itoa(id)+":"+r)
		}
		rows.Close()
		got = append(got, tb+"=["+strings.Join(rs, " ")+"]")
	}
	var idx string
	if err := db.QueryRowContext(ctx, "SELECT group_concat(name) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'c' AND sql IS NOT NULL").
		Scan(&idx); err != nil || idx != "c_pid_fk" {
		t.Errorf("indexes of c: %q %v, want c_pid_fk (its key has an action)", idx, err)
	}
	if g := strings.Join(got, " "); g != want {
		t.Errorf("follower:\n got %s\nwant %s", g, want)
	}
}

func itoa(n int64) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// TestCascadeStops: an action the follower cannot replay as the source did
// stops with ErrCascade naming the table, never a silent skip.
func TestCascadeStops(t *testing.T) {
	d, _, ctx := follower(t)
	a := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "mysql"}},
		d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	defer a.Close()
	p, c := intTable("p", "k"), intTable("c", "pk")
	byKey := edge("c", "pk", "p", "k", "", ordering.ActionCascade)
	p.Cascades = []ordering.Cascade{edge("c", "pk", "p", "id", ordering.ActionSetDefault, ""), byKey}
	if err := a.EnsureSchema(ctx, "src", []*ordering.Table{p, c}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ch   ordering.Change
		want string
	}{
		{"SET DEFAULT", ordering.Change{Table: p, Op: ordering.OpDelete, Before: row(1, 5)}, "SET DEFAULT"},
		{"no before value of the referenced column", ordering.Change{Table: p, Op: ordering.OpUpdate,
			Before: []ordering.Value{ordering.Int(1), ordering.Unchanged()}, After: row(1, 6)}, "binlog_row_image=FULL"},
	} {
		tx, err := a.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ins := ordering.Change{Table: p, Op: ordering.OpInsert, After: row(1, 5)}
		if err := tx.Apply(ctx, "src", &ins); err != nil {
			t.Fatal(err)
		}
		err = tx.Apply(ctx, "src", &tc.ch)
		tx.Rollback()
		if !errors.Is(err, sqlsink.ErrCascade) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrCascade saying %q", tc.name, err, tc.want)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

// TestApplyCascadesOnly: a replay of some tables replays the cascades of
// the other tables' changes into the tables it rebuilds, and stops when
// they would pass through a table it leaves alone.
func TestApplyCascadesOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		into []string
		want string // rows left in c and g, or the error
	}{
		{"child and grandchild rebuilt", []string{"c", "g"}, "c=1 g=1"},
		{"grandchild only", []string{"g"}, "through shop.c"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, db, ctx := follower(t)
			into := func(_, table string) bool { return slices.Contains(c.into, table) }
			a := sqlsink.New(sqlsink.Config{Sink: "s", SourceEngines: map[string]string{"src": "mysql"}, CascadeInto: into},
				d, slog.New(slog.NewTextHandler(io.Discard, nil)))
			_, release, err := a.Prepare(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			defer a.Close()
			all := []ordering.Cascade{
				edge("c", "pid", "p", "id", ordering.ActionCascade, ""),
				edge("g", "cid", "c", "id", ordering.ActionCascade, ""),
			}
			p, cT, g := intTable("p"), intTable("c", "pid"), intTable("g", "cid")
			p.Cascades, cT.Cascades = all, all[1:]
			if err := a.EnsureSchema(ctx, "src", []*ordering.Table{cT, g}); err != nil {
				t.Fatal(err)
			}
			sinktest.Exec(t, ctx, db, "INSERT INTO c VALUES (10, 1), (20, 2)", "INSERT INTO g VALUES (100, 10), (200, 20)")
			tx, err := a.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			err = tx.(*sqlsink.Tx).ApplyCascades(ctx, &ordering.Change{Table: p, Op: ordering.OpDelete, Before: row(1)})
			if err != nil {
				if !errors.Is(err, sqlsink.ErrCascade) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("ApplyCascades: %v, want %q", err, c.want)
				}
				return
			}
			var nc, ng int
			tx.Record(ctx, "src", nil)
			tx.Commit()
			db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM g)").Scan(&nc, &ng)
			if got := "c=" + itoa(int64(nc)) + " g=" + itoa(int64(ng)); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// Folded changes on a SQLite follower with foreign keys and a trigger.
func TestFold(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Fold(t, ctx, d, db, func(br, trig string) []string {
		return []string{"CREATE TRIGGER br_upd AFTER UPDATE ON " + br + " BEGIN INSERT INTO " + trig + " VALUES (NEW.id, NEW.bal); END"}
	})
}
