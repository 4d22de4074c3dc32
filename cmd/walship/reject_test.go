package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/testenv"
)

// TestRejectedTransaction: a row the follower rejects (a CHECK constraint
// the source does not have). Without a dead-letter topic (pgf) the sink
// stops at that transaction, and /api/v1/status shows it failed with the
// position, the table and the SQLSTATE; nothing after it applies. With one
// (myf) the transaction goes to the topic, as its records with the
// walship.dlq.* headers, is skipped, and the sink goes on; a restart does
// not send it again.
func TestRejectedTransaction(t *testing.T) {
	e := newE2E(t, 2)
	addr := freePort(t)
	dlq := e.name + "-dlq"
	cfg, _ := os.ReadFile(e.cfgPath)
	s := strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+addr+`" }`, 1)
	s = strings.Replace(s, "mysql: { dsn:", "dead_letter_topic: "+dlq+", mysql: { dsn:", 1)
	os.WriteFile(e.cfgPath, []byte(s), 0o600)
	for engine, q := range map[string]string{
		"postgres": `ALTER TABLE public.customers ADD CONSTRAINT no_reject CHECK (name IS DISTINCT FROM 'reject me')`,
		"mysql":    `ALTER TABLE customers ADD CONSTRAINT no_reject CHECK (name IS NULL OR name <> 'reject me')`,
	} {
		if _, err := e.followers[engine].Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	e.waitRows("accounts", accounts, 60*time.Second)
	for i, name := range []string{"ok 1", "reject me", "ok 3"} {
		if _, err := e.src.Exec("INSERT INTO customers VALUES ($1, $2)", i+1, name); err != nil {
			t.Fatal(err)
		}
	}

	type sinkDoc struct {
		Name         string `json:"name"`
		State        string `json:"state"`
		LastError    string `json:"last_error"`
		DeadLettered int64  `json:"dead_lettered_transactions"`
	}
	status := func() map[string]sinkDoc {
		_, body, _ := get("http://" + addr + "/api/v1/status")
		var doc struct {
			Sinks []sinkDoc `json:"sinks"`
		}
		json.Unmarshal([]byte(body), &doc)
		out := map[string]sinkDoc{}
		for _, s := range doc.Sinks {
			out[s.Name] = s
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := status()
		var my, lite, pg int
		e.followers["mysql"].QueryRow("SELECT count(*) FROM customers").Scan(&my)
		e.followers["sqlite"].QueryRow("SELECT count(*) FROM customers").Scan(&lite)
		e.followers["postgres"].QueryRow("SELECT count(*) FROM customers").Scan(&pg)
		if st["pgf"].State == "failed" && st["myf"].DeadLettered == 1 && my == 2 && lite == 3 && pg == 1 {
			pgErr := st["pgf"].LastError
			for _, want := range []string{"23514", "public.customers", "(position "} {
				if !strings.Contains(pgErr, want) {
					t.Errorf("pgf last_error lacks %q: %s", want, pgErr)
				}
			}
			if strings.Contains(pgErr, "reject me") {
				t.Errorf("pgf last_error shows a row value: %s", pgErr)
			}
			t.Logf("pgf: %s", pgErr)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v; customers: mysql %d, sqlite %d, postgres %d\n%s", st, my, lite, pg, e.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}

	records := readTopic(t, dlq)
	if len(records) != 1 {
		t.Fatalf("dead-letter topic has %d records, want 1", len(records))
	}
	m := records[0]
	hdr := map[string]string{}
	for _, h := range m.Headers {
		hdr[h.Key] = string(h.Value)
	}
	if hdr["walship.dlq.sink"] != "myf" || hdr["walship.dlq.topic"] != e.name+".src.public.customers" ||
		!strings.Contains(hdr["walship.dlq.error"], "customers") || hdr["walship.source"] != "src" || hdr["walship.position"] == "" {
		t.Errorf("dead-letter headers: %v", hdr)
	}
	if !strings.Contains(string(m.Value), `"reject me"`) || !strings.Contains(string(m.Value), `"op":"c"`) {
		t.Errorf("dead-letter value: %s", m.Value)
	}

	// A restart: myf does not send the skipped transaction again, pgf
	// stops on it again.
	if err := e.stop(syscall.SIGTERM); err != nil {
		t.Logf("exit: %v", err)
	}
	e.start()
	if _, err := e.src.Exec("INSERT INTO customers VALUES (4, 'ok 4')"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		var my int
		e.followers["mysql"].QueryRow("SELECT count(*) FROM customers").Scan(&my)
		if st := status(); my == 3 && st["pgf"].State == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: mysql has %d customers, status %+v\n%s", my, status(), e.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := len(readTopic(t, dlq)); n != 1 {
		t.Errorf("after the restart the dead-letter topic has %d records, want 1", n)
	}
}

// readTopic reads every record of a one-partition topic.
func readTopic(t *testing.T, topic string) []kafkago.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := kafkago.DialLeader(ctx, "tcp", testenv.Kafka(t), topic, 0)
	if err != nil {
		t.Fatalf("dial %s: %v", topic, err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	var out []kafkago.Message
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{testenv.Kafka(t)}, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	for int64(len(out)) < last {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		out = append(out, m)
	}
	return out
}
