// Package logfixture writes a walship log by hand, for replay tests:
// transactions of one source with the commit times, snapshots and tables
// the test chooses, published with the Kafka publisher and durable before
// Txn returns; and it reads back the SQLite followers built from it.
package logfixture

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"os"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the follower's driver

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

// Log is the log of source "src" (a PostgreSQL source) under a topic
// prefix, one partition per data topic, so a test knows each event's
// offset. Tables have the columns id (bigint key) and note (text).
type Log struct {
	t      testing.TB
	pub    *kafka.Publisher
	seq    uint64
	tables map[string]*ordering.Table
}

// New writes to the log with prefix on broker; the publisher closes when
// the test ends. The caller drops the topics.
func New(t testing.TB, broker, prefix string) *Log {
	enc := envelope.NewEncoder(envelope.Source{Name: "src", Connector: "postgresql", Logical: prefix}, envelope.Options{})
	l := &Log{t: t, tables: map[string]*ordering.Table{},
		pub: kafka.NewPublisher(kafka.Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 1}, enc)}
	t.Cleanup(func() { l.pub.Close(context.Background()) })
	return l
}

func (l *Log) table(name string) *ordering.Table {
	if t := l.tables[name]; t != nil {
		return t
	}
	t := &ordering.Table{Schema: "public", Name: name, Columns: []ordering.Column{
		{Name: "id", Kind: ordering.KindInt, Type: "bigint"}, {Name: "note", Kind: ordering.KindString, Type: "text", Nullable: true},
	}, PrimaryKey: []string{"id"}}
	l.tables[name] = t
	return t
}

// Txn publishes one transaction committed at at: a row per id into table
// (inserts; snapshot rows for a snapshot chunk), and waits until it is
// durable. Each transaction's LSN and sequence are 100 after the last's.
// It returns the transaction's Seq.
func (l *Log) Txn(table string, at time.Time, snapshot bool, ids ...int64) offsets.Seq {
	l.t.Helper()
	l.seq += 100
	txn := &ordering.Txn{Source: "src", ID: fmt.Sprint(l.seq), Seq: offsets.Seq{Pos: l.seq, Sub: offsets.StreamSub},
		Pos: offsets.PGPosition(offsets.LSN(l.seq), offsets.LSN(l.seq)), CommitTime: at}
	op := ordering.OpInsert
	if snapshot {
		txn.Seq.Sub, txn.Snapshot, txn.LastSnapshot, op = 0, true, true, ordering.OpRead
	}
	var chs []ordering.Change
	for _, id := range ids {
		chs = append(chs, ordering.Change{Table: l.table(table), Op: op, After: []ordering.Value{ordering.Int(id), ordering.String(fmt.Sprint("row ", id))}})
	}
	seq := iter.Seq2[*ordering.Change, error](func(yield func(*ordering.Change, error) bool) {
		for i := range chs {
			if !yield(&chs[i], nil) {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.pub.Publish(ctx, txn, len(chs), seq); err != nil {
		l.t.Fatal(err)
	}
	for {
		if s, _ := l.pub.Durable(); !s.Less(txn.Seq) {
			return txn.Seq
		}
		select {
		case <-l.pub.Notify():
		case <-ctx.Done():
			l.t.Fatalf("transaction %s not durable: %v", txn.Seq, l.pub.Err())
		}
	}
}

// IDs reads the ids of table in the SQLite follower at path (none when the
// table or the file was never created).
func IDs(t testing.TB, path, table string) []int64 {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil {
		if _, serr := os.Stat(path); os.IsNotExist(serr) {
			return nil
		}
		t.Fatal(err)
	}
	if n == 0 {
		return nil
	}
	r, err := db.Query("SELECT id FROM " + table + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []int64
	for r.Next() {
		var id int64
		r.Scan(&id)
		out = append(out, id)
	}
	return out
}

// Positions counts the rows the SQLite follower at path recorded in
// walship's positions tables (none when they were never created).
func Positions(t testing.TB, path string) int {
	t.Helper()
	n := 0
	for _, table := range []string{"_walship_positions", "_walship_applied"} {
		db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
		if err != nil {
			t.Fatal(err)
		}
		var k int
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&k); err == nil {
			n += k
		}
		db.Close()
	}
	return n
}
