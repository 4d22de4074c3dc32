package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	"github.com/walship/walship/internal/testenv"
)

// e2e is one end-to-end pipeline: a fresh PostgreSQL source database, a
// fresh PostgreSQL follower database, a fresh MariaDB follower database and
// a SQLite file, and walship between them.
type e2e struct {
	t         *testing.T
	name      string
	srcEngine string  // "postgres" or "mariadb"
	src       *sql.DB // the source database, for workloads and comparisons
	srcDSN    string
	pgDSN     string
	myDSN     string
	litePath  string
	dir       string
	cfgPath   string
	cmd       *exec.Cmd
	logf      *os.File
	followers map[string]*sql.DB
	// pace, when set, is the pause between workload transactions: a
	// steady load a slow machine's followers keep up with, for tests
	// about latency rather than throughput.
	pace time.Duration
}

const accounts = 50

// followerSchema is created on each follower before walship starts, with
// foreign keys: walship must keep them enforced and never violate them.
var followerSchema = map[string][]string{
	"postgres": {
		`CREATE TABLE public.accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)`,
		`CREATE TABLE public.customers (id bigint PRIMARY KEY, name text)`,
		`CREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES public.customers(id), amount numeric(12,2) NOT NULL, version bigint NOT NULL)`,
		`CREATE TABLE public.update_count (n bigint NOT NULL)`,
		`INSERT INTO public.update_count VALUES (0)`,
		`CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE public.update_count SET n = n + 1; RETURN NEW; END $$`,
		`CREATE TRIGGER accounts_updates AFTER UPDATE ON public.accounts FOR EACH ROW EXECUTE FUNCTION count_update()`,
	},
	"mysql": {
		`CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)`,
		`CREATE TABLE customers (id bigint PRIMARY KEY, name longtext)`,
		`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount decimal(12,2) NOT NULL, version bigint NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers(id))`,
		`CREATE TABLE update_count (n bigint NOT NULL)`,
		`INSERT INTO update_count VALUES (0)`,
		`CREATE TRIGGER accounts_updates AFTER UPDATE ON accounts FOR EACH ROW UPDATE update_count SET n = n + 1`,
	},
	"sqlite": {
		`CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL)`,
		`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), amount TEXT NOT NULL, version INTEGER NOT NULL)`,
		`CREATE TABLE update_count (n INTEGER NOT NULL)`,
		`INSERT INTO update_count VALUES (0)`,
		`CREATE TRIGGER accounts_updates AFTER UPDATE ON accounts BEGIN UPDATE update_count SET n = n + 1; END`,
	},
}

func newE2E(t *testing.T, workers int) *e2e { return newE2EFrom(t, "postgres", workers) }

