package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/verify"
)

// The mutation test of `walship verify` (issue 29): a table with a column
// of every type in the README's type tables is replicated by the daemon
// from each source into the three follower engines; verify says equal.
// Then each follower is changed in one way at a time, and verify must
// report exactly that change and exit 1:
//   - every column: a changed value (another row's) and a NULL for it;
//   - a missing row, an extra row, a pair of values swapped between rows;
//   - issue 29's cases: a table without a primary key (1), a MariaDB
//     system-versioned table (2), FLOAT/real to the last bit (3), a
//     follower row with a NULL key in a many-chunk table (4), PostgreSQL
//     databases with extra_float_digits = 0 (5), lost char(n) padding
//     (6), and the loose cross-engine forms (7): a date with a suffix, a
//     zone on a timestamp without one, a json that lost a duplicate key,
//     1e-50 for 0, ' 5' for 5, TEXT for BLOB in SQLite, '1 mon' for a
//     720-hour TIME.
//
// Cases 8 and 9 (replay's bounds and a log whose beginning is gone) are
// replay's and are tested with it (replay_test.go). A new type or engine
// adds its column here.

// mutTables is each source's tables: a typed table mut (rows 1 and 2
// differ in every column, row 3 is NULL but for its key), a keyless table
// and a ten-row table nk (for NULL keys, compared in chunks of 4).
var mutTables = map[string][]string{
	"postgres": {
		`CREATE TYPE mood AS ENUM ('happy', 'sad')`,
		`CREATE DOMAIN pos AS numeric(8,2) CHECK (VALUE > 0)`,
		`CREATE TABLE mut (id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n numeric(30,10), nu numeric, f4 real,
			f8 double precision, b boolean, vc varchar(10), ch char(5), t text, by bytea, d date, tm time, ts timestamp,
			tstz timestamptz, iv interval, u uuid, j json, jb jsonb, arr text[], iarr int[], e mood, dom pos, ip inet)`,
		`INSERT INTO mut VALUES
			(1, -32768, 2147483647, -9223372036854775808, 12.5, -12.3400, 1.0000001, 0.1, true, 'héllo 🎉', 'ab', 'NULL',
			 '\xdeadbeef', '2024-02-29', '23:59:59.999999', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02',
			 '1 mon 2 days 03:04:05', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1, "a": [1, 2], "b": 2}',
			 '{"b": 1, "a": "x"}', ARRAY['a b', NULL, 'NULL'], ARRAY[[1,2],[3,NULL]], 'happy', 1.50, '10.0.0.1'),
			(2, 7, 0, 0, 0, 0, 1234567, 1.5e300, false, '', 'xyz', 'a b', '\x00', '1999-12-31', '00:00:01',
			 '1999-12-31 23:59:59', '1970-01-01 00:00:00+00', 'PT1H', '00000000-0000-0000-0000-000000000000', '[]',
			 '{"z": null}', '{x}', '{7}', 'sad', 99.99, '::1'),
			(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			 NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`CREATE TABLE nokey (v text, n int)`,
		`INSERT INTO nokey VALUES ('a', 1), ('a', 1), ('b', NULL)`,
		`CREATE TABLE nk (id int PRIMARY KEY, v text)`,
		`INSERT INTO nk SELECT g, 'v' || g FROM generate_series(1, 10) g`,
	},
	"mariadb": {
		`CREATE TABLE mut (id int PRIMARY KEY, ti tinyint, si smallint, mi mediumint, i int, bi bigint, ubi bigint unsigned,
			yr year, dc decimal(20,6), f float, db double, ch char(5), vc varchar(10), tx text, en enum('a','b'), st set('x','y'),
			bn binary(4), vb varbinary(8), bl blob, d date, tm time(6), dt datetime(6), tsp timestamp(6) NULL, j json, bt bit(8))`,
		`INSERT INTO mut VALUES
			(1, -128, -32768, 8388607, -2147483648, -9223372036854775808, 9223372036854775807, 2024, -12.340000, 1.0000001,
			 0.1, 'ab', 'héllo 🎉', 'NULL', 'a', 'x,y', x'01020304', x'deadbeef', x'00ff', '2024-02-29', '720:00:00',
			 '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5', '{"b": 1, "a": [1, 2], "b": 2}', b'10100101'),
			(2, 0, 7, 0, 0, 0, 0, 1999, 0, 1234567, 1.5e300, 'xyz', '', 'a b', 'b', '', x'00000000', x'', x'', '1999-12-31',
			 '-01:02:03.500000', '1999-12-31 23:59:59', '1970-01-01 00:00:01', '[]', b'00000000'),
			(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			 NULL, NULL, NULL, NULL, NULL, NULL)`,
		`CREATE TABLE nokey (v text, n int)`,
		`INSERT INTO nokey VALUES ('a', 1), ('a', 1), ('b', NULL)`,
		`CREATE TABLE nk (id int PRIMARY KEY, v text)`,
		`INSERT INTO nk SELECT seq, CONCAT('v', seq) FROM seq_1_to_10`,
		`CREATE TABLE sv (id int PRIMARY KEY, v int) WITH SYSTEM VERSIONING`,
		`INSERT INTO sv VALUES (1, 1), (2, 2)`,
	},
}

// mutation is one change to a follower and what verify must report.
type mutation struct {
	name    string
	table   string   // the table it changes (verify --tables); default mut
	engines string   // the follower engines it applies to ("" all): "postgres mysql sqlite"
	stmts   []string // on the follower
	want    []string // each a line fragment of verify's output
}

func (m mutation) on(engine string) bool {
	return m.engines == "" || strings.Contains(" "+m.engines+" ", " "+engine+" ")
}

// columnMutations are, for every column of mut but the key, a changed
// value (row 2's) and a NULL.
func columnMutations(t *testing.T, src *sql.DB, srcEngine string) []mutation {
	q := `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'mut'
		ORDER BY ordinal_position`
	if srcEngine == "mariadb" {
		q = `SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'mut'
			ORDER BY ordinal_position`
	}
	var ms []mutation
	for _, r := range mustRows(t, src, q) {
		c := strings.TrimPrefix(r, "true:")
		if c == "id" {
			continue
		}
		qc := "[[" + c + "]]"
		ms = append(ms,
			mutation{name: "changed " + c, stmts: []string{fmt.Sprintf("UPDATE mut SET %[1]s = (SELECT %[1]s FROM mut_orig WHERE id = 2) WHERE id = 1", qc)},
				want: []string{"different id=1: " + c}},
			mutation{name: "null " + c, stmts: []string{fmt.Sprintf("UPDATE mut SET %s = NULL WHERE id = 2", qc)},
				want: []string{"different id=2: " + c}},
		)
	}
	return ms
}

// commonMutations apply to every pair.
var commonMutations = []mutation{
	{name: "missing row", stmts: []string{"DELETE FROM mut WHERE id = 2"}, want: []string{"missing   id=2"}},
	{name: "extra row", stmts: []string{"INSERT INTO mut (id) VALUES (99)"}, want: []string{"extra     id=99"}},
	{name: "swapped pair", stmts: []string{
		`UPDATE mut SET vc = (SELECT vc FROM mut_orig WHERE id = 2) WHERE id = 1`,
		`UPDATE mut SET vc = (SELECT vc FROM mut_orig WHERE id = 1) WHERE id = 2`},
		want: []string{"different id=1: vc", "different id=2: vc"}},
	{name: "case 1: keyless row missing", table: "nokey", stmts: []string{"DELETE FROM nokey WHERE n IS NULL"},
		want: []string{"nokey", "missing   row "}},
	{name: "case 1: keyless duplicate lost", table: "nokey", stmts: []string{"DELETE FROM nokey", "INSERT INTO nokey VALUES ('a', 1), ('b', NULL)"},
		want: []string{"missing   row "}},
	{name: "case 1: keyless extra row", table: "nokey", stmts: []string{"INSERT INTO nokey VALUES ('c', 3)"}, want: []string{"extra     row "}},
	{name: "case 4: NULL key on a follower without the key", table: "nk", engines: "postgres sqlite", stmts: []string{
		"CREATE TABLE nk_keep AS SELECT * FROM nk", "DROP TABLE nk", "CREATE TABLE nk AS SELECT * FROM nk_keep",
		"INSERT INTO nk VALUES (NULL, 'ghost')"}, want: []string{"extra     id=NULL"}},
	{name: "case 4: NULL key on a follower without the key", table: "nk", engines: "mysql", stmts: []string{
		"ALTER TABLE nk DROP PRIMARY KEY", "ALTER TABLE nk MODIFY id int NULL",
		"INSERT INTO nk VALUES (NULL, 'ghost')"}, want: []string{"extra     id=NULL"}},
}

// sourceMutations are each source's type-specific cases.
var sourceMutations = map[string][]mutation{
	"postgres": {
		{name: "case 3: real 1.0000001 → 1", stmts: []string{"UPDATE mut SET f4 = 1.0 WHERE id = 1"}, want: []string{"different id=1: f4"}},
		{name: "case 3: real 1234567 → 1234568", stmts: []string{"UPDATE mut SET f4 = 1234568 WHERE id = 2"}, want: []string{"different id=2: f4"}},
		{name: "case 5: double 0.1 → 0.1000000000000001", stmts: []string{"UPDATE mut SET f8 = 0.1000000000000001 WHERE id = 1"},
			want: []string{"different id=1: f8"}},
		{name: "case 6: char(5) padding lost", engines: "mysql sqlite", stmts: []string{"UPDATE mut SET ch = 'ab' WHERE id = 1"},
			want: []string{"different id=1: ch"}},
		{name: "case 7: json lost a duplicate key", stmts: []string{`UPDATE mut SET j = '{"a": [1, 2], "b": 2}' WHERE id = 1`},
			want: []string{"different id=1: j"}},
		{name: "case 7: jsonb value changed", engines: "mysql sqlite", stmts: []string{`UPDATE mut SET jb = '{"a": "x", "b": 2}' WHERE id = 1`},
			want: []string{"different id=1: jb"}},
		{name: "case 7: date with a suffix", engines: "sqlite", stmts: []string{"UPDATE mut SET d = d || 'T00:00:00' WHERE id = 1"},
			want: []string{"different id=1: d"}},
		{name: "case 7: zone on a timestamp without one", engines: "sqlite", stmts: []string{"UPDATE mut SET ts = ts || '+02:00' WHERE id = 1"},
			want: []string{"different id=1: ts"}},
		{name: "case 7: 1e-50 for 0", engines: "sqlite", stmts: []string{"UPDATE mut SET nu = '1e-50' WHERE id = 2"},
			want: []string{"different id=2: nu"}},
		{name: "case 7: ' 5' for a number", engines: "sqlite", stmts: []string{"UPDATE mut SET n = ' ' || n WHERE id = 1"},
			want: []string{"different id=1: n"}},
		{name: "case 7: TEXT for BLOB", engines: "sqlite", stmts: []string{"UPDATE mut SET by = CAST(by AS TEXT) WHERE id = 1"},
			want: []string{"different id=1: by"}},
		{name: "case 7: timestamptz an hour off", stmts: []string{"UPDATE mut SET tstz = (SELECT tstz FROM mut_orig WHERE id = 2) WHERE id = 1"},
			want: []string{"different id=1: tstz"}},
	},
	"mariadb": {
		{name: "case 2: system-versioned table changed", table: "sv", stmts: []string{"UPDATE sv SET v = 5 WHERE id = 2"}, want: []string{"different id=2: v"}},
		{name: "case 3: float 1.0000001 → 1", stmts: []string{"UPDATE mut SET f = 1.0 WHERE id = 1"}, want: []string{"different id=1: f"}},
		{name: "case 3: float 1234567 → 1234568", stmts: []string{"UPDATE mut SET f = 1234568 WHERE id = 2"}, want: []string{"different id=2: f"}},
		{name: "case 3: double 0.1 → 0.1000000000000001", stmts: []string{"UPDATE mut SET db = 0.1000000000000001 WHERE id = 1"},
			want: []string{"different id=1: db"}},
		{name: "case 7: json lost a duplicate key", stmts: []string{`UPDATE mut SET j = '{"a": [1, 2], "b": 2}' WHERE id = 1`},
			want: []string{"different id=1: j"}},
		{name: "case 7: 1 mon for 720:00:00", engines: "postgres", stmts: []string{"UPDATE mut SET tm = '1 mon' WHERE id = 1"},
			want: []string{"different id=1: tm"}},
		{name: "case 7: TEXT for BLOB", engines: "sqlite", stmts: []string{"UPDATE mut SET vb = CAST(vb AS TEXT) WHERE id = 1"},
			want: []string{"different id=1: vb"}},
		{name: "case 7: ' 5' for a number", engines: "sqlite", stmts: []string{"UPDATE mut SET dc = ' ' || dc WHERE id = 1"},
			want: []string{"different id=1: dc"}},
	},
}

func TestVerifyMutations(t *testing.T) {
	testenv.Integration(t)
	kinds := map[verify.Kind]bool{}
	for _, src := range []string{"postgres", "mariadb"} {
		t.Run(src, func(t *testing.T) { verifyMutations(t, src, kinds) })
	}
	// Every comparison class verify knows has a column here: a new kind
	// cannot land without its mutations.
	for _, k := range verify.Kinds() {
		if !kinds[k] && !t.Failed() {
			t.Errorf("no column of verify kind %s in mutTables: add one", k)
		}
	}
}

// mutKinds adds the verify kinds of mut's columns to kinds.
func mutKinds(t *testing.T, src *sql.DB, srcEngine string, kinds map[verify.Kind]bool) {
	if srcEngine == "mariadb" {
		for _, r := range mustRows(t, src, `SELECT data_type FROM information_schema.columns WHERE table_schema = DATABASE()
			AND table_name = 'mut'`) {
			kinds[verify.MySQLKind(strings.TrimPrefix(r, "true:"))] = true
		}
		return
	}
	for _, r := range mustRows(t, src, `SELECT bt.typname::text, bt.typcategory = 'A', bt.typtype::text
		FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
		JOIN pg_type bt ON bt.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
		WHERE a.attrelid = 'mut'::regclass AND a.attnum > 0 AND NOT a.attisdropped`) {
		f := strings.Split(r, "|")
		kinds[verify.PostgresKind(strings.TrimPrefix(f[0], "true:"), f[1] == "true:true", strings.TrimPrefix(f[2], "true:"))] = true
	}
}

func verifyMutations(t *testing.T, srcEngine string, kinds map[verify.Kind]bool) {
	testenv.Integration(t)
	e := newE2EFrom(t, srcEngine, 2)
	withHTTP(t, e)
	for _, q := range mutTables[srcEngine] {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("source: %s: %v", q, err)
		}
	}
	e.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon warnings and errors:\n%s", e.logProblems())
		}
	})
	e.waitRows("mut", 3, 90*time.Second)
	e.waitRows("nk", 10, 30*time.Second)
	e.waitRows("nokey", 3, 30*time.Second)
	if srcEngine == "mariadb" {
		// History rows stay at the source, invisible to SELECT; the
		// followers must equal its current rows.
		if _, err := e.src.Exec("UPDATE sv SET v = v + 10 WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
	}
	mutKinds(t, e.src, srcEngine, kinds)
	nTables := len(mustRows(t, e.src, srcTablesQuery(srcEngine)))
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--show-values")
		if code != 0 || !strings.Contains(out, fmt.Sprintf("sink %s: equal: %d tables", sink, nTables)) {
			t.Fatalf("verify %s before any change: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
	}
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("daemon: %v\n%s", err, e.logTail())
	}
	if srcEngine == "postgres" {
		// Case 5: verify pins extra_float_digits; databases that print
		// floats short must not hide a difference.
		for _, dsn := range []string{e.srcDSN, e.pgDSN} {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec("ALTER DATABASE " + e.name + " SET extra_float_digits = 0"); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
	}
	ms := append(columnMutations(t, e.src, srcEngine), commonMutations...)
	ms = append(ms, sourceMutations[srcEngine]...)
	sinkOf := map[string]string{"postgres": "pgf", "mysql": "myf", "sqlite": "lite"}
	// The followers are independent databases: their mutations run side by
	// side.
	t.Run("followers", func(t *testing.T) {
		for _, engine := range []string{"postgres", "mysql", "sqlite"} {
			t.Run(engine, func(t *testing.T) {
				t.Parallel()
				mutateFollower(t, e, srcEngine, engine, sinkOf[engine], ms)
			})
		}
	})
}

// mutateFollower applies each mutation to one follower, checks that
// verify reports it, and restores the follower's tables.
func mutateFollower(t *testing.T, e *e2e, srcEngine, engine, sink string, ms []mutation) {
	db := e.followers[engine]
	snapshot := map[string]string{
		"postgres": "CREATE TABLE %[1]s_orig (LIKE %[1]s); INSERT INTO %[1]s_orig SELECT * FROM %[1]s",
		"mysql":    "CREATE TABLE %[1]s_orig LIKE %[1]s; INSERT INTO %[1]s_orig SELECT * FROM %[1]s",
		"sqlite":   "CREATE TABLE %[1]s_orig AS SELECT * FROM %[1]s",
	}[engine]
	tables := []string{"mut", "nokey"}
	if srcEngine == "mariadb" {
		tables = append(tables, "sv")
	}
	for _, tbl := range tables {
		for _, q := range strings.Split(fmt.Sprintf(snapshot, tbl), "; ") {
			mustExec(t, db, engine, q)
		}
	}
	restore := func() {
		for _, tbl := range tables {
			mustExec(t, db, engine, "DELETE FROM "+tbl)
			mustExec(t, db, engine, "INSERT INTO "+tbl+" SELECT * FROM "+tbl+"_orig")
		}
	}
	var last []mutation // NULL-key case last: it replaces nk
	for _, m := range ms {
		if !m.on(engine) {
			continue
		}
		if strings.HasPrefix(m.name, "case 4") {
			last = append(last, m)
			continue
		}
		checkMutation(t, e, db, engine, sink, m, nil)
		restore()
	}
	for _, m := range last {
		checkMutation(t, e, db, engine, sink, m, []string{"--chunk-rows", "4"})
	}
	// Restored, the follower verifies equal again (nk stays mutated).
	var only []string
	for _, tbl := range tables {
		only = append(only, "*."+tbl)
	}
	if out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--no-wait", "--tables", strings.Join(only, ",")); code != 0 {
		t.Errorf("%s follower after the mutations: exit %d:\n%s", engine, code, out)
	}
}

// checkMutation applies m to the follower and asserts verify reports it.
func checkMutation(t *testing.T, e *e2e, db *sql.DB, engine, sink string, m mutation, extra []string) {
	t.Helper()
	for _, q := range m.stmts {
		// [[name]] is an identifier, quoted for the engine.
		open, close := `"`, `"`
		if engine == "mysql" {
			open, close = "`", "`"
		}
		q = strings.ReplaceAll(strings.ReplaceAll(q, "[[", open), "]]", close)
		mustExec(t, db, engine, q)
	}
	table := m.table
	if table == "" {
		table = "mut"
	}
	args := append([]string{"-c", e.cfgPath, "--sink", sink, "--no-wait", "--tables", "*." + table}, extra...)
	out, code := runVerify(t, args...)
	ok := code == exitFailure && strings.Contains(out, "DIFFERENT")
	for _, w := range m.want {
		ok = ok && strings.Contains(out, w)
	}
	if !ok {
		t.Errorf("%s follower, %s: verify exit %d, want 1 reporting %q:\n%s", engine, m.name, code, m.want, out)
	}
}

// logProblems is the daemon log's WARN and ERROR lines (the last 40).
func (e *e2e) logProblems() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "walship.log"))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	if len(out) > 40 {
		out = out[len(out)-40:]
	}
	return strings.Join(out, "\n")
}

func mustExec(t *testing.T, db *sql.DB, engine, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s follower: %s: %v", engine, q, err)
	}
}

func mustRows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	out, err := rows(db, q)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func srcTablesQuery(engine string) string {
	if engine == "mariadb" {
		return "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
	}
	return "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
}
