package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/internal/testenv"
)

var binary string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "walship-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "walship")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func walship(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func TestVersion(t *testing.T) {
	out, code := walship(t, "version")
	if code != 0 || !strings.HasPrefix(out, "walship ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestCheckRejectsEveryBadFixture(t *testing.T) {
	files, _ := filepath.Glob("../../config/testdata/*.bad.yml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		out, code := walship(t, "check", "-c", f)
		if code != exitUsage || !strings.Contains(out, f) || strings.Contains(out, "hunter2") {
			t.Errorf("%s: exit %d, output:\n%s", f, code, out)
		}
	}
}

func TestUnknownFlagIsUsageError(t *testing.T) {
	if _, code := walship(t, "run", "--nope"); code != exitUsage {
		t.Errorf("exit %d", code)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestRunServesAndStopsOnSIGTERM starts the daemon, reads /healthz,
// /readyz and /metrics, sends SIGTERM and expects exit 0.
func TestRunServesAndStopsOnSIGTERM(t *testing.T) {
	addr := freePort(t)
	cfg := filepath.Join(t.TempDir(), "walship.yaml")
	os.WriteFile(cfg, []byte("http: { listen: \""+addr+"\" }\nshutdown_timeout: 10s\nlog: { format: json }\n"), 0o600)
	cmd := exec.Command(binary, "run", "-c", cfg)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, body, err := get(base + "/healthz"); err == nil && code == 200 && strings.TrimSpace(body) == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon never served /healthz; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body, _ := get(base + "/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	code, body, err := get(base + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("/metrics = %d %v", code, err)
	}
	for _, want := range []string{"go_goroutines", "process_resident_memory_bytes", "walship_build_info{", `walship_component_up{component="http",state="running"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; logs:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not exit after SIGTERM; logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Errorf("logs lack the clean stop:\n%s", logs.String())
	}
}

// TestRunReportsUnreachableSource: a source whose server cannot be reached
// keeps the daemon up, retrying, and shows on /readyz as not running.
func TestRunReportsUnreachableSource(t *testing.T) {
	addr := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "walship.yaml")
	os.WriteFile(cfg, []byte(`state_dir: `+filepath.Join(dir, "state")+`
http: { listen: "`+addr+`" }
kafka: { brokers: [127.0.0.1:1] }
sources:
  - name: maria
    mysql: { addr: "127.0.0.1:1", user: u, server_id: 9, tables: [db.*] }
`), 0o600)
	cmd := exec.Command(binary, "run", "-c", cfg)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body, err := get("http://" + addr + "/readyz")
		if err == nil && code == 503 && strings.Contains(body, "source/maria (backoff)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never reported the failed source (%d %q); logs:\n%s", code, body, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// TestCheckPreflight runs walship check against the real local servers:
// the demo-shaped config passes, and a config whose every server is wrong
// fails listing each problem without printing the password.
func TestCheckPreflight(t *testing.T) {
	pg := testenv.PGSource(t)
	pgFollower := testenv.PGFollower(t)
	my := testenv.MySQLSource(t)
	myFollower := testenv.MySQLFollower(t)
	kafka := testenv.Kafka(t)
	myAddr := my[strings.Index(my, "(")+1 : strings.Index(my, ")")]
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(fmt.Sprintf(`kafka: { brokers: [%q] }
sources:
  - name: pg
    postgres: { dsn: %q, slot: walship_check_test }
  - name: maria
    mysql: { addr: %q, user: root, server_id: 4243, flavor: mariadb, tables: [mysql.*] }
sinks:
  - { name: pgf, from: [pg], postgres: { dsn: %q } }
  - { name: myf, from: [pg], mysql: { dsn: "%smysql" } }
  - { name: lite, from: [pg, maria], sqlite: { path: %q } }
`, kafka, pg, myAddr, pgFollower, myFollower, filepath.Join(dir, "lite.db"))), 0o600)
	out, code := walship(t, "check", "-c", good)
	if code != 0 {
		t.Fatalf("good config: exit %d\n%s", code, out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(fmt.Sprintf(`kafka: { brokers: ["127.0.0.1:1"], dial_timeout: 2s }
sources:
  - name: pg-on-follower
    postgres: { dsn: %q }
  - name: maria-on-follower
    mysql: { addr: %q, user: root, password: hunter2-secret, server_id: 4244, flavor: mariadb, tables: [mysql.*] }
`, pgFollower, myFollower[strings.Index(myFollower, "(")+1:strings.Index(myFollower, ")")])), 0o600)
	out, code = walship(t, "check", "-c", bad)
	if code != exitFailure {
		t.Fatalf("bad config: exit %d\n%s", code, out)
	}
	for _, want := range []string{"wal_level", "127.0.0.1:1", "maria-on-follower"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2-secret") {
		t.Errorf("password printed:\n%s", out)
	}
}

// TestRunReportsEveryBadDSN: run names every source whose DSN it cannot
// use, as check does, not only the first.
func TestRunReportsEveryBadDSN(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "walship.yaml")
	os.WriteFile(cfg, []byte(`state_dir: `+filepath.Join(dir, "state")+`
http: { listen: "off" }
kafka: { brokers: [127.0.0.1:1] }
sources:
  - name: one
    postgres: { dsn: "postgres://u@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem" }
  - name: two
    postgres: { dsn: "postgres://u@[::1/db" }
`), 0o600)
	out, err := exec.Command(binary, "run", "-c", cfg).CombinedOutput()
	if err == nil {
		t.Fatal("run started")
	}
	for _, want := range []string{"source one", "/nonexistent/ca.pem", "source two", "is not a libpq URL"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("run's output lacks %q:\n%s", want, out)
		}
	}
}
