package main

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/testenv"
)

// scramUser creates (or resets) a SCRAM-SHA-256 user on the broker,
// through its plaintext listener.
func scramUser(t *testing.T, name, password string) {
	t.Helper()
	salt := make([]byte, 16)
	rand.Read(salt)
	const iterations = 8192
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	c := &kafkago.Client{Addr: kafkago.TCP(testenv.Kafka(t)), Timeout: 20 * time.Second}
	res, err := c.AlterUserScramCredentials(context.Background(), &kafkago.AlterUserScramCredentialsRequest{
		Upsertions: []kafkago.UserScramCredentialsUpsertion{{Name: name, Mechanism: kafkago.ScramMechanismSha256,
			Iterations: iterations, Salt: salt, SaltedPassword: salted}},
	})
	if err != nil {
		t.Fatalf("create SCRAM user: %v", err)
	}
	for _, r := range res.Results {
		if r.Error != nil {
			t.Fatalf("create SCRAM user %s: %v", r.User, r.Error)
		}
	}
}

// withKafka rewrites the e2e config's kafka line.
func (e *e2e) withKafka(t *testing.T, line string) {
	t.Helper()
	cfg, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^kafka: .*$`)
	os.WriteFile(e.cfgPath, []byte(re.ReplaceAllLiteralString(string(cfg), line)), 0o600)
}

// TestKafkaSASLAndTLS: the pipeline runs against the broker's SASL/SCRAM
// listener and against its TLS listener (verifying the broker's
// certificate with ca_file). A wrong password is an authentication error
// that does not print the password; TLS without the right CA is a
// certificate error, never a plaintext connection.
func TestKafkaSASLAndTLS(t *testing.T) {
	testenv.Integration(t)
	saslAddr, tlsAddr, ca := os.Getenv("WALSHIP_TEST_KAFKA_SASL"), os.Getenv("WALSHIP_TEST_KAFKA_TLS"), os.Getenv("WALSHIP_TEST_KAFKA_TLS_CA")
	if saslAddr == "" || tlsAddr == "" || ca == "" {
		t.Fatal("WALSHIP_TEST_KAFKA_SASL/TLS/TLS_CA unset: source deploy/local/env.sh")
	}
	e := newE2E(t, 2)
	user, password := fmt.Sprintf("walship-%d", os.Getpid()), "scram-Pa55-"+e.name
	scramUser(t, user, password)
	pwFile := filepath.Join(e.dir, "kafka-password")
	os.WriteFile(pwFile, []byte(password+"\n"), 0o600)

	// SASL/SCRAM.
	e.withKafka(t, fmt.Sprintf("kafka: { brokers: [%q], topic_prefix: %s, partitions: 4, sasl: { mechanism: SCRAM-SHA-256, username: %s, password_file: %s } }",
		saslAddr, e.name, user, pwFile))
	// A new SCRAM user reaches the SASL listener through the metadata log
	// a moment after it is created: the login is retried meanwhile.
	out, code := walship(t, "check", "-c", e.cfgPath)
	for attempt := 0; code != 0 && strings.Contains(out, "refused the login") && attempt < 40; attempt++ {
		time.Sleep(250 * time.Millisecond)
		out, code = walship(t, "check", "-c", e.cfgPath)
	}
	if code != 0 {
		t.Fatalf("check over SASL: exit %d\n%s", code, out)
	}
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	e.runWorkload(1, time.Second, 0)
	e.converge(60 * time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("exit: %v\n%s", err, e.logTail())
	}

	// A wrong password: check names the failure, the password never shows.
	os.WriteFile(pwFile, []byte("wrong-"+password+"\n"), 0o600)
	out, code = walship(t, "check", "-c", e.cfgPath)
	if code == 0 || !strings.Contains(strings.ToLower(out), "sasl") || strings.Contains(out, password) {
		t.Errorf("check with a wrong SASL password: exit %d\n%s", code, out)
	}
	t.Logf("wrong SASL password:\n%s", out)

	// TLS, verified with the broker's CA.
	e.withKafka(t, fmt.Sprintf("kafka: { brokers: [%q], topic_prefix: %s, partitions: 4, tls: { ca_file: %q } }", tlsAddr, e.name, ca))
	if out, code := walship(t, "check", "-c", e.cfgPath); code != 0 {
		t.Fatalf("check over TLS: exit %d\n%s", code, out)
	}
	e.start()
	e.runWorkload(1, time.Second, 100_000_000)
	e.converge(60 * time.Second)
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("exit: %v\n%s", err, e.logTail())
	}
	// TLS asked for, the CA not given: the system roots do not know the
	// broker's certificate, so nothing connects (no plaintext fallback).
	e.withKafka(t, fmt.Sprintf("kafka: { brokers: [%q], topic_prefix: %s, partitions: 4, tls: {} }", tlsAddr, e.name))
	out, code = walship(t, "check", "-c", e.cfgPath)
	if code == 0 || !strings.Contains(out, "certificate") {
		t.Errorf("TLS without the CA: exit %d\n%s", code, out)
	}
	t.Logf("TLS without the CA:\n%s", out)
	// TLS asked for against the plaintext listener fails too.
	e.withKafka(t, fmt.Sprintf("kafka: { brokers: [%q], topic_prefix: %s, partitions: 4, tls: { ca_file: %q } }", testenv.Kafka(t), e.name, ca))
	if out, code := walship(t, "check", "-c", e.cfgPath); code == 0 {
		t.Errorf("TLS to a plaintext listener: exit 0\n%s", out)
	}
}

// TestSecretsNeverPrinted: with known passwords in every place a config
// holds one (a source and a follower password_file, a follower DSN, the
// Kafka SASL password from the environment), and servers rejecting some
// of them, nothing walship prints — check, the daemon's log, the status
// API and metrics, walship status, replay --dry-run — contains a secret.
func TestSecretsNeverPrinted(t *testing.T) {
	e := newE2E(t, 2)
	secrets := map[string]string{
		"pg":    "pg-Secret-" + e.name,
		"my":    "my-Secret-" + e.name,
		"kafka": "kafka-Secret-" + e.name,
		"pgf":   "pgf-Secret-" + e.name,
	}
	for k, v := range secrets {
		os.WriteFile(filepath.Join(e.dir, k+".pw"), []byte(v), 0o600)
	}
	addr := freePort(t)
	cfg, _ := os.ReadFile(e.cfgPath)
	text := strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+addr+`" }`, 1)
	// The PostgreSQL servers trust local connections: these passwords are
	// sent and accepted. MariaDB checks them: the follower DSN's is wrong.
	text = strings.Replace(text, "tables: [public.*]", "tables: [public.*], password_file: "+filepath.Join(e.dir, "pg.pw"), 1)
	text = strings.Replace(text, "postgres: { dsn: "+fmt.Sprintf("%q", e.pgDSN)+" }", "postgres: { dsn: "+fmt.Sprintf("%q", e.pgDSN)+", password_file: "+filepath.Join(e.dir, "pgf.pw")+" }", 1)
	text = strings.Replace(text, fmt.Sprintf("%q", e.myDSN), fmt.Sprintf("%q", strings.Replace(e.myDSN, "root@", "root:"+secrets["my"]+"@", 1)), 1)
	os.WriteFile(e.cfgPath, []byte(text), 0o600)
	if !strings.Contains(text, secrets["my"]) || !strings.Contains(text, "pgf.pw") {
		t.Fatalf("config rewrite failed:\n%s", text)
	}
	// Kafka over SASL/SCRAM, the password from the environment.
	user := fmt.Sprintf("walship-s-%d", os.Getpid())
	scramUser(t, user, secrets["kafka"])
	t.Setenv("WALSHIP_TEST_SECRET_KAFKA", secrets["kafka"])
	e.withKafka(t, fmt.Sprintf("kafka: { brokers: [%q], topic_prefix: %s, partitions: 4, sasl: { mechanism: SCRAM-SHA-256, username: %s, password: \"${WALSHIP_TEST_SECRET_KAFKA}\" } }",
		os.Getenv("WALSHIP_TEST_KAFKA_SASL"), e.name, user))
	var printed strings.Builder
	out, _ := walship(t, "check", "-c", e.cfgPath)
	printed.WriteString(out)
	e.start()
	e.followers["mysql"].Close()
	delete(e.followers, "mysql") // its sink fails authentication
	e.waitRows("accounts", accounts, 60*time.Second)
	for _, path := range []string{"/api/v1/status", "/metrics", "/api/v1/history", "/"} {
		_, body, _ := get("http://" + addr + path)
		printed.WriteString(body)
	}
	out, _ = walship(t, "status", "-c", e.cfgPath, "--json")
	printed.WriteString(out)
	e.stop(syscall.SIGTERM)
	printed.WriteString(e.logTail())
	b, _ := os.ReadFile(filepath.Join(e.dir, "walship.log"))
	printed.Write(b)
	out, _ = walship(t, "status", "-c", e.cfgPath)
	printed.WriteString(out)
	out, _ = walship(t, "replay", "-c", e.cfgPath, "--sink", "myf", "--dry-run")
	printed.WriteString(out)
	out, _ = walship(t, "verify", "-c", e.cfgPath, "--sink", "myf", "--no-wait")
	printed.WriteString(out)
	all := printed.String()
	if !strings.Contains(all, "Access denied") {
		t.Errorf("the MariaDB follower's rejection is not reported anywhere")
	}
	for k, v := range secrets {
		if strings.Contains(all, v) {
			i := strings.Index(all, v)
			t.Errorf("the %s secret appears in walship's output: …%s…", k, all[max(0, i-200):min(len(all), i+50)])
		}
	}
	t.Logf("%d bytes of output checked for %d secrets", len(all), len(secrets))
}

