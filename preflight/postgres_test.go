package preflight

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/testenv"
)

// Integration tests against the local PostgreSQL servers (make env-up).
// They authenticate with trust, so a wrong password cannot be tested here;
// a role that may not log in stands in for rejected credentials.

// pgExec runs statements on the server at dsn as its superuser.
func pgExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", config.RedactDSN(dsn), err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// pgRole creates a role on the server at dsn for the test and drops it
// when the test ends.
func pgRole(t *testing.T, dsn, name, options string) {
	t.Helper()
	pgExec(t, dsn, "CREATE ROLE "+name+" "+options)
	t.Cleanup(func() { pgExec(t, dsn, "DROP ROLE IF EXISTS "+name) })
}

// withUser returns the libpq URL dsn with another user (and password, if
// not empty) and, if db is not empty, another database.
func withUser(t *testing.T, dsn, user, password, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	if password != "" {
		u.User = url.UserPassword(user, password)
	}
	if db != "" {
		u.Path = "/" + db
	}
	return u.String()
}

func pgSourceConfig(dsn, password, slot string) *config.Config {
	return &config.Config{Sources: []config.Source{{Name: "pg-main", Postgres: &config.PostgresSource{
		DSN: config.Secret(dsn), Password: config.Secret(password), Slot: slot, Tables: []string{"public.*"},
	}}}}
}

func pgSinkConfig(dsn, password string) *config.Config {
	return &config.Config{Sinks: []config.Sink{{Name: "pg-replica", From: []string{"pg-main"}, Postgres: &config.PostgresSink{
		DSN: config.Secret(dsn), Password: config.Secret(password),
	}}}}
}

