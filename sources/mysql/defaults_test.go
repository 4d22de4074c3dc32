package mysql

import (
	"database/sql"
	"testing"

	"github.com/walship/walship/ordering"
)

func TestDefaultKind(t *testing.T) {
	null := sql.NullString{}
	s := func(v string) sql.NullString { return sql.NullString{String: v, Valid: true} }
	for _, c := range []struct {
		def      sql.NullString
		nullable bool
		extra    string
		mariadb  bool
		kind     string
		expr     string
	}{
		{s("'x'"), true, "", true, "literal", ""},
		{s("1.50"), true, "", true, "literal", ""},
		{s("-3"), false, "", true, "literal", ""},
		{s("b'101'"), true, "", true, "literal", ""},
		{s("NULL"), true, "", true, "none", ""},
		{null, true, "", true, "none", ""},
		{null, false, "", true, "implicit", ""},
		{s("current_timestamp()"), true, "", true, "expr", "current_timestamp()"},
		{s("uuid()"), false, "", true, "expr", "uuid()"},
		{null, false, "auto_increment", true, "expr", "AUTO_INCREMENT"},
		{null, true, "STORED GENERATED", true, "expr", "AS (a + 1)"},
		{s("x"), true, "", false, "literal", ""},
		{s("CURRENT_TIMESTAMP"), true, "DEFAULT_GENERATED", false, "expr", "CURRENT_TIMESTAMP"},
	} {
		kind, expr := defaultKind(c.def, c.nullable, c.extra, "a + 1", c.mariadb)
		if kind != c.kind || expr != c.expr {
			t.Errorf("defaultKind(%v, nullable %v, %q, mariadb %v) = %s %q, want %s %q", c.def, c.nullable, c.extra, c.mariadb, kind, expr, c.kind, c.expr)
		}
	}
	for _, c := range []struct {
		col  ordering.Column
		want ordering.Value
		ok   bool
	}{
		{ordering.Column{Type: "int(11)", Kind: ordering.KindInt}, ordering.Int(0), true},
		{ordering.Column{Type: "decimal(10,2)", Kind: ordering.KindDecimal, Scale: 2}, ordering.Decimal("0.00"), true},
		{ordering.Column{Type: "varchar(10)", Kind: ordering.KindString}, ordering.String(""), true},
		{ordering.Column{Type: "enum('p','q')", Kind: ordering.KindEnum, Enum: []string{"p", "q"}}, ordering.Enum("p"), true},
		{ordering.Column{Type: "date", Kind: ordering.KindDate}, ordering.Special(ordering.KindDate, "0000-00-00"), true},
		{ordering.Column{Type: "binary(4)", Kind: ordering.KindBytes}, ordering.Value{}, false},
		{ordering.Column{Type: "timestamp", Kind: ordering.KindTimestampTZ}, ordering.Value{}, false},
	} {
		v, ok := implicitDefault(c.col)
		if ok != c.ok || ok && !v.Equal(c.want) {
			t.Errorf("implicitDefault(%s) = %v %v, want %v %v", c.col.Type, v, ok, c.want, c.ok)
		}
	}
}