// TestSourceTLS: a PostgreSQL source over sslmode=verify-full, checked
// against the server's certificate, and a MariaDB source with mysql.tls;
// with a CA that did not sign the server's certificate both fail with a
// certificate error (no plaintext fallback). walship verify reads the
// source over the same TLS.
func TestSourceTLS(t *testing.T) {
	testenv.Integration(t)
	ca := os.Getenv("WALSHIP_TEST_TLS_CA")
	if ca == "" {
		t.Fatal("WALSHIP_TEST_TLS_CA unset: source deploy/local/env.sh")
	}
	wrongCA := os.Getenv("WALSHIP_TEST_KAFKA_TLS_CA") // a real CA, not the servers'
	for _, engine := range []string{"postgres", "mariadb"} {
		t.Run(engine, func(t *testing.T) {
			e := newE2EFrom(t, engine, 2)
			cfg, _ := os.ReadFile(e.cfgPath)
			good, bad := string(cfg), string(cfg)
			if engine == "postgres" {
				dsn := strings.Replace(e.srcDSN, "sslmode=disable", "sslmode=verify-full&sslrootcert="+ca, 1)
				good = strings.Replace(good, fmt.Sprintf("%q", e.srcDSN), fmt.Sprintf("%q", dsn), 1)
				bad = strings.Replace(bad, fmt.Sprintf("%q", e.srcDSN), fmt.Sprintf("%q", strings.Replace(dsn, ca, wrongCA, 1)), 1)
			} else {
				good = strings.Replace(good, "flavor: mariadb,", fmt.Sprintf("flavor: mariadb, tls: { ca_file: %q },", ca), 1)
				bad = strings.Replace(bad, "flavor: mariadb,", fmt.Sprintf("flavor: mariadb, tls: { ca_file: %q },", wrongCA), 1)
			}
			if good == string(cfg) {
				t.Fatalf("config rewrite failed:\n%s", cfg)
			}
			os.WriteFile(e.cfgPath, []byte(bad), 0o600)
			out, code := walship(t, "check", "-c", e.cfgPath)
			if code == 0 || !strings.Contains(out, "certificate") {
				t.Errorf("check with the wrong CA: exit %d\n%s", code, out)
			}
			os.WriteFile(e.cfgPath, []byte(good), 0o600)
			if out, code := walship(t, "check", "-c", e.cfgPath); code != 0 {
				t.Fatalf("check over TLS: exit %d\n%s", code, out)
			}
			e.start()
			e.waitRows("accounts", accounts, 60*time.Second)
			e.runWorkload(1, time.Second, 0)
			e.converge(60 * time.Second)
			if err := e.stop(syscall.SIGTERM); err != nil {
				t.Fatalf("exit: %v\n%s", err, e.logTail())
			}
			// verify reads the source over the same TLS: with the wrong CA
			// it fails on the certificate.
			if out, code := walship(t, "verify", "-c", e.cfgPath, "--sink", "myf", "--no-wait"); code != 0 {
				t.Errorf("verify over TLS: exit %d\n%s", code, out)
			}
			os.WriteFile(e.cfgPath, []byte(bad), 0o600)
			if out, code := walship(t, "verify", "-c", e.cfgPath, "--sink", "myf", "--no-wait"); code == 0 || !strings.Contains(out, "certificate") {
				t.Errorf("verify with the wrong CA: exit %d\n%s", code, out)
			}
		})
	}
}

