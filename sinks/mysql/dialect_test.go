package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sqlsink"
	"github.com/walship/walship/sinks/sqltext"
)

var dia = New(config.MySQLSink{})

func TestQuotingAndPlaceholders(t *testing.T) {
	if got := dia.QuoteIdent("a`b"); got != "`a``b`" {
		t.Errorf("QuoteIdent = %s", got)
	}
	if got := dia.QuoteName(sqlsink.Name{Table: "t"}); got != "`t`" {
		t.Errorf("QuoteName = %s", got)
	}
	if got := dia.QuoteName(sqlsink.Name{Schema: "d", Table: "t"}); got != "`d`.`t`" {
		t.Errorf("QuoteName with schema = %s", got)
	}
	if dia.Placeholder(0) != "?" || dia.Placeholder(7) != "?" {
		t.Error("Placeholder is not ?")
	}
	if got := dia.NullSafeEqual("`c`", "?"); got != "`c` <=> ?" {
		t.Errorf("NullSafeEqual = %s", got)
	}
	if got := dia.Target("public", "t"); got != (sqlsink.Name{Table: "t"}) {
		t.Errorf("Target = %v", got)
	}
	if got := quoteString(`it's a \ test`); got != `'it''s a \\ test'` {
		t.Errorf("quoteString = %s", got)
	}
	if n := lockName(strings.Repeat("x", 100)); len(n) > 64 || !strings.HasPrefix(n, "walship_sink:") {
		t.Errorf("lockName of a long sink = %q", n)
	}
}

