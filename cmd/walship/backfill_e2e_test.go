package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/sources"
)

// backfillRowsDefault is the table the incremental snapshot test reads,
// in chunks of a tenth of it (at most the default chunk);
// WALSHIP_TEST_BACKFILL_ROWS sets another (make test-backfill-large: the
// issue's 1M rows).
const backfillRowsDefault = 12000

// backfillChunkArgs is the --chunk-rows of a snapshot of rows rows: about
// ten chunks, so that pauses and kills land mid-snapshot.
func backfillChunkArgs(rows int64) []string {
	if c := rows / 10; c < sources.BackfillChunkRows {
		return []string{"--chunk-rows", strconv.FormatInt(c, 10)}
	}
	return nil
}

// TestIncrementalSnapshot (issue 17): a PostgreSQL table of 12k rows is on
// all three followers; each follower's copy is wiped, and walship snapshot
// reads the table again while a writer updates (version + 1), deletes and
// inserts random rows of it, and the daemon is killed (SIGKILL) twice
// mid-snapshot. The snapshot resumes from its last chunk each time and
// finishes; no follower row's version ever goes back (polled throughout);
// every follower ends equal to the source (walship verify).
func TestIncrementalSnapshot(t *testing.T) { incrementalSnapshot(t, "postgres") }

// TestIncrementalSnapshotMariaDB is TestIncrementalSnapshot from a MariaDB
// source, whose watermarks are writes to its signal table.
func TestIncrementalSnapshotMariaDB(t *testing.T) { incrementalSnapshot(t, "mariadb") }

