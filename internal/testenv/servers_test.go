package testenv_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/testenv"
)

// Smoke tests: prove each local server is up and configured the way walship needs.

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// suffix makes names unique across concurrent test runs sharing the servers.
func suffix() string { return fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano()%1e6) }

func TestPGSourceLogicalReplication(t *testing.T) {
	dsn := testenv.PGSource(t)
	ctx := ctxFor(t, 60*time.Second)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PG source: %v", err)
	}
	defer conn.Close(context.Background())

	var walLevel string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		t.Fatalf("SHOW wal_level: %v", err)
	}
	if walLevel != "logical" {
		t.Fatalf("wal_level = %q, want logical", walLevel)
	}

	slot := "walship_smoke_" + suffix()
	var name, lsn string
	if err := conn.QueryRow(ctx,
		"SELECT slot_name, lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", slot,
	).Scan(&name, &lsn); err != nil {
		t.Fatalf("create logical slot %s: %v", slot, err)
	}
	t.Logf("created slot %s at %s", name, lsn)
	if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", slot); err != nil {
		t.Fatalf("drop slot %s: %v", slot, err)
	}
}

func TestPGFollower(t *testing.T) {
	dsn := testenv.PGFollower(t)
	ctx := ctxFor(t, 30*time.Second)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PG follower: %v", err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func openMySQL(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMySQLSourceBinlog(t *testing.T) {
	db := openMySQL(t, testenv.MySQLSource(t))
	ctx := ctxFor(t, 30*time.Second)
	var format, image, metadata, logBin, strict string
	err := db.QueryRowContext(ctx,
		"SELECT @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@log_bin, @@gtid_strict_mode",
	).Scan(&format, &image, &metadata, &logBin, &strict)
	if err != nil {
		t.Fatalf("read binlog settings: %v", err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"binlog_format", format, "ROW"},
		{"binlog_row_image", image, "FULL"},
		{"binlog_row_metadata", metadata, "FULL"},
		{"log_bin", logBin, "1"},
		{"gtid_strict_mode", strict, "1"},
	} {
		if c.got != c.want {
			t.Errorf("@@%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestMySQLFollower(t *testing.T) {
	db := openMySQL(t, testenv.MySQLFollower(t))
	var one int
	if err := db.QueryRowContext(ctxFor(t, 30*time.Second), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func TestKafkaRoundTrip(t *testing.T) {
	broker := testenv.Kafka(t)
	ctx := ctxFor(t, 90*time.Second)
	topic := "walship-smoke-" + suffix()

	// Create the topic through the controller (auto-creation is off).
	conn, err := kafka.DialContext(ctx, "tcp", broker)
	if err != nil {
		t.Fatalf("dial %s: %v", broker, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("find controller: %v", err)
	}
	cconn, err := kafka.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("dial controller: %v", err)
	}
	defer cconn.Close()
	if err := cconn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	defer func() { _ = cconn.DeleteTopics(topic) }() // runs before cconn.Close

	// Produce 3 messages with acks=all; retry while the new topic's leader settles.
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	want := []string{"one", "two", "three"}
	var msgs []kafka.Message
	for i, v := range want {
		msgs = append(msgs, kafka.Message{Key: []byte(strconv.Itoa(i)), Value: []byte(v)})
	}
	for {
		err = w.WriteMessages(ctx, msgs...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
		t.Logf("produce: %v (retrying)", err)
		time.Sleep(500 * time.Millisecond)
	}

	// Consume them back in order through a consumer group (exercises __consumer_offsets).
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{broker}, Topic: topic, GroupID: topic,
		StartOffset: kafka.FirstOffset, MaxWait: 500 * time.Millisecond,
	})
	defer r.Close()
	for i, v := range want {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("fetch message %d: %v", i, err)
		}
		if string(m.Value) != v || m.Offset != int64(i) {
			t.Fatalf("message %d = %q at offset %d, want %q at offset %d", i, m.Value, m.Offset, v, i)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("commit offset %d: %v", m.Offset, err)
		}
	}
}
