package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
)

func users() *ordering.Table {
	return &ordering.Table{Schema: "public", Name: "users", PrimaryKey: []string{"id"}, Columns: []ordering.Column{
		{Name: "id", Kind: ordering.KindInt, Type: "bigint"},
		{Name: "email", Kind: ordering.KindString, Type: "text"},
		{Name: "ssn", Kind: ordering.KindString, Type: "text"},
		{Name: "phone", Kind: ordering.KindString, Type: "text"},
		{Name: "bio", Kind: ordering.KindString, Type: "text"},
		{Name: "region", Kind: ordering.KindString, Type: "text"},
		{Name: "total", Kind: ordering.KindDecimal, Type: "numeric(10,2)"},
	}, UniqueKeys: [][]string{{"ssn"}, {"email"}}}
}

func row(id int64, email, ssn, phone, bio, region, total string) []ordering.Value {
	return []ordering.Value{ordering.Int(id), ordering.String(email), ordering.String(ssn), ordering.String(phone),
		ordering.String(bio), ordering.String(region), ordering.Decimal(total)}
}

// Column rules rewrite the shape and both images; the same value hashes
// the same; a key column may be hashed but not excluded.
func TestColumns(t *testing.T) {
	f, err := New(Rules{"public.users": {Exclude: []string{"ssn"}, Hash: []string{"email", "id"}, Mask: []string{"phone"}, Truncate: map[string]int{"bio": 3}}}, []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	tbl := users()
	ch := ordering.Change{Table: tbl, Op: ordering.OpInsert, After: row(1, "a@x", "123-45", "555", "héllo", "eu", "1.5")}
	if keep, err := f.Filter(&ch); !keep || err != nil {
		t.Fatal(keep, err)
	}
	out := ch.Table
	var names []string
	for _, c := range out.Columns {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "id,email,phone,bio,region,total" || len(out.UniqueKeys) != 1 || out.UniqueKeys[0][0] != "email" {
		t.Fatalf("shape %v, unique keys %v", names, out.UniqueKeys)
	}
	if out.Columns[1].Type != "varchar(64)" || len(ch.After[1].Text()) != 64 || ch.After[2].Text() != MaskText || ch.After[3].Text() != "hél" {
		t.Errorf("row %v", ch.After)
	}
	for _, v := range ch.After {
		if strings.Contains(v.String(), "a@x") || strings.Contains(v.String(), "123-45") || strings.Contains(v.String(), "555") {
			t.Errorf("a clear value went on: %v", ch.After)
		}
	}
	again := ordering.Change{Table: tbl, Op: ordering.OpDelete, Before: row(1, "a@x", "", "", "", "", "0")}
	f.Filter(&again)
	if again.Before[0].Text() != ch.After[0].Text() || again.Before[1].Text() != ch.After[1].Text() {
		t.Error("the same values hash differently")
	}
	bad, _ := New(Rules{"public.users": {Exclude: []string{"id"}}}, nil)
	if _, err := bad.Filter(&ordering.Change{Table: users(), Op: ordering.OpInsert, After: row(1, "", "", "", "", "", "0")}); !errors.Is(err, ErrRule) || !strings.Contains(err.Error(), "primary-key") {
		t.Errorf("excluding the key: %v", err)
	}
	if _, err := New(Rules{"public.users": {Hash: []string{"email"}}}, nil); !errors.Is(err, ErrNoHashKey) {
		t.Errorf("no hash key: %v", err)
	}
}

// A where rule keeps the rows that match; updates across it become inserts
// and deletes; a type error is found against the shape; a rule failing on
// a value or lacking one stops, quoting no value.
func TestWhere(t *testing.T) {
	f, err := New(Rules{"public.users": {Where: "region == 'eu' && total > 0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tbl := users()
	cases := []struct {
		ch     ordering.Change
		keep   bool
		wantOp ordering.Op
	}{
		{ordering.Change{Table: tbl, Op: ordering.OpInsert, After: row(1, "", "", "", "", "eu", "2")}, true, ordering.OpInsert},
		{ordering.Change{Table: tbl, Op: ordering.OpRead, After: row(1, "", "", "", "", "us", "2")}, false, 0},
		{ordering.Change{Table: tbl, Op: ordering.OpUpdate, Before: row(1, "", "", "", "", "us", "2"), After: row(1, "", "", "", "", "eu", "2")}, true, ordering.OpInsert},
		{ordering.Change{Table: tbl, Op: ordering.OpUpdate, Before: row(1, "", "", "", "", "eu", "2"), After: row(1, "", "", "", "", "eu", "0")}, true, ordering.OpDelete},
		{ordering.Change{Table: tbl, Op: ordering.OpUpdate, Before: row(1, "", "", "", "", "eu", "2"), After: row(1, "", "", "", "", "eu", "3")}, true, ordering.OpUpdate},
		{ordering.Change{Table: tbl, Op: ordering.OpUpdate, Before: row(1, "", "", "", "", "us", "2"), After: row(1, "", "", "", "", "us", "3")}, false, 0},
		{ordering.Change{Table: tbl, Op: ordering.OpDelete, Before: row(1, "", "", "", "", "eu", "1")}, true, ordering.OpDelete},
	}
	for i, c := range cases {
		keep, err := f.Filter(&c.ch)
		if err != nil || keep != c.keep || keep && c.ch.Op != c.wantOp {
			t.Errorf("case %d: keep %v op %c err %v", i, keep, c.ch.Op, err)
		}
	}
	// No before image of region: stop.
	upd := ordering.Change{Table: tbl, Op: ordering.OpUpdate, After: row(1, "", "", "", "", "eu", "2")}
	if _, err := f.Filter(&upd); !errors.Is(err, ErrNoBefore) {
		t.Errorf("update without a before image: %v", err)
	}
	typed, _ := New(Rules{"public.users": {Where: "region > 3"}}, nil)
	if _, err := typed.Filter(&ordering.Change{Table: users(), Op: ordering.OpInsert, After: row(1, "", "", "", "", "eu", "2")}); !errors.Is(err, ErrRule) {
		t.Errorf("a string compared with a number: %v", err)
	}
	unknown, _ := New(Rules{"public.users": {Where: "nope == 1"}}, nil)
	if _, err := unknown.Filter(&ordering.Change{Table: users(), Op: ordering.OpInsert, After: row(1, "", "", "", "", "eu", "2")}); !errors.Is(err, ErrRule) {
		t.Errorf("an unknown column: %v", err)
	}
	conv, _ := New(Rules{"public.users": {Where: "int(bio) > 1"}}, nil)
	_, err = conv.Filter(&ordering.Change{Table: users(), Op: ordering.OpInsert, After: row(1, "", "", "", "secret-bio", "eu", "2")})
	if !errors.Is(err, ErrPredicate) || strings.Contains(err.Error(), "secret-bio") {
		t.Errorf("a rule failing on a value: %v", err)
	}
	if err := CheckWhere("region == 'eu' &&"); err == nil || !strings.Contains(err.Error(), "1:") {
		t.Errorf("a syntax error names no position: %v", err)
	}
}