func incrementalSnapshot(t *testing.T, engine string) {
	testenv.Integration(t)
	backfillRows := int64(backfillRowsDefault)
	if v := os.Getenv("WALSHIP_TEST_BACKFILL_ROWS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1000 {
			t.Fatalf("WALSHIP_TEST_BACKFILL_ROWS=%q: want a number of rows, at least 1000", v)
		}
		backfillRows = n
	}
	e := newE2EFrom(t, engine, 2)
	fill := fmt.Sprintf(`INSERT INTO bf_items SELECT g, 0, md5(g::text) FROM generate_series(1, %d) g`, backfillRows)
	if engine != "postgres" {
		fill = fmt.Sprintf(`INSERT INTO bf_items SELECT seq, 0, md5(seq) FROM seq_1_to_%d`, backfillRows)
		withSignalTable(t, e)
	}
	for _, q := range []string{`CREATE TABLE bf_items (id bigint PRIMARY KEY, version bigint NOT NULL, payload text)`, fill} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	table, random := "public.bf_items", "md5(random()::text)"
	if engine != "postgres" {
		table, random = e.name+".bf_items", "md5(rand())"
	}
	addr := withHTTP(t, e)
	setToken(t, e, "s3cret")
	e.start()
	e.waitRows("bf_items", int(backfillRows), 600*time.Second)
	for engine, db := range e.followers {
		if _, err := db.Exec(`DELETE FROM bf_items`); err != nil {
			t.Fatalf("wipe the %s follower: %v", engine, err)
		}
	}
	out, code := walship(t, append([]string{"snapshot", "-c", e.cfgPath, "--source", "src", "--tables", table}, backfillChunkArgs(backfillRows)...)...)
	if code != 0 || !strings.Contains(out, "incremental snapshot") {
		t.Fatalf("walship snapshot: exit %d:\n%s", code, out)
	}
	// Paused, it reads nothing more; resumed, it goes on.
	id := strings.Fields(out)[2]
	if out, code := walship(t, "snapshot", "-c", e.cfgPath, "--source", "src", "--pause", id); code != 0 {
		t.Fatalf("pause: exit %d:\n%s", code, out)
	}
	// The chunk being read when the pause came may still finish (slowly,
	// on a loaded machine): then nothing more.
	before := liveDoc(t, addr).Sources[0].Snapshots[0]
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		now := liveDoc(t, addr).Sources[0].Snapshots[0]
		if now.Rows == before.Rows {
			break
		}
		before = now
	}
	time.Sleep(time.Second)
	if after := liveDoc(t, addr).Sources[0].Snapshots[0]; after.Rows != before.Rows || !after.Paused || after.Rows >= backfillRows {
		t.Errorf("paused, it went on from %d to %d rows (paused %v)", before.Rows, after.Rows, after.Paused)
	}
	if out, code := walship(t, "snapshot", "-c", e.cfgPath, "--source", "src", "--resume", id); code != 0 {
		t.Fatalf("resume: exit %d:\n%s", code, out)
	}
	// A second request for the table while it runs is refused.
	if out, code := walship(t, "snapshot", "-c", e.cfgPath, "--source", "src", "--tables", table); code != 2 || !strings.Contains(out, "already running") {
		t.Errorf("a second snapshot of a table: exit %d:\n%s", code, out)
	}

	// The writer and the validator.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var writes, violations atomic.Int64
	var nextID atomic.Int64
	nextID.Store(backfillRows)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			id := rng.Int64N(backfillRows) + 1
			var err error
			switch rng.IntN(10) {
			case 0:
				_, err = e.src.Exec(e.rebind(`DELETE FROM bf_items WHERE id = ?`), id)
			case 1:
				_, err = e.src.Exec(e.rebind(`INSERT INTO bf_items VALUES (?, 0, 'new')`), nextID.Add(1))
			default:
				_, err = e.src.Exec(e.rebind(`UPDATE bf_items SET version = version + 1, payload = `+random+` WHERE id = ?`), id)
			}
			if err != nil && ctx.Err() == nil {
				t.Errorf("writer: %v", err)
				return
			}
			writes.Add(1)
		}
	}()
	for engine, db := range e.followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[int64]int64{}
			rng := rand.New(rand.NewPCG(3, 4))
			for ctx.Err() == nil {
				lo := rng.Int64N(backfillRows)
				q := `SELECT id, version FROM bf_items WHERE id BETWEEN ? AND ?`
				if engine == "postgres" {
					q = `SELECT id, version FROM bf_items WHERE id BETWEEN $1 AND $2`
				}
				rows, err := db.QueryContext(ctx, q, lo, lo+200)
				if err != nil {
					continue // the follower may be busy; the next poll tries again
				}
				for rows.Next() {
					var id, v int64
					if rows.Scan(&id, &v) == nil {
						if prev, ok := seen[id]; ok && v < prev {
							violations.Add(1)
							t.Errorf("the %s follower's row %d went back from version %d to %d", engine, id, prev, v)
						}
						seen[id] = max(seen[id], v)
					}
				}
				rows.Close()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}

	// Two kills mid-snapshot; the snapshot resumes each time.
	for kill := 0; kill < 2; kill++ {
		waitSnapshotRows(t, e, addr, int64(kill+1)*backfillRows*3/10)
		if err := e.stop(syscall.SIGKILL); err != nil {
			t.Logf("kill: %v", err)
		}
		e.start()
	}
	waitSnapshotDone(t, e, addr)
	stop()
	wg.Wait()
	t.Logf("the writer made %d changes during the snapshot; %d violations", writes.Load(), violations.Load())
	var total int
	if err := e.src.QueryRow(`SELECT count(*) FROM bf_items`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	e.waitRows("bf_items", total, 120*time.Second)
	verifyAll(t, e)
	if log := mustRead(t, e.dir+"/walship.log"); !strings.Contains(log, "incremental snapshot done") {
		t.Errorf("the daemon did not report the snapshot done; log tail:\n%s", e.logTail())
	}
}

