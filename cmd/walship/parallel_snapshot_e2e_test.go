package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestParallelSnapshotPostgres (issue 16): a snapshot read by four
// workers (customers and orders split into page ranges) of a parent, its
// child and a self-referencing table, all with foreign keys on every
// follower, while the source takes writes to rows of every range (updates,
// deletes of parents with their children, new tree nodes under old ones,
// deletes of old leaves) and the e2e workload. The followers apply every
// chunk under their foreign keys, and walship verify finds all three equal
// to the source.
func TestParallelSnapshotPostgres(t *testing.T) { parallelSnapshot(t, "postgres") }

// TestParallelSnapshotMariaDB: the same from a MariaDB source, whose
// workers' consistent snapshots start under one global read lock and whose
// tables split into primary-key ranges.
func TestParallelSnapshotMariaDB(t *testing.T) { parallelSnapshot(t, "mariadb") }

// setSnapshotChunkRows sets the e2e source's snapshot_chunk_rows.
func setSnapshotChunkRows(t *testing.T, e *e2e, n int) { setSourceKey(t, e, "snapshot_chunk_rows", n) }

// setSnapshotWorkers sets the e2e source's snapshot_workers.
func setSnapshotWorkers(t *testing.T, e *e2e, n int) { setSourceKey(t, e, "snapshot_workers", n) }

