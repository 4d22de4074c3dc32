package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/client"
)

// TestReadYourWrites: write on the source, take pg_current_wal_lsn(), wait
// on each sink, and the row is on that follower at once — 100 times in a
// row, under load. A wait past the log times out with the current
// position; a malformed position is refused.
func TestReadYourWrites(t *testing.T) {
	e := newE2E(t, 4)
	// Under load, but a steady one: an unpaced workload outruns the
	// followers on a slow two-core machine, and a wait then times out
	// for lag, which is not what this test is about.
	e.pace = 5 * time.Millisecond
	addr := freePort(t)
	cfg, _ := os.ReadFile(e.cfgPath)
	os.WriteFile(e.cfgPath, []byte(strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+addr+`" }`, 1)), 0o600)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	c := client.New("http://" + addr)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := e.workload(ctx, 7, 5_000_000_000); err != nil && ctx.Err() == nil {
			t.Error(err)
		}
	}()
	defer func() { stop(); wg.Wait() }()

	conn, err := e.src.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var worst time.Duration
	for i := 1; i <= 100; i++ {
		id := 9_000_000_000 + int64(i)
		if _, err := conn.ExecContext(context.Background(), "INSERT INTO customers VALUES ($1, $2)", id, fmt.Sprintf("ryw %d", i)); err != nil {
			t.Fatal(err)
		}
		var lsn string
		if err := conn.QueryRowContext(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		for sink, engine := range map[string]string{"pgf": "postgres", "myf": "mysql", "lite": "sqlite"} {
			start := time.Now()
			wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := c.WaitFor(wctx, sink, lsn)
			cancel()
			if err != nil {
				t.Fatalf("write %d: wait on %s for %s: %v\n%s", i, sink, lsn, err, e.logTail())
			}
			worst = max(worst, time.Since(start))
			var n int
			if err := e.followers[engine].QueryRow(e.followerQuery(engine, "SELECT count(*) FROM customers WHERE id = ?"), id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("write %d: wait on %s returned for %s, but the row is not on the follower", i, sink, lsn)
			}
		}
	}
	t.Logf("100 writes read back from three followers right after their waits; slowest wait %s", worst.Round(time.Millisecond))

	// A position the log has not reached: the wait times out and says where
	// the sink is.
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = c.WaitFor(wctx, "pgf", "FFFF/0")
	var te *client.TimeoutError
	if !errors.As(err, &te) || te.Applied == "" || te.Applied == "unknown" || !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	t.Logf("timeout: %v", err)
	for _, bad := range []string{"not-an-lsn", "1/2/3"} {
		code, body, _ := get("http://" + addr + "/api/v1/sinks/pgf/wait?position=" + bad)
		if code != 400 || !strings.Contains(body, "error") {
			t.Errorf("position %q: %d %s", bad, code, body)
		}
	}
	if code, _, _ := get("http://" + addr + "/api/v1/sinks/nope/wait?position=0/1"); code != 404 {
		t.Errorf("unknown sink: %d", code)
	}
	code, body, _ := get("http://" + addr + "/api/v1/status")
	if code != 200 || !strings.Contains(body, `"lag_seconds"`) || !strings.Contains(body, `"name": "pgf"`) {
		t.Errorf("status: %d %s", code, body)
	}
	_, metrics, _ := get("http://" + addr + "/metrics")
	for _, want := range []string{`walship_sink_apply_latency_seconds_bucket{sink="pgf"`, `walship_sink_applied_rows_total{op="insert",sink="myf"}`,
		`walship_sink_batch_transactions_count{sink="lite"}`, `walship_source_slot_retained_bytes{source="src"}`, `walship_sink_errors_total{class="rejected",sink="pgf"} 0`,
		`walship_sink_lag_seconds{sink="pgf",source="src"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// followerQuery adapts ? placeholders to the follower engine.
func (e *e2e) followerQuery(engine, q string) string {
	if engine == "postgres" {
		return strings.Replace(q, "?", "$1", 1)
	}
	return q
}

// lsnRE matches a PostgreSQL LSN in status output.
var lsnRE = regexp.MustCompile(`\b[0-9A-F]+/[0-9A-F]+\b`)

// TestStatusCommand: walship status shows lag and positions for a running
// daemon, and the stored positions once it stopped.
func TestStatusCommand(t *testing.T) {
	e := newE2E(t, 2)
	addr := freePort(t)
	cfg, _ := os.ReadFile(e.cfgPath)
	os.WriteFile(e.cfgPath, []byte(strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+addr+`" }`, 1)), 0o600)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	time.Sleep(1500 * time.Millisecond) // a fold of the positions
	out, code := walship(t, "status", "-c", e.cfgPath)
	if code != 0 || !strings.Contains(out, "SINK") || !strings.Contains(out, "pgf") || !strings.Contains(out, "streaming") || !strings.Contains(out, "applying") {
		t.Fatalf("live status (%d):\n%s", code, out)
	}
	t.Logf("live:\n%s", out)
	jsonOut, code := walship(t, "status", "-c", e.cfgPath, "--json")
	if code != 0 || !strings.Contains(jsonOut, `"lag_seconds"`) {
		t.Fatalf("json status (%d):\n%s", code, jsonOut)
	}
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	out, code = walship(t, "status", "-c", e.cfgPath)
	if code != 0 || !strings.Contains(out, "no daemon answers") || len(lsnRE.FindAllString(out, -1)) < 4 {
		t.Fatalf("stored status (%d):\n%s", code, out)
	}
	t.Logf("stored:\n%s", out)
}

// TestPauseResume: with http.token set (from token_file), an operator
// pauses one sink over the API: it applies nothing new while the others
// go on, shows "paused", and catches up on resume. Without the token the
// request is refused.
func TestPauseResume(t *testing.T) {
	e := newE2E(t, 2)
	addr := freePort(t)
	tokenFile := e.dir + "/token"
	os.WriteFile(tokenFile, []byte("op-token-123\n"), 0o600)
	cfg, _ := os.ReadFile(e.cfgPath)
	os.WriteFile(e.cfgPath, []byte(strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+addr+`", token_file: `+tokenFile+` }`, 1)), 0o600)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	post := func(path, token string) int {
		req, _ := http.NewRequest("POST", "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/api/v1/sinks/pgf/pause", ""); code != 401 {
		t.Fatalf("pause without the token: %d", code)
	}
	if code := post("/api/v1/sinks/pgf/pause", "op-token-123"); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	for i := 1; i <= 20; i++ {
		if _, err := e.src.Exec("INSERT INTO customers VALUES ($1, 'paused')", 7_000_000_000+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The other followers get the rows; pgf does not.
	for _, engine := range []string{"mysql", "sqlite"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int
			e.followers[engine].QueryRow("SELECT count(*) FROM customers WHERE id > 7000000000").Scan(&n)
			if n == 20 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has %d of 20 rows while pgf is paused\n%s", engine, n, e.logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var n int
	e.followers["postgres"].QueryRow("SELECT count(*) FROM customers WHERE id > 7000000000").Scan(&n)
	if n != 0 {
		t.Errorf("paused pgf applied %d rows", n)
	}
	_, body, _ := get("http://" + addr + "/api/v1/status")
	if !strings.Contains(body, `"operator_paused": true`) {
		t.Errorf("status does not show the pause:\n%s", body)
	}
	if code := post("/api/v1/sinks/pgf/resume", "op-token-123"); code != 200 {
		t.Fatalf("resume: %d", code)
	}
	e.converge(60 * time.Second)
}
