package validate

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// hotRowFollower is a SQLite follower holding the workload's tables,
// filled as the source starts.
func hotRowFollower(t *testing.T, w *HotRow) *Follower {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "f.db")+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ddl, err := HotRowDDL("sqlite", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(ddl, w.FillSQL("sqlite", "")...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return &Follower{Name: "lite", Engine: "sqlite", DB: db}
}

func TestHotRowFillAndForeignKeys(t *testing.T) {
	w := &HotRow{Engine: "postgres", Accounts: 1000}
	f := hotRowFollower(t, w)
	for table, want := range map[string]int64{"branches": 5, "tellers": 50, "accounts": 1000} {
		if n, err := CountRows(context.Background(), f, table); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
	if _, err := f.DB.Exec("INSERT INTO history VALUES (1, 1, 1, 1001, 5, 'now')"); err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Errorf("a history row of a missing account: %v, want a foreign key violation", err)
	}
}

func TestHotRowPollerSeesAPartialTransaction(t *testing.T) {
	w := &HotRow{Engine: "postgres", Accounts: 100}
	f := hotRowFollower(t, w)
	var v Violations
	p := &HotRowPoller{F: f, V: &v, Interval: 5 * time.Millisecond}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	// Whole transactions: never a violation.
	for i := 1; i <= 20; i++ {
		tx, _ := f.DB.Begin()
		for _, q := range []string{"UPDATE accounts SET balance = balance + 7 WHERE id = 3", "UPDATE tellers SET balance = balance + 7 WHERE id = 13",
			"UPDATE branches SET balance = balance + 7 WHERE id = 3"} {
			if _, err := tx.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec("INSERT INTO history VALUES (?, 13, 3, 3, 7, 'now')", i); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	for p.Polls() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	if v.Count() != 0 {
		t.Fatalf("violations on whole transactions: %v", v.First())
	}
	// Part of one: the teller's update alone.
	if _, err := f.DB.Exec("UPDATE tellers SET balance = balance + 1 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); v.Count() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
	if v.Count() == 0 || !strings.Contains(v.First()[0], "atomicity: branches 140, tellers 141, accounts 140, history deltas 140 (20 rows)") {
		t.Errorf("violations %v, want the teller's sum off by 1", v.First())
	}
}

func TestCheckHotRowCountsHistory(t *testing.T) {
	w := &HotRow{Engine: "postgres", Accounts: 10}
	src, fol := hotRowFollower(t, w), hotRowFollower(t, w)
	for _, db := range []*sql.DB{src.DB, fol.DB} {
		if _, err := db.Exec("INSERT INTO history VALUES (1, 1, 1, 1, 0, 'now')"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.DB.Exec("INSERT INTO history VALUES (2, 1, 1, 1, 0, 'now')"); err != nil {
		t.Fatal(err)
	}
	var v Violations
	if err := CheckHotRow(context.Background(), src, fol, &v); err != nil {
		t.Fatal(err)
	}
	if v.Count() == 0 || !strings.Contains(strings.Join(v.First(), "\n"), "history holds 1 rows, the source 2") {
		t.Errorf("violations %v, want the missing history row", v.First())
	}
}

func TestHotRowDDLPerEngine(t *testing.T) {
	for _, e := range []string{"postgres", "mariadb", "mysql", "sqlite"} {
		ddl, err := HotRowDDL(e, "s")
		if err != nil || len(ddl) < 4 {
			t.Errorf("%s: %d statements, %v", e, len(ddl), err)
		}
	}
	if ddl, _ := HotRowDDL("postgres", "s"); !strings.Contains(ddl[4], `REFERENCES "s".accounts(id)`) {
		t.Errorf("postgres history DDL: %s", ddl[4])
	}
	if _, err := HotRowDDL("oracle", ""); err == nil {
		t.Error("an unknown engine was accepted")
	}
	w := &HotRow{Accounts: 7}
	if q := w.FillSQL("postgres", "s")[2]; q != `INSERT INTO "s".accounts (id, branch_id, balance) SELECT g, (g - 1) % 5 + 1, 0 FROM generate_series(1, 7) g` {
		t.Errorf("fill: %s", q)
	}
	if q := rebind("postgres", "UPDATE t SET a = ? WHERE id = ?"); q != "UPDATE t SET a = $1 WHERE id = $2" {
		t.Errorf("rebind: %s", q)
	}
}
