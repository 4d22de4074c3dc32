package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOversizedValueBoundedMemory (issue 28): a 50 MB PostgreSQL value,
// over the log's record limit, stops the source as failed, naming the
// table, the size and the setting, while the daemon's memory stays bounded:
// its peak resident set (VmHWM) is logged, and must stay under 12 times the
// value (it used to sit in backoff forever at about 1 GB, holding the
// slot's WAL). Later transactions are not published past it.
func TestOversizedValueBoundedMemory(t *testing.T) {
	e := newE2E(t, 2)
	addr := withHTTP(t, e)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	const size = 50 << 20
	if _, err := e.src.Exec("INSERT INTO customers VALUES (1, repeat('abcdefghij', $1))", size/10); err != nil {
		t.Fatal(err)
	}
	if _, err := e.src.Exec("INSERT INTO customers VALUES (2, 'after')"); err != nil {
		t.Fatal(err)
	}
	type sourceDoc struct {
		Name      string `json:"name"`
		State     string `json:"state"`
		LastError string `json:"last_error"`
	}
	var src sourceDoc
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		_, body, _ := get("http://" + addr + "/api/v1/status")
		var doc struct {
			Sources []sourceDoc `json:"sources"`
		}
		json.Unmarshal([]byte(body), &doc)
		if len(doc.Sources) == 1 && doc.Sources[0].State == "failed" {
			src = doc.Sources[0]
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if src.State != "failed" {
		t.Fatalf("the source did not fail on the oversized change: %+v\n%s", src, e.logTail())
	}
	for _, want := range []string{"public.customers", "kafka.max_message_bytes", "position"} {
		if !strings.Contains(src.LastError, want) {
			t.Errorf("last_error lacks %q: %s", want, src.LastError)
		}
	}
	if strings.Contains(src.LastError, "abcdefghij") {
		t.Errorf("last_error quotes the value")
	}
	hwm := vmHWM(t, e.cmd.Process.Pid)
	t.Logf("source error: %s", src.LastError)
	t.Logf("daemon peak RSS %d MiB for a %d MiB value", hwm>>20, size>>20)
	if hwm > 12*size {
		t.Errorf("peak RSS %d MiB for a %d MiB value", hwm>>20, size>>20)
	}
	var n int
	e.followers["postgres"].QueryRow("SELECT count(*) FROM customers").Scan(&n)
	if n != 0 {
		t.Errorf("%d customers rows on the follower past the stopped source", n)
	}
}

// vmHWM is the peak resident set of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