// TestRowValuesNeverPrinted (issue 28): a follower that rejects a row for
// a unique key (MariaDB's driver error quotes the value) stops its sink
// naming the table, key and error number, and no row value appears in the
// daemon's log, the status API or walship status, on any follower engine.
func TestRowValuesNeverPrinted(t *testing.T) {
	testenv.Integration(t)
	e := newE2E(t, 2)
	secret := "ROWSECRET-" + e.name
	if _, err := e.src.Exec(`CREATE TABLE rv (id int PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}
	for engine, q := range map[string]string{
		"postgres": `CREATE TABLE public.rv (id int PRIMARY KEY, v text, CONSTRAINT uv UNIQUE (v))`,
		"mysql":    "CREATE TABLE rv (id int PRIMARY KEY, v varchar(200), UNIQUE KEY uv (v))",
		"sqlite":   `CREATE TABLE rv (id INTEGER PRIMARY KEY, v TEXT, CONSTRAINT uv UNIQUE (v))`,
	} {
		if _, err := e.followers[engine].Exec(q); err != nil {
			t.Fatalf("%s: %v", engine, err)
		}
	}
	addr := freePort(t)
	cfg, _ := os.ReadFile(e.cfgPath)
	os.WriteFile(e.cfgPath, []byte(strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+addr+`" }`, 1)), 0o600)
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	if _, err := e.src.Exec(`INSERT INTO rv VALUES (1, $1), (2, $1)`, secret); err != nil {
		t.Fatal(err)
	}
	var status string
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body, _ := get("http://" + addr + "/api/v1/status")
		status = body
		if strings.Count(body, `"state": "failed"`) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Count(status, `"state": "failed"`) < 3 {
		t.Fatalf("the three sinks did not stop on the duplicate: %s", status)
	}
	var printed strings.Builder
	printed.WriteString(status)
	out, _ := walship(t, "status", "-c", e.cfgPath, "--json")
	printed.WriteString(out)
	e.stop(syscall.SIGTERM)
	b, _ := os.ReadFile(filepath.Join(e.dir, "walship.log"))
	printed.Write(b)
	all := printed.String()
	if strings.Contains(all, secret) {
		i := strings.Index(all, secret)
		t.Errorf("a row value was printed: …%s…", all[max(0, i-300):min(len(all), i+100)])
	}
	for _, want := range []string{"1062", "for key", "23505", `unique constraint \"uv\"`, "UNIQUE constraint failed"} {
		if !strings.Contains(all, want) {
			t.Errorf("the rejection does not say %q", want)
		}
	}
}