// setSourceKey sets key to n in the e2e source's block.
func setSourceKey(t *testing.T, e *e2e, key string, n int) {
	t.Helper()
	text := mustRead(t, e.cfgPath)
	for _, engine := range []string{"postgres", "mysql"} {
		text = strings.Replace(text, "    "+engine+": { ", fmt.Sprintf("    %s: { %s: %d, ", engine, key, n), 1)
	}
	if !strings.Contains(text, key) {
		t.Fatalf("no source block in\n%s", text)
	}
	if err := os.WriteFile(e.cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// treeSchema is a self-referencing table, per engine (follower engines
// too): nodes 1..treeRows with node k's parent k/2.
var treeSchema = map[string]string{
	"postgres": `CREATE TABLE tree (id bigint PRIMARY KEY, up bigint REFERENCES tree(id), v int NOT NULL)`,
	"mariadb":  `CREATE TABLE tree (id bigint PRIMARY KEY, up bigint, v int NOT NULL, FOREIGN KEY (up) REFERENCES tree(id))`,
	"mysql":    `CREATE TABLE tree (id bigint PRIMARY KEY, up bigint, v int NOT NULL, FOREIGN KEY (up) REFERENCES tree(id))`,
	"sqlite":   `CREATE TABLE tree (id INTEGER PRIMARY KEY, up INTEGER REFERENCES tree(id), v INTEGER NOT NULL)`,
}

const treeRows = 15000

// snapRows is the rows of customers and of orders.
const snapRows = 40000

func parallelSnapshot(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	withHTTP(t, e)
	setSnapshotWorkers(t, e, 4)
	// Chunks of 2000 rows (parts of 10000): the 40000-row tables split
	// into 4 parts each.
	setSnapshotChunkRows(t, e, 2000)
	series := "generate_series(1, %d) g"
	col := "g"
	if engine == "mariadb" {
		series, col = "seq_1_to_%d", "seq"
	}
	from := func(n int) string { return fmt.Sprintf(series, n) }
	for _, q := range []string{
		treeSchema[engine],
		fmt.Sprintf(`INSERT INTO customers SELECT %[1]s, concat('customer ', %[1]s) FROM %[2]s`, col, from(snapRows)),
		fmt.Sprintf(`INSERT INTO orders SELECT %[1]s * 10, %[1]s, (%[1]s %% 1000) + 0.25, 0 FROM %[2]s`, col, from(snapRows)),
		fmt.Sprintf(`INSERT INTO tree SELECT %[1]s, CASE WHEN %[1]s = 1 THEN NULL ELSE %[1]s / 2 END, 0 FROM %[2]s ORDER BY 1`,
			col, from(treeRows)),
	} {
		if engine == "mariadb" {
			q = strings.ReplaceAll(q, "%[1]s / 2", "%[1]s DIV 2")
			q = strings.ReplaceAll(q, "seq / 2", "seq DIV 2")
		}
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for fe, db := range e.followers {
		if _, err := db.Exec(treeSchema[fe]); err != nil {
			t.Fatalf("%s follower: %v", fe, err)
		}
	}
	if engine == "postgres" {
		if _, err := e.src.Exec("ANALYZE"); err != nil { // reltuples, for the ranges
			t.Fatal(err)
		}
	}
	status := "http://" + strings.Split(strings.Split(mustRead(t, e.cfgPath), `listen: "`)[1], `"`)[0] + "/api/v1/status"

	e.start()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if _, err := e.workload(ctx, 16, 1_000_000); err != nil && ctx.Err() == nil {
			errs <- err
		}
	}()
	var writes int
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(16, 2))
		for i := 0; ctx.Err() == nil; i++ {
			var stmts []string
			switch r := rng.IntN(snapRows) + 1; i % 5 {
			case 0:
				stmts = []string{fmt.Sprintf("UPDATE customers SET name = 'renamed %d' WHERE id = %d", i, r)}
			case 1:
				stmts = []string{fmt.Sprintf("DELETE FROM orders WHERE customer_id = %d", r), fmt.Sprintf("DELETE FROM customers WHERE id = %d", r)}
			case 2:
				stmts = []string{fmt.Sprintf("INSERT INTO tree VALUES (%d, %d, 1)", 1_000_000+i, rng.IntN(treeRows/2)+1)}
			case 3:
				stmts = []string{fmt.Sprintf("UPDATE tree SET v = v + 1 WHERE id = %d", rng.IntN(treeRows)+1),
					fmt.Sprintf("UPDATE orders SET amount = amount + 1, version = version + 1 WHERE id = %d", r*10)}
			case 4: // a leaf of the original tree
				stmts = []string{fmt.Sprintf("DELETE FROM tree WHERE id = %d", treeRows/2+1+rng.IntN(treeRows/2))}
			}
			tx, err := e.src.Begin()
			if err != nil {
				errs <- err
				return
			}
			for _, q := range stmts {
				if _, err := tx.Exec(q); err != nil {
					tx.Rollback()
					errs <- fmt.Errorf("%s: %w", q, err)
					return
				}
			}
			if err := tx.Commit(); err != nil {
				errs <- err
				return
			}
			writes++
		}
	}()
	deadline := time.Now().Add(300 * time.Second)
	sawSnapshot := false
	for {
		st, ok := sourceStatus(status)
		if ok && st.State == "snapshotting" {
			sawSnapshot = true
		}
		if ok && st.State == "streaming" {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("snapshot did not finish: %+v\nlog tail:\n%s", st, e.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // writes after the snapshot too
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d writes to snapshot rows during the run (snapshotting seen: %v)", writes, sawSnapshot)

	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--timeout", "420s")
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal: 4 tables") {
			_, st, _ := get(status)
			t.Fatalf("verify %s: exit %d:\n%s\nstatus: %s\nwarnings and errors:\n%s", sink, code, out, st, problems(e))
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
	// customers and orders are split into ranges: more parts than tables.
	m := regexp.MustCompile(`snapshot done.* tables=(\d+) parts=(\d+) .*workers=4`).FindStringSubmatch(mustRead(t, e.dir+"/walship.log"))
	if m == nil {
		t.Fatalf("no snapshot with 4 workers in the log; tail:\n%s", e.logTail())
	}
	if tables, parts := atoi(m[1]), atoi(m[2]); parts < tables+4 {
		t.Errorf("the snapshot read %d tables in %d parts: the large ones were not split", tables, parts)
	}
	t.Logf("snapshot: %s tables in %s parts", m[1], m[2])
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
