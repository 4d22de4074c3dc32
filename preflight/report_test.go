package preflight

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func sampleReport() Report {
	return Report{Results: []Result{
		{
			Target: "source pg-main", Engine: "postgres", Addr: "10.0.0.5:5432",
			OK: []string{"PostgreSQL 15.4", "max_replication_slots=10"},
			Problems: []Problem{
				{Setting, "wal_level is replica, need logical: set wal_level = logical in postgresql.conf and restart the server"},
				{Privilege, "role \"app\" has neither REPLICATION nor SUPERUSER:\nALTER ROLE app WITH REPLICATION"},
			},
		},
		{Target: "source shop", Engine: "mariadb", Addr: "10.0.0.6:3306", Problems: []Problem{
			{Unreachable, "cannot connect to 10.0.0.6:3306: connection refused: check the address"},
		}},
		{Target: "sink lite", Engine: "sqlite", Addr: "/var/lib/walship/lite.db", OK: []string{"directory /var/lib/walship is writable", "PRAGMA quick_check: ok"}},
		{Target: "kafka", Engine: "kafka", Addr: "k1:9092,k2:9092", OK: []string{"cluster has 3 brokers"}},
	}}
}

func TestPrint(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().Print(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden", buf.String())
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "source") || strings.HasPrefix(line, "sink") || strings.HasPrefix(line, "kafka") {
			continue
		}
		if !strings.Contains(line, "problem") {
			t.Errorf("line does not start with a target: %q", line)
		}
	}
}

func TestPrintAllOK(t *testing.T) {
	var buf bytes.Buffer
	rep := Report{Results: []Result{{Target: "kafka", Engine: "kafka", Addr: "k:9092", OK: []string{"cluster has 1 broker"}}}}
	if err := rep.Print(&buf); err != nil {
		t.Fatal(err)
	}
	want := "kafka (kafka k:9092): ok: cluster has 1 broker\nall 1 target ok\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
	if !rep.OK() {
		t.Error("OK() = false for a report without problems")
	}
}

func TestReportOK(t *testing.T) {
	if rep := sampleReport(); rep.OK() || rep.Problems() != 3 {
		t.Errorf("OK() = %v, Problems() = %d; want false, 3", rep.OK(), rep.Problems())
	}
	if !(Report{}).OK() {
		t.Error("an empty report is OK")
	}
}

func TestCodeText(t *testing.T) {
	b, err := json.Marshal(Problem{Code: AuthFailed, Msg: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"Code":"auth-failed","Msg":"m"}` {
		t.Errorf("JSON = %s", b)
	}
	if Code(99).String() != "code(99)" {
		t.Errorf("unknown code prints %q", Code(99).String())
	}
}

func TestScrub(t *testing.T) {
	r := Result{Addr: "h:1", OK: []string{"user s3cr3t"}, Problems: []Problem{{Other, "failed: password s3cr3t and hunter2"}}}
	got := scrub(r.clone(), []string{"", "s3cr3t", "hunter2"})
	if got.OK[0] != "user [redacted]" || got.Problems[0].Msg != "failed: password [redacted] and [redacted]" {
		t.Errorf("scrub = %+v", got)
	}
	if r.OK[0] != "user s3cr3t" {
		t.Error("scrub changed its input through a shared slice")
	}
}