// TestIncrementalSnapshotRefused (issue 17): an unknown table, a table
// without a primary key, a condition the server rejects, an unknown
// source, and a request without the token are each refused with an error
// naming the cause, and nothing starts.
func TestIncrementalSnapshotRefused(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 1)
	if _, err := e.src.Exec(`CREATE TABLE bf_keyless (n int)`); err != nil {
		t.Fatal(err)
	}
	addr := withHTTP(t, e)
	setToken(t, e, "s3cret")
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--source", "src", "--tables", "public.nope"}, "public.nope is not a table source src captures"},
		{[]string{"--source", "src", "--tables", "public.bf_keyless"}, "has no primary key"},
		{[]string{"--source", "src", "--tables", "public.accounts", "--where", "no_such_column > 1"}, "the condition"},
		{[]string{"--source", "nosuch", "--tables", "public.accounts"}, `no source named "nosuch"`},
	} {
		out, code := walship(t, append([]string{"snapshot", "-c", e.cfgPath}, c.args...)...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("walship snapshot %v: exit %d, want 2 and %q:\n%s", c.args, code, c.want, out)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/sources/src/snapshots", strings.NewReader(`{"tables":["public.accounts"]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a request without the token: %s", resp.Status)
	}
	if doc := liveDoc(t, addr); len(doc.Sources) != 1 || len(doc.Sources[0].Snapshots) != 0 {
		t.Errorf("a refused request left a snapshot: %+v", doc.Sources)
	}
	if out, code := walship(t, "snapshot", "-c", e.cfgPath, "--source", "src", "--cancel", "nosuch"); code != 2 || !strings.Contains(out, `no incremental snapshot "nosuch"`) {
		t.Errorf("cancel of an unknown snapshot: exit %d:\n%s", code, out)
	}
	// Paused at once, then cancelled: it ends, and nothing runs.
	if _, err := e.src.Exec(`CREATE TABLE bf_big (id bigint PRIMARY KEY); INSERT INTO bf_big SELECT generate_series(1, 50000)`); err != nil {
		t.Fatal(err)
	}
	out, code := walship(t, "snapshot", "-c", e.cfgPath, "--source", "src", "--tables", "public.bf_big")
	if code != 0 {
		t.Fatalf("snapshot: exit %d:\n%s", code, out)
	}
	id := strings.Fields(out)[2]
	for _, action := range []string{"--pause", "--cancel"} {
		if out, code := walship(t, "snapshot", "-c", e.cfgPath, "--source", "src", action, id); code != 0 {
			t.Fatalf("%s: exit %d:\n%s", action, code, out)
		}
	}
	waitSnapshotDone(t, e, addr)
	if log := mustRead(t, e.dir+"/walship.log"); !strings.Contains(log, "incremental snapshot cancelled") {
		t.Errorf("the daemon did not report the cancel; log tail:\n%s", e.logTail())
	}
}