func TestPGSourceGood(t *testing.T) {
	dsn := testenv.PGSource(t)
	res := only(t, runCheck(t, pgSourceConfig(dsn, "", "walship_pf_"+suffix(t))))
	wantNoProblems(t, res)
	for _, f := range []string{"PostgreSQL ", "wal_level=logical", "max_replication_slots=", "max_wal_senders=", "is superuser", "will be created", "replication connection ok"} {
		wantFact(t, res, f)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Target != "source pg-main" || res.Engine != "postgres" || res.Addr != u.Host {
		t.Errorf("header: %q %q %q", res.Target, res.Engine, res.Addr)
	}
}

func TestPGSourceAtFollowerWalLevel(t *testing.T) {
	dsn := testenv.PGFollower(t)
	res := only(t, runCheck(t, pgSourceConfig(dsn, "", "walship_pf_"+suffix(t))))
	wantProblem(t, res, Setting, "wal_level is replica, need logical", "set wal_level = logical", "restart")
}

func TestPGSourceRoleWithoutReplication(t *testing.T) {
	dsn := testenv.PGSource(t)
	s := suffix(t)
	role, pw := "walship_pf_norepl_"+s, "Norepl-secret-"+s
	pgRole(t, dsn, role, "LOGIN NOREPLICATION PASSWORD '"+pw+"'")
	res := only(t, runCheck(t, pgSourceConfig(withUser(t, dsn, role, "", ""), pw, "walship_pf_"+s), pw))
	wantProblem(t, res, Privilege, role, "neither REPLICATION nor SUPERUSER", `ALTER ROLE "`+role+`" WITH REPLICATION`)
	wantFact(t, res, "wal_level=logical")
}

func TestPGSourceReplicationRole(t *testing.T) {
	dsn := testenv.PGSource(t)
	s := suffix(t)
	role := "walship_pf_repl_" + s
	pgRole(t, dsn, role, "LOGIN REPLICATION")
	res := only(t, runCheck(t, pgSourceConfig(withUser(t, dsn, role, "", ""), "", "walship_pf_"+s)))
	wantNoProblems(t, res)
	wantFact(t, res, "has REPLICATION")
	wantFact(t, res, "replication connection ok")
	// Not a superuser: the rewrite trigger is named, with what to run,
	// unless a superuser installed it in this database already.
	noted := false
	for _, n := range res.Notes {
		noted = noted || strings.Contains(n, "CREATE EVENT TRIGGER walship_rewrites ON table_rewrite")
	}
	if !noted {
		wantFact(t, res, "event trigger walship_rewrites records table rewrites")
	}
}

// The password is in the DSN here, not in the password key.
func TestPGLoginRefused(t *testing.T) {
	dsn := testenv.PGSource(t)
	s := suffix(t)
	role, pw := "walship_pf_nologin_"+s, "Nologin-secret-"+s
	pgRole(t, dsn, role, "NOLOGIN PASSWORD '"+pw+"'")
	res := only(t, runCheck(t, pgSourceConfig(withUser(t, dsn, role, pw, ""), "", "walship_pf_"+s), pw))
	wantProblem(t, res, AuthFailed, role, "not permitted to log in", "sources[0].postgres")
}

func TestPGMissingDatabase(t *testing.T) {
	dsn := testenv.PGSource(t)
	db := "walship_pf_nodb_" + suffix(t)
	res := only(t, runCheck(t, pgSourceConfig(withUser(t, dsn, "postgres", "", db), "", "walship_pf_x")))
	wantProblem(t, res, NotFound, `database "`+db+`" does not exist`, `CREATE DATABASE "`+db+`"`)
}

func TestPGSourceSlotNotPgoutput(t *testing.T) {
	dsn := testenv.PGSource(t)
	slot := "walship_pf_phys_" + suffix(t)
	pgExec(t, dsn, "SELECT pg_create_physical_replication_slot('"+slot+"')")
	t.Cleanup(func() { pgExec(t, dsn, "SELECT pg_drop_replication_slot('"+slot+"')") })
	res := only(t, runCheck(t, pgSourceConfig(dsn, "", slot)))
	wantProblem(t, res, Config, "slot "+slot+" exists but is not a logical pgoutput slot", "sources[0].postgres.slot")
}

func TestPGSinkGood(t *testing.T) {
	res := only(t, runCheck(t, pgSinkConfig(testenv.PGFollower(t), "")))
	wantNoProblems(t, res)
	wantFact(t, res, "may create schemas in database postgres")
	wantFact(t, res, "may create tables in schema public")
}

func TestPGSinkWithoutCreate(t *testing.T) {
	dsn := testenv.PGFollower(t)
	s := suffix(t)
	role, pw := "walship_pf_nocreate_"+s, "Nocreate-secret-"+s
	pgRole(t, dsn, role, "LOGIN PASSWORD '"+pw+"'")
	res := only(t, runCheck(t, pgSinkConfig(withUser(t, dsn, role, "", ""), pw), pw))
	wantProblem(t, res, Privilege, "cannot create schemas", `GRANT CREATE ON DATABASE "postgres" TO "`+role+`"`)
	wantProblem(t, res, Privilege, "cannot create tables in schema public", `GRANT CREATE ON SCHEMA public TO "`+role+`"`)
}

// TestPGSourceReplicaIdentityNote: captured tables with foreign or unique
// keys whose updates carry no old row are named in a note (not a
// problem); REPLICA IDENTITY FULL removes them from it. Unlogged tables
// the patterns match are noted as not captured.
func TestPGSourceReplicaIdentityNote(t *testing.T) {
	root := testenv.PGSource(t)
	db := "walship_pf_ri_" + suffix(t)
	pgExec(t, root, "CREATE DATABASE "+db)
	t.Cleanup(func() { pgExec(t, root, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	dsn := withUser(t, root, "postgres", "", db)
	pgExec(t, dsn,
		"CREATE TABLE parent (id int PRIMARY KEY, email text UNIQUE)",
		"CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent(id))",
		"CREATE TABLE plain (id int PRIMARY KEY, v text)",
		"CREATE TABLE full_child (id int PRIMARY KEY, parent_id int REFERENCES parent(id))",
		"ALTER TABLE full_child REPLICA IDENTITY FULL",
		"CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)")
	res := only(t, runCheck(t, pgSourceConfig(dsn, "", "walship_pf_"+suffix(t))))
	wantNoProblems(t, res)
	res.Notes = slices.DeleteFunc(res.Notes, func(n string) bool { return strings.HasPrefix(n, "failover: ") })
	if len(res.Notes) != 2 || !strings.Contains(res.Notes[0], "2 captured tables") ||
		!strings.Contains(res.Notes[0], "public.child, public.parent") || !strings.Contains(res.Notes[0], "REPLICA IDENTITY FULL") ||
		!strings.Contains(res.Notes[1], "UNLOGGED") || !strings.Contains(res.Notes[1], ": public.scratch") {
		t.Errorf("notes: %q", res.Notes)
	}
}

// TestPGSourcePartitioned: a partitioned table is reported as captured by
// its root; an existing publication that would stream it as its
// partitions, or that lacks a captured table, and a partition without the
// root's REPLICA IDENTITY FULL are each a problem naming the fix.
func TestPGSourcePartitioned(t *testing.T) {
	dsn := testenv.PGSource(t)
	s := suffix(t)
	schema, pub := "walship_pf_part_"+s, "walship_pf_pub_"+s
	pgExec(t, dsn, "CREATE SCHEMA "+schema,
		"CREATE TABLE "+schema+".pt (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region)",
		"CREATE TABLE "+schema+".pt_eu PARTITION OF "+schema+".pt FOR VALUES IN ('eu')",
		"CREATE TABLE "+schema+".pt_us PARTITION OF "+schema+".pt FOR VALUES IN ('us')",
		"CREATE TABLE "+schema+".plain (id int PRIMARY KEY)",
		"CREATE UNLOGGED TABLE "+schema+".scratch (id int PRIMARY KEY)") // never captured: not missing from the publication
	t.Cleanup(func() { pgExec(t, dsn, "DROP PUBLICATION IF EXISTS "+pub, "DROP SCHEMA "+schema+" CASCADE") })
	check := func() Result {
		cfg := pgSourceConfig(dsn, "", "walship_pf_"+s)
		cfg.Sources[0].Postgres.Tables = []string{schema + ".*"}
		cfg.Sources[0].Postgres.Publication = pub
		return only(t, runCheck(t, cfg))
	}

	res := check() // no publication yet: walship creates it by the root
	wantNoProblems(t, res)
	wantFact(t, res, "partitioned table "+schema+".pt (2 partitions) is captured by its root")

	pgExec(t, dsn, "CREATE PUBLICATION "+pub+" FOR TABLE "+schema+".pt, "+schema+".plain")
	res = check()
	wantProblem(t, res, Setting, "publication "+pub+" has publish_via_partition_root off", schema+".pt",
		`ALTER PUBLICATION "`+pub+`" SET (publish_via_partition_root = true)`, "walship replay --resnapshot")

	pgExec(t, dsn, `ALTER PUBLICATION "`+pub+`" SET (publish_via_partition_root = true)`)
	res = check()
	wantNoProblems(t, res)
	wantFact(t, res, "publication "+pub+" publishes the 2 captured tables")

	pgExec(t, dsn, "ALTER TABLE "+schema+".pt REPLICA IDENTITY FULL", "ALTER TABLE "+schema+".pt_us REPLICA IDENTITY FULL")
	res = check()
	wantProblem(t, res, Setting, "partitioned table "+schema+".pt has REPLICA IDENTITY FULL but its partitions "+schema+".pt_eu do not",
		"ALTER TABLE "+schema+".pt_eu REPLICA IDENTITY FULL")
	pgExec(t, dsn, "ALTER TABLE "+schema+".pt_eu REPLICA IDENTITY FULL")
	wantNoProblems(t, check())

	pgExec(t, dsn, "ALTER PUBLICATION "+pub+" DROP TABLE "+schema+".pt")
	res = check()
	wantProblem(t, res, Config, "publication "+pub+" exists but does not publish "+schema+".pt",
		`ALTER PUBLICATION "`+pub+`" ADD TABLE "`+schema+`"."pt"`, "sources[0].postgres.tables")
}

// TestPGSourceTopicCollision: tables whose topics coincide ("a b" and
// a_b) are a problem naming both.
func TestPGSourceTopicCollision(t *testing.T) {
	root := testenv.PGSource(t)
	db := "walship_pf_tc_" + suffix(t)
	pgExec(t, root, "CREATE DATABASE "+db)
	t.Cleanup(func() { pgExec(t, root, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	dsn := withUser(t, root, "postgres", "", db)
	pgExec(t, dsn, `CREATE TABLE "a b" (id int PRIMARY KEY)`, `CREATE TABLE a_b (id int PRIMARY KEY)`, `CREATE TABLE c (id int PRIMARY KEY)`)
	res := only(t, runCheck(t, pgSourceConfig(dsn, "", "walship_pf_"+suffix(t))))
	wantProblem(t, res, Config, `"public"."a b" and "public"."a_b"`, "same topic", "exclude or rename one")
	if len(res.Problems) != 1 {
		t.Errorf("problems: %+v", res.Problems)
	}
}

// TestPGSourceSQLASCII: a SQL_ASCII database is a problem (the source
// refuses it), not ok.
func TestPGSourceSQLASCII(t *testing.T) {
	root := testenv.PGSource(t)
	db := "walship_pf_ascii_" + suffix(t)
	pgExec(t, root, "CREATE DATABASE "+db+" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
	t.Cleanup(func() { pgExec(t, root, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	res := only(t, runCheck(t, pgSourceConfig(withUser(t, root, "postgres", "", db), "", "walship_pf_"+suffix(t))))
	wantProblem(t, res, Setting, "encoding is SQL_ASCII", "ENCODING 'UTF8'")
}

// TestPGSourceNoTableMatches: patterns that match no table, with no
// whole-schema pattern, are a problem (the source could not create its
// publication); a pattern matching nothing beside others is a note.
func TestPGSourceNoTableMatches(t *testing.T) {
	dsn := testenv.PGSource(t)
	cfg := pgSourceConfig(dsn, "", "walship_pf_"+suffix(t))
	cfg.Sources[0].Postgres.Tables = []string{"public.nosuch*"}
	cfg.Sources[0].Postgres.Publication = "walship_pf_" + suffix(t)
	res := only(t, runCheck(t, cfg))
	wantProblem(t, res, NotFound, "no table matches", "public.nosuch*", "cannot create publication")
	cfg.Sources[0].Postgres.Tables = []string{"public.*", "public.nosuch*"}
	res = only(t, runCheck(t, cfg))
	wantNoProblems(t, res)
	if len(res.Notes) == 0 || !strings.Contains(strings.Join(res.Notes, "\n"), `tables[1] "public.nosuch*" matches no table now`) {
		t.Errorf("notes: %q", res.Notes)
	}
}

// TestStateDirIsAFile: a state_dir that is a file is a problem, as run
// would fail on it.
func TestStateDirIsAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Result{}
	checkStateDir(r, f)
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Msg, "is a file, not a directory") {
		t.Errorf("problems: %+v", r.Problems)
	}
	r = &Result{}
	checkStateDir(r, filepath.Join(t.TempDir(), "a", "b"))
	if len(r.Problems) != 0 || len(r.OK) != 1 {
		t.Errorf("a creatable state_dir: %+v", r)
	}
}

// TestReservedTargetName: a captured table a sink would write into
// walship's own positions table is a problem naming the sink; renamed, it
// is not. A wildcard leaves walship's tables out (a follower that is itself
// a source), so only a pattern naming them captures them.
func TestReservedTargetName(t *testing.T) {
	root := testenv.PGSource(t)
	db := "walship_pf_rt_" + suffix(t)
	pgExec(t, root, "CREATE DATABASE "+db)
	t.Cleanup(func() { pgExec(t, root, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	dsn := withUser(t, root, "postgres", "", db)
	pgExec(t, dsn, `CREATE TABLE _walship_positions (id int PRIMARY KEY)`, `CREATE TABLE walship_positions (id int PRIMARY KEY)`,
		`CREATE SCHEMA walship`, `CREATE TABLE walship.positions (id int PRIMARY KEY)`)
	cfg := pgSourceConfig(dsn, "", "walship_pf_"+suffix(t))
	cfg.Sources[0].Postgres.Tables = []string{"public.*", "walship.*"}
	cfg.Sinks = []config.Sink{{Name: "lite", From: []string{"pg-main"}, SQLite: &config.SQLiteSink{Path: filepath.Join(t.TempDir(), "f.db")}},
		{Name: "pgf", From: []string{"pg-main"}, Postgres: &config.PostgresSink{DSN: config.Secret(dsn)}}}
	rep := Check(context.Background(), cfg)
	wantNoProblems(t, rep.Results[0])
	cfg.Sources[0].Postgres.Tables = []string{"public.*", "public._walship_positions", "walship.positions"}
	rep = Check(context.Background(), cfg)
	wantProblem(t, rep.Results[0], Config, "sink lite would write captured table", `"public"."_walship_positions"`, "tables.rename")
	wantProblem(t, rep.Results[0], Config, "sink pgf would write captured table", `"walship"."positions"`, "tables.rename")
	cfg.Sinks[0].Tables.Rename = map[string]string{"public._walship_positions": "their_positions"}
	cfg.Sinks[1].Tables.Rename = map[string]string{"walship.positions": "public.their_positions"}
	rep = Check(context.Background(), cfg)
	wantNoProblems(t, rep.Results[0])
}

// TestPGSourceFailover: walship check says whether a failover would be
// safe: before PostgreSQL 17 that it is not (no failover slots); on the
// PostgreSQL 18 primary with its standby (make test runs this test again
// with the PostgreSQL 18 primary as the source) that it is.
func TestPGSourceFailover(t *testing.T) {
	dsn := testenv.PGSource(t)
	res := only(t, runCheck(t, pgSourceConfig(dsn, "", "walship_pf_fo_"+suffix(t))))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var version int
	err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if version >= 170000 {
		wantFact(t, res, "failover safe: a failover slot, synchronized_standby_slots = walship_standby, 1 standby streaming")
		return
	}
	noted := false
	for _, n := range res.Notes {
		noted = noted || strings.Contains(n, "has no failover slots")
	}
	if !noted {
		t.Errorf("PostgreSQL %d: no note that failover slots are missing: %v", version, res.Notes)
	}
}
