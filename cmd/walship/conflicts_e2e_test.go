package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// TestConflictPolicies (issue 20): the three followers take writes of
// their own, as a second leader would, and then meet changes from the
// source that conflict with them. accounts is keep_remote with balance a
// counter, customers keep_local, orders record. Every kind of conflict is
// settled by its table's policy on PostgreSQL, MariaDB and SQLite alike,
// counted per table, kind and resolution in the status, and the recorded
// ones are in the follower's conflicts table with both rows.
func TestConflictPolicies(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 2)
	e.sinkOption(`conflicts: { policy: keep_remote, tables: { public.customers: keep_local, public.orders: record }, counters: { public.accounts: [balance] } }`)
	// walship check: a counter needs full before images.
	if out, code := walship(t, "check", "-c", e.cfgPath); code == 0 || !strings.Contains(out, "the counters of public.accounts need the old values of updates") {
		t.Errorf("walship check with a counter on a table without full before images: exit %d:\n%s", code, out)
	}
	for _, q := range []string{
		`ALTER TABLE accounts REPLICA IDENTITY FULL`,
		`ALTER TABLE customers REPLICA IDENTITY FULL`,
		`ALTER TABLE orders REPLICA IDENTITY FULL`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := walship(t, "check", "-c", e.cfgPath); code != 0 || !strings.Contains(out, "conflicts: 3 table(s) named have full before images") {
		t.Errorf("walship check: exit %d:\n%s", code, out)
	}
	addr := withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)

	src := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := e.src.Exec(q); err != nil {
				t.Fatalf("source: %s: %v", q, err)
			}
		}
	}
	local := func(qs ...string) {
		t.Helper()
		for engine, db := range e.followers {
			for _, q := range qs {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s follower: %s: %v", engine, q, err)
				}
			}
		}
	}
	// want waits until query reads want on every follower.
	want := func(query, want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for engine, db := range e.followers {
			for {
				got, err := rows(db, query)
				s := fmt.Sprint(got)
				if err == nil && s == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s follower: %s reads %s (err %v), want %s\nlog tail:\n%s", engine, query, s, err, want, e.logTail())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}

	// The followers' own writes.
	local(
		`UPDATE accounts SET balance = balance + 10 WHERE id = 1`,
		`DELETE FROM accounts WHERE id IN (2, 4)`,
		`UPDATE accounts SET version = 99 WHERE id = 3`,
		`INSERT INTO accounts VALUES (1000, 7, 7)`,
		`INSERT INTO customers VALUES (1, 'local')`,
	)
	// The source's, each meeting one.
	src(
		`UPDATE accounts SET balance = balance + 5 WHERE id = 1`,  // counter: both increments count
		`UPDATE accounts SET version = version + 1 WHERE id = 2`,  // update_missing: inserted
		`UPDATE accounts SET version = version + 1 WHERE id = 3`,  // update_differs: applied
		`INSERT INTO accounts VALUES (1000, 1, 1)`,                // insert_exists: applied
		`DELETE FROM accounts WHERE id = 4`,                       // delete_missing
		`INSERT INTO customers VALUES (1, 'remote'), (2, 'x')`,    // insert_exists: kept
		`INSERT INTO orders VALUES (1, 2, 9.99, 0), (2, 2, 1, 0)`, // no conflict
	)
	want(`SELECT id, balance, version FROM accounts WHERE id IN (1, 2, 3, 4, 1000) ORDER BY id`,
		"[true:1|true:115|true:0 true:2|true:100|true:1 true:3|true:100|true:1 true:1000|true:1|true:1]")
	want(`SELECT id, name FROM customers ORDER BY id`, "[true:1|true:local true:2|true:x]")
	want(`SELECT id, version FROM orders ORDER BY id`, "[true:1|true:0 true:2|true:0]")

	local(
		`UPDATE customers SET name = 'local2' WHERE id = 2`,
		`UPDATE orders SET version = 5 WHERE id = 1`,
		`DELETE FROM orders WHERE id = 2`,
	)
	src(
		`UPDATE customers SET name = 'y' WHERE id = 2`, // update_differs: kept
		`UPDATE orders SET version = 1 WHERE id = 1`,   // update_differs: recorded
		`DELETE FROM orders WHERE id = 2`,              // delete_missing: recorded
		`INSERT INTO customers VALUES (3, 'z')`,        // a marker: the above are applied
	)
	want(`SELECT id, name FROM customers ORDER BY id`, "[true:1|true:local true:2|true:local2 true:3|true:z]")
	want(`SELECT id, version FROM orders ORDER BY id`, "[true:1|true:5]")

	// The recorded conflicts, with both rows.
	for engine, db := range e.followers {
		table := "_walship_conflicts"
		if engine == "postgres" {
			table = "walship.conflicts"
		}
		got, err := rows(db, "SELECT sink, tbl, kind, resolution, source, position <> '', local_row IS NULL, remote_row FROM "+table+" ORDER BY id")
		if err != nil {
			t.Fatalf("%s follower: %v", engine, err)
		}
		if len(got) != 2 {
			t.Fatalf("%s follower: %d conflicts recorded, want 2: %v", engine, len(got), got)
		}
		t.Logf("%s follower's conflicts: %v", engine, got)
		var sink, tbl, kind, res, source, remote string
		var hasPos, noLocal bool
		if err := db.QueryRow("SELECT sink, tbl, kind, resolution, source, position <> '', local_row IS NULL, remote_row FROM "+table+" ORDER BY id").
			Scan(&sink, &tbl, &kind, &res, &source, &hasPos, &noLocal, &remote); err != nil {
			t.Fatal(err)
		}
		if kind != "update_differs" || res != "recorded" || source != "src" || !hasPos || noLocal || remote == "" {
			t.Errorf("%s follower: first conflict %s %s %s %s %v %v", engine, sink, kind, res, source, hasPos, noLocal)
		}
		var kind2 string
		var noLocal2 bool
		if err := db.QueryRow("SELECT kind, local_row IS NULL FROM "+table+" ORDER BY id DESC").Scan(&kind2, &noLocal2); err != nil {
			t.Fatal(err)
		}
		if kind2 != "delete_missing" || !noLocal2 {
			t.Errorf("%s follower: second conflict %s, local row null %v", engine, kind2, noLocal2)
		}
	}

	// Counted, per sink, table, kind and resolution.
	wantCounts := map[string]int64{
		"accounts update_missing applied_remote": 1, "accounts update_differs applied_remote": 1,
		"accounts insert_exists applied_remote": 1, "accounts delete_missing applied_remote": 1,
		"customers insert_exists kept_local": 1, "customers update_differs kept_local": 1,
		"orders update_differs recorded": 1, "orders delete_missing recorded": 1,
	}
	doc := liveDoc(t, addr)
	for _, s := range doc.Sinks {
		got := map[string]int64{}
		for _, c := range s.Conflicts {
			tbl := c.Table
			if i := lastDot(tbl); i >= 0 {
				tbl = tbl[i+1:]
			}
			got[tbl+" "+c.Kind+" "+c.Resolution] += c.Count
		}
		if fmt.Sprint(got) != fmt.Sprint(wantCounts) || s.ConflictsTotal != 8 {
			t.Errorf("sink %s counts %v (total %d), want %v", s.Name, got, s.ConflictsTotal, wantCounts)
		}
	}
	// walship status and the dashboard show them.
	if out, code := walship(t, "status", "-c", e.cfgPath); code != 0 || !strings.Contains(out, "RESOLUTION") || !strings.Contains(out, "delete_missing") {
		t.Errorf("walship status: exit %d:\n%s", code, out)
	}
	b := startChromium(t, chromiumPath(t), e.dir)
	page := b.open(t, "http://"+addr+"/")
	var shown string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		var err error
		shown, err = page.eval(`[...document.querySelectorAll('#sinks-table .conflicts')].map((c) => c.textContent + ' [' + c.title.split('\n').length + ']').join('|')`)
		if err == nil && strings.Count(shown, "8 conflicts [8]") == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard's sinks show %q (%v)", shown, err)
		}
	}
	if errs := page.jsErrors(); len(errs) > 0 {
		t.Errorf("dashboard script errors: %v", errs)
	}
	t.Logf("dashboard: %s", shown)
	if _, body, err := get("http://" + addr + "/metrics"); err != nil || !strings.Contains(body, `walship_sink_conflicts_total{kind="update_differs",resolution="recorded",sink="pgf",table="public.orders"} 1`) {
		t.Errorf("metrics lack the conflicts (%v)", err)
	}
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}
