package kafka

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/supervise"
)

var (
	parents = &ordering.Table{Schema: "public", Name: "customers", Columns: []ordering.Column{
		{Name: "id", Kind: ordering.KindInt, Type: "bigint"}, {Name: "name", Kind: ordering.KindString, Type: "text", Nullable: true},
	}, PrimaryKey: []string{"id"}}
	logs = &ordering.Table{Schema: "public", Name: "log", Columns: []ordering.Column{
		{Name: "msg", Kind: ordering.KindString, Type: "text"},
	}}
)

func changes(chs []ordering.Change) iter.Seq2[*ordering.Change, error] {
	return func(yield func(*ordering.Change, error) bool) {
		for i := range chs {
			if !yield(&chs[i], nil) {
				return
			}
		}
	}
}

func readPartition(t *testing.T, broker, topic string, partition, n int) []kafkago.Message {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: partition, MaxBytes: 64 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []kafkago.Message
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d after %d of %d: %v", topic, partition, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func TestPublishRoundTrip(t *testing.T) {
	broker := testenv.Kafka(t)
	prefix := fmt.Sprintf("pubtest%d", time.Now().UnixNano())
	enc := envelope.NewEncoder(envelope.Source{Name: "pg", Connector: "postgresql", Logical: prefix, Database: "db"}, envelope.Options{})
	p := NewPublisher(Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 4}, enc)
	defer p.Close(context.Background())
	ctx := context.Background()

	const txns = 50
	big := strings.Repeat("x", 2<<20) // a 2 MiB value: over Kafka's default 1 MB limit
	for i := 1; i <= txns; i++ {
		var chs []ordering.Change
		for k := 0; k < 5; k++ {
			id := int64(i*10 + k)
			name := fmt.Sprintf("v%d", i)
			if i == 7 && k == 0 {
				name = big
			}
			chs = append(chs, ordering.Change{Table: parents, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(id), ordering.String(name)}})
		}
		chs = append(chs, ordering.Change{Table: logs, Op: ordering.OpInsert, After: []ordering.Value{ordering.String("keyless")}})
		txn := &ordering.Txn{Source: "pg", ID: fmt.Sprint(i), Seq: offsets.Seq{Pos: uint64(i), Sub: offsets.StreamSub},
			Pos: offsets.PGPosition(offsets.LSN(i), offsets.LSN(i)), CommitTime: time.Now()}
		if err := p.Publish(ctx, txn, len(chs), changes(chs)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(30 * time.Second)
	for {
		s, _ := p.Durable()
		if s.Pos == txns {
			break
		}
		select {
		case <-p.Notify():
		case <-deadline:
			t.Fatalf("durable stuck at %v; err %v", s, p.Err())
		}
	}
	if st := p.Stats(); st.Txns != txns || st.Events != txns*6 {
		t.Errorf("stats %+v", st)
	}

	// The spine: BEGIN/END pairs in order, with partition counts that add up.
	markers := readPartition(t, broker, TransactionTopic(prefix), 0, 2*txns)
	counts := map[string]int{} // topic/partition -> events expected
	begun := map[offsets.Seq]bool{}
	var lastEnd offsets.Seq
	for i, m := range markers {
		mk, err := envelope.DecodeMarker(record(m))
		if err != nil {
			t.Fatal(err)
		}
		if mk.Status == envelope.StatusBegin {
			begun[mk.Seq] = true
			continue
		}
		// ENDs come in transaction order, each after its BEGIN.
		if !begun[mk.Seq] || !lastEnd.Less(mk.Seq) {
			t.Fatalf("marker %d: END %v out of order (last END %v)", i, mk.Seq, lastEnd)
		}
		lastEnd = mk.Seq
		total := 0
		for _, pc := range mk.Partitions {
			counts[fmt.Sprintf("%s/%d", pc.Topic, pc.Partition)] += pc.Count
			total += pc.Count
		}
		if total != 6 || mk.EventCount != 6 || len(mk.Collections) != 2 {
			t.Fatalf("END %d: %+v", i, mk)
		}
	}
	if lastEnd.Pos != txns || len(begun) != txns {
		t.Fatalf("spine has %d BEGINs, last END %v", len(begun), lastEnd)
	}
	// Every data partition holds exactly what the END markers announced,
	// in transaction order, and decodes back.
	seen := 0
	for tp, n := range counts {
		var topic string
		var part int
		fmt.Sscanf(tp[strings.LastIndex(tp, "/")+1:], "%d", &part)
		topic = tp[:strings.LastIndex(tp, "/")]
		var last offsets.Seq
		for _, m := range readPartition(t, broker, topic, part, n) {
			d, err := envelope.Decode(record(m))
			if err != nil {
				t.Fatal(err)
			}
			if d.Seq.Less(last) {
				t.Errorf("%s: seq went backwards %v after %v", tp, d.Seq, last)
			}
			last = d.Seq
			if d.Seq.Pos == 7 && d.Index == 0 && len(d.Change.After[1].Text()) != len(big) {
				t.Errorf("big value truncated")
			}
			seen++
		}
	}
	if seen != txns*6 {
		t.Errorf("read %d events, want %d", seen, txns*6)
	}
}

// A broker that is not there makes Publish fail and the failure sticks.
func TestPublishFailsWithoutBroker(t *testing.T) {
	enc := envelope.NewEncoder(envelope.Source{Name: "pg", Connector: "postgresql", Logical: "x"}, envelope.Options{})
	p := NewPublisher(Config{Brokers: []string{"127.0.0.1:1"}, TopicPrefix: "x", DialTimeout: time.Second, WriteTimeout: 2 * time.Second}, enc)
	defer p.Close(context.Background())
	txn := &ordering.Txn{Source: "pg", Seq: offsets.Seq{Pos: 1}, Pos: offsets.PGPosition(1, 1)}
	err := p.Publish(context.Background(), txn, 0, changes(nil))
	if err == nil {
		t.Fatal("publish to a closed port succeeded")
	}
	if p.Err() == nil {
		t.Error("error not sticky")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("the error names no broker: %v", err)
	}
}

// TestTopicCollision: a second table on a topic another table of the same
// log already carries is ErrTopicCollision, permanent; the same table
// again is fine.
func TestTopicCollision(t *testing.T) {
	p := &Publisher{}
	ab := &ordering.Table{Schema: "public", Name: "a b"}
	if err := p.claim(TopicName("x", "public", "a b"), ab); err != nil {
		t.Fatal(err)
	}
	if err := p.claim(TopicName("x", "public", "a b"), ab); err != nil {
		t.Fatal(err)
	}
	err := p.claim(TopicName("x", "public", "a_b"), &ordering.Table{Schema: "public", Name: "a_b"})
	if !errors.Is(err, ErrTopicCollision) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
}