// newE2EFrom builds the pipeline from a PostgreSQL or a MariaDB source.
// With a MariaDB source the tables live in a database named like the test,
// so the PostgreSQL follower keeps them in a schema of that name.
func newE2EFrom(t *testing.T, engine string, workers int) *e2e {
	t.Helper()
	pgFol := testenv.PGFollower(t)
	myFol := testenv.MySQLFollower(t)
	broker := testenv.Kafka(t)
	ctx := context.Background()
	e := &e2e{t: t, name: fmt.Sprintf("walship_e2e_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6), dir: t.TempDir(),
		srcEngine: engine, followers: map[string]*sql.DB{}}
	t.Cleanup(e.cleanup)
	conn, err := pgx.Connect(ctx, pgFol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+e.name); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	e.pgDSN = strings.Replace(pgFol, "/postgres?", "/"+e.name+"?", 1)
	myRoot, err := sql.Open("mysql", myFol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := myRoot.Exec("CREATE DATABASE " + e.name); err != nil {
		t.Fatal(err)
	}
	myRoot.Close()
	e.myDSN = myFol + e.name
	e.litePath = filepath.Join(e.dir, "follower.db")

	var sourceBlock, schema string
	switch engine {
	case "postgres":
		pgSrc := testenv.PGSource(t)
		conn, err := pgx.Connect(ctx, pgSrc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+e.name); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		e.srcDSN = strings.Replace(pgSrc, "/postgres?", "/"+e.name+"?", 1)
		if e.src, err = sql.Open("pgx", e.srcDSN); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)`,
			`CREATE TABLE customers (id bigint PRIMARY KEY, name text)`,
			`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), amount numeric(12,2) NOT NULL, version bigint NOT NULL)`,
			`INSERT INTO accounts SELECT g, 100, 0 FROM generate_series(1, 50) g`,
		} {
			if _, err := e.src.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		sourceBlock = fmt.Sprintf("postgres: { dsn: %q, slot: %s, publication: %s, tables: [public.*], heartbeat_interval: 200ms }", e.srcDSN, e.name, e.name)
		schema = "public"
	case "mariadb":
		mySrc := testenv.MySQLSource(t)
		root, err := sql.Open("mysql", mySrc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.Exec("CREATE DATABASE " + e.name); err != nil {
			t.Fatal(err)
		}
		root.Close()
		e.srcDSN = mySrc + e.name
		if e.src, err = sql.Open("mysql", e.srcDSN); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL)`,
			`CREATE TABLE customers (id bigint PRIMARY KEY, name text)`,
			`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount decimal(12,2) NOT NULL, version bigint NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers(id))`,
			`INSERT INTO accounts SELECT seq, 100, 0 FROM seq_1_to_50`,
		} {
			if _, err := e.src.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		addr := mySrc[strings.Index(mySrc, "(")+1 : strings.Index(mySrc, ")")]
		sourceBlock = fmt.Sprintf("mysql: { addr: %q, user: root, server_id: %d, flavor: mariadb, tables: [%s.*] }",
			addr, 30000+os.Getpid()%20000, e.name)
		schema = e.name
	default:
		t.Fatalf("unknown source engine %q", engine)
	}
	for engine, dsn := range map[string][2]string{"postgres": {"pgx", e.pgDSN + "&search_path=" + schema}, "mysql": {"mysql", e.myDSN},
		"sqlite": {"sqlite3", "file:" + e.litePath + "?_foreign_keys=on&_busy_timeout=10000&_journal_mode=WAL"}} {
		db, err := sql.Open(dsn[0], dsn[1])
		if err != nil {
			t.Fatal(err)
		}
		stmts := followerSchema[engine]
		if engine == "postgres" {
			stmts = append([]string{"CREATE SCHEMA IF NOT EXISTS " + schema}, stmts...)
			for i := range stmts {
				stmts[i] = strings.ReplaceAll(stmts[i], "public.", schema+".")
			}
		}
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s follower: %s: %v", engine, q, err)
			}
		}
		e.followers[engine] = db
	}
	e.cfgPath = filepath.Join(e.dir, "walship.yaml")
	os.WriteFile(e.cfgPath, []byte(fmt.Sprintf(`state_dir: %s
http: { listen: "off" }
shutdown_timeout: 20s
kafka: { brokers: [%q], topic_prefix: %s, partitions: 4 }
sources:
  - name: src
    %s
sinks:
  - { name: pgf, from: [src], workers: %d, postgres: { dsn: %q } }
  - { name: myf, from: [src], workers: %d, mysql: { dsn: %q } }
  - { name: lite, from: [src], workers: %d, sqlite: { path: %q } }
`, filepath.Join(e.dir, "state"), broker, e.name, sourceBlock, workers, e.pgDSN, workers, e.myDSN, workers, e.litePath)), 0o600)
	return e
}

// sinkOption adds opt ("key: value") to every sink of the config.
func (e *e2e) sinkOption(opt string) {
	e.t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.cfgPath, []byte(strings.ReplaceAll(string(b), "from: [src], ", "from: [src], "+opt+", ")), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *e2e) cleanup() {
	e.stop(syscall.SIGKILL)
	if os.Getenv("WALSHIP_KEEP_TOPICS") != "1" {
		defer testenv.DropTopics(e.t, e.name+".")
	}
	for _, db := range e.followers {
		db.Close()
	}
	ctx := context.Background()
	if e.src != nil {
		e.src.Close()
	}
	if e.srcEngine == "postgres" {
		if conn, err := pgx.Connect(ctx, testenv.PGSource(e.t)); err == nil {
			conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", e.name)
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+e.name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	} else if db, err := sql.Open("mysql", testenv.MySQLSource(e.t)); err == nil {
		db.Exec("DROP DATABASE IF EXISTS " + e.name)
		db.Close()
	}
	if conn, err := pgx.Connect(ctx, testenv.PGFollower(e.t)); err == nil {
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+e.name+" WITH (FORCE)")
		conn.Close(ctx)
	}
	if db, err := sql.Open("mysql", testenv.MySQLFollower(e.t)); err == nil {
		db.Exec("DROP DATABASE IF EXISTS " + e.name)
		db.Close()
	}
}

func (e *e2e) start() {
	e.logf, _ = os.OpenFile(filepath.Join(e.dir, "walship.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	e.cmd = exec.Command(binary, "run", "-c", e.cfgPath)
	e.cmd.Stdout, e.cmd.Stderr = e.logf, e.logf
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *e2e) stop(sig syscall.Signal) error {
	if e.cmd == nil {
		return nil
	}
	e.cmd.Process.Signal(sig)
	err := e.cmd.Wait()
	e.logf.Close()
	e.cmd = nil
	return err
}

func (e *e2e) logTail() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "walship.log"))
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

