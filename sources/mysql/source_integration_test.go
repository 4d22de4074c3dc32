package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sources/sourcetest"
	"github.com/walship/walship/supervise"
)

var shop = []string{
	`CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(100) NOT NULL UNIQUE, name text)`,
	`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, total decimal(12,2), note varchar(20),
		FOREIGN KEY (customer_id) REFERENCES customers(id))`,
	`CREATE TABLE keyless (msg varchar(20), n int)`,
	`CREATE TABLE bulk (id int PRIMARY KEY, payload varchar(40))`,
}

// TestStreamWorkload: a concurrent workload with foreign keys, a truncate
// and a 100k-row transaction reaches Kafka exactly as committed, with
// dependencies linking each order to its customer.
func TestStreamWorkload(t *testing.T) {
	h := newHarness(t, shop...)
	h.start(h.config())
	waitStreaming(t, h)
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sql.Open("mysql", testenv.MySQLSource(t)+h.Name)
			if err != nil {
				t.Error(err)
				return
			}
			defer db.Close()
			for i := 0; i < 60; i++ {
				cid := int64(w*1000 + i)
				tx, err := db.Begin()
				if err != nil {
					t.Error(err)
					return
				}
				tx.Exec("INSERT INTO customers VALUES (?, ?, 'n')", cid, fmt.Sprintf("c%d@x", cid))
				tx.Exec("INSERT INTO orders VALUES (?, ?, ?, 'note')", cid*10, cid, fmt.Sprintf("%d.%02d", i, i))
				if i%3 == 0 {
					tx.Exec("UPDATE customers SET name = ? WHERE id = ?", fmt.Sprintf("renamed %d", i), cid-1)
				}
				if i%5 == 0 && i > 0 {
					tx.Exec("DELETE FROM orders WHERE customer_id = ?", cid-2)
					tx.Exec("DELETE FROM customers WHERE id = ?", cid-2)
				}
				tx.Exec("INSERT INTO keyless VALUES (?, ?)", fmt.Sprintf("w%d", w), i)
				if err := tx.Commit(); err != nil {
					t.Errorf("worker %d txn %d: %v", w, i, err)
				}
			}
		}()
	}
	h.Exec("TRUNCATE TABLE keyless")
	h.Exec("INSERT INTO bulk SELECT seq, concat('p', seq) FROM seq_1_to_40000")
	wg.Wait()
	h.Exec("DELETE FROM keyless WHERE n % 2 = 0")
	h.CaughtUp()
	l := h.Read()
	converged(t, fold(t, l), h.sourceState("customers", "orders", "keyless", "bulk"))

	var sawTruncate bool
	maxEvents := 0
	inserted := map[string]string{} // customer -> seq of its insert txn
	for _, txn := range l.Txns {
		if txn.End.EventCount != txn.Records {
			t.Fatalf("txn %s: END says %d, read %d", txn.End.Seq, txn.End.EventCount, txn.Records)
		}
		maxEvents = max(maxEvents, len(txn.Events))
		for _, e := range txn.Events {
			switch e.Change.Table.Name {
			case "keyless":
				sawTruncate = sawTruncate || e.Change.Op == ordering.OpTruncate
			case "customers":
				if e.Change.Op == ordering.OpInsert {
					inserted[e.Change.After[0].String()] = txn.End.Seq.String()
				}
			case "orders":
				if e.Change.Op == ordering.OpInsert {
					parent := inserted[e.Change.After[1].String()]
					if parent != "" && parent != txn.End.Seq.String() && txn.End.DependsOn.String() < parent {
						t.Errorf("order in %s depends on %s, before its customer's insert %s", txn.End.Seq, txn.End.DependsOn, parent)
					}
				}
			}
		}
	}
	if !sawTruncate || maxEvents < 40000 {
		t.Errorf("truncate=%v biggest=%d", sawTruncate, maxEvents)
	}
	t.Logf("%d transactions, biggest %d", len(l.Txns), maxEvents)
}

// TestSnapshotJoinsStream: writes race the snapshot without a gap or a
// duplicate.
func TestSnapshotJoinsStream(t *testing.T) {
	h := newHarness(t, `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, v int NOT NULL DEFAULT 0)`,
		`INSERT INTO accounts (id, balance) SELECT seq, 100 FROM seq_1_to_20000`)
	sourcetest.SnapshotJoinsStream(t, h, "accounts", 3, func(ctx context.Context, committed func()) {
		db, _ := sql.Open("mysql", testenv.MySQLSource(t)+h.Name)
		defer db.Close()
		for ctx.Err() == nil {
			a, b := rand.IntN(25000)+1, rand.IntN(20000)+1
			tx, err := db.Begin()
			if err != nil {
				continue
			}
			tx.Exec("UPDATE accounts SET balance = balance - 1, v = v + 1 WHERE id = ?", b)
			tx.Exec("INSERT INTO accounts (id, balance) VALUES (?, 1) ON DUPLICATE KEY UPDATE balance = balance + 1, v = v + 1", a)
			if a%17 == 0 {
				tx.Exec("DELETE FROM accounts WHERE id = ?", a)
			}
			if tx.Commit() == nil {
				committed()
			}
		}
	})
}

