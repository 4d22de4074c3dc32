package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

// runVerify runs `walship verify args...` in process and returns its
// output and exit code (as execute maps them).
func runVerify(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot(&out, &out)
	if c, _, err := root.Find([]string{"verify"}); err != nil || c == root {
		root.AddCommand(newVerifyCmd())
	}
	root.SetArgs(append([]string{"verify"}, args...))
	err := root.Execute()
	code := exitOK
	if err != nil {
		out.WriteString("walship: " + err.Error() + "\n")
		code = exitUsage
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
	}
	return out.String(), code
}

func TestVerifyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "w.yaml")
	os.WriteFile(cfg, []byte(`state_dir: `+dir+`
http: { listen: "off" }
kafka: { brokers: ["127.0.0.1:1"] }
sources:
  - name: src
    postgres: { dsn: "postgres://u@127.0.0.1:1/db" }
sinks:
  - { name: lite, from: [src], sqlite: { path: "`+filepath.Join(dir, "f.db")+`" } }
`), 0o600)
	for _, args := range [][]string{
		{"-c", cfg},                   // no --sink
		{"-c", cfg, "--sink", "nope"}, // unknown sink
		{"-c", cfg, "--sink", "lite"}, // http off and no --no-wait
		{"-c", filepath.Join(dir, "missing.yaml"), "--sink", "lite"}, // no config
		{"-c", cfg, "--sink", "lite", "--bogus"},
	} {
		if out, code := runVerify(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2:\n%s", args, code, out)
		}
	}
}

