package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// cascadeTables are MariaDB source tables whose foreign keys have actions
// InnoDB performs without writing the child rows to the binlog.
var cascadeTables = []string{
	// ON DELETE CASCADE two levels deep; ON UPDATE CASCADE one level.
	`CREATE TABLE p (id bigint PRIMARY KEY, name varchar(20))`,
	`CREATE TABLE c (id bigint PRIMARY KEY, pid bigint, v int NOT NULL DEFAULT 0,
		FOREIGN KEY (pid) REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE g (id bigint PRIMARY KEY, cid bigint NOT NULL, FOREIGN KEY (cid) REFERENCES c(id) ON DELETE CASCADE)`,
	// SET NULL on delete and on update.
	`CREATE TABLE n (id bigint PRIMARY KEY, pid bigint NULL, FOREIGN KEY (pid) REFERENCES p(id) ON DELETE SET NULL ON UPDATE SET NULL)`,
	// A self-reference: a subtree goes with its root.
	`CREATE TABLE tree (id bigint PRIMARY KEY, up bigint NULL, FOREIGN KEY (up) REFERENCES tree(id) ON DELETE CASCADE)`,
	// Natural string keys: ON UPDATE CASCADE two levels deep, through a
	// composite key that is the child's primary key.
	`CREATE TABLE region (code varchar(8) PRIMARY KEY)`,
	`CREATE TABLE city (region varchar(8) NOT NULL, name varchar(20) NOT NULL, PRIMARY KEY (region, name),
		FOREIGN KEY (region) REFERENCES region(code) ON UPDATE CASCADE ON DELETE CASCADE)`,
	`CREATE TABLE street (id bigint PRIMARY KEY, region varchar(8), city varchar(20),
		FOREIGN KEY (region, city) REFERENCES city(region, name) ON UPDATE CASCADE ON DELETE CASCADE)`,
	// RESTRICT: nothing to replay.
	`CREATE TABLE r (id bigint PRIMARY KEY, pid bigint, FOREIGN KEY (pid) REFERENCES p(id))`,
}