// TestDDLMidStream: rows decode with their own shape across add, drop and
// rename column, and create and drop table.
func TestDDLMidStream(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, a varchar(10))`)
	h.start(h.config())
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (1, 'one')")
	h.Exec("ALTER TABLE t ADD COLUMN b decimal(6,2) DEFAULT 1.5")
	h.Exec("INSERT INTO t VALUES (2, 'two', 2.25)")
	h.Exec("ALTER TABLE t DROP COLUMN a")
	h.Exec("INSERT INTO t VALUES (3, 3.75)")
	h.Exec("ALTER TABLE t RENAME COLUMN b TO c")
	h.Exec("INSERT INTO t VALUES (4, 4.00)")
	h.Exec("CREATE TABLE u (id int PRIMARY KEY, s varchar(5))")
	h.Exec("INSERT INTO u VALUES (1, 'x')")
	h.Exec("DROP TABLE u")
	h.Exec("INSERT INTO t VALUES (5, 5.5)")
	h.CaughtUp()
	var got []string
	for _, txn := range h.Read().Txns {
		for _, e := range txn.Events {
			var s string
			for i, c := range e.Change.Table.Columns {
				if e.Change.Op == ordering.OpTruncate {
					s = "truncate"
					break
				}
				s += c.Name + "=" + e.Change.After[i].String() + " "
			}
			got = append(got, e.Change.Table.Name+": "+s)
		}
	}
	// DROP TABLE of a captured table is a truncate of it (a table created
	// again under the name starts empty on the followers).
	want := []string{"t: id=1 a=one ", "t: id=2 a=two b=2.25 ", "t: id=3 b=3.75 ", "t: id=4 c=4.00 ", "u: id=1 s=x ", "u: truncate", "t: id=5 c=5.50 "}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRestartResumes: a stop and a restart lose and repeat nothing.
func TestRestartResumes(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`)
	sourcetest.RestartResumes(t, h, "t", "INSERT INTO t SELECT seq, 0 FROM seq_1_to_100")
}

// TestServerIDClash: a second consumer with the same server_id is refused.
func TestServerIDClash(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY)`)
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	second := New(cfg, h.src.newLog, h.Store, h.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := second.Run(ctx, func() {})
	if !errors.Is(err, ErrServerIDClash) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	t.Logf("error: %v", err)
}

// TestPurgedBinlogStops: a checkpoint the server does not have stops the
// source permanently, naming the rebuild. A GTID the server never had (as
// here: purging the shared test server's binlogs would break every other
// consumer of it) is found before streaming (ErrLeaderBehind); one whose
// binlogs were purged (still in gtid_binlog_state) gets error 1236 from
// the server (ErrPurged).
func TestPurgedBinlogStops(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY)`)
	cfg := h.config()
	h.start(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (1)")
	h.CaughtUp()
	h.Stop()
	cp, err := h.Store.Load(context.Background(), "my")
	if err != nil {
		t.Fatal(err)
	}
	// Point the checkpoint at a GTID the server's binlogs do not hold (as
	// after PURGE BINARY LOGS; purging the shared test server's binlogs would
	// break every other consumer of it). The server answers error 1236
	// either way.
	bad := cp
	if bad.Position.GTIDs, err = offsets.ParseGTIDSet(offsets.FlavorMariaDB, "0-99-1"); err != nil {
		t.Fatal(err)
	}
	bad.Seq.Pos = cp.Seq.Pos + 1
	if err := h.Store.Save(context.Background(), "my", bad); err != nil {
		t.Fatal(err)
	}
	src := New(cfg, h.src.newLog, h.Store, h.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = src.Run(ctx, func() {})
	if !errors.Is(err, ErrLeaderBehind) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), "0-99-1") ||
		!strings.Contains(err.Error(), "walship replay --resnapshot") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("error: %v", err)
}

// TestSemiSync: with the server's semi-sync on and walship a semi-sync
// replica, a COMMIT returns only once its change is in Kafka.
func TestSemiSync(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY)`)
	for _, q := range []string{"SET GLOBAL rpl_semi_sync_master_enabled = ON", "SET GLOBAL rpl_semi_sync_master_timeout = 30000",
		"SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC"} {
		h.Exec(q)
	}
	t.Cleanup(func() {
		db, _ := sql.Open("mysql", testenv.MySQLSource(t))
		db.Exec("SET GLOBAL rpl_semi_sync_master_enabled = OFF")
		db.Close()
	})
	cfg := h.config()
	cfg.Semisync = true
	h.start(cfg)
	waitStreaming(t, h)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var name string
		var clients int
		h.db.QueryRow("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'").Scan(&name, &clients)
		if clients > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("walship never registered as a semi-sync replica")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 1; i <= 5; i++ {
		h.Exec("INSERT INTO t VALUES (?)", i)
		found := false
		for _, txn := range h.Read().Txns {
			for _, e := range txn.Events {
				if e.Change.Op == ordering.OpInsert && e.Change.After[0].Int() == int64(i) {
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("insert %d committed but is not in Kafka", i)
		}
	}
	var name string
	var yes, no int
	h.db.QueryRow("SHOW STATUS LIKE 'Rpl_semi_sync_master_yes_tx'").Scan(&name, &yes)
	h.db.QueryRow("SHOW STATUS LIKE 'Rpl_semi_sync_master_no_tx'").Scan(&name, &no)
	t.Logf("semi-sync acknowledged transactions: %d, unacknowledged: %d", yes, no)
	if yes < 5 {
		t.Errorf("only %d transactions were semi-sync acknowledged", yes)
	}
}
