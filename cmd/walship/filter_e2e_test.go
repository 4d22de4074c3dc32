package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/testenv"
)

// TestFilterSource (issue 18): a source hashes, excludes, masks and
// truncates columns of a PII table, hashes another table's primary key,
// and keeps only the rows of a third that match a where rule. Through the
// snapshot, streaming changes (updates across the rule's boundary
// included) and a SIGKILL and restart: no Kafka record and no log line
// holds a clear value (an incremental snapshot's rows included); every follower holds the hashed and masked values,
// no excluded column, the same hashed keys as before the restart, and
// exactly the rows that match.
func TestFilterSource(t *testing.T) { filterSource(t, "postgres") }

// TestFilterSourceMariaDB is TestFilterSource from MariaDB.
func TestFilterSourceMariaDB(t *testing.T) { filterSource(t, "mariadb") }

func filterSource(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	schema, series := "public", func(n int) string { return fmt.Sprintf("generate_series(1, %d) g", n) }
	concat := func(parts ...string) string { return strings.Join(parts, " || ") }
	g := "g"
	if engine != "postgres" {
		schema, series = e.name, func(n int) string { return fmt.Sprintf("seq_1_to_%d", n) }
		concat = func(parts ...string) string { return "CONCAT(" + strings.Join(parts, ", ") + ")" }
		g = "seq"
	}
	for _, q := range []string{
		`CREATE TABLE fl_users (id bigint PRIMARY KEY, email varchar(100), ssn varchar(20), phone varchar(30), bio text, region varchar(10))`,
		`CREATE TABLE fl_tokens (token varchar(64) PRIMARY KEY, n int NOT NULL)`,
		`CREATE TABLE fl_orders (id bigint PRIMARY KEY, region varchar(10) NOT NULL, total decimal(10,2) NOT NULL)`,
		fmt.Sprintf(`INSERT INTO fl_users SELECT %[1]s, %[2]s, %[3]s, %[4]s, %[5]s, CASE WHEN %[1]s %% 2 = 0 THEN 'eu' ELSE 'us' END FROM %[6]s`, g,
			concat("'user'", g, "'@example.com'"), concat("'SSN-'", g, "'-x'"), concat("'+1-555-'", g), concat("'biography number '", g), series(200)),
		fmt.Sprintf(`INSERT INTO fl_tokens SELECT %s, %s FROM %s`, concat("'tok-'", g), g, series(50)),
		fmt.Sprintf(`INSERT INTO fl_orders SELECT %[1]s, CASE WHEN %[1]s %% 3 = 0 THEN 'us' ELSE 'eu' END, %[1]s %% 5 FROM %[2]s`, g, series(300)),
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if engine == "postgres" {
		if _, err := e.src.Exec(`ALTER TABLE fl_orders REPLICA IDENTITY FULL`); err != nil {
			t.Fatal(err)
		}
	}
	e.sourceOption(fmt.Sprintf(`hash_key: "k3y"
    columns:
      %[1]s.fl_users: { exclude: [ssn], hash: [email], mask: [phone], truncate: { bio: 4 } }
      %[1]s.fl_tokens: { hash: [token] }
    where:
      %[1]s.fl_orders: "region == 'eu' && total > 0"`, schema))
	if engine != "postgres" {
		withSignalTable(t, e)
	}
	addr := withHTTP(t, e)
	setToken(t, e, "s3cret")
	e.start()
	e.waitRows("fl_users", 200, 120*time.Second)
	e.waitRows("fl_tokens", 50, 60*time.Second)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := e.src.Exec(e.rebind(q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := 201; i <= 220; i++ {
		exec(`INSERT INTO fl_users VALUES (?, ?, ?, ?, ?, 'eu')`, i, fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("SSN-%d-x", i), fmt.Sprintf("+1-555-%d", i), fmt.Sprintf("biography number %d", i))
	}
	exec(`UPDATE fl_users SET phone = '+1-555-999', bio = 'biography changed' WHERE id BETWEEN 10 AND 20`)
	exec(`DELETE FROM fl_users WHERE id = 5`)
	exec(`UPDATE fl_tokens SET n = n + 100 WHERE n <= 10`)
	exec(`INSERT INTO fl_orders VALUES (1001, 'eu', 10), (1002, 'us', 10), (1003, 'eu', 0)`)
	exec(`UPDATE fl_orders SET region = 'eu' WHERE id IN (3, 6, 9)`) // moves in
	exec(`UPDATE fl_orders SET region = 'us' WHERE id IN (1, 2)`)    // moves out
	exec(`UPDATE fl_orders SET total = 0 WHERE id = 4`)              // moves out
	exec(`UPDATE fl_orders SET total = 7 WHERE id IN (5, 10)`)       // 10 moves in, 5 stays out
	exec(`UPDATE fl_orders SET total = total + 1 WHERE id IN (7, 8, 1002)`)
	exec(`DELETE FROM fl_orders WHERE id IN (11, 12)`)

	// A SIGKILL and a restart: hashed keys stay the same.
	e.waitRows("fl_users", 219, 60*time.Second)
	if err := e.stop(syscall.SIGKILL); err != nil {
		t.Logf("kill: %v", err)
	}
	e.start()
	exec(`UPDATE fl_tokens SET n = n + 1000 WHERE n BETWEEN 11 AND 20`)
	exec(`DELETE FROM fl_tokens WHERE n = 21`)
	exec(`INSERT INTO fl_users VALUES (500, 'late@example.com', 'SSN-late-x', '+1-555-late', 'biography late', 'us')`)

	// An incremental snapshot's rows pass the same rules.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if doc := liveDoc(t, addr); len(doc.Sources) == 1 && doc.Sources[0].State == "streaming" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the source does not stream after the restart; log tail:\n%s", e.logTail())
		}
	}
	// Every change before the wipe is applied first (the late row is the
	// last, and followers commit in source order): one re-sent after the
	// restart and applied after the wipe would find its row gone, and the
	// sink would rightly stop.
	e.waitRows("fl_users", 220, 60*time.Second)
	for engine, db := range e.followers {
		if _, err := db.Exec(`DELETE FROM fl_users`); err != nil {
			t.Fatalf("wipe the %s follower: %v", engine, err)
		}
	}
	if out, code := walship(t, "snapshot", "-c", e.cfgPath, "--source", "src", "--tables", schema+".fl_users", "--wait"); code != 0 {
		t.Fatalf("walship snapshot: exit %d:\n%s", code, out)
	}

	var users, tokens, orders int
	e.src.QueryRow(`SELECT count(*) FROM fl_users`).Scan(&users)
	e.src.QueryRow(`SELECT count(*) FROM fl_tokens`).Scan(&tokens)
	e.src.QueryRow(`SELECT count(*) FROM fl_orders WHERE region = 'eu' AND total > 0`).Scan(&orders)
	e.waitRows("fl_users", users, 60*time.Second)
	e.waitRows("fl_tokens", tokens, 60*time.Second)
	e.waitRows("fl_orders", orders, 60*time.Second)
	// The last change made it everywhere before the checks.
	for engine, db := range e.followers {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var n int
			db.QueryRow(`SELECT count(*) FROM fl_tokens WHERE n > 1000`).Scan(&n)
			if n == 10 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s follower: %d tokens updated after the restart, want 10", engine, n)
			}
		}
	}

	// What the source holds in clear.
	var clear []string
	eachRow(t, e.src, `SELECT email, ssn, phone, bio FROM fl_users`, func(scan func(...any)) {
		var a, b, c, d string
		scan(&a, &b, &c, &d)
		clear = append(clear, a, b, c, d)
	})
	clear = append(clear, "user5@example.com", "SSN-5-x", "biography changed", "tok-21")
	want := map[string]int{}
	eachRow(t, e.src, `SELECT token, n FROM fl_tokens`, func(scan func(...any)) {
		var tok string
		var n int
		scan(&tok, &n)
		clear = append(clear, tok)
		m := hmac.New(sha256.New, []byte("k3y"))
		m.Write([]byte(tok))
		want[hex.EncodeToString(m.Sum(nil))] = n
	})
	orderRows := func(db *sql.DB, q string) []string {
		var out []string
		eachRow(t, db, q, func(scan func(...any)) {
			var id int64
			var total string
			scan(&id, &total)
			if strings.Contains(total, ".") {
				total = strings.TrimRight(strings.TrimRight(total, "0"), ".")
			}
			out = append(out, fmt.Sprintf("%d:%s", id, total))
		})
		return out
	}
	wantOrders := orderRows(e.src, `SELECT id, total FROM fl_orders WHERE region = 'eu' AND total > 0 ORDER BY id`)

	for engine, db := range e.followers {
		if _, err := db.Exec(`SELECT ssn FROM fl_users`); err == nil {
			t.Errorf("%s follower: fl_users has the excluded column ssn", engine)
		}
		bad := 0
		eachRow(t, db, `SELECT email, phone, bio FROM fl_users`, func(scan func(...any)) {
			var email, phone, bio sql.NullString
			scan(&email, &phone, &bio)
			if _, err := hex.DecodeString(email.String); err != nil || len(email.String) != 64 || phone.String != "****" || len([]rune(bio.String)) > 4 {
				bad++
			}
		})
		if bad > 0 {
			t.Errorf("%s follower: %d rows of fl_users not hashed, masked or truncated", engine, bad)
		}
		got := map[string]int{}
		eachRow(t, db, `SELECT token, n FROM fl_tokens`, func(scan func(...any)) {
			var tok string
			var n int
			scan(&tok, &n)
			got[tok] = n
		})
		if len(got) != len(want) {
			t.Errorf("%s follower: %d tokens, want %d", engine, len(got), len(want))
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s follower: the token hashed to %s has n %d, want %d (hashed keys must not change across restarts)", engine, k[:8], got[k], n)
				break
			}
		}
		gotOrders := orderRows(db, `SELECT id, total FROM fl_orders ORDER BY id`)
		if !slices.Equal(gotOrders, wantOrders) {
			t.Errorf("%s follower: fl_orders holds %v,\nwant the rows that match: %v", engine, gotOrders, wantOrders)
		}
	}

	// No clear value in any record of the source's topics, nor in the log.
	recs := topicRecords(t, e.name+".")
	if len(recs) == 0 {
		t.Fatal("no record read from the topics")
	}
	log := []byte(mustRead(t, e.dir+"/walship.log"))
	for _, v := range clear {
		if v == "" {
			continue
		}
		for _, r := range recs {
			if bytes.Contains(r, []byte(v)) {
				t.Fatalf("a Kafka record holds the clear value %q", v)
			}
		}
		if bytes.Contains(log, []byte(v)) {
			t.Fatalf("the daemon's log holds the clear value %q", v)
		}
	}
	t.Logf("%d records checked, %d clear values", len(recs), len(clear))
	// A last transaction the where rule leaves empty still moves the
	// sinks' positions: verify waits for the source's position.
	exec(`INSERT INTO fl_orders VALUES (2000, 'us', 5)`)
	// walship verify compares what the rules leave comparable: the
	// columns passed as they are, the rows that match.
	verifyAll(t, e)
	out, _ := runVerify(t, "-c", e.cfgPath, "--sink", "pgf", "--timeout", "120s")
	for _, want := range []string{"not compared: the source hashes its key", "email, phone", "where rule"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify does not say %q:\n%s", want, out)
		}
	}
}

