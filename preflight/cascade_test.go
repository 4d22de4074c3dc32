package preflight

import (
	"strings"
	"testing"

	"github.com/walship/walship/internal/testenv"
)

// TestMariaDBCascadeParentNotCaptured: a captured table that InnoDB changes
// through the ON DELETE CASCADE of a parent table not captured is a config
// problem naming both; capturing the parent too, or a RESTRICT key, is
// fine.
func TestMariaDBCascadeParentNotCaptured(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	db := "walship_pf_casc_" + suffix(t)
	myDatabase(t, dsn, db)
	for _, q := range []string{
		`CREATE TABLE ` + db + `.p (id bigint PRIMARY KEY)`,
		`CREATE TABLE ` + db + `.c (id bigint PRIMARY KEY, pid bigint, FOREIGN KEY (pid) REFERENCES ` + db + `.p(id) ON DELETE CASCADE)`,
		`CREATE TABLE ` + db + `.q (id bigint PRIMARY KEY)`,
		`CREATE TABLE ` + db + `.r (id bigint PRIMARY KEY, qid bigint, FOREIGN KEY (qid) REFERENCES ` + db + `.q(id))`,
	} {
		myExec(t, dsn, q)
	}
	for _, c := range []struct {
		tables []string
		bad    bool
	}{
		{[]string{db + ".c", db + ".r"}, true},
		{[]string{db + ".*"}, false},
		{[]string{db + ".r"}, false},
	} {
		cfg := mySourceConfig(t, dsn, "", "", "mariadb")
		cfg.Sources[0].MySQL.Tables = c.tables
		res := only(t, runCheck(t, cfg))
		if c.bad {
			wantProblem(t, res, Config, db+".c is captured but "+db+".p is not", "add "+db+".p to")
			continue
		}
		for _, p := range res.Problems {
			if strings.Contains(p.Msg, "is captured but") {
				t.Errorf("tables %v: %s", c.tables, p.Msg)
			}
		}
	}
}