func TestDDL(t *testing.T) {
	n := sqlsink.Name{Table: "t"}
	opts := " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
	got := dia.CreateTable(n, []sqlsink.ColumnDef{{Name: "k", Type: "LONGTEXT", NotNull: true}, {Name: "b", Type: "LONGBLOB", NotNull: true},
		{Name: "v", Type: "LONGTEXT"}}, []string{"k", "b"})
	want := "CREATE TABLE IF NOT EXISTS `t` (`k` VARCHAR(255) NOT NULL, `b` VARBINARY(255) NOT NULL, `v` LONGTEXT NULL, PRIMARY KEY (`k`, `b`))" + opts
	if len(got) != 1 || got[0] != want {
		t.Errorf("CreateTable =\n%q\nwant\n%q", got, want)
	}
	var wide []sqlsink.ColumnDef
	for i := 0; i < 20; i++ {
		wide = append(wide, sqlsink.ColumnDef{Name: fmt.Sprint("c", i), Type: "VARCHAR(1000)"})
	}
	wide = append(wide, sqlsink.ColumnDef{Name: "big", Type: "VARCHAR(16000)"})
	stmt := dia.CreateTable(n, wide, []string{"c0"})[0]
	if !strings.Contains(stmt, "`big` TEXT NULL") || !strings.Contains(stmt, "`c0` VARCHAR(1000) NOT NULL") && !strings.Contains(stmt, "`c0` VARCHAR(1000) NULL") {
		t.Errorf("wide table not fitted: %s", stmt)
	}
	for _, c := range []struct{ got, want string }{
		{dia.Upsert(n, []string{"id", "a"}, []string{"id"}, 2), "INSERT INTO `t` (`id`, `a`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `a` = VALUES(`a`)"},
		{dia.Upsert(n, []string{"k1", "k2"}, []string{"k1", "k2"}, 1), "INSERT INTO `t` (`k1`, `k2`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `k1` = `k1`"},
		{dia.Upsert(n, []string{"a"}, nil, 1), "INSERT INTO `t` (`a`) VALUES (?)"},
		{dia.AddColumn(n, sqlsink.ColumnDef{Name: "c", Type: "INT"}), "ALTER TABLE `t` ADD COLUMN IF NOT EXISTS `c` INT NULL"},
		{dia.DropNotNull(n, sqlsink.ColumnDef{Name: "c", Type: "INT", NotNull: true}), "ALTER TABLE `t` MODIFY COLUMN `c` INT NULL"},
		{dia.DropColumn(n, "c"), "ALTER TABLE `t` DROP COLUMN IF EXISTS `c`"},
		{dia.Truncate(n), "DELETE FROM `t`"},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

func TestTypeCompatible(t *testing.T) {
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"bigint(20)", "BIGINT", true},
		{"int(11)", "INT", true},
		{"bigint(20)", "INT", true},
		{"int(11)", "BIGINT", false},
		{"bigint(20) unsigned", "BIGINT UNSIGNED", true},
		{"bigint(20)", "BIGINT UNSIGNED", false},
		{"bigint(20)", "INT UNSIGNED", true},
		{"tinyint(1)", "BOOLEAN", true},
		{"decimal(12,2)", "DECIMAL(12,2)", true},
		{"decimal(14,4)", "DECIMAL(12,2)", true},
		{"decimal(12,2)", "DECIMAL(12,4)", false},
		{"double", "FLOAT", true},
		{"float", "DOUBLE", false},
		{"varchar(40)", "VARCHAR(20)", true},
		{"varchar(20)", "VARCHAR(40)", false},
		{"text", "VARCHAR(1000)", true},
		{"tinytext", "VARCHAR(100)", false},
		{"longtext", "JSON", true},
		{"varchar(255)", "LONGTEXT", true},
		{"varbinary(255)", "LONGBLOB", true},
		{"varchar(5)", "LONGTEXT", false},
		{"varbinary(16)", "LONGBLOB", false},
		{"longblob", "VARBINARY(16)", true},
		{"datetime(6)", "DATETIME(3)", true},
		{"datetime", "DATETIME(0)", true},
		{"datetime(3)", "DATETIME(6)", false},
		{"time(6)", "TIME(6)", true},
		{"enum('a','b','c')", "ENUM('a','b')", true},
		{"enum('a','b')", "ENUM('a','B')", false},
		{"varchar(255)", "ENUM('a','b')", true},
		{"char(36)", "CHAR(36)", true},
		{"year(4)", "year", true},
		{"date", "DATETIME(6)", false},
	} {
		if got := dia.TypeCompatible(c.have, c.want); got != c.ok {
			t.Errorf("TypeCompatible(%q, %q) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
}

func TestRetryable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("apply: %w", err) }
	for _, c := range []struct {
		err  error
		want bool
		code string
	}{
		{wrap(&mysql.MySQLError{Number: 1213}), true, "1213"},
		{wrap(&mysql.MySQLError{Number: 1205}), true, "1205"},
		{wrap(&mysql.MySQLError{Number: 2013}), true, "2013"},
		{wrap(&mysql.MySQLError{Number: 1927}), true, "1927"},
		{wrap(&mysql.MySQLError{Number: 1040}), true, "1040"},
		{wrap(&mysql.MySQLError{Number: 6}), true, "6"},
		{wrap(&mysql.MySQLError{Number: 1021}), true, "1021"},
		{wrap(&mysql.MySQLError{Number: 1062}), false, "1062"},
		{wrap(&mysql.MySQLError{Number: 1406}), false, "1406"},
		{wrap(&mysql.MySQLError{Number: 1064}), false, "1064"},
		{wrap(mysql.ErrInvalidConn), true, ""},
		{wrap(driver.ErrBadConn), true, ""},
		{wrap(io.EOF), true, ""},
		{wrap(&net.OpError{Op: "read", Err: errors.New("reset")}), true, ""},
		{wrap(context.Canceled), false, ""},
		{errors.New("x"), false, ""},
		{nil, false, ""},
	} {
		if got := dia.Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
		if got := dia.Code(c.err); got != c.code {
			t.Errorf("Code(%v) = %q, want %q", c.err, got, c.code)
		}
	}
}

// daysOf is days_from_civil for astronomical year y.
func daysOf(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	doy := (153*int64((m+9)%12)+2)/5 + int64(d) - 1
	return era*146097 + yoe*365 + yoe/4 - yoe/100 + doy - 719468
}

func usOf(y int64, m, d, h, mi, s int, frac int64) int64 {
	return daysOf(y, m, d)*sqltext.UsPerDay + int64(h*3600+mi*60+s)*sqltext.UsPerSec + frac
}

func TestParam(t *testing.T) {
	col := func(typ string, k ordering.Kind) ordering.Column {
		return ordering.Column{Name: "c", Type: typ, Kind: k, Precision: -1, Scale: -1}
	}
	for _, c := range []struct {
		col  ordering.Column
		v    ordering.Value
		want any
	}{
		{col("int", ordering.KindInt), ordering.Null(), nil},
		{col("boolean", ordering.KindBool), ordering.Bool(true), int64(1)},
		{col("bigint", ordering.KindInt), ordering.Int(math.MinInt64), int64(math.MinInt64)},
		{col("bigint(20) unsigned", ordering.KindUint), ordering.Uint(math.MaxUint64), uint64(math.MaxUint64)},
		{col("double precision", ordering.KindFloat), ordering.Float(math.Copysign(0, -1)), math.Copysign(0, -1)},
		{col("numeric(12,2)", ordering.KindDecimal), ordering.Decimal("-1234567890.12"), "-1234567890.12"},
		{col("numeric", ordering.KindDecimal), ordering.Decimal("-00012.3400"), "-00012.3400"},
		{col("numeric", ordering.KindDecimal), ordering.Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
			"12345678901234567890123456789012345.123456789012345678901234567890"},
		{col("numeric(3,-2)", ordering.KindDecimal), ordering.Decimal("12300"), "12300"},
		{col("bytea", ordering.KindBytes), ordering.Bytes(nil), []byte{}},
		{col("date", ordering.KindDate), ordering.Date(daysOf(1, 1, 1)), "0001-01-01"},
		{col("date", ordering.KindDate), ordering.Date(daysOf(0, 12, 31)), "0000-12-31"},
		{col("date", ordering.KindDate), ordering.Special(ordering.KindDate, "0000-00-00"), "0000-00-00"},
		{col("time(6)", ordering.KindTime), ordering.Time(-(838*3600 + 59*60 + 59) * sqltext.UsPerSec), "-838:59:59.000000"},
		{col("time without time zone", ordering.KindTime), ordering.Time(86_400_000_000), "24:00:00.000000"},
		{col("timestamp with time zone", ordering.KindTimestampTZ), ordering.TimestampTZ(-1), "1969-12-31 23:59:59.999999"},
		{col("datetime(3)", ordering.KindTimestamp), ordering.Timestamp(usOf(2024, 2, 29, 1, 2, 3, 456_000)), "2024-02-29 01:02:03.456000"},
		{col("datetime", ordering.KindTimestamp), ordering.Special(ordering.KindTimestamp, "0000-00-00 00:00:00"), "0000-00-00 00:00:00"},
		{col("interval", ordering.KindInterval), ordering.Interval("P-1Y-2M3D"), "P-1Y-2M3D"},
		{col("text[]", ordering.KindArray), ordering.Array(ordering.String("a\"\\\n\x01"), ordering.Null(), ordering.String("NULL")), `["a\"\\\n\u0001",null,"NULL"]`},
		{col("integer[]", ordering.KindArray), ordering.Array(ordering.Array(ordering.Int(1), ordering.Int(-2)), ordering.Array()), `[[1,-2],[]]`},
		{col("double precision[]", ordering.KindArray), ordering.Array(ordering.Float(math.NaN()), ordering.Float(math.Inf(-1)), ordering.Float(1e21)), `["NaN","-Infinity",1e+21]`},
		{col("numeric[]", ordering.KindArray), ordering.Array(ordering.Decimal("1.50"), ordering.Decimal("NaN"), ordering.Decimal("007")), `[1.50,"NaN","007"]`},
		{col("bigint unsigned[]", ordering.KindArray), ordering.Array(ordering.Uint(math.MaxUint64), ordering.Bool(false)), `[18446744073709551615,false]`},
		{col("bytea[]", ordering.KindArray), ordering.Array(ordering.Bytes([]byte{0xab, 1})), `["\\xab01"]`},
		{col("date[]", ordering.KindArray), ordering.Array(ordering.Date(daysOf(-43, 3, 15)), ordering.Special(ordering.KindDate, "infinity")), `["-0043-03-15","infinity"]`},
		{col("timestamptz[]", ordering.KindArray), ordering.Array(ordering.TimestampTZ(0)), `["1970-01-01T00:00:00.000000+00:00"]`},
		{col("json[]", ordering.KindArray), ordering.Array(ordering.JSON(`{"a": [1]}`), ordering.Time(-1)), `[{"a": [1]},"-00:00:00.000001"]`},
	} {
		got, err := dia.Param(c.col, c.v)
		if err != nil {
			t.Errorf("Param(%s, %v): %v", c.col.Type, c.v, err)
			continue
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.want) {
			t.Errorf("Param(%s, %v) = %#v, want %#v", c.col.Type, c.v, got, c.want)
		}
	}
}

func TestParamUnsupported(t *testing.T) {
	col := func(typ string, k ordering.Kind) ordering.Column {
		return ordering.Column{Name: "c", Type: typ, Kind: k, Precision: -1, Scale: -1}
	}
	for _, c := range []struct {
		col ordering.Column
		v   ordering.Value
	}{
		{col("double precision", ordering.KindFloat), ordering.Float(math.NaN())},
		{col("double precision", ordering.KindFloat), ordering.Float(math.Inf(1))},
		{col("real", ordering.KindFloat), ordering.Float(math.Inf(-1))},
		{col("numeric", ordering.KindDecimal), ordering.Decimal("NaN")},
		{col("numeric", ordering.KindDecimal), ordering.Decimal("-Infinity")},
		{col("numeric", ordering.KindDecimal), ordering.Decimal("123456789012345678901234567890123456")}, // 36 integer digits
		{col("numeric", ordering.KindDecimal), ordering.Decimal("0.0000000000000000000000000000001")},    // 31 fraction digits
		{col("numeric(5,2)", ordering.KindDecimal), ordering.Decimal("1e5")},
		{col("date", ordering.KindDate), ordering.Date(daysOf(-43, 3, 15))},
		{col("date", ordering.KindDate), ordering.Date(daysOf(10000, 1, 1))},
		{col("date", ordering.KindDate), ordering.Special(ordering.KindDate, "infinity")},
		{col("timestamp without time zone", ordering.KindTimestamp), ordering.Special(ordering.KindTimestamp, "-infinity")},
		{col("timestamp with time zone", ordering.KindTimestampTZ), ordering.Special(ordering.KindTimestampTZ, "294270-01-01 00:00:00+00")},
		{col("time", ordering.KindTime), ordering.Time(839 * 3600 * sqltext.UsPerSec)},
		{col("datetime(3)", ordering.KindTimestamp), ordering.Timestamp(1)}, // 1 µs in DATETIME(3) would round
		{col("time", ordering.KindTime), ordering.Time(500_000)},            // TIME(0)
		{col("text[]", ordering.KindArray), ordering.Array(ordering.String("\xff"))},
	} {
		if _, err := dia.Param(c.col, c.v); !errors.Is(err, sqlsink.ErrUnsupported) {
			t.Errorf("Param(%s, %v) = %v, want ErrUnsupported", c.col.Type, c.v, err)
		}
	}
	if _, err := dia.Param(col("int", ordering.KindInt), ordering.Unchanged()); err == nil {
		t.Error("Param(unchanged) succeeded")
	}
}

func TestCivilRoundTrip(t *testing.T) {
	for d := int64(-800_000); d < 3_000_000; d += 41 {
		y, m, dd := sqltext.CivilFromDays(d)
		if daysOf(y, m, dd) != d {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d", d, y, m, dd)
		}
	}
}

func TestWidenType(t *testing.T) {
	for _, c := range []struct {
		have, want, got string // got "" when it cannot be widened
	}{
		{"decimal(10,2)", "DECIMAL(12,4)", "DECIMAL(12,4)"},
		{"decimal(12,2)", "DECIMAL(10,4)", "DECIMAL(14,4)"},
		{"decimal(60,2)", "DECIMAL(12,10)", ""}, // 68 digits
		{"int(11)", "DECIMAL(12,4)", "DECIMAL(14,4)"},
		{"int(11)", "BIGINT", "BIGINT"},
		{"int(10) unsigned", "INT", "BIGINT"},
		{"smallint(6)", "INT UNSIGNED", "BIGINT"},
		{"bigint(20) unsigned", "BIGINT", ""},
		{"varchar(10)", "VARCHAR(20)", "VARCHAR(20)"},
		{"char(10)", "CHAR(36)", "CHAR(36)"},
		{"varchar(10)", "CHAR(36)", "VARCHAR(36)"},
		{"varchar(10)", "LONGTEXT", "LONGTEXT"},
		{"tinytext", "VARCHAR(100)", "TEXT"},
		{"varchar(300)", "LONGTEXT", "LONGTEXT"},
		{"datetime", "DATETIME(6)", "DATETIME(6)"},
		{"time(3)", "TIME(6)", "TIME(6)"},
		{"float", "DOUBLE", "DOUBLE"},
		{"enum('a','b')", "ENUM('a','b','c')", "ENUM('a','b','c')"},
		{"enum('a','b')", "ENUM('c','a')", "ENUM('a','b','c')"},
		{"date", "DATETIME(6)", ""},
		{"int(11)", "LONGTEXT", ""},
		{"double", "DECIMAL(10,2)", ""},
		{"decimal(10,2)", "DOUBLE", ""},
	} {
		got, ok := dia.WidenType(c.have, c.want)
		if ok != (c.got != "") || got != c.got {
			t.Errorf("WidenType(%q, %q) = %q, %v; want %q", c.have, c.want, got, ok, c.got)
		}
		if ok && !dia.TypeCompatible(got, c.want) {
			t.Errorf("WidenType(%q, %q) = %q does not take %s", c.have, c.want, got, c.want)
		}
	}
}

func TestColumnDefinition(t *testing.T) {
	create := "CREATE TABLE `t` (\n  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,\n" +
		"  `amount` decimal(10,2) DEFAULT NULL COMMENT 'a, b',\n  `e` enum('x y','z') NOT NULL DEFAULT 'z',\n" +
		"  `name` varchar(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL,\n  `last` datetime\n" +
		") ENGINE=InnoDB"
	for _, c := range []struct{ col, typ, want string }{
		{"`id`", "BIGINT", "`id` BIGINT NOT NULL AUTO_INCREMENT"},
		{"`amount`", "DECIMAL(12,4)", "`amount` DECIMAL(12,4) DEFAULT NULL COMMENT 'a, b'"},
		{"`e`", "ENUM('x y','z','w')", "`e` ENUM('x y','z','w') NOT NULL DEFAULT 'z'"},
		{"`name`", "VARCHAR(20)", "`name` VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL"},
		{"`last`", "DATETIME(6)", "`last` DATETIME(6)"},
	} {
		got, ok := columnDefinition(create, c.col, c.typ)
		if !ok || got != c.want {
			t.Errorf("columnDefinition(%s) = %q, %v; want %q", c.col, got, ok, c.want)
		}
	}
	if _, ok := columnDefinition(create, "`nope`", "INT"); ok {
		t.Error("columnDefinition found a column that is not there")
	}
}
