package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestGoodConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("testdata/good.yml", data, env(map[string]string{"PG_PASSWORD": "pw-from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sources[0].Postgres.Password.Reveal(); got != "pw-from-env" {
		t.Errorf("env password = %q", got)
	}
	if got := cfg.Sources[1].MySQL.Password.Reveal(); got != "s3cret-from-file" {
		t.Errorf("file password = %q", got)
	}
	if cfg.Sinks[1].Workers != DefaultWorkers || cfg.Sinks[0].Workers != 8 {
		t.Errorf("workers = %d, %d", cfg.Sinks[0].Workers, cfg.Sinks[1].Workers)
	}
	if cfg.Sources[1].MySQL.Flavor != "mariadb" || cfg.Sources[0].Engine() != "postgres" || cfg.Sinks[2].Engine() != "sqlite" {
		t.Errorf("engines/flavor wrong: %+v", cfg.Sources[1].MySQL)
	}
	if cfg.ShutdownTimeout != DefaultShutdownTimeout || cfg.Kafka.Envelope != "json" {
		t.Errorf("defaults not applied: %v %q", cfg.ShutdownTimeout, cfg.Kafka.Envelope)
	}
	// No secret may leak through the usual printers.
	for _, s := range []string{fmt.Sprint(cfg.Sources[0].Postgres), fmt.Sprintf("%+v", *cfg.Sources[1].MySQL), fmt.Sprintf("%#v", *cfg.Sources[1].MySQL)} {
		if strings.Contains(s, "pw-from-env") || strings.Contains(s, "s3cret") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestDefaultsFillSlotAndPublication(t *testing.T) {
	cfg, err := Parse("x.yml", []byte("kafka: {brokers: [h:1]}\nsources:\n  - name: Pg-Main\n    postgres: {dsn: 'host=x'}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	pg := cfg.Sources[0].Postgres
	if pg.Slot != "walship_pg_main" || pg.Publication != "walship_pg_main" || pg.Snapshot != "initial" || pg.Tables[0] != "public.*" {
		t.Errorf("defaults: %+v", pg)
	}
}

// A fixture marks each expected error with a comment "# want: text" on the
// line the error must name, or "# want-file: text" for a file-wide error.
var wantLine = regexp.MustCompile(`#\s*want(-file)?:\s*(.*)$`)

// TestBadConfigs loads every testdata/*.bad.yml. Each fixture names the
// errors it must produce in "# want LINE: text" comments; the loader must
// report exactly those (one error per want, with that line), no others.
func TestBadConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yml")
	if len(files) < 10 {
		t.Fatalf("only %d bad fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			type want struct {
				line int
				text string
			}
			var wants []want
			for i, l := range strings.Split(string(data), "\n") {
				if m := wantLine.FindStringSubmatch(l); m != nil {
					line := i + 1
					if m[1] != "" {
						line = 0
					}
					for _, text := range strings.Split(m[2], " ## ") {
						wants = append(wants, want{line, text})
					}
				}
			}
			_, err = Parse(f, data, env(nil))
			var errs Errors
			if !errors.As(err, &errs) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("want config Errors, got %v", err)
			}
			used := make([]bool, len(errs))
		next:
			for _, w := range wants {
				for i, e := range errs {
					if !used[i] && e.Line == w.line && strings.Contains(e.Error(), w.text) {
						used[i] = true
						if !strings.HasPrefix(e.Error(), f) {
							t.Errorf("error does not start with the file name: %s", e)
						}
						continue next
					}
				}
				t.Errorf("missing error at line %d containing %q", w.line, w.text)
			}
			for i, e := range errs {
				if !used[i] {
					t.Errorf("unexpected error: %s", e)
				}
			}
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	// A secret of the wrong shape must not be echoed back.
	src := "kafka: {brokers: [h:1]}\nsources:\n  - name: a\n    postgres:\n      dsn: postgres://u:hunter2@h/db\n      password: [hunter2]\n"
	_, err := Parse("x.yml", []byte(src), env(nil))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:hunter2@h:5432/db?sslmode=disable": "postgres://u:[redacted]@h:5432/db?sslmode=disable",
		"postgres://u@h/db?password=hunter2":             "postgres://u@h/db?password=[redacted]",
		"host=h user=u password=hunter2 dbname=x":        "host=h user=u password=[redacted] dbname=x",
		"host=h password='hun ter2' dbname=x":            "host=h password=[redacted] dbname=x",
		"u:hunter2@tcp(127.0.0.1:3306)/db":               "u:[redacted]@tcp(127.0.0.1:3306)/db",
		"u@tcp(127.0.0.1:3306)/db":                       "u@tcp(127.0.0.1:3306)/db",
	} {
		if got := RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvEscape(t *testing.T) {
	cfg, err := Parse("x.yml", []byte("state_dir: \"$${HOME}/a-${X}\"\n"), env(map[string]string{"X": "b"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "${HOME}/a-b" {
		t.Errorf("state_dir = %q", cfg.StateDir)
	}
}

// TestDSNProblem: a DSN naming a file that cannot be read says so, with
// the file; one that does not parse says that; neither quotes the password.
func TestDSNProblem(t *testing.T) {
	dsn := "postgres://u:pw-SECRET@127.0.0.1:5432/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"
	_, err := pgx.ParseConfig(dsn)
	if err == nil {
		t.Fatal("the DSN parsed")
	}
	got := DSNProblem(dsn, err)
	if !strings.Contains(got, "names a file that cannot be read: /nonexistent/ca.pem") || strings.Contains(got, "pw-SECRET") {
		t.Errorf("missing file: %q", got)
	}
	bad := "postgres://u:pw-SECRET@[::1/db"
	_, err = pgx.ParseConfig(bad)
	if got := DSNProblem(bad, err); !strings.Contains(got, "is not a libpq URL") || strings.Contains(got, "pw-SECRET") {
		t.Errorf("bad syntax: %q", got)
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		on   bool
		bad  bool
	}{
		{"448MiB", 448 << 20, true, false},
		{"1GiB", 1 << 30, true, false},
		{" 2 GiB", 2 << 30, true, false},
		{"off", 0, false, false},
		{"OFF", 0, false, false},
		{"100000000", 100000000, true, false},
		{"32MiB", 0, false, true},
		{"448MB", 0, false, true},
		{"lots", 0, false, true},
		{"", 0, false, true},
		{"99999999999TiB", 0, false, true},
	} {
		n, on, err := parseMemoryLimit(c.in)
		if (err != nil) != c.bad || n != c.want || on != c.on {
			t.Errorf("%q: %d %v %v, want %d %v bad=%v", c.in, n, on, err, c.want, c.on, c.bad)
		}
	}
}

func TestClusterDefaults(t *testing.T) {
	cfg, err := Parse("x.yml", []byte("http: { listen: 10.0.0.5:8080 }\nkafka: {brokers: [h:1]}\ncluster: { name: prod }\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cluster
	if c.SessionTimeout != DefaultClusterSessionTimeout || c.HeartbeatInterval != DefaultClusterHeartbeatInterval ||
		c.RebalanceTimeout != DefaultClusterRebalanceTimeout || c.Advertise != "10.0.0.5:8080" {
		t.Errorf("defaults: %+v", c)
	}
	if cfg, err = Parse("x.yml", []byte("kafka: {brokers: [h:1]}\n"), env(nil)); err != nil || cfg.Cluster != nil {
		t.Errorf("no cluster: key: %v %+v", err, cfg.Cluster)
	}
}