// setToken gives the daemon's http an operator token.
func setToken(t *testing.T, e *e2e, token string) {
	t.Helper()
	cfg := mustRead(t, e.cfgPath)
	i := strings.Index(cfg, `http: { listen: "`)
	if i < 0 {
		t.Fatal("no http listen in the config")
	}
	out := cfg[:i] + `http: { token: "` + token + `", ` + cfg[i+len(`http: { `):]
	if err := os.WriteFile(e.cfgPath, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

// liveDoc reads the daemon's status document.
func liveDoc(t *testing.T, addr string) httpapi.StatusDoc {
	t.Helper()
	var doc httpapi.StatusDoc
	resp, err := http.Get("http://" + addr + "/api/v1/status")
	if err != nil {
		return doc
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&doc)
	return doc
}

// waitSnapshotRows waits until the running snapshot read rows rows.
func waitSnapshotRows(t *testing.T, e *e2e, addr string, rows int64) {
	t.Helper()
	for deadline := time.Now().Add(180 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		doc := liveDoc(t, addr)
		for _, s := range doc.Sources {
			for _, b := range s.Snapshots {
				if b.Rows >= rows {
					return
				}
			}
		}
	}
	t.Fatalf("the snapshot never read %d rows; log tail:\n%s", rows, e.logTail())
}

// waitSnapshotDone waits until no snapshot runs.
func waitSnapshotDone(t *testing.T, e *e2e, addr string) {
	t.Helper()
	for deadline := time.Now().Add(300 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		doc := liveDoc(t, addr)
		if len(doc.Sources) == 1 && doc.Sources[0].State == "streaming" && len(doc.Sources[0].Snapshots) == 0 {
			return
		}
	}
	t.Fatalf("the snapshot never finished; log tail:\n%s", e.logTail())
}

// TestIncrementalSnapshotSignal (issue 17): an application asks for an
// incremental snapshot from SQL, by inserting a row into the source's
// signal table (Debezium's format); the table's rows, wiped on the
// followers, come back.
func TestIncrementalSnapshotSignal(t *testing.T) { incrementalSnapshotSignal(t, "postgres") }

// TestIncrementalSnapshotSignalMariaDB: the same from a MariaDB source,
// whose signal table also carries the watermarks.
func TestIncrementalSnapshotSignalMariaDB(t *testing.T) { incrementalSnapshotSignal(t, "mariadb") }

func incrementalSnapshotSignal(t *testing.T, engine string) {
	testenv.Integration(t)
	e := newE2EFrom(t, engine, 1)
	fill, table := `INSERT INTO bf_sig SELECT g, md5(g::text) FROM generate_series(1, 5000) g`, "public.bf_sig"
	if engine != "postgres" {
		fill, table = `INSERT INTO bf_sig SELECT seq, md5(seq) FROM seq_1_to_5000`, e.name+".bf_sig"
		withSignalTable(t, e)
	}
	for _, q := range []string{
		`CREATE TABLE walship_signal (id varchar(64) PRIMARY KEY, type varchar(64) NOT NULL, data text)`,
		`CREATE TABLE bf_sig (id bigint PRIMARY KEY, v text)`,
		fill,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if engine == "postgres" {
		cfg := mustRead(t, e.cfgPath)
		if err := os.WriteFile(e.cfgPath, []byte(strings.Replace(cfg, "heartbeat_interval: 200ms", "heartbeat_interval: 200ms, signal_table: public.walship_signal", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := withHTTP(t, e)
	e.start()
	e.waitRows("bf_sig", 5000, 60*time.Second)
	for engine, db := range e.followers {
		if _, err := db.Exec(`DELETE FROM bf_sig`); err != nil {
			t.Fatalf("wipe the %s follower: %v", engine, err)
		}
	}
	if _, err := e.src.Exec(`INSERT INTO walship_signal VALUES ('s1', 'execute-snapshot', '{"data-collections": ["` + table + `"], "type": "incremental"}')`); err != nil {
		t.Fatal(err)
	}
	e.waitRows("bf_sig", 5000, 60*time.Second)
	waitSnapshotDone(t, e, addr)
	verifyAll(t, e)
	if log := mustRead(t, e.dir+"/walship.log"); !strings.Contains(log, "incremental snapshot requested by signal") {
		t.Errorf("the daemon did not report the signal; log tail:\n%s", e.logTail())
	}
}

// TestTableAddedIsBackfilled (issue 17): a table with rows, added to the
// PostgreSQL source's tables: between two runs (a publication of listed
// tables), is added to the publication and its rows read by an
// incremental snapshot while writes to it go on; every follower ends with
// it, equal to the source.
func TestTableAddedIsBackfilled(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 1)
	if _, err := e.src.Exec(`CREATE TABLE bf_added (id bigint PRIMARY KEY, v bigint NOT NULL);
		INSERT INTO bf_added SELECT g, 0 FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	cfg := mustRead(t, e.cfgPath)
	listed := strings.Replace(cfg, "tables: [public.*]", "tables: [public.accounts, public.customers, public.orders]", 1)
	if listed == cfg {
		t.Fatal("no tables: [public.*] in the config")
	}
	if err := os.WriteFile(e.cfgPath, []byte(listed), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Logf("stop: %v", err)
	}
	cfg = mustRead(t, e.cfgPath)
	if err := os.WriteFile(e.cfgPath, []byte(strings.Replace(cfg, "public.orders]", "public.orders, public.bf_added]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	for i := 1; i <= 200; i++ {
		if _, err := e.src.Exec(`UPDATE bf_added SET v = v + 1 WHERE id = $1`, i*97); err != nil {
			t.Fatal(err)
		}
	}
	e.waitRows("bf_added", 20000, 120*time.Second)
	waitSnapshotDone(t, e, addr)
	verifyAll(t, e)
	if log := mustRead(t, e.dir+"/walship.log"); !strings.Contains(log, "tables added to tables: are captured from now on") {
		t.Errorf("the daemon did not report the added table; log tail:\n%s", e.logTail())
	}
}

// withSignalTable gives the MariaDB source of e a signal table in its
// database (walship creates it).
func withSignalTable(t *testing.T, e *e2e) {
	t.Helper()
	cfg := mustRead(t, e.cfgPath)
	with := strings.Replace(cfg, "tables: ["+e.name+".*] }", "tables: ["+e.name+".*], signal_table: "+e.name+".walship_signal }", 1)
	if with == cfg {
		t.Fatalf("no mysql tables in\n%s", cfg)
	}
	if err := os.WriteFile(e.cfgPath, []byte(with), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTableAddedIsBackfilledMariaDB (issue 17): a table with rows, added
// to a MariaDB source's tables: between two runs, is read by an
// incremental snapshot on the next start (the source has a signal table);
// a table created while the daemon ran is not taken for an added one.
func TestTableAddedIsBackfilledMariaDB(t *testing.T) {
	testenv.Integration(t)
	e := newE2EFrom(t, "mariadb", 1)
	withSignalTable(t, e)
	if _, err := e.src.Exec(`CREATE TABLE bf_added (id bigint PRIMARY KEY, v bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.src.Exec(`INSERT INTO bf_added SELECT seq, 0 FROM seq_1_to_20000`); err != nil {
		t.Fatal(err)
	}
	cfg := mustRead(t, e.cfgPath)
	listed := strings.Replace(cfg, "tables: ["+e.name+".*]", "tables: ["+e.name+".accounts, "+e.name+".customers, "+e.name+".orders, "+e.name+".made_*]", 1)
	if listed == cfg {
		t.Fatal("no tables: in the config")
	}
	if err := os.WriteFile(e.cfgPath, []byte(listed), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	if _, err := e.src.Exec(`CREATE TABLE made_live (id bigint PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.src.Exec(`INSERT INTO made_live VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	e.waitRows("made_live", 1, 60*time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Logf("stop: %v", err)
	}
	cfg = mustRead(t, e.cfgPath)
	if err := os.WriteFile(e.cfgPath, []byte(strings.Replace(cfg, e.name+".made_*]", e.name+".made_*, "+e.name+".bf_added]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	for i := 1; i <= 200; i++ {
		if _, err := e.src.Exec(`UPDATE bf_added SET v = v + 1 WHERE id = ?`, i*97); err != nil {
			t.Fatal(err)
		}
	}
	e.waitRows("bf_added", 20000, 120*time.Second)
	waitSnapshotDone(t, e, addr)
	verifyAll(t, e)
	log := mustRead(t, e.dir+"/walship.log")
	if !strings.Contains(log, "tables added to tables: are captured from now on, and their rows read by an incremental snapshot") {
		t.Errorf("the daemon did not report the added table; log tail:\n%s", e.logTail())
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "tables added to tables:") && strings.Contains(l, "made_live") {
			t.Errorf("a table created while the daemon ran was taken for an added one:\n%s", l)
		}
	}
}