// TestCascadesFromMariaDB: deletes and key updates of parent rows whose
// child rows InnoDB changes without logging them reach the PostgreSQL,
// MariaDB and SQLite followers with the child rows changed as at the
// source, under a running workload, and walship verify says equal on all
// three.
func TestCascadesFromMariaDB(t *testing.T) {
	testenv.Integration(t)
	e := newE2EFrom(t, "mariadb", 2)
	withHTTP(t, e)
	src := e.src
	for _, q := range cascadeTables {
		if _, err := src.Exec(q); err != nil {
			t.Fatalf("source: %s: %v", q, err)
		}
	}
	exec := func(stmts ...string) {
		t.Helper()
		tx, err := src.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range stmts {
			if _, err := tx.Exec(q); err != nil {
				tx.Rollback()
				t.Fatalf("source: %s: %v", q, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// Rows the snapshot copies.
	exec(`INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')`,
		`INSERT INTO c (id, pid) VALUES (10, 1), (11, 1), (20, 2), (30, 3), (40, 4)`,
		`INSERT INTO g VALUES (100, 10), (101, 10), (110, 11), (200, 20), (300, 30)`,
		`INSERT INTO n VALUES (1, 1), (2, 2), (4, 4)`,
		`INSERT INTO tree VALUES (1, NULL), (9, NULL)`, `INSERT INTO tree VALUES (2, 1), (3, 2), (8, 9)`,
		`INSERT INTO region VALUES ('N'), ('S')`,
		`INSERT INTO city VALUES ('N', 'Oslo'), ('N', 'Bergen'), ('S', 'Rome')`,
		`INSERT INTO street VALUES (1, 'N', 'Oslo'), (2, 'N', 'Bergen'), (3, 'S', 'Rome')`,
		`INSERT INTO r VALUES (1, 4)`)
	e.start()
	e.waitRows("street", 3, 90*time.Second)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := e.workload(ctx, 27, 0); err != nil && ctx.Err() == nil {
			t.Error(err)
		}
	}()
	// Rows the stream brings, then the cascades.
	exec(`INSERT INTO tree VALUES (4, 3), (5, 3)`)
	exec(`DELETE FROM p WHERE id = 1`)                      // c 10, 11 and g 100, 101, 110 go; n 1 is orphaned
	exec(`UPDATE p SET id = 22, name = 'two' WHERE id = 2`) // c 20 follows to 22 (g 200 keeps c 20); n 2 is orphaned
	// Child rows changed in the transaction that cascades them away, and a
	// child key taken again after the cascade freed it.
	exec(`UPDATE c SET v = 7 WHERE id = 30`, `INSERT INTO g VALUES (301, 30)`,
		`DELETE FROM p WHERE id = 3`, `INSERT INTO c (id, pid, v) VALUES (30, 4, 9)`)
	exec(`DELETE FROM tree WHERE id = 1`)                  // 2, 3, 4, 5: four levels of one table
	exec(`UPDATE region SET code = 'NO' WHERE code = 'N'`) // city and street keys follow
	exec(`DELETE FROM region WHERE code = 'S'`)            // Rome and its street go
	exec(`UPDATE p SET name = 'four' WHERE id = 4`)        // the key unchanged: nothing to replay
	// Parents and children made and cascaded in quick succession, for the
	// parallel workers: each deletion must follow its children's inserts
	// and precede the reuse of their keys.
	for i := 0; i < 40; i++ {
		id := 1000 + i
		exec(fmt.Sprintf(`INSERT INTO p VALUES (%d, 'x')`, id),
			fmt.Sprintf(`INSERT INTO c (id, pid) VALUES (%d, %d), (%d, %d)`, id*10, id, id*10+1, id))
		exec(fmt.Sprintf(`INSERT INTO g VALUES (%d, %d)`, id*100, id*10))
		if i%2 == 1 {
			exec(fmt.Sprintf(`DELETE FROM p WHERE id = %d`, id-1))
			exec(fmt.Sprintf(`INSERT INTO c (id, pid) VALUES (%d, %d)`, (id-1)*10, id)) // a freed child key
		}
	}
	// A cascade of thousands of rows takes the follower a while; the
	// transactions after it that reuse its grandchildren's keys share no
	// key with it, and must still wait for it.
	exec(`INSERT INTO p VALUES (5000, 'big')`, `INSERT INTO c (id, pid) SELECT 50000 + seq, 5000 FROM seq_1_to_2000`,
		`INSERT INTO g SELECT 500000 + seq, 50000 + seq FROM seq_1_to_2000`)
	exec(`DELETE FROM p WHERE id = 5000`)
	for k := 502000; k > 501990; k-- {
		exec(fmt.Sprintf(`INSERT INTO g VALUES (%d, 40)`, k))
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()

	// The source did cascade: the expectations the followers are held to.
	for q, want := range map[string]string{
		"SELECT count(*) FROM c WHERE pid IN (1, 2, 3)":   "0",
		"SELECT group_concat(id ORDER BY id) FROM tree":   "8,9",
		"SELECT count(*) FROM n WHERE pid IS NULL":        "2",
		"SELECT count(*) FROM street WHERE region = 'NO'": "2",
	} {
		if got := strings.Join(mustRows(t, src, q), ","); got != "true:"+want {
			t.Fatalf("source: %s = %s, want %s", q, got, want)
		}
	}
	nTables := len(mustRows(t, src, srcTablesQuery("mariadb")))
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--show-values")
		if code != 0 || !strings.Contains(out, fmt.Sprintf("sink %s: equal: %d tables", sink, nTables)) {
			t.Errorf("verify %s: exit %d:\n%s\ndaemon warnings and errors:\n%s", sink, code, out, e.logProblems())
			continue
		}
		t.Logf("verify %s: exit 0:\n%s", sink, out)
	}
	for engine, db := range e.followers {
		// The orphan rows the binlog never mentioned are gone on every follower.
		for q, want := range map[string]string{
			"SELECT count(*) FROM c WHERE pid IN (1, 2, 3)":   "0",
			"SELECT count(*) FROM g WHERE cid IN (10, 11)":    "0",
			"SELECT count(*) FROM tree":                       "2",
			"SELECT count(*) FROM street WHERE region = 'NO'": "2",
		} {
			if got := strings.Join(mustRows(t, db, q), ","); got != "true:"+want {
				t.Errorf("%s follower: %s = %s, want %s", engine, q, got, want)
			}
		}
	}
	// The follower tables walship created index the keys it cascades
	// through (g's by cid, street's by (region, city)); city's key begins
	// its primary key and needs none.
	for engine, q := range map[string]string{
		"postgres": "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = '" + e.name + "' AND indexname LIKE '%\\_fk'",
		"mysql":    "SELECT group_concat(DISTINCT index_name ORDER BY index_name) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name LIKE '%\\_fk'",
		"sqlite":   "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%\\_fk' ESCAPE '\\' ORDER BY name)",
	} {
		if got := strings.Join(mustRows(t, e.followers[engine], q), ","); got != "true:c_pid_fk,g_cid_fk,n_pid_fk,street_region_city_fk,tree_up_fk" {
			t.Errorf("%s follower: indexes %s", engine, got)
		}
	}
	if t.Failed() {
		return
	}

	// Rebuilds replay the same cascades: a lost SQLite follower rebuilt
	// from the log, and the MariaDB follower's child and grandchild tables
	// emptied and rebuilt alone (the parent changes of the tables left
	// alone still cascade into them).
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("daemon: %v\n%s", err, e.logTail())
	}
	recreate(t, e, "sqlite")
	t.Logf("replay lite:\n%s", replayOK(t, e, "--sink", "lite"))
	verifyOK(t, e, "lite")
	my := e.followers["mysql"]
	mustExec(t, my, "mysql", "DELETE FROM g")
	mustExec(t, my, "mysql", "DELETE FROM c")
	t.Logf("replay myf --tables:\n%s", replayOK(t, e, "--sink", "myf", "--tables", e.name+".c,"+e.name+".g"))
	verifyOK(t, e, "myf")
}
