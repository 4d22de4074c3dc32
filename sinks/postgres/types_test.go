package postgres

import (
	"errors"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
)

func TestColumnTypeFromPostgres(t *testing.T) {
	for _, c := range []struct {
		col  ordering.Column
		want string
	}{
		{ordering.Column{Type: "integer", Kind: ordering.KindInt}, "integer"},
		{ordering.Column{Type: "numeric(12,2)", Kind: ordering.KindDecimal, Precision: 12, Scale: 2}, "numeric(12,2)"},
		{ordering.Column{Type: "numeric(3,-2)", Kind: ordering.KindDecimal, Precision: 3, Scale: -2}, "numeric(3,-2)"},
		{ordering.Column{Type: "character varying(40)", Kind: ordering.KindString, Length: 40}, "character varying(40)"},
		{ordering.Column{Type: "character(5)", Kind: ordering.KindString, Length: 5}, "character(5)"},
		{ordering.Column{Type: "timestamp(3) with time zone", Kind: ordering.KindTimestampTZ, Precision: 3}, "timestamp(3) with time zone"},
		{ordering.Column{Type: "interval day to second(3)", Kind: ordering.KindInterval, Precision: 3}, "interval day to second(3)"},
		{ordering.Column{Type: "text[]", Kind: ordering.KindArray, Elem: ordering.KindString}, "text[]"},
		{ordering.Column{Type: "character varying(40)[]", Kind: ordering.KindArray, Elem: ordering.KindString, Length: 40}, "character varying(40)[]"},
		{ordering.Column{Type: "inet", Kind: ordering.KindText}, "inet"},
		{ordering.Column{Type: "bit varying(8)", Kind: ordering.KindText}, "bit varying(8)"},
		{ordering.Column{Type: "tstzrange", Kind: ordering.KindText}, "tstzrange"},
		{ordering.Column{Type: `"char"`, Kind: ordering.KindText}, `"char"`},
		{ordering.Column{Type: "jsonb", Kind: ordering.KindJSON}, "jsonb"},
		// Not built in: by kind.
		{ordering.Column{Type: "mood", Kind: ordering.KindEnum, Enum: []string{"sad", "ok"}}, "text"},
		{ordering.Column{Type: "mood[]", Kind: ordering.KindArray, Elem: ordering.KindEnum}, "text[]"},
		{ordering.Column{Type: "public.mood", Kind: ordering.KindEnum}, "text"},
		{ordering.Column{Type: "amount", Kind: ordering.KindDecimal, Precision: 10, Scale: 2}, "numeric(10,2)"},
		{ordering.Column{Type: "anynum", Kind: ordering.KindDecimal, Precision: -1, Scale: -1}, "numeric"},
		{ordering.Column{Type: "code", Kind: ordering.KindString, Length: 8}, "character varying(8)"},
		{ordering.Column{Type: "citext", Kind: ordering.KindString}, "text"},
		{ordering.Column{Type: "stamp", Kind: ordering.KindTimestampTZ, Precision: 3}, "timestamp(3) with time zone"},
		{ordering.Column{Type: "stamp", Kind: ordering.KindTimestamp, Precision: -1}, "timestamp without time zone"},
		{ordering.Column{Type: "pair", Kind: ordering.KindText}, "text"},
		{ordering.Column{Type: "hstore", Kind: ordering.KindText}, "text"},
		{ordering.Column{Type: "dom_int", Kind: ordering.KindInt}, "bigint"},
		{ordering.Column{Type: "dom_f", Kind: ordering.KindFloat}, "double precision"},
		{ordering.Column{Type: "dom_json", Kind: ordering.KindJSON}, "json"},
		{ordering.Column{Type: "dom_uuid", Kind: ordering.KindUUID}, "uuid"},
	} {
		got, err := dia.ColumnType(c.col, "postgres")
		if err != nil || got != c.want {
			t.Errorf("ColumnType(%q %s) = %q, %v; want %q", c.col.Type, c.col.Kind, got, err, c.want)
		}
	}
}

func TestColumnTypeFromMySQL(t *testing.T) {
	for _, c := range []struct {
		typ  string
		kind ordering.Kind
		want string
	}{
		{"tinyint(1)", ordering.KindInt, "smallint"},
		{"tinyint(1)", ordering.KindBool, "boolean"},
		{"tinyint(3) unsigned", ordering.KindUint, "smallint"},
		{"smallint(6)", ordering.KindInt, "smallint"},
		{"smallint(5) unsigned", ordering.KindUint, "integer"},
		{"mediumint(8) unsigned", ordering.KindUint, "integer"},
		{"int(11)", ordering.KindInt, "integer"},
		{"int(10) unsigned", ordering.KindUint, "bigint"},
		{"bigint(20)", ordering.KindInt, "bigint"},
		{"bigint(20) unsigned", ordering.KindUint, "numeric(20,0)"},
		{"year(4)", ordering.KindInt, "smallint"},
		{"decimal(10,2)", ordering.KindDecimal, "numeric(10,2)"},
		{"float", ordering.KindFloat, "real"},
		{"double", ordering.KindFloat, "double precision"},
		{"bit(8)", ordering.KindUint, "bit(8)"},
		{"char(3)", ordering.KindString, "character varying(3)"},
		{"varchar(40)", ordering.KindString, "character varying(40)"},
		{"mediumtext", ordering.KindString, "text"},
		{"set('x','y')", ordering.KindString, "text"},
		{"enum('a','b')", ordering.KindEnum, "text"},
		{"varbinary(16)", ordering.KindBytes, "bytea"},
		{"longblob", ordering.KindBytes, "bytea"},
		{"date", ordering.KindDate, "date"},
		{"time", ordering.KindTime, "interval"},
		{"time(3)", ordering.KindTime, "interval"},
		{"datetime", ordering.KindTimestamp, "timestamp(0) without time zone"},
		{"datetime(6)", ordering.KindTimestamp, "timestamp(6) without time zone"},
		{"timestamp(3)", ordering.KindTimestampTZ, "timestamp(3) with time zone"},
		{"json", ordering.KindJSON, "json"},
		{"geometry", ordering.KindBytes, "bytea"},
	} {
		got, err := dia.ColumnType(ordering.Column{Name: "c", Type: c.typ, Kind: c.kind}, "mysql")
		if err != nil || got != c.want {
			t.Errorf("ColumnType(%q %s, mysql) = %q, %v; want %q", c.typ, c.kind, got, err, c.want)
		}
	}
}

func TestColumnTypeErrors(t *testing.T) {
	if _, err := dia.ColumnType(ordering.Column{Name: "c", Type: "x", Kind: ordering.KindNull}, "postgres"); !errors.Is(err, sqlsink.ErrUnsupported) {
		t.Errorf("KindNull column: %v", err)
	}
	if _, err := dia.ColumnType(ordering.Column{Name: "c", Type: "int", Kind: ordering.KindInt}, "oracle"); err == nil {
		t.Error("unknown source engine accepted")
	}
}
