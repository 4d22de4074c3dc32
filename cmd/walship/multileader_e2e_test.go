package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/faultproxy"
	"github.com/walship/walship/internal/testenv"
)

// leader is one database of a multi-leader pair: a source of walship and
// a follower of the other's.
type leader struct {
	engine string // "postgres" or "mariadb"
	db     *sql.DB
	dsn    string // the sink's DSN
	block  string // the source's engine block
	drop   func()
}

// newLeader makes a database of engine on the local source server, with
// the table accounts (ids 1 to 50) in schema (PostgreSQL) or database
// (MariaDB) name. Both leaders start with the same rows, so their sources
// take no snapshot (snapshot: never): an initial copy applied to a leader
// that already takes writes would put its rows back to the other's.
func newLeader(t *testing.T, engine, name, dbName string) *leader {
	t.Helper()
	ctx := context.Background()
	l := &leader{engine: engine}
	switch engine {
	case "postgres":
		root := testenv.PGSource(t)
		conn, err := pgx.Connect(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		l.dsn = strings.Replace(root, "/postgres?", "/"+dbName+"?", 1)
		l.drop = func() {
			if conn, err := pgx.Connect(ctx, root); err == nil {
				conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", dbName)
				conn.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
				conn.Close(ctx)
			}
		}
		var err2 error
		if l.db, err2 = sql.Open("pgx", l.dsn); err2 != nil {
			t.Fatal(err2)
		}
		for _, q := range []string{
			"CREATE SCHEMA " + name,
			"CREATE TABLE " + name + ".accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)",
			"INSERT INTO " + name + ".accounts SELECT g, 100, 0 FROM generate_series(1, 50) g",
			// Counters need the old balance.
			"ALTER TABLE " + name + ".accounts REPLICA IDENTITY FULL",
		} {
			if _, err := l.db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		l.block = fmt.Sprintf("postgres: { dsn: %q, slot: %s, publication: %s, tables: [%s.*], heartbeat_interval: 200ms, snapshot: never }", l.dsn, dbName, dbName, name)
	case "mariadb":
		root := testenv.MySQLSource(t)
		rdb, err := sql.Open("mysql", root)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rdb.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		rdb.Close()
		l.dsn = root + name
		l.drop = func() {
			if db, err := sql.Open("mysql", root); err == nil {
				db.Exec("DROP DATABASE IF EXISTS " + name)
				db.Close()
			}
		}
		if l.db, err = sql.Open("mysql", l.dsn); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)",
			"INSERT INTO accounts SELECT seq, 100, 0 FROM seq_1_to_50",
		} {
			if _, err := l.db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		addr := root[strings.Index(root, "(")+1 : strings.Index(root, ")")]
		l.block = fmt.Sprintf("mysql: { addr: %q, user: root, server_id: %d, flavor: mariadb, tables: [%s.*], snapshot: never }", addr, 40000+os.Getpid()%20000, name)
	default:
		t.Fatalf("engine %q", engine)
	}
	t.Cleanup(func() { l.db.Close(); l.drop() })
	return l
}

// runLeaders runs walship with the file cfgPath until the test ends (its
// topics, under prefix name, dropped then), logging to dir/walship.log,
// and returns what reads the log's tail.
func runLeaders(t *testing.T, name, dir, cfgPath string) (logTail func() string) {
	t.Helper()
	t.Cleanup(func() {
		if os.Getenv("WALSHIP_KEEP_TOPICS") != "1" {
			testenv.DropTopics(t, name+".")
		}
	})
	logf, _ := os.Create(filepath.Join(dir, "walship.log"))
	cmd := exec.Command(binary, "run", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logf.Close()
	})
	return func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "walship.log"))
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		return string(b)
	}
}

func (l *leader) rebind(q string) string {
	if l.engine != "postgres" {
		return q
	}
	n := 0
	return replaceEach(q, "?", func() string { n++; return fmt.Sprintf("$%d", n) })
}

// TestMultiLeaderLoopPrevention (issue 20): two PostgreSQL databases, each
// a source of walship and a follower of the other's (ignore_writes_of),
// take writes at once: on keys of their own, and increments of the same
// hot rows' balance, a counter (conflicts.counters); midway the link from
// a to b is cut with the fault proxy for 3 s, and healed. Both end with the
// same content, every increment of both counted, walship verify passes
// both ways, and no change loops: each source publishes exactly its own
// database's transactions and leaves out those its sink applied, and
// nothing is published once the writers stop.
func TestMultiLeaderLoopPrevention(t *testing.T) { multiLeader(t, "postgres") }

// TestMultiLeaderLoopPreventionMariaDB is the same between PostgreSQL and
// MariaDB.
func TestMultiLeaderLoopPreventionMariaDB(t *testing.T) { multiLeader(t, "mariadb") }

