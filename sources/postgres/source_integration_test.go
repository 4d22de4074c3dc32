package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/logread"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

const shopSchema = `
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, name text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), total numeric(12,2), note text);
CREATE TABLE docs (id int PRIMARY KEY, body text, counter int NOT NULL DEFAULT 0);
CREATE TABLE keyless (msg text, n int);
ALTER TABLE keyless REPLICA IDENTITY FULL;
CREATE TABLE bulk (id int PRIMARY KEY, payload text);
`

func randomText(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestStreamWorkload: a concurrent workload with foreign keys, a
// truncate, a 100k-row transaction (spilled), a value over 1 MB and an
// unchanged TOASTed column reaches Kafka exactly as committed.
func TestStreamWorkload(t *testing.T) {
	h := newHarness(t, shopSchema)
	cfg := h.config()
	cfg.SpillBytes = 1 << 20 // make the big transaction spill
	h.start(cfg)
	waitStreaming(t, h)

	ctx := context.Background()
	pool := make([]*pgx.Conn, 4)
	for i := range pool {
		c, err := pgx.Connect(ctx, h.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		pool[i] = c
	}
	// Each worker owns a customer id range; orders reference its customers.
	var wg sync.WaitGroup
	for w, c := range pool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				cid := int64(w*1000 + i)
				tx, err := c.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				tx.Exec(ctx, "INSERT INTO customers VALUES ($1, $2, $3)", cid, fmt.Sprintf("c%d@x", cid), "name")
				tx.Exec(ctx, "INSERT INTO orders VALUES ($1, $2, $3, 'n')", cid*10, cid, fmt.Sprintf("%d.%02d", i, i))
				if i%3 == 0 {
					tx.Exec(ctx, "UPDATE customers SET name = $2 WHERE id = $1", cid-1, fmt.Sprintf("renamed %d", i))
				}
				if i%5 == 0 && i > 0 {
					tx.Exec(ctx, "DELETE FROM orders WHERE customer_id = $1", cid-2)
					tx.Exec(ctx, "DELETE FROM customers WHERE id = $1", cid-2)
				}
				tx.Exec(ctx, "INSERT INTO keyless VALUES ($1, $2)", fmt.Sprintf("w%d", w), i)
				if err := tx.Commit(ctx); err != nil {
					t.Errorf("worker %d txn %d: %v", w, i, err)
				}
			}
		}()
	}
	// Meanwhile: a truncate, a big transaction, big and TOASTed values.
	h.Exec("INSERT INTO docs VALUES (1, $1), (2, $2)", randomText(100_000), randomText(1_600_000))
	h.Exec("UPDATE docs SET counter = counter + 1") // body unchanged: TOAST not sent
	h.Exec("TRUNCATE keyless")
	h.Exec("INSERT INTO bulk SELECT g, 'p' || g FROM generate_series(1, 40000) g")
	h.Exec("UPDATE docs SET counter = counter + 1, body = body || 'x' WHERE id = 1")
	h.Exec("UPDATE docs SET id = 3 WHERE id = 2") // a key change
	wg.Wait()
	h.Exec("DELETE FROM keyless WHERE n % 2 = 0")
	h.CaughtUp()

	l := h.Read()
	got := fold(t, l)
	converged(t, got, h.sourceState("public.customers", "public.orders", "public.docs", "public.keyless", "public.bulk"))

	var sawUnchanged, sawBig, sawTruncate bool
	maxEvents := 0
	lastInsert := map[string]offsets.Seq{} // customer key -> seq of its insert
	for _, txn := range l.Txns {
		if txn.End.EventCount != txn.Records {
			t.Fatalf("txn %s: END says %d events, read %d", txn.End.Seq, txn.End.EventCount, txn.Records)
		}
		sum := 0
		for _, c := range txn.End.Collections {
			sum += c.EventCount
		}
		if sum != txn.Records {
			t.Errorf("txn %s: collections count %d, events %d", txn.End.Seq, sum, txn.Records)
		}
		maxEvents = max(maxEvents, len(txn.Events))
		for _, e := range txn.Events {
			ch := e.Change
			switch ch.Table.Name {
			case "docs":
				if ch.Op == ordering.OpUpdate && ch.After[1].IsUnchanged() {
					sawUnchanged = true
				}
				if ch.After != nil && len(ch.After[1].Text()) > 1_500_000 {
					sawBig = true
				}
			case "keyless":
				sawTruncate = sawTruncate || ch.Op == ordering.OpTruncate
			case "customers":
				if ch.Op == ordering.OpInsert {
					lastInsert[ch.After[0].String()] = txn.End.Seq
				}
			case "orders":
				if ch.Op == ordering.OpInsert {
					parent, ok := lastInsert[ch.After[1].String()]
					// Same transaction as the parent, or depends on it.
					if ok && parent != txn.End.Seq && txn.End.DependsOn.Less(parent) {
						t.Errorf("order %s in %s depends on %s, before its customer's insert %s",
							ch.After[0], txn.End.Seq, txn.End.DependsOn, parent)
					}
				}
			}
		}
	}
	if !sawUnchanged || !sawBig || !sawTruncate || maxEvents < 40000 {
		t.Errorf("unchanged=%v big=%v truncate=%v biggest txn=%d", sawUnchanged, sawBig, sawTruncate, maxEvents)
	}
	checkPerKeyOrder(t, l)
	events := 0
	for _, txn := range l.Txns {
		events += len(txn.Events)
	}
	t.Logf("%d transactions, %d events, biggest %d; %d tables compared", len(l.Txns), events, maxEvents, len(got))
}

