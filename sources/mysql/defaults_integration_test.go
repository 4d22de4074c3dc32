package mysql

import (
	"context"
	"strings"
	"testing"

	"github.com/walship/walship/ordering"
)

// TestDefaultsFromCatalog: the default carried for a column of each type
// equals what the source's rows read in it (a row inserted with every
// default, decoded as the snapshot decodes rows); expressions and
// AUTO_INCREMENT are carried as expressions, implicit defaults as values.
func TestDefaultsFromCatalog(t *testing.T) {
	h := newHarness(t, `CREATE TABLE d (id int PRIMARY KEY AUTO_INCREMENT,
		i int DEFAULT -3, u bigint unsigned DEFAULT 18446744073709551615, dec8 decimal(8,3) DEFAULT 1.5,
		vc varchar(10) DEFAULT 'it''s \\ x', ch char(3) DEFAULT 'ab', e enum('a','b') DEFAULT 'b', s set('a','b','c') DEFAULT 'a,c',
		dt date DEFAULT '2024-02-29', dtm datetime(3) DEFAULT '2024-01-01 10:00:00.125', tm time DEFAULT '-01:02:03',
		ts timestamp(6) NULL DEFAULT '2020-01-01 00:00:00.5', b bit(3) DEFAULT b'101', f float DEFAULT 1.5, dbl double DEFAULT 0.1,
		yr year DEFAULT 2024, bin binary(2) DEFAULT 'ab', txt text DEFAULT 'long', uu uuid DEFAULT '0e4b5b5c-1111-4222-8333-444455556666',
		nn int NOT NULL, nv varchar(5) NOT NULL, ne enum('p','q') NOT NULL, nd date NOT NULL,
		now datetime DEFAULT current_timestamp(), rnd varchar(36) DEFAULT uuid(), nul int DEFAULT NULL)`)
	// One session (multiStatements): NOT NULL columns without a default
	// take their implicit one outside strict mode.
	h.Exec("SET SESSION sql_mode = ''; INSERT INTO d () VALUES ()")
	ctx := context.Background()
	defs, err := loadDefaults(ctx, h.db, h.Name, "d", true)
	if err != nil {
		t.Fatal(err)
	}
	st := h.sourceState("d")["d"]
	var row []ordering.Value
	for _, r := range st {
		row = r
	}
	tbl, err := snapshotTableOf(ctx, h.db, h.Name, "d")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range tbl.table.Columns {
		d := defs[c.Name]
		switch c.Name {
		case "id":
			if d == nil || d.Expr != "AUTO_INCREMENT" {
				t.Errorf("id: %+v, want AUTO_INCREMENT", d)
			}
		case "now", "rnd":
			if d == nil || d.Expr == "" || d.Constant() {
				t.Errorf("%s: %+v, want its expression", c.Name, d)
			}
		case "nul":
			if d != nil {
				t.Errorf("nul: %+v, want none", d)
			}
		default:
			if d == nil || !d.Constant() || !d.Value.Equal(row[i]) {
				t.Errorf("%s (%s): default %+v, the row reads %v", c.Name, c.Type, d, row[i])
			}
		}
	}
	if d := defs["rnd"]; d != nil && !strings.Contains(d.Expr, "uuid") {
		t.Errorf("rnd: expression %q", d.Expr)
	}
}
