package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestTypeWidenedWhileStopped is issue 27's case: a PostgreSQL source
// column numeric(10,2) is widened to numeric(12,4) while walship is
// stopped, and 1.2345 is inserted. After the restart the followers' columns
// are compared with their real types (the followers' tables were created by
// an earlier process): the PostgreSQL and MariaDB followers are widened to
// numeric(12,4)/decimal(12,4) and hold 1.2345, never 1.23; SQLite's TEXT
// holds the exact text. walship verify then says equal on all three.
func TestTypeWidenedWhileStopped(t *testing.T) { typeWidenedWhileStopped(t, "postgres") }

// TestTypeWidenedWhileStoppedFromMariaDB is the same with a MariaDB source
// (ALTER TABLE … MODIFY in the binlog while walship is stopped).
func TestTypeWidenedWhileStoppedFromMariaDB(t *testing.T) { typeWidenedWhileStopped(t, "mariadb") }

func typeWidenedWhileStopped(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	withHTTP(t, e)
	if _, err := e.src.Exec(`CREATE TABLE prices (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL, label varchar(5))`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.src.Exec(`INSERT INTO prices VALUES (1, 1.23, 'abc')`); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	e.waitRows("prices", 1, 60*time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, e.logTail())
	}
	alter := `ALTER TABLE prices ALTER COLUMN amount TYPE numeric(12,4), ALTER COLUMN label TYPE varchar(20)`
	if engine == "mariadb" {
		alter = `ALTER TABLE prices MODIFY amount decimal(12,4) NOT NULL, MODIFY label varchar(20)`
	}
	for _, q := range []string{
		alter,
		`INSERT INTO prices VALUES (2, 1.2345, 'a label of 20 chars')`,
		`UPDATE prices SET amount = 99999999.9999 WHERE id = 1`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.start()
	e.waitRows("prices", 2, 60*time.Second)
	want := []string{"1|99999999.9999|abc", "2|1.2345|a label of 20 chars"}
	for engine, db := range e.followers {
		q := "SELECT id, CAST(amount AS text), label FROM prices ORDER BY id"
		if engine == "mysql" {
			q = "SELECT id, CAST(amount AS char), label FROM prices ORDER BY id"
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := rows(db, q)
			joined := strings.ReplaceAll(strings.Join(got, ";"), "true:", "")
			if err == nil && joined == strings.Join(want, ";") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s follower: prices = %q, %v; want %q\nlog tail:\n%s", engine, joined, err, want, e.logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for engine, q := range map[string]string{
		"postgres": `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'prices'::regclass AND attname = 'amount'`,
		"mysql":    `SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'prices' AND COLUMN_NAME = 'amount'`,
	} {
		var typ string
		if err := e.followers[engine].QueryRow(q).Scan(&typ); err != nil || !strings.Contains(typ, "(12,4)") {
			t.Errorf("%s follower: amount is %s (%v), want (12,4)", engine, typ, err)
		}
	}
	if !strings.Contains(e.logTail(), "widened follower column") {
		t.Errorf("the log does not say a column was widened:\n%s", e.logTail())
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal:") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
}
