package postgres

import "testing"

func TestByExpression(t *testing.T) {
	for stmt, want := range map[string]bool{
		`ALTER TABLE t ALTER COLUMN n TYPE bigint`:                                  false,
		`alter table t alter n type int using n * 100`:                              true,
		`ALTER TABLE t ALTER n TYPE text; ALTER TABLE u ALTER m TYPE int USING m`:   true,
		`ALTER TABLE "using" ALTER "USING" TYPE bigint -- using`:                    false,
		`ALTER TABLE t ADD c text DEFAULT 'using', ALTER n TYPE bigint /* using */`: false,
		`ALTER TABLE t ADD c text DEFAULT E'it\'s using'`:                           false,
		`ALTER TABLE t ADD c text DEFAULT $q$ using $q$`:                            false,
		`/* a /* nested */ using */ ALTER TABLE t ALTER n TYPE bigint`:              false,
		`ALTER TABLE t ADD c text DEFAULT 'unterminated`:                            true,
		`DO $$ BEGIN EXECUTE 'ALTER TABLE t ALTER n TYPE bigint'; END $$`:           true, // dynamic: cannot tell
		`SELECT migrate()`: true,
		`ALTER TABLE t ALTER n TYPE int USING (n::text || $1)::int`:            true,
		`ALTER TABLE t ALTER n TYPE bigint;`:                                   false,
		`CREATE INDEX i ON t USING gin (a); ALTER TABLE t ALTER n TYPE bigint`: true, // conservative
	} {
		if got := byExpression(stmt); got != want {
			t.Errorf("byExpression(%q) = %v, want %v (tokens %q)", stmt, got, want, sqlTokens(stmt))
		}
	}
}