func (e *e2e) waitRows(table string, n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for engine, db := range e.followers {
		for {
			var got int
			if db.QueryRow("SELECT count(*) FROM "+table).Scan(&got) == nil && got == n {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("%s follower: %s has %d rows, want %d\nlog tail:\n%s", engine, table, got, n, e.logTail())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// workload runs transactions until ctx ends: transfers between accounts
// (the sum stays constant), new customers with orders, order updates and
// deletes of an order and then its customer. It returns the number of
// account rows updated.
func (e *e2e) workload(ctx context.Context, seed uint64, idBase int64) (int64, error) {
	conn, err := e.src.Conn(context.Background())
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	rng := rand.New(rand.NewPCG(seed, 1))
	var updates int64
	bg := context.Background()
	for i := int64(1); ctx.Err() == nil; i++ {
		tx, err := conn.BeginTx(bg, nil)
		if err != nil {
			return updates, err
		}
		var failed error
		exec := func(q string, args ...any) {
			if failed == nil {
				_, failed = tx.ExecContext(bg, e.rebind(q), args...)
			}
		}
		txUpdates := int64(0)
		id := idBase + i
		switch i % 4 {
		case 0, 1:
			a, b := rng.Int64N(accounts)+1, rng.Int64N(accounts)+1
			if a == b {
				b = a%accounts + 1
			}
			amt := rng.Int64N(10) + 1
			if a > b { // lock in id order: two workers never deadlock
				a, b, amt = b, a, -amt
			}
			exec("UPDATE accounts SET balance = balance - ?, version = version + 1 WHERE id = ?", amt, a)
			exec("UPDATE accounts SET balance = balance + ?, version = version + 1 WHERE id = ?", amt, b)
			txUpdates = 2
		case 2:
			exec("INSERT INTO customers VALUES (?, ?)", id, fmt.Sprintf("customer %d", id))
			exec("INSERT INTO orders VALUES (?, ?, ?, 0)", id*10, id, fmt.Sprintf("%d.%02d", i%1000, i%100))
		case 3:
			old := id - 1 - 4*rng.Int64N(5)
			exec("UPDATE orders SET amount = amount + 1, version = version + 1 WHERE customer_id = ?", old)
			if rng.IntN(3) == 0 {
				exec("DELETE FROM orders WHERE customer_id = ?", old-4)
				exec("DELETE FROM customers WHERE id = ?", old-4)
			}
		}
		if failed != nil {
			tx.Rollback()
			return updates, failed
		}
		if err := tx.Commit(); err != nil {
			return updates, err
		}
		updates += txUpdates
		if e.pace > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(e.pace):
			}
		}
	}
	return updates, nil
}

// rebind turns ? placeholders into $n for a PostgreSQL source.
func (e *e2e) rebind(q string) string {
	if e.srcEngine != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// poll checks the invariants on every follower while the workload runs:
// the balance sum never breaks (atomicity) and no order is without its
// customer (causal order).
func (e *e2e) poll(ctx context.Context, violations *atomic.Int64) {
	var wg sync.WaitGroup
	for engine, db := range e.followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var n, sum sql.NullInt64
				if err := db.QueryRow("SELECT count(*), sum(balance) FROM accounts").Scan(&n, &sum); err == nil && n.Int64 == accounts && sum.Int64 != accounts*100 {
					e.t.Errorf("%s follower: balance sum %d, want %d: a transaction was applied in part", engine, sum.Int64, accounts*100)
					violations.Add(1)
				}
				var orphans int64
				if err := db.QueryRow("SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL").Scan(&orphans); err == nil && orphans > 0 {
					e.t.Errorf("%s follower: %d orders without their customer", engine, orphans)
					violations.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
}

// rows reads a table's rows as text in primary-key order.
func rows(db *sql.DB, query string) ([]string, error) {
	rs, err := db.Query(query)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out []string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, fmt.Sprintf("%v:%s", v.Valid, v.String))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rs.Err()
}

var compareQueries = []string{
	"SELECT id, balance, version FROM accounts ORDER BY id",
	"SELECT id, name FROM customers ORDER BY id",
	"SELECT id, customer_id, amount, version FROM orders ORDER BY id",
}

// converge waits until every follower equals the source, table by table,
// row by row in primary-key order.
func (e *e2e) converge(timeout time.Duration) {
	src := e.src
	deadline := time.Now().Add(timeout)
	for engine, db := range e.followers {
		for _, q := range compareQueries {
			for {
				want, err1 := rows(src, q)
				got, err2 := rows(db, q)
				if err1 == nil && err2 == nil && strings.Join(want, "\n") == strings.Join(got, "\n") {
					break
				}
				if time.Now().After(deadline) {
					missing, extra := diff(want, got)
					e.t.Fatalf("%s follower never converged on %q: %d rows at the source, %d on the follower, first missing %v, first extra %v (errors %v %v)\nlog tail:\n%s",
						engine, q, len(want), len(got), missing, extra, err1, err2, e.logTail())
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

func diff(want, got []string) (missing, extra []string) {
	w := map[string]bool{}
	for _, r := range want {
		w[r] = true
	}
	g := map[string]bool{}
	for _, r := range got {
		g[r] = true
		if !w[r] && len(extra) < 3 {
			extra = append(extra, r)
		}
	}
	for _, r := range want {
		if !g[r] && len(missing) < 3 {
			missing = append(missing, r)
		}
	}
	return missing, extra
}

// TestEndToEndThreeFollowers: PostgreSQL → Kafka → PostgreSQL, MariaDB
// and SQLite followers under a concurrent workload, with the daemon killed
// by SIGKILL five times. The followers never show a broken balance sum or
// an orphan order, converge row by row, and applied every source update
// exactly once (a follower trigger counts them, with fold: false).
func TestEndToEndThreeFollowers(t *testing.T) { endToEnd(t, "postgres") }

// TestEndToEndFromMariaDB: the same from a MariaDB binlog source.
func TestEndToEndFromMariaDB(t *testing.T) { endToEnd(t, "mariadb") }

func endToEnd(t *testing.T, engine string) {
	e := newE2EFrom(t, engine, 4)
	// Every change as its own statement: the follower triggers count each
	// (folded, a row updated twice in one follower transaction fires once).
	e.sinkOption("fold: false")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	e.start()
	// Updates made before the snapshot are inside it and fire no follower
	// trigger: start the workload once every follower has the accounts.
	e.waitRows("accounts", accounts, 60*time.Second)

	ctx, stop := context.WithCancel(context.Background())
	var violations atomic.Int64
	var wg sync.WaitGroup
	var updates atomic.Int64
	wg.Add(3)
	go func() { defer wg.Done(); e.poll(ctx, &violations) }()
	for w := 0; w < 2; w++ {
		go func() {
			defer wg.Done()
			n, err := e.workload(ctx, seed+uint64(w)*7919, int64(w)*1_000_000_000)
			if err != nil && ctx.Err() == nil {
				t.Error(err)
			}
			updates.Add(n)
		}()
	}
	for kill := 1; kill <= 5; kill++ {
		time.Sleep(time.Duration(700+rng.IntN(1200)) * time.Millisecond)
		e.stop(syscall.SIGKILL)
		e.start()
	}
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	e.converge(90 * time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	for engine, db := range e.followers {
		var n int64
		if err := db.QueryRow("SELECT n FROM update_count").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != updates.Load() {
			t.Errorf("%s follower: the trigger counted %d account updates, the source made %d", engine, n, updates.Load())
		}
	}
	if violations.Load() > 0 {
		t.Errorf("%d invariant violations observed", violations.Load())
	}
	t.Logf("%d account updates, 5 kills; three followers converged", updates.Load())
}

var _ = mysql.ParseDSN

// TestSecondDaemonOnSinkRefused: a second walship applying to the same
// follower sink is refused by the lock in the follower, and shows failed;
// the first keeps applying.
func TestSecondDaemonOnSinkRefused(t *testing.T) {
	e := newE2E(t, 2)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	addr := freePort(t)
	second := filepath.Join(e.dir, "second.yaml")
	cfg, _ := os.ReadFile(e.cfgPath)
	// The same sinks; the source is external (captured by the first daemon).
	text := strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+addr+`" }`, 1)
	text = strings.Replace(text, "state_dir: "+filepath.Join(e.dir, "state"), "state_dir: "+filepath.Join(e.dir, "state2"), 1)
	i := strings.Index(text, "  - name: src\n") + len("  - name: src\n")
	j := strings.Index(text[i:], "\n")
	text = text[:i] + "    external: postgres" + text[i+j:]
	os.WriteFile(second, []byte(text), 0o600)
	cmd := exec.Command(binary, "run", "-c", second)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err := get("http://" + addr + "/readyz")
		if err == nil && code == 503 && strings.Contains(body, "sink/pgf (failed)") && strings.Contains(body, "sink/myf (failed)") && strings.Contains(body, "sink/lite (failed)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second daemon's sinks not refused (%d %q):\n%s", code, body, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "locked by another walship process") {
		t.Errorf("log does not say why:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	// The first daemon still applies.
	if _, err := e.src.Exec("UPDATE accounts SET version = version + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	e.converge(30 * time.Second)
}