// checkPerKeyOrder: within each partition, a key's events never go back in
// sequence, and a transaction's events of one partition are contiguous.
func checkPerKeyOrder(t *testing.T, l *logread.Log) {
	t.Helper()
	for part, evs := range l.Partitions {
		last := map[string]offsets.Seq{}
		for _, e := range evs {
			row := e.Change.After
			if row == nil {
				row = e.Change.Before
			}
			if row == nil {
				continue
			}
			k := e.Change.Table.QualifiedName() + rowKey(e.Change.Table, row)
			if e.Seq.Less(last[k]) {
				t.Errorf("%s: key %s went back from %s to %s", part, k, last[k], e.Seq)
			}
			last[k] = e.Seq
		}
	}
}

// StartChunked starts the source reading the snapshot in chunks of rows
// rows, and waits until it streams.
func (h *harness) StartChunked(rows int) {
	cfg := h.config()
	cfg.SnapshotChunkRows = rows
	h.start(cfg)
	waitStreaming(h.T, h)
}

func waitStreaming(t *testing.T, h *harness) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for h.src.Status().State != "streaming" {
		if time.Now().After(deadline) {
			t.Fatalf("source not streaming: %+v", h.src.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamedTransactions: with a tiny logical_decoding_work_mem the
// server streams big transactions before they commit. Rolled-back
// subtransactions and aborted transactions never reach Kafka.
func TestStreamedTransactions(t *testing.T) {
	h := newHarness(t, `CREATE TABLE items (id int PRIMARY KEY, label text);`)
	cfg := h.config()
	cfg.DecodingWorkMem = "64kB"
	cfg.SpillBytes = 256 << 10
	h.start(cfg)
	waitStreaming(t, h)
	ctx := context.Background()

	tx, err := h.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Exec(ctx, "INSERT INTO items SELECT g, 'kept' FROM generate_series(1, 20000) g")
	tx.Exec(ctx, "SAVEPOINT a")
	tx.Exec(ctx, "INSERT INTO items SELECT g, 'rolled back' FROM generate_series(20001, 40000) g")
	tx.Exec(ctx, "SAVEPOINT b")
	tx.Exec(ctx, "INSERT INTO items SELECT g, 'rolled back too' FROM generate_series(40001, 50000) g")
	tx.Exec(ctx, "ROLLBACK TO SAVEPOINT a")
	tx.Exec(ctx, "INSERT INTO items SELECT g, 'after rollback' FROM generate_series(60001, 70000) g")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	tx, _ = h.admin.Begin(ctx)
	tx.Exec(ctx, "INSERT INTO items SELECT g, 'aborted' FROM generate_series(100001, 130000) g")
	// Let the server stream part of it first (a loaded server takes its
	// time; a fixed pause made the test flaky).
	for deadline := time.Now().Add(30 * time.Second); h.src.streamed.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	tx.Rollback(ctx)
	h.Exec("INSERT INTO items VALUES (0, 'small')")
	h.CaughtUp()

	if n := h.src.streamed.Load(); n < 2 {
		t.Fatalf("the server streamed %d transactions; the test needs it to stream", n)
	}
	l := h.Read()
	converged(t, fold(t, l), h.sourceState("public.items"))
	for _, txn := range l.Txns {
		for _, e := range txn.Events {
			if label := e.Change.After[1].Text(); strings.Contains(label, "rolled back") || label == "aborted" {
				t.Fatalf("uncommitted row reached Kafka: %s", label)
			}
		}
	}
	var sizes []int
	for _, txn := range l.Txns {
		if !txn.End.Snapshot {
			sizes = append(sizes, len(txn.Events))
		}
	}
	if fmt.Sprint(sizes) != "[30000 1]" {
		t.Errorf("streamed transactions have %v rows, want [30000 1]", sizes)
	}
}