// withHTTP gives the pipeline's daemon an HTTP listener, so verify can ask
// its wait API.
func withHTTP(t *testing.T, e *e2e) string {
	b, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	text := strings.Replace(string(b), `http: { listen: "off" }`, `http: { listen: "`+addr+`" }`, 1)
	if err := os.WriteFile(e.cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestVerifyEqualThenDifferences: a PostgreSQL source and three followers
// after a workload verify equal; then rows changed, deleted and inserted
// behind the pipeline's back on each follower are each named.
func TestVerifyEqualThenDifferences(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 2)
	withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	ctx, stop := context.WithTimeout(context.Background(), 3*time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.workload(ctx, uint64(w+1)*7919, int64(w)*1_000_000_000); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	stop()
	// No converge first: verify itself waits for the source's position.
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal: 3 tables") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
	// A customer id to change, one order to delete.
	var custID, orderID int64
	if err := e.src.QueryRow("SELECT min(id) FROM customers").Scan(&custID); err != nil {
		t.Fatal(err)
	}
	if err := e.src.QueryRow("SELECT max(id) FROM orders").Scan(&orderID); err != nil {
		t.Fatal(err)
	}
	for engine, db := range e.followers {
		for _, q := range []string{
			"UPDATE accounts SET balance = balance + 1 WHERE id = 7",
			"DELETE FROM accounts WHERE id = 9",
			"INSERT INTO accounts VALUES (1000, 5, 0)",
			"UPDATE customers SET name = 'changed secret' WHERE id = " + itoa(custID),
			"DELETE FROM orders WHERE id = " + itoa(orderID),
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %s: %v", engine, q, err)
			}
		}
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != exitFailure {
			t.Errorf("verify %s after changes: exit %d, want 1:\n%s", sink, code, out)
		}
		for _, want := range []string{
			"public.accounts → ", "missing   id=9\n", "extra     id=1000\n", "different id=7: balance\n",
			"public.customers → ", "different id=" + itoa(custID) + ": name\n",
			"public.orders → ", "missing   id=" + itoa(orderID) + "\n",
			"1 missing, 1 extra, 1 different", "differences in 3 of 3 tables",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("verify %s: output lacks %q:\n%s", sink, want, out)
			}
		}
		if strings.Contains(out, "changed secret") {
			t.Errorf("verify %s: values shown without --show-values:\n%s", sink, out)
		}
		out, code = runVerify(t, "-c", e.cfgPath, "--sink", sink, "--no-wait", "--show-values")
		if code != exitFailure || !strings.Contains(out, `"changed secret"`) {
			t.Errorf("verify %s --show-values: exit %d:\n%s", sink, code, out)
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
	verifySmallChunks(t, e)
}

// verifySmallChunks: with chunks of 10 rows, accounts (ids 1-50) is five
// chunks; besides the differences made before (7 different, 9 missing,
// 1000 extra past the last source key) a row before the first key is
// extra and one in the middle chunk differs. Exactly chunks 1, 3 and 5
// are descended into, and every difference is named.
func verifySmallChunks(t *testing.T, e *e2e) {
	for engine, db := range e.followers {
		for _, q := range []string{
			"UPDATE accounts SET version = version + 1 WHERE id = 25",
			"INSERT INTO accounts VALUES (-1, 5, 0)",
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %s: %v", engine, q, err)
			}
		}
	}
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--no-wait", "--chunk-rows", "10")
		if code != exitFailure {
			t.Errorf("verify %s --chunk-rows 10: exit %d, want 1:\n%s", sink, code, out)
		}
		for _, want := range []string{
			"extra     id=-1\n", "different id=7: balance\n", "missing   id=9\n", "different id=25: version\n", "extra     id=1000\n",
			"1 missing, 2 extra, 2 different (50 rows at the source, 51 on the follower; chunks 5, 3 differed)",
			"public.accounts chunk 1: checksums differ", "public.accounts chunk 3: checksums differ (10 source rows, 10 follower rows)",
			"public.accounts chunk 5: checksums differ (10 source rows, 11 follower rows)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("verify %s --chunk-rows 10: output lacks %q:\n%s", sink, want, out)
			}
		}
		for _, equal := range []string{"public.accounts chunk 2:", "public.accounts chunk 4:"} {
			if strings.Contains(out, equal) {
				t.Errorf("verify %s --chunk-rows 10: an equal chunk was descended into (%s):\n%s", sink, equal, out)
			}
		}
		if !regexp.MustCompile(`public\.customers → \S+ \(source src\): DIFFERENT: .*; chunks \d{2,}, 1 differed\)`).MatchString(out) {
			t.Errorf("verify %s --chunk-rows 10: customers is not many chunks with one differing:\n%s", sink, out)
		}
		t.Logf("verify %s --chunk-rows 10:\n%s", sink, out)
	}
	out, _ := runVerify(t, "-c", e.cfgPath, "--sink", "pgf", "--no-wait", "--chunk-rows", "10", "--json")
	var rep struct {
		Tables []struct {
			Table          string
			Chunks         int64 `json:"chunks"`
			ChunksDiffered int64 `json:"chunks_differed"`
		}
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{\n"):strings.LastIndex(out, "}")+1]), &rep); err != nil {
		t.Fatalf("verify --json: %v:\n%s", err, out)
	}
	for _, tr := range rep.Tables {
		if tr.Table == "public.accounts" && (tr.Chunks != 5 || tr.ChunksDiffered != 3) {
			t.Errorf("verify --json: accounts has %d chunks, %d differed; want 5, 3", tr.Chunks, tr.ChunksDiffered)
		}
	}
	if out, code := runVerify(t, "-c", e.cfgPath, "--sink", "pgf", "--no-wait", "--chunk-rows", "-1"); code != exitUsage {
		t.Errorf("--chunk-rows -1: exit %d, want 2:\n%s", code, out)
	}
}

