package mysql

import (
	"math"
	"reflect"
	"testing"

	"github.com/walship/walship/ordering"
)

// svShape is the binlog shape of
//
//	CREATE TABLE sv (id int PRIMARY KEY, v int, u int UNIQUE) WITH SYSTEM VERSIONING
//
// with the implicit period columns between the user's (where explicit
// ones may be declared) and the keys extended by row_end, as the
// TABLE_MAP has them.
func svShape(trxID bool) *ordering.Table {
	period := ordering.Column{Name: "row_start", Kind: ordering.KindTimestampTZ, Type: "timestamp(6)", Precision: 6}
	if trxID {
		period = ordering.Column{Name: "row_start", Kind: ordering.KindUint, Type: "bigint unsigned"}
	}
	end := period
	end.Name = "row_end"
	return &ordering.Table{Schema: "vx", Name: "sv",
		Columns: []ordering.Column{
			{Name: "id", Kind: ordering.KindInt, Type: "int"},
			period,
			{Name: "v", Kind: ordering.KindInt, Type: "int", Nullable: true},
			end,
			{Name: "u", Kind: ordering.KindInt, Type: "int", Nullable: true},
		},
		PrimaryKey: []string{"id", "row_end"},
		UniqueKeys: [][]string{{"u", "row_end"}},
	}
}

func TestSysVersioningView(t *testing.T) {
	for _, trxID := range []bool{false, true} {
		sv, view, found, err := newSysVersioning(svShape(trxID), &sysPeriod{start: "ROW_START", end: "row_end", trxID: trxID})
		if err != nil || !found {
			t.Fatalf("trxID %v: found %v, %v", trxID, found, err)
		}
		var names []string
		for _, c := range view.Columns {
			names = append(names, c.Name)
		}
		if !reflect.DeepEqual(names, []string{"id", "v", "u"}) || !reflect.DeepEqual(view.PrimaryKey, []string{"id"}) ||
			!reflect.DeepEqual(view.UniqueKeys, [][]string{{"u"}}) || sv.trxID != trxID || sv.end != 3 ||
			!reflect.DeepEqual(sv.keep, []int{0, 2, 4}) {
			t.Errorf("trxID %v: view %v key %v unique %v; sv %+v", trxID, names, view.PrimaryKey, view.UniqueKeys, sv)
		}
	}
	// A shape without the columns (written before ADD SYSTEM VERSIONING,
	// or the catalog's shape) is taken as it is.
	plain := &ordering.Table{Schema: "vx", Name: "sv", Columns: []ordering.Column{{Name: "id"}, {Name: "v"}}, PrimaryKey: []string{"id"}}
	if _, _, found, err := newSysVersioning(plain, &sysPeriod{start: "row_start", end: "row_end"}); found || err != nil {
		t.Errorf("a shape without period columns: found %v, %v", found, err)
	}
	// Period columns of another type: the catalog and the binlog disagree.
	bad := svShape(false)
	bad.Columns[3] = ordering.Column{Name: "row_end", Kind: ordering.KindTimestamp, Type: "datetime(6)", Precision: 6}
	if _, _, _, err := newSysVersioning(bad, &sysPeriod{start: "row_start", end: "row_end"}); err == nil {
		t.Error("a datetime row_end: no error")
	}
}

// TestSysVersioningChange: each row event MariaDB writes for a
// system-versioned table becomes the change of its current rows, or
// nothing.
func TestSysVersioningChange(t *testing.T) {
	const now = 1796589139_475376 // µs
	for _, trxID := range []bool{false, true} {
		sv, _, _, err := newSysVersioning(svShape(trxID), &sysPeriod{start: "row_start", end: "row_end", trxID: trxID})
		if err != nil {
			t.Fatal(err)
		}
		ts := func(us int64) ordering.Value {
			if trxID {
				if us == sysMaxTimestamp32 {
					return ordering.Uint(math.MaxUint64)
				}
				return ordering.Uint(uint64(us % 100000))
			}
			return ordering.TimestampTZ(us)
		}
		row := func(id, v int64, start, end int64) []ordering.Value {
			return []ordering.Value{ordering.Int(id), ts(start), ordering.Int(v), ts(end), ordering.Null()}
		}
		user := func(id, v int64) []ordering.Value {
			return []ordering.Value{ordering.Int(id), ordering.Int(v), ordering.Null()}
		}
		const max = sysMaxTimestamp32
		for _, c := range []struct {
			name          string
			op            ordering.Op
			before, after []ordering.Value
			keep          bool
			wantOp        ordering.Op
			wantB, wantA  []ordering.Value
		}{
			{"insert", ordering.OpInsert, nil, row(1, 1, now, max), true, ordering.OpInsert, nil, user(1, 1)},
			{"history row of an update", ordering.OpInsert, nil, row(1, 1, now-5, now), false, 0, nil, nil},
			{"update", ordering.OpUpdate, row(1, 1, now-5, max), row(1, 2, now, max), true, ordering.OpUpdate, user(1, 1), user(1, 2)},
			{"update of the key", ordering.OpUpdate, row(1, 2, now-5, max), row(10, 2, now, max), true, ordering.OpUpdate, user(1, 2), user(10, 2)},
			{"delete (row_end set)", ordering.OpUpdate, row(2, 2, now-5, max), row(2, 2, now-5, now), true, ordering.OpDelete, user(2, 2), nil},
			{"history row made current", ordering.OpUpdate, row(2, 2, now-5, now), row(2, 2, now-5, max), true, ordering.OpInsert, nil, user(2, 2)},
			{"update of a history row", ordering.OpUpdate, row(2, 2, now-9, now-5), row(2, 3, now-9, now-5), false, 0, nil, nil},
			{"DELETE HISTORY", ordering.OpDelete, row(2, 2, now-5, now), nil, false, 0, nil, nil},
			{"delete of a current row", ordering.OpDelete, row(3, 3, now-5, max), nil, true, ordering.OpDelete, user(3, 3), nil},
		} {
			op, b, a, keep := sv.change(c.op, c.before, c.after)
			if keep != c.keep || (keep && (op != c.wantOp || !reflect.DeepEqual(b, c.wantB) || !reflect.DeepEqual(a, c.wantA))) {
				t.Errorf("trxID %v, %s: %v %v %v keep %v; want %v %v %v keep %v", trxID, c.name, op, b, a, keep, c.wantOp, c.wantB, c.wantA, c.keep)
			}
		}
	}
	// MariaDB 11.5+ ends current rows at TIMESTAMP's new maximum.
	sv, _, _, _ := newSysVersioning(svShape(false), &sysPeriod{start: "row_start", end: "row_end"})
	r := []ordering.Value{ordering.Int(1), ordering.TimestampTZ(5), ordering.Int(1), ordering.TimestampTZ(sysMaxTimestamp64), ordering.Null()}
	if !sv.current(r) {
		t.Error("row_end 2106-02-07 06:28:15.999999 is not current")
	}
}

func TestSysPeriodWithout(t *testing.T) {
	p := &sysPeriod{start: "rs", end: "re"}
	if got := p.without([]string{"id", "RE"}); !reflect.DeepEqual(got, []string{"id"}) {
		t.Errorf("without = %v", got)
	}
	var none *sysPeriod
	if got := none.without([]string{"id", "re"}); !reflect.DeepEqual(got, []string{"id", "re"}) {
		t.Errorf("nil without = %v", got)
	}
}
