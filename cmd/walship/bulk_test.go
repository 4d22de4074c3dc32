package main

import (
	"syscall"
	"testing"
	"time"
)

// TestLargeSnapshotAndTransaction: a snapshot of thousands of rows and one
// source transaction of 100,000 rows (customers and their orders, under
// the followers' foreign keys), with text that COPY's format must escape
// (tab, newline, backslash, \N) and NULLs, reach all three followers; the
// daemon is killed once while the big transaction applies. The PostgreSQL
// follower takes these batches through COPY (snapshot rows through a
// staging table and an upsert), the others through multi-row statements.
func TestLargeSnapshotAndTransaction(t *testing.T) {
	e := newE2E(t, 4)
	const name = `'c' || g || E'\t\\N\n\\\\ "' || g || '" ü'`
	for _, q := range []string{
		`INSERT INTO customers SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE ` + name + ` END FROM generate_series(1, 4000) g`,
		`INSERT INTO orders SELECT g * 10, g, ((g % 1000) || '.25')::numeric, 0 FROM generate_series(1, 4000) g`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	e.waitRows("customers", 4000, 90*time.Second)
	e.converge(60 * time.Second)

	tx, err := e.src.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO customers SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE ` + name + ` END FROM generate_series(100001, 130000) g`,
		`INSERT INTO orders SELECT g * 10, g, ((g % 1000) || '.75')::numeric, 1 FROM generate_series(100001, 130000) g`,
		`UPDATE orders SET amount = amount + 1, version = version + 1 WHERE customer_id <= 2000`,
		`DELETE FROM orders WHERE customer_id > 3000 AND customer_id <= 4000`,
		`DELETE FROM customers WHERE id > 3000 AND id <= 4000`,
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	committed := time.Now()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	e.stop(syscall.SIGKILL)
	e.start()
	e.converge(240 * time.Second)
	t.Logf("64,000-change transaction on three followers %s after its commit (one kill -9 on the way)", time.Since(committed).Round(time.Millisecond))
}