// TestVerifyFromMariaDB: MariaDB source → PostgreSQL (and the other)
// followers verify equal after a workload.
func TestVerifyFromMariaDB(t *testing.T) {
	testenv.Integration(t)
	e := newE2EFrom(t, "mariadb", 2)
	withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	if _, err := e.workload(ctx, 42, 0); err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	stop()
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink)
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal: 3 tables") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
		t.Logf("verify %s:\n%s", sink, out)
	}
	if _, err := e.followers["postgres"].Exec("UPDATE accounts SET version = version + 100 WHERE id = 3"); err != nil {
		t.Fatal(err)
	}
	if out, code := runVerify(t, "-c", e.cfgPath, "--sink", "pgf"); code != exitFailure || !strings.Contains(out, "different id=3: version") {
		t.Errorf("verify pgf after a change: exit %d:\n%s", code, out)
	}
	// MariaDB → MariaDB checksums chunks in the databases: only the
	// changed chunk is merged.
	if _, err := e.followers["mysql"].Exec("UPDATE accounts SET version = version + 100 WHERE id = 33"); err != nil {
		t.Fatal(err)
	}
	out, code := runVerify(t, "-c", e.cfgPath, "--sink", "myf", "--no-wait", "--chunk-rows", "10")
	if code != exitFailure || !strings.Contains(out, "different id=33: version") || !strings.Contains(out, "; chunks 5, 1 differed)") ||
		!strings.Contains(out, ".accounts chunk 4: checksums differ (10 source rows, 10 follower rows)") {
		t.Errorf("verify myf --chunk-rows 10 after a change: exit %d:\n%s", code, out)
	}
	t.Log(out)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestVerifyTypesCrossEngine: a table with integers, numeric, text,
// boolean, bytea, date, timestamp, timestamptz, json, jsonb, uuid, time,
// float and arrays, created on each follower by walship, verifies equal
// on all three followers after the documented conversions; a changed
// timestamptz on the MariaDB follower is found.
func TestVerifyTypesCrossEngine(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 2)
	withHTTP(t, e)
	for _, q := range []string{
		`CREATE TABLE kinds (id int PRIMARY KEY, i8 bigint, n numeric(30,10), nu numeric, t text, vc varchar(10), b boolean,
			by bytea, d date, ts timestamp, tstz timestamptz, j json, jb jsonb, u uuid, tm time, f8 float8, f4 real, arr text[], iarr int[])`,
		`INSERT INTO kinds VALUES
			(1, -9223372036854775808, 12.5, -12.3400, 'héllo 🎉', '', true, '\xdeadbeef', '2024-02-29', '2024-01-02 03:04:05.123456',
			 '2024-01-02 03:04:05.5+02', '{"b": 1, "a": [1, 2]}', '{"b": 1, "a": "x"}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
			 '23:59:59.999999', 1.5e300, 3.14159, ARRAY['a b', NULL, 'NULL'], ARRAY[[1,2],[3,NULL]]),
			(2, 0, 0, 0, 'NULL', 'x', false, '', '0001-01-01 BC', '1999-12-31 23:59:59', '1970-01-01 00:00:00+00', 'null', '[]',
			 '00000000-0000-0000-0000-000000000000', '00:00:00', -0.0, 0.1, '{}', '{}'),
			(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	} {
		if _, err := e.src.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	e.waitRows("kinds", 3, 60*time.Second)
	for _, sink := range []string{"pgf", "myf", "lite"} {
		out, code := runVerify(t, "-c", e.cfgPath, "--sink", sink, "--show-values")
		if code != 0 || !strings.Contains(out, "sink "+sink+": equal: 4 tables") {
			t.Fatalf("verify %s: exit %d:\n%s\nlog tail:\n%s", sink, code, out, e.logTail())
		}
	}
	if _, err := e.followers["mysql"].Exec("UPDATE kinds SET tstz = '2024-01-02 03:04:06.5', `by` = x'deadbeee' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	out, code := runVerify(t, "-c", e.cfgPath, "--sink", "myf", "--no-wait", "--show-values")
	if code != exitFailure || !strings.Contains(out, "different id=1: by (") || !strings.Contains(out, "; tstz (") {
		t.Errorf("verify myf after a change: exit %d:\n%s", code, out)
	}
	t.Log(out)
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"1h":                   now.Add(-time.Hour),
		"2026-12-07T10:00:00Z": time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", ""} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q): no error", bad)
		}
	}
}