// TestFilterSink (issue 18): sinks keep only the rows of a table that
// match their where rule and leave out an excluded column, from a log
// that holds everything; rows updated across the rule's boundary come and
// go; a change the rule cannot decide (no before image) stops the sinks,
// naming the table.
func TestFilterSink(t *testing.T) { filterSink(t, "postgres") }

// TestFilterSinkMariaDB is TestFilterSink from MariaDB (without the
// before-image case: the binlog carries full rows).
func TestFilterSinkMariaDB(t *testing.T) { filterSink(t, "mariadb") }

func filterSink(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 2)
	schema := "public"
	ddl := []string{
		`CREATE TABLE fs_orders (id bigint PRIMARY KEY, region text NOT NULL, total numeric(10,2) NOT NULL, note text)`,
		`ALTER TABLE fs_orders REPLICA IDENTITY FULL`,
		`INSERT INTO fs_orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g, 'note ' || g FROM generate_series(1, 500) g`,
	}
	if engine != "postgres" {
		schema = e.name
		ddl = []string{
			`CREATE TABLE fs_orders (id bigint PRIMARY KEY, region varchar(10) NOT NULL, total decimal(10,2) NOT NULL, note text)`,
			`INSERT INTO fs_orders SELECT seq, CASE WHEN seq % 2 = 0 THEN 'eu' ELSE 'us' END, seq, CONCAT('note ', seq) FROM seq_1_to_500`,
		}
	}
	for _, q := range ddl {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	e.sinkOption(fmt.Sprintf(`where: { %[1]s.fs_orders: "region == 'eu'" }, columns: { %[1]s.fs_orders: { exclude: [note] } }`, schema))
	withHTTP(t, e)
	e.start()
	e.waitRows("fs_orders", 250, 120*time.Second)
	for _, q := range []string{
		`UPDATE fs_orders SET region = 'eu' WHERE id BETWEEN 1 AND 21`,    // 11 move in
		`UPDATE fs_orders SET region = 'us' WHERE id BETWEEN 100 AND 140`, // 21 move out
		`UPDATE fs_orders SET total = total + 1 WHERE id BETWEEN 200 AND 300`,
		`DELETE FROM fs_orders WHERE id BETWEEN 400 AND 410`,
		`INSERT INTO fs_orders VALUES (1000, 'eu', 1, 'x'), (1001, 'us', 1, 'y')`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	e.src.QueryRow(`SELECT count(*) FROM fs_orders WHERE region = 'eu'`).Scan(&n)
	e.waitRows("fs_orders", n, 60*time.Second)
	want := idsOf(t, e.src, `SELECT id FROM fs_orders WHERE region = 'eu' ORDER BY id`)
	for engine, db := range e.followers {
		if got := idsOf(t, db, `SELECT id FROM fs_orders ORDER BY id`); !slices.Equal(got, want) {
			t.Errorf("%s follower: %d rows, want the %d that match", engine, len(got), len(want))
		}
		if _, err := db.Exec(`SELECT note FROM fs_orders`); err == nil {
			t.Errorf("%s follower: fs_orders has the excluded column note", engine)
		}
	}
	verifyAll(t, e)
	// A row the rule leaves out, on a follower, is a difference.
	pg := e.followers["postgres"]
	if _, err := pg.Exec(`INSERT INTO fs_orders VALUES (5000, 'us', 1)`); err != nil {
		t.Fatal(err)
	}
	if out, code := runVerify(t, "-c", e.cfgPath, "--sink", "pgf", "--timeout", "120s"); code == 0 || !strings.Contains(out, "1 extra") {
		t.Errorf("verify of a follower holding a row its where rule leaves out: exit %d:\n%s", code, out)
	}
	if _, err := pg.Exec(`DELETE FROM fs_orders WHERE id = 5000`); err != nil {
		t.Fatal(err)
	}
	if engine != "postgres" {
		return
	}
	// Without full before images, an update of the rule's column cannot be
	// decided: the sinks stop, naming the table, and apply nothing of it.
	if _, err := e.src.Exec(`ALTER TABLE fs_orders REPLICA IDENTITY DEFAULT`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.src.Exec(`UPDATE fs_orders SET total = 5 WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	waitSinksStopped(t, e, "public.fs_orders", "REPLICA IDENTITY FULL")
}

func idsOf(t *testing.T, db *sql.DB, q string) []int64 {
	t.Helper()
	var out []int64
	eachRow(t, db, q, func(scan func(...any)) {
		var id int64
		scan(&id)
		out = append(out, id)
	})
	return out
}

// eachRow calls fn for every row of q, with the row's Scan.
func eachRow(t *testing.T, db *sql.DB, q string, fn func(scan func(...any))) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		fn(func(dst ...any) {
			if err := rows.Scan(dst...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		})
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// sourceOption adds YAML lines (indented for the source's mapping) to the
// source of the config.
func (e *e2e) sourceOption(opt string) {
	e.t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.cfgPath, []byte(strings.Replace(string(b), "  - name: src\n", "  - name: src\n    "+opt+"\n", 1)), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// topicRecords reads every record (key, value and headers, each one
// byte slice) of every partition of the topics whose names start with
// prefix.
func topicRecords(t *testing.T, prefix string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := kafkago.DialContext(ctx, "tcp", testenv.Kafka(t))
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions()
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, p := range parts {
		if !strings.HasPrefix(p.Topic, prefix) {
			continue
		}
		lc, err := kafkago.DialLeader(ctx, "tcp", testenv.Kafka(t), p.Topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := lc.ReadOffsets()
		lc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last <= first {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{testenv.Kafka(t)}, Topic: p.Topic, Partition: p.ID, MaxWait: 200 * time.Millisecond})
		r.SetOffset(first)
		for off := first; off < last; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read %s/%d: %v", p.Topic, p.ID, err)
			}
			rec := append(append([]byte(nil), m.Key...), m.Value...)
			for _, h := range m.Headers {
				rec = append(append(rec, h.Key...), h.Value...)
			}
			out = append(out, rec)
			off = m.Offset
		}
		r.Close()
	}
	return out
}

// TestFilterCheck (issue 18): walship check names each bad rule with its
// place in the file: a condition that does not parse (with its position
// in the expression), a hash without a key, an unknown table or column, a
// key column excluded, a string compared with a number, and a where rule
// on a non-key column of a table without full before images.
func TestFilterCheck(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 1)
	if _, err := e.src.Exec(`CREATE TABLE fc_t (id bigint PRIMARY KEY, region text, total int)`); err != nil {
		t.Fatal(err)
	}
	base := mustRead(t, e.cfgPath)
	try := func(opt string, code int, want ...string) {
		t.Helper()
		os.WriteFile(e.cfgPath, []byte(strings.Replace(base, "  - name: src\n", "  - name: src\n    "+opt+"\n", 1)), 0o600)
		out, got := walship(t, "check", "-c", e.cfgPath)
		for _, w := range want {
			if got != code || !strings.Contains(out, w) {
				t.Errorf("check with %s: exit %d (want %d), want %q in:\n%s", opt, got, code, w, out)
				return
			}
		}
	}
	try(`where: { public.fc_t: "region == 'eu' &&" }`, 2, "walship.yaml:7", "does not parse", "(1:")
	try(`columns: { public.fc_t: { hash: [region] } }`, 2, "walship.yaml:7", "no hash_key")
	try(`columns: { public.nope: { exclude: [x] } }`, 1, "walship.yaml:7", "public.nope: no such table")
	try(`columns: { public.fc_t: { exclude: [nope] } }`, 1, "no column nope")
	try(`columns: { public.fc_t: { exclude: [id] } }`, 1, "id is a primary-key column")
	try(`where: { public.fc_t: "region > 3" }`, 1, "walship.yaml:7", "mismatched types")
	try(`where: { public.fc_t: "region == 'eu'" }`, 1, "reads region", "REPLICA IDENTITY FULL")
	try(`where: { public.fc_t: "id > 3" }`, 0, "rules fit 1 table")
}
