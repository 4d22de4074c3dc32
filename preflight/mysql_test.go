package preflight

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/testenv"
)

// Integration tests against the local MariaDB servers (make env-up): the
// source has row binlogs, the follower has no binlog at all.

// myExec runs statements on the server at dsn (a go-sql-driver DSN).
func myExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// myUser creates 'name'@'%' with password and grants, dropped at the end.
func myUser(t *testing.T, dsn, name, password string, grants ...string) {
	t.Helper()
	myExec(t, dsn, "CREATE USER '"+name+"'@'%' IDENTIFIED BY '"+password+"'")
	t.Cleanup(func() { myExec(t, dsn, "DROP USER IF EXISTS '"+name+"'@'%'") })
	for _, g := range grants {
		myExec(t, dsn, "GRANT "+g+" TO '"+name+"'@'%'")
	}
}

// myDatabase creates a database for the test, dropped at the end.
func myDatabase(t *testing.T, dsn, name string) {
	t.Helper()
	myExec(t, dsn, "CREATE DATABASE "+name)
	t.Cleanup(func() { myExec(t, dsn, "DROP DATABASE IF EXISTS "+name) })
}

func parseMyDSN(t *testing.T, dsn string) *mysql.Config {
	t.Helper()
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// mySourceConfig is a MySQL source on the server of dsn, as user/password
// (the DSN's own when user is empty).
func mySourceConfig(t *testing.T, dsn, user, password, flavor string) *config.Config {
	t.Helper()
	mc := parseMyDSN(t, dsn)
	if user == "" {
		user, password = mc.User, mc.Passwd
	}
	return &config.Config{Sources: []config.Source{{Name: "shop", MySQL: &config.MySQLSource{
		Addr: mc.Addr, User: user, Password: config.Secret(password), ServerID: 424242,
		Flavor: flavor, Tables: []string{"walship_pf.*"}, Snapshot: "initial",
	}}}}
}

// mySinkConfig is a MySQL sink on the server of dsn, database db.
func mySinkConfig(t *testing.T, dsn, db, password string) *config.Config {
	t.Helper()
	mc := parseMyDSN(t, dsn)
	mc.DBName = db
	return &config.Config{Sinks: []config.Sink{{Name: "my-replica", From: []string{"shop"}, MySQL: &config.MySQLSink{
		DSN: config.Secret(mc.FormatDSN()), Password: config.Secret(password),
	}}}}
}

func TestMariaDBSourceGood(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	res := only(t, runCheck(t, mySourceConfig(t, dsn, "", "", "mariadb")))
	wantNoProblems(t, res)
	for _, f := range []string{"MariaDB ", "log_bin=ON", "binlog_format=ROW", "binlog_row_image=FULL", "binlog_row_metadata=FULL", "REPLICATION SLAVE granted", "RELOAD granted"} {
		wantFact(t, res, f)
	}
	if res.Addr != parseMyDSN(t, dsn).Addr || res.Engine != "mariadb" {
		t.Errorf("header: engine %q addr %q", res.Engine, res.Addr)
	}
}

// The follower has no binlog: every setting must be listed, not the first.
func TestMariaDBSourceAtFollowerListsEverySetting(t *testing.T) {
	dsn := testenv.MySQLFollower(t)
	res := only(t, runCheck(t, mySourceConfig(t, dsn, "", "", "mariadb")))
	wantProblem(t, res, Setting, "binary logging is off", "log_bin", "restart")
	wantProblem(t, res, Setting, "binlog_format is MIXED, need ROW", "SET GLOBAL binlog_format = ROW")
	wantProblem(t, res, Setting, "binlog_row_metadata is NO_LOG, need FULL", "SET GLOBAL binlog_row_metadata = FULL")
	if n := len(res.Problems); n != 3 {
		t.Errorf("got %d problems, want 3 (log_bin, binlog_format, binlog_row_metadata)", n)
	}
	wantFact(t, res, "binlog_row_image=FULL")
}

func TestMariaDBSourceSelectOnly(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	s := suffix(t)
	user, pw := "pf_sel_"+s, "Sel-secret-"+s
	myUser(t, dsn, user, pw, "SELECT ON *.*")
	res := only(t, runCheck(t, mySourceConfig(t, dsn, user, pw, "mariadb"), pw))
	grantee := "'" + user + "'@'%'"
	wantProblem(t, res, Privilege, "lacks REPLICATION SLAVE", "GRANT REPLICATION SLAVE ON *.* TO "+grantee)
	wantProblem(t, res, Privilege, "lacks REPLICATION CLIENT (or BINLOG MONITOR)", "GRANT REPLICATION CLIENT ON *.* TO "+grantee)
	wantProblem(t, res, Privilege, "lacks RELOAD", "GRANT RELOAD ON *.* TO "+grantee)
	wantProblem(t, res, Privilege, "lacks LOCK TABLES on walship_pf.*", "GRANT LOCK TABLES ON `walship_pf`.* TO "+grantee)
	if n := len(res.Problems); n != 4 {
		t.Errorf("got %d problems, want 4", n)
	}
	wantFact(t, res, "SELECT granted")
}

// A replication user as documented: MariaDB shows REPLICATION CLIENT as
// BINLOG MONITOR, which must be accepted.
func TestMariaDBSourceReplicationUser(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	s := suffix(t)
	user, pw := "pf_repl_"+s, "Repl-secret-"+s
	myUser(t, dsn, user, pw, "REPLICATION SLAVE, REPLICATION CLIENT, RELOAD ON *.*", "SELECT, LOCK TABLES ON walship_pf.*")
	res := only(t, runCheck(t, mySourceConfig(t, dsn, user, pw, "mariadb"), pw))
	wantNoProblems(t, res)
}

func TestMariaDBWrongPassword(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	s := suffix(t)
	user, pw, wrong := "pf_auth_"+s, "Right-secret-"+s, "Wrong-secret-"+s
	myUser(t, dsn, user, pw)
	res := only(t, runCheck(t, mySourceConfig(t, dsn, user, wrong, "mariadb"), pw, wrong))
	wantProblem(t, res, AuthFailed, "access denied for user", user, "sources[0].mysql")
}

func TestMySQLFlavorMismatch(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	res := only(t, runCheck(t, mySourceConfig(t, dsn, "", "", "mysql")))
	wantProblem(t, res, Config, "the server is MariaDB", "sources[0].mysql.flavor is mysql", "set flavor: mariadb")
	if n := len(res.Problems); n != 1 {
		t.Errorf("got %d problems, want only the flavor (GTIDs follow the server's real flavor)", n)
	}
}

func TestMySQLSourceServerIDClash(t *testing.T) {
	dsn := testenv.MySQLSource(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id uint32
	if err := db.QueryRow("SELECT @@server_id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	cfg := mySourceConfig(t, dsn, "", "", "mariadb")
	cfg.Sources[0].MySQL.ServerID = id
	res := only(t, runCheck(t, cfg))
	wantProblem(t, res, Config, "server_id", "the server's own server_id")
}

func TestMySQLSinkGood(t *testing.T) {
	dsn := testenv.MySQLFollower(t)
	db := "walship_pf_" + suffix(t)
	myDatabase(t, dsn, db)
	res := only(t, runCheck(t, mySinkConfig(t, dsn, db, "")))
	wantNoProblems(t, res)
	wantFact(t, res, "database "+db+" exists")
	wantFact(t, res, "CREATE granted on "+db+".*")
}

func TestMySQLSinkMissingDatabase(t *testing.T) {
	dsn := testenv.MySQLFollower(t)
	db := "walship_pf_missing_" + suffix(t)
	res := only(t, runCheck(t, mySinkConfig(t, dsn, db, "")))
	wantProblem(t, res, NotFound, `database "`+db+`" does not exist`, "CREATE DATABASE `"+db+"`", "sinks[0].mysql.dsn")
}

// The password override and the DSN's password never show.
func TestMySQLSinkLimitedUser(t *testing.T) {
	dsn := testenv.MySQLFollower(t)
	s := suffix(t)
	db, user, pw := "walship_pf_"+s, "pf_sink_"+s, "Sink-secret-"+s
	myDatabase(t, dsn, db)
	myUser(t, dsn, user, pw, "SELECT, INSERT ON "+db+".*")
	mc := parseMyDSN(t, dsn)
	mc.User, mc.Passwd = user, "dsn-password-overridden-"+s
	cfg := mySinkConfig(t, mc.FormatDSN(), db, pw)
	res := only(t, runCheck(t, cfg, pw, mc.Passwd))
	for _, p := range []string{"CREATE", "ALTER", "DROP", "UPDATE", "DELETE"} {
		wantProblem(t, res, Privilege, "lacks "+p+" on "+db+".*", "GRANT "+p+" ON `"+db+"`.* TO '"+user+"'@'%'")
	}
	if n := len(res.Problems); n != 5 {
		t.Errorf("got %d problems, want 5", n)
	}
	// Without PROCESS, commit_order source notices a lock wait late: a note.
	if !slices.ContainsFunc(res.Notes, func(n string) bool {
		return strings.Contains(n, "lacks PROCESS") && strings.Contains(n, "GRANT PROCESS")
	}) {
		t.Errorf("no note of the missing PROCESS privilege: %v", res.Notes)
	}
}
