package mysql

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
		{ordering.Column{Type: "smallint", Kind: ordering.KindInt}, "SMALLINT"},
		{ordering.Column{Type: "integer", Kind: ordering.KindInt}, "INT"},
		{ordering.Column{Type: "bigint", Kind: ordering.KindInt}, "BIGINT"},
		{ordering.Column{Type: "oid", Kind: ordering.KindInt}, "INT UNSIGNED"},
		{ordering.Column{Type: "dom_int", Kind: ordering.KindInt}, "BIGINT"},
		{ordering.Column{Type: "boolean", Kind: ordering.KindBool}, "BOOLEAN"},
		{ordering.Column{Type: "numeric(12,2)", Kind: ordering.KindDecimal, Precision: 12, Scale: 2}, "DECIMAL(12,2)"},
		{ordering.Column{Type: "numeric(3,-2)", Kind: ordering.KindDecimal, Precision: 3, Scale: -2}, "DECIMAL(5,0)"},
		{ordering.Column{Type: "numeric(2,5)", Kind: ordering.KindDecimal, Precision: 2, Scale: 5}, "DECIMAL(5,5)"},
		{ordering.Column{Type: "numeric(100,50)", Kind: ordering.KindDecimal, Precision: 100, Scale: 50}, "DECIMAL(65,38)"},
		{ordering.Column{Type: "numeric", Kind: ordering.KindDecimal, Precision: -1, Scale: -1}, "DECIMAL(65,30)"},
		{ordering.Column{Type: "amount", Kind: ordering.KindDecimal, Precision: 10, Scale: 2}, "DECIMAL(10,2)"},
		{ordering.Column{Type: "real", Kind: ordering.KindFloat}, "FLOAT"},
		{ordering.Column{Type: "double precision", Kind: ordering.KindFloat}, "DOUBLE"},
		{ordering.Column{Type: "character varying(40)", Kind: ordering.KindString, Length: 40}, "VARCHAR(40)"},
		{ordering.Column{Type: "character(5)", Kind: ordering.KindString, Length: 5}, "VARCHAR(5)"},
		{ordering.Column{Type: "character varying(20000)", Kind: ordering.KindString, Length: 20000}, "LONGTEXT"},
		{ordering.Column{Type: "text", Kind: ordering.KindString}, "LONGTEXT"},
		{ordering.Column{Type: "bytea", Kind: ordering.KindBytes}, "LONGBLOB"},
		{ordering.Column{Type: "date", Kind: ordering.KindDate}, "DATE"},
		{ordering.Column{Type: "time without time zone", Kind: ordering.KindTime, Precision: -1}, "TIME(6)"},
		{ordering.Column{Type: "time(3) without time zone", Kind: ordering.KindTime, Precision: 3}, "TIME(3)"},
		{ordering.Column{Type: "timestamp without time zone", Kind: ordering.KindTimestamp, Precision: -1}, "DATETIME(6)"},
		{ordering.Column{Type: "timestamp(0) with time zone", Kind: ordering.KindTimestampTZ, Precision: 0}, "DATETIME(0)"},
		{ordering.Column{Type: "stamp", Kind: ordering.KindTimestampTZ, Precision: 2}, "DATETIME(2)"},
		{ordering.Column{Type: "interval", Kind: ordering.KindInterval, Precision: -1}, "VARCHAR(64)"},
		{ordering.Column{Type: "uuid", Kind: ordering.KindUUID}, "CHAR(36)"},
		{ordering.Column{Type: "jsonb", Kind: ordering.KindJSON}, "JSON"},
		{ordering.Column{Type: "mood", Kind: ordering.KindEnum, Enum: []string{"sad", "it's \\ ok"}}, `ENUM('sad','it''s \\ ok')`},
		{ordering.Column{Type: "mood", Kind: ordering.KindEnum}, "VARCHAR(255)"},
		{ordering.Column{Type: "pad", Kind: ordering.KindEnum, Enum: []string{"a "}}, "VARCHAR(255)"},
		{ordering.Column{Type: "text[]", Kind: ordering.KindArray, Elem: ordering.KindString}, "JSON"},
		{ordering.Column{Type: "inet", Kind: ordering.KindText}, "LONGTEXT"},
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
		{"tinyint(1)", ordering.KindInt, "tinyint(1)"},
		{"tinyint(1)", ordering.KindBool, "tinyint(1)"},
		{"int(10) unsigned", ordering.KindUint, "int(10) unsigned"},
		{"bigint(20) unsigned zerofill", ordering.KindUint, "bigint(20) unsigned zerofill"},
		{"decimal(10,2)", ordering.KindDecimal, "decimal(10,2)"},
		{"float", ordering.KindFloat, "float"},
		{"double", ordering.KindFloat, "double"},
		{"bit(8)", ordering.KindUint, "bit(8)"},
		{"bit(8)", ordering.KindText, "LONGTEXT"}, // text digits would be read as bytes by BIT
		{"char(3)", ordering.KindString, "char(3)"},
		{"varchar(40)", ordering.KindString, "varchar(40)"},
		{"varchar(20000)", ordering.KindString, "LONGTEXT"},
		{"mediumtext", ordering.KindString, "mediumtext"},
		{"varbinary(16)", ordering.KindBytes, "varbinary(16)"},
		{"enum('a','b''c')", ordering.KindEnum, "enum('a','b''c')"},
		{"set('x','y')", ordering.KindString, "set('x','y')"},
		{"date", ordering.KindDate, "date"},
		{"time(3)", ordering.KindTime, "time(3)"},
		{"datetime(6)", ordering.KindTimestamp, "datetime(6)"},
		{"timestamp", ordering.KindTimestampTZ, "DATETIME(0)"},
		{"timestamp(3)", ordering.KindTimestampTZ, "DATETIME(3)"},
		{"year(4)", ordering.KindInt, "year(4)"},
		{"json", ordering.KindJSON, "json"},
		{"geometry", ordering.KindBytes, "LONGBLOB"},
		{"int(11); DROP TABLE x", ordering.KindInt, "BIGINT"},
		{"inet6", ordering.KindText, "LONGTEXT"},
	} {
		got, err := dia.ColumnType(ordering.Column{Name: "c", Type: c.typ, Kind: c.kind}, "mysql")
		if err != nil || got != c.want {
			t.Errorf("ColumnType(%q %s, mysql) = %q, %v; want %q", c.typ, c.kind, got, err, c.want)
		}
	}
}

func TestColumnTypeErrors(t *testing.T) {
	if _, err := dia.ColumnType(ordering.Column{Name: "c", Kind: ordering.KindUnchanged}, "postgres"); !errors.Is(err, sqlsink.ErrUnsupported) {
		t.Errorf("KindUnchanged column: %v", err)
	}
	if _, err := dia.ColumnType(ordering.Column{Name: "c", Kind: ordering.KindInt}, "sqlite"); err == nil {
		t.Error("unknown source engine accepted")
	}
}