func multiLeader(t *testing.T, engineB string) {
	testenv.Integration(t)
	broker := testenv.Kafka(t)
	name := fmt.Sprintf("walship_ml_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	a := newLeader(t, "postgres", name, name+"_a")
	b := newLeader(t, engineB, name, name+"_b")
	dir := t.TempDir()
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "walship.yaml")
	// The link from a to b (sink tob's connections to b) goes through a
	// fault proxy, cut midway.
	var host string
	if b.engine == "postgres" {
		u, err := url.Parse(b.dsn)
		if err != nil {
			t.Fatal(err)
		}
		host = u.Host
	} else {
		host = b.dsn[strings.Index(b.dsn, "(")+1 : strings.Index(b.dsn, ")")]
	}
	proxy, err := faultproxy.Listen("127.0.0.1:0", host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	sinkBlock := func(l *leader) string {
		dsn := l.dsn
		if l == b {
			dsn = strings.Replace(dsn, host, proxy.Addr(), 1)
		}
		if l.engine == "postgres" {
			return fmt.Sprintf("postgres: { dsn: %q }", dsn)
		}
		return fmt.Sprintf("mysql: { dsn: %q }", dsn)
	}
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: %q }
shutdown_timeout: 20s
kafka: { brokers: [%q], topic_prefix: %s, partitions: 4 }
sources:
  - name: a
    %s
    ignore_writes_of: [toa]
  - name: b
    %s
    ignore_writes_of: [tob]
sinks:
  - { name: tob, from: [a], workers: 4, %s, conflicts: { policy: keep_remote, counters: { %s.accounts: [balance] } } }
  - { name: toa, from: [b], workers: 4, %s, conflicts: { policy: keep_remote, counters: { %s.accounts: [balance] } } }
`, filepath.Join(dir, "state"), addr, broker, name, a.block, b.block, sinkBlock(b), name, sinkBlock(a), name)), 0o600)
	logTail := runLeaders(t, name, dir, cfgPath)
	// Both streaming before the writers start.
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		doc := liveDoc(t, addr)
		n := 0
		for _, s := range doc.Sources {
			if s.State == "streaming" {
				n++
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sources are not streaming:\n%s", logTail())
		}
	}

	table := func(l *leader) string {
		if l.engine == "postgres" {
			return name + ".accounts"
		}
		return "accounts"
	}
	// Midway the link from a to b is down for 3 s, and the writers go on
	// 3 s after it healed. make bench-multileader sets a longer cut
	// (WALSHIP_BENCH_PARTITION), the writers stopping as it heals, and
	// reports the time from the heal to both leaders equal.
	cut, after := 3*time.Second, 3*time.Second
	benchCut := os.Getenv("WALSHIP_BENCH_PARTITION")
	if benchCut != "" {
		var err error
		if cut, err = time.ParseDuration(benchCut); err != nil {
			t.Fatalf("WALSHIP_BENCH_PARTITION: %v", err)
		}
		after = 0
	}
	var mu sync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second+cut+after)
	defer cancel()
	var healed time.Time
	go func() {
		time.Sleep(3 * time.Second)
		proxy.Set(faultproxy.Refuse, 0)
		proxy.Cut()
		time.Sleep(cut)
		proxy.Set(faultproxy.Pass, 0)
		mu.Lock()
		healed = time.Now()
		mu.Unlock()
	}()
	var wg sync.WaitGroup
	writes := map[string]int64{}
	var hot int64 // increments of the hot rows, both sides
	for i, l := range []*leader{a, b} {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			var n, h int64
			next := int64(100000 * (i + 1))
			for ctx.Err() == nil {
				var err error
				switch r := rng.IntN(10); {
				case r < 2:
					next++
					_, err = l.db.Exec(l.rebind("INSERT INTO "+table(l)+" VALUES (?, 0, 0)"), next)
				case r < 5:
					// The hot rows, 41 to 50: both sides add to their
					// balance at once.
					_, err = l.db.Exec(l.rebind("UPDATE "+table(l)+" SET balance = balance + 1 WHERE id = ?"), int64(41+rng.IntN(10)))
					h++
				default:
					// Keys of its own: a's 1 to 20, b's 21 to 40.
					id := int64(i*20 + 1 + rng.IntN(20))
					_, err = l.db.Exec(l.rebind("UPDATE "+table(l)+" SET balance = balance + 1, version = version + 1 WHERE id = ?"), id)
				}
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("writer on %s: %v", l.engine, err)
					}
					break
				}
				n++
				time.Sleep(3 * time.Millisecond)
			}
			mu.Lock()
			writes[[]string{"a", "b"}[i]] = n
			hot += h
			mu.Unlock()
		})
	}
	wg.Wait()

	content := func(l *leader) []string {
		got, err := rows(l.db, "SELECT id, balance, version FROM "+table(l)+" ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ca, cb := content(a), content(b)
		if slices.Equal(ca, cb) {
			mu.Lock()
			converged := time.Since(healed)
			mu.Unlock()
			t.Logf("a and b equal %s after the link (cut for %s) healed; the writers stopped %s after it", converged.Round(10*time.Millisecond), cut, after)
			if benchCut != "" {
				benchkit.WriteResult(t, "multileader", map[string]any{
					"benchmark": "TestMultiLeaderPartition/" + engineB, "partition_seconds": cut.Seconds(),
					"heal_to_equal_seconds": converged.Seconds(), "writes_a": writes["a"], "writes_b": writes["b"],
				})
			}
			break
		}
		if time.Now().After(deadline) {
			missing, extra := diff(ca, cb)
			t.Fatalf("a and b differ after the writers stopped: b lacks %d rows of a (%v), has %d others (%v)\n%s", len(missing), head(missing), len(extra), head(extra), logTail())
		}
	}
	for _, l := range []*leader{a, b} {
		var sum int64
		if err := l.db.QueryRow("SELECT sum(balance) FROM " + table(l) + " WHERE id BETWEEN 41 AND 50").Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum != 1000+hot {
			t.Errorf("%s: the hot rows' balances add up to %d, want %d (1000 and %d increments on both sides)", l.engine, sum, 1000+hot, hot)
		}
	}
	// Nothing loops: once both are equal, each source has published its
	// own writes, exactly, and goes on publishing nothing.
	counts := func() map[string][2]int64 {
		out := map[string][2]int64{}
		for _, s := range liveDoc(t, addr).Sources {
			out[s.Name] = [2]int64{s.Transactions, s.IgnoredTransactions}
		}
		return out
	}
	time.Sleep(2 * time.Second)
	first := counts()
	time.Sleep(2 * time.Second)
	second := counts()
	t.Logf("writes %v; published and left out per source: %v", writes, second)
	for _, s := range []string{"a", "b"} {
		if first[s][0] != second[s][0] {
			t.Errorf("source %s still publishes after the writers stopped: %v, then %v", s, first[s], second[s])
		}
		if second[s][0] != writes[s] {
			t.Errorf("source %s published %d transactions; its database took %d writes", s, second[s][0], writes[s])
		}
		if second[s][1] == 0 {
			t.Errorf("source %s left nothing out: the other's changes applied to it were not named", s)
		}
	}
	for _, sink := range []string{"tob", "toa"} {
		if out, code := runVerify(t, "-c", cfgPath, "--sink", sink, "--timeout", "60s"); code != 0 {
			t.Errorf("walship verify --sink %s: exit %d:\n%s", sink, code, out)
		}
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// TestMultiLeaderCascade (issue 20): A → B → C, B's source not ignoring the
// sink that writes A's changes into B (no ignore_writes_of): they go on to
// C, a MariaDB database, which ends equal to A.
func TestMultiLeaderCascade(t *testing.T) {
	testenv.Integration(t)
	broker := testenv.Kafka(t)
	name := fmt.Sprintf("walship_mlc_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	a := newLeader(t, "postgres", name, name+"_a")
	b := newLeader(t, "postgres", name, name+"_b")
	c := newLeader(t, "mariadb", name, name+"_c")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "walship.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: "off" }
shutdown_timeout: 20s
kafka: { brokers: [%q], topic_prefix: %s, partitions: 4 }
sources:
  - name: a
    %s
  - name: b
    %s
sinks:
  - { name: tob, from: [a], postgres: { dsn: %q } }
  - { name: toc, from: [b], mysql: { dsn: %q } }
`, filepath.Join(dir, "state"), broker, name, a.block, b.block, b.dsn, c.dsn)), 0o600)
	logTail := runLeaders(t, name, dir, cfgPath)
	time.Sleep(2 * time.Second) // the sources stream (snapshot: never)
	for i := 0; i < 200; i++ {
		q, id := "UPDATE "+name+".accounts SET balance = balance + 1, version = version + 1 WHERE id = ?", int64(1+i%50)
		if i%4 == 0 {
			q, id = "INSERT INTO "+name+".accounts VALUES (?, 0, 0)", int64(1000+i)
		}
		if _, err := a.db.Exec(a.rebind(q), id); err != nil {
			t.Fatal(err)
		}
	}
	want, err := rows(a.db, "SELECT id, balance, version FROM "+name+".accounts ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := rows(c.db, "SELECT id, balance, version FROM accounts ORDER BY id")
		if err == nil && slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("C does not hold A's rows (%d rows, want %d)\n%s", len(got), len(want), logTail())
		}
	}
}
