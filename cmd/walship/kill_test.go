package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
)

// TestKill9SourceLosesNothing runs walship with a PostgreSQL source while a
// workload commits, kills it with SIGKILL at random moments (a printed
// seed replays the schedule), restarts it, and checks that every committed
// transaction is in Kafka and that the slot's confirmed_flush_lsn never
// passed what Kafka held.
func TestKill9SourceLosesNothing(t *testing.T) {
	pgURL := testenv.PGSource(t)
	broker := testenv.Kafka(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("WALSHIP_KILL_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("kill schedule seed %d (set WALSHIP_KILL_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	ctx := context.Background()
	name := fmt.Sprintf("walship_kill_%d", os.Getpid())
	root, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close(ctx)
	root.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	if _, err := root.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// root is closed by now (defers run before cleanups): connect
		// again. A killed daemon's walsender may hold the slot for a
		// moment; the database cannot be dropped while its slot exists.
		conn, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer conn.Close(ctx)
		for range 50 {
			conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
				WHERE slot_name = $1 AND NOT active`, name)
			var left int
			if conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", name).Scan(&left) == nil && left == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	dsn := strings.Replace(pgURL, "/postgres?", "/"+name+"?", 1)
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `CREATE TABLE t (id bigint PRIMARY KEY, v bigint NOT NULL);
		CREATE TABLE total (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO total VALUES (1, 0);`); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "walship.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: "off" }
shutdown_timeout: 20s
kafka: { brokers: [%q], topic_prefix: %s, partitions: 3 }
sources:
  - name: pg
    postgres: { dsn: %q, slot: %s, publication: %s, tables: [public.*], heartbeat_interval: 200ms }
`, filepath.Join(dir, "state"), broker, name, dsn, name, name)), 0o600)

	start := func() (*exec.Cmd, *os.File) {
		logf, _ := os.OpenFile(filepath.Join(dir, "walship.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		cmd := exec.Command(binary, "run", "-c", cfgPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, logf
	}

	// The workload: each transaction inserts one row and bumps a total; it
	// records its id and an upper bound of its commit LSN.
	type committed struct {
		id    int64
		upper offsets.LSN
	}
	var mu sync.Mutex
	var done []committed
	wctx, stopWorkload := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		for id := int64(1); wctx.Err() == nil; id++ {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			tx.Exec(ctx, "INSERT INTO t VALUES ($1, $1)", id)
			tx.Exec(ctx, "UPDATE total SET n = n + 1 WHERE id = 1")
			if err := tx.Commit(ctx); err != nil {
				t.Error(err)
				return
			}
			var upper offsets.LSN
			conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()").Scan(&upper)
			mu.Lock()
			done = append(done, committed{id, upper})
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	// The position observer.
	var confirmed []offsets.LSN
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		for wctx.Err() == nil {
			var c *offsets.LSN
			conn.QueryRow(ctx, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", name).Scan(&c)
			if c != nil {
				mu.Lock()
				confirmed = append(confirmed, *c)
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	cmd, logf := start()
	for kill := 1; kill <= 5; kill++ {
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		logf.Close()
		t.Logf("kill %d", kill)
		cmd, logf = start()
	}
	time.Sleep(time.Second)
	stopWorkload()
	wg.Wait()

	// Let the last run catch up, then stop it cleanly.
	var final offsets.LSN
	db.QueryRow(ctx, "SELECT pg_current_wal_lsn()").Scan(&final)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var c *offsets.LSN
		root.QueryRow(ctx, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", name).Scan(&c)
		if c != nil && *c >= final {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "walship.log"))
			t.Fatalf("walship did not catch up to %s; log:\n%s", final, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	logf.Close()

	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	l, err := logread.Read(rctx, broker, name+".pg")
	if err != nil {
		t.Fatal(err)
	}
	inKafka := map[int64]bool{}
	dups := 0
	seen := map[offsets.Seq]bool{}
	for _, txn := range l.Txns {
		if seen[txn.End.Seq] {
			dups++
		}
		seen[txn.End.Seq] = true
		for _, e := range txn.Events {
			if e.Change.Table.Name == "t" && e.Change.After != nil {
				inKafka[e.Change.After[0].Int()] = true
			}
		}
	}
	lost := 0
	for _, c := range done {
		if !inKafka[c.id] {
			lost++
			if lost < 5 {
				t.Errorf("committed transaction %d is not in Kafka", c.id)
			}
		}
	}
	// confirmed_flush_lsn never passed Kafka: every transaction committed
	// at or below an observed confirmed position was in Kafka.
	maxConfirmed := offsets.LSN(0)
	for _, c := range confirmed {
		maxConfirmed = max(maxConfirmed, c)
	}
	for _, c := range done {
		if c.upper <= maxConfirmed && !inKafka[c.id] {
			t.Errorf("slot confirmed %s past transaction %d (committed by %s) that Kafka does not hold", maxConfirmed, c.id, c.upper)
		}
	}
	t.Logf("%d committed transactions, %d lost, %d re-sent transactions in the log, %d confirmed positions observed", len(done), lost, dups, len(confirmed))
}
