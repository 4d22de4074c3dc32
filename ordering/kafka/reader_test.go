package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
)

func testTxn(i int, rows int) (*ordering.Txn, []ordering.Change) {
	var chs []ordering.Change
	for k := 0; k < rows; k++ {
		chs = append(chs, ordering.Change{Table: parents, Op: ordering.OpInsert,
			After: []ordering.Value{ordering.Int(int64(i*100000 + k)), ordering.String(fmt.Sprint(i))}})
	}
	return &ordering.Txn{Source: "pg", ID: fmt.Sprint(i), Seq: offsets.Seq{Pos: uint64(i), Sub: offsets.StreamSub},
		Pos: offsets.PGPosition(offsets.LSN(i), offsets.LSN(i)), CommitTime: time.Now()}, chs
}

func waitDurable(t *testing.T, p *Publisher, pos uint64) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if s, _ := p.Durable(); s.Pos >= pos {
			return
		}
		select {
		case <-p.Notify():
		case <-deadline:
			t.Fatalf("not durable: %v", p.Err())
		}
	}
}

// TestReaderResumesAndSurvivesTornWrites: the reader assembles
// transactions in order, streams big ones, skips a torn attempt's copies
// and a re-sent duplicate, and resumes exactly from saved offsets.
func TestReaderResumesAndSurvivesTornWrites(t *testing.T) {
	broker := testenv.Kafka(t)
	prefix := fmt.Sprintf("readtest%d", time.Now().UnixNano())
	enc := envelope.NewEncoder(envelope.Source{Name: "pg", Connector: "postgresql", Logical: prefix}, envelope.Options{})
	ctx := context.Background()
	p := NewPublisher(Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 3}, enc)
	publish := func(p *Publisher, i, rows int) {
		txn, chs := testTxn(i, rows)
		if err := p.Publish(ctx, txn, len(chs), changes(chs)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		publish(p, i, 5)
	}
	waitDurable(t, p, 3)
	// A torn attempt of 4: some data events, no END (as a crash leaves it).
	txn4, chs4 := testTxn(4, 5)
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Balancer: chosenPartition{}, RequiredAcks: kafkago.RequireAll}
	for i := 0; i < 2; i++ {
		recs, _ := enc.Encode(envelope.Event{Txn: txn4, Change: &chs4[i], Index: i, Count: 5})
		r := recs[0]
		topic := TopicName(prefix, "public", "customers")
		part := kafkago.Murmur2Balancer{Consistent: true}.Balance(kafkago.Message{Key: r.Key}, 0, 1, 2)
		if err := w.WriteMessages(ctx, message(topic, part, r, nil)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	p.Close(ctx)
	// The source restarts from its durable position 2: 3 is re-sent, then
	// 4 whole, then a big 5 and a small 6.
	p = NewPublisher(Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 3}, enc)
	defer p.Close(ctx)
	publish(p, 3, 5)
	publish(p, 4, 5)
	publish(p, 5, 25)
	publish(p, 6, 1)
	waitDurable(t, p, 6)

	read := func(r *Reader, n int) []*Txn {
		var out []*Txn
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for len(out) < n {
			txn, err := r.Next(rctx)
			if err != nil {
				t.Fatal(err)
			}
			if txn.Stream != nil {
				for ch, err := range txn.Stream {
					if err != nil {
						t.Fatal(err)
					}
					txn.Changes = append(txn.Changes, *ch)
				}
			}
			out = append(out, txn)
		}
		return out
	}
	r := NewReader(ReaderConfig{Brokers: []string{broker}, Prefix: prefix, BigTxn: 20})
	got := read(r, 4)
	for i, txn := range got {
		if txn.End.Seq.Pos != uint64(i+1) || len(txn.Changes) != 5 {
			t.Fatalf("txn %d: seq %v, %d changes", i, txn.End.Seq, len(txn.Changes))
		}
		for k, ch := range txn.Changes {
			if ch.After[0].Int() != int64((i+1)*100000+k) {
				t.Fatalf("txn %d change %d out of order: %v", i+1, k, ch.After[0])
			}
		}
	}
	resume := got[1].Offsets // as if the follower applied 1 and 2
	big := read(r, 1)[0]
	if big.End.Seq.Pos != 5 || len(big.Changes) != 25 {
		t.Fatalf("big txn: %v with %d changes", big.End.Seq, len(big.Changes))
	}
	r.Close()

	r = NewReader(ReaderConfig{Brokers: []string{broker}, Prefix: prefix, Resume: resume, After: got[1].End.Seq})
	defer r.Close()
	again := read(r, 4)
	for i, txn := range again {
		if txn.End.Seq.Pos != uint64(i+3) {
			t.Fatalf("after resume, txn %d is %v", i, txn.End.Seq)
		}
	}
	if len(again[3].Changes) != 1 {
		t.Errorf("txn 6 has %d changes", len(again[3].Changes))
	}
}

// TestReaderKeyChangesAndTombstones: deletes are followed by tombstones and
// key changes travel as delete, tombstone and create (often in different
// partitions); the reader skips the tombstones and gives back the changes
// the source made, held whole or streamed, and resumes past them.
func TestReaderKeyChangesAndTombstones(t *testing.T) {
	broker := testenv.Kafka(t)
	prefix := fmt.Sprintf("dbzreadtest%d", time.Now().UnixNano())
	t.Cleanup(func() { testenv.DropTopics(t, prefix+".") })
	enc := envelope.NewEncoder(envelope.Source{Name: "pg", Connector: "postgresql", Logical: prefix}, envelope.Options{})
	ctx := context.Background()
	p := NewPublisher(Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 3}, enc)
	defer p.Close(ctx)
	row := func(id int64, v string) []ordering.Value {
		return []ordering.Value{ordering.Int(id), ordering.String(v)}
	}
	var want [][]ordering.Change
	for i := 1; i <= 3; i++ {
		txn, _ := testTxn(i, 0)
		var chs []ordering.Change
		for k := int64(0); k < 8; k++ {
			id := int64(i*1000) + k
			chs = append(chs,
				ordering.Change{Table: parents, Op: ordering.OpInsert, After: row(id, "a")},
				ordering.Change{Table: parents, Op: ordering.OpUpdate, Before: row(id, "a"), After: row(id+500, "b")},
				ordering.Change{Table: parents, Op: ordering.OpUpdate, Before: row(id+500, "b"), After: row(id+500, "c")},
			)
			if k%2 == 0 {
				chs = append(chs, ordering.Change{Table: parents, Op: ordering.OpDelete, Before: row(id+500, "c")})
			}
		}
		if err := p.Publish(ctx, txn, len(chs), changes(chs)); err != nil {
			t.Fatal(err)
		}
		want = append(want, chs)
	}
	waitDurable(t, p, 3)
	for _, bigTxn := range []int{1000, 10} { // held whole, then streamed
		r := NewReader(ReaderConfig{Brokers: []string{broker}, Prefix: prefix, BigTxn: bigTxn})
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for i := range want {
			txn, err := r.Next(rctx)
			if err != nil {
				t.Fatal(err)
			}
			if txn.End.EventCount != len(want[i])+8 { // each key change is two events
				t.Errorf("txn %d: END counts %d events, want %d", i+1, txn.End.EventCount, len(want[i])+8)
			}
			got := txn.Changes
			if txn.Stream != nil {
				for ch, err := range txn.Stream {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, *ch)
				}
			}
			if len(got) != len(want[i]) {
				t.Fatalf("txn %d: %d changes, want %d", i+1, len(got), len(want[i]))
			}
			for k, ch := range got {
				w := want[i][k]
				if ch.Op != w.Op || fmt.Sprint(ch.Before) != fmt.Sprint(w.Before) || fmt.Sprint(ch.After) != fmt.Sprint(w.After) {
					t.Fatalf("txn %d change %d: %v %v -> %v, want %v %v -> %v", i+1, k, ch.Op, ch.Before, ch.After, w.Op, w.Before, w.After)
				}
			}
		}
		cancel()
		r.Close()
	}
}

// TestReaderWaitsForALogNotWrittenYet: a sink may start before its source
// wrote anything; the reader waits instead of failing.
func TestReaderWaitsForALogNotWrittenYet(t *testing.T) {
	broker := testenv.Kafka(t)
	r := NewReader(ReaderConfig{Brokers: []string{broker}, Prefix: fmt.Sprintf("nolog%d", time.Now().UnixNano())})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	// It returns only at the deadline (its error may be a metadata call's
	// that the deadline cut short).
	if _, err := r.Next(ctx); err == nil || ctx.Err() == nil {
		t.Fatalf("err = %v before the deadline, want a wait until it", err)
	}
}

// TestReaderRowBatches: a log whose format changes from JSON records to
// row batches (kafka.envelope changed between runs) is read as one: row
// batches split by size, two tables and a shape change in one transaction,
// a primary-key change, a big streamed transaction, and a resume.
func TestReaderRowBatches(t *testing.T) {
	broker := testenv.Kafka(t)
	prefix := fmt.Sprintf("rowstest%d", time.Now().UnixNano())
	t.Cleanup(func() { testenv.DropTopics(t, prefix+".") })
	enc := envelope.NewEncoder(envelope.Source{Name: "pg", Connector: "postgresql", Logical: prefix}, envelope.Options{})
	ctx := context.Background()
	p := NewPublisher(Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 3}, enc)
	publish := func(p *Publisher, txn *ordering.Txn, chs []ordering.Change) {
		t.Helper()
		if err := p.Publish(ctx, txn, len(chs), changes(chs)); err != nil {
			t.Fatal(err)
		}
	}
	txn1, chs1 := testTxn(1, 5)
	publish(p, txn1, chs1)
	waitDurable(t, p, 1)
	p.Close(ctx)

	p = NewPublisher(Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 3, Rows: true, RowBatchBytes: 200}, enc)
	defer p.Close(ctx)
	wide := &ordering.Table{Schema: "public", Name: "customers", PrimaryKey: parents.PrimaryKey,
		Columns: append(append([]ordering.Column(nil), parents.Columns...), ordering.Column{Name: "extra", Kind: ordering.KindInt, Type: "bigint", Nullable: true})}
	other := &ordering.Table{Schema: "public", Name: "other", PrimaryKey: parents.PrimaryKey, Columns: parents.Columns}
	txn2, chs2 := testTxn(2, 30)
	chs2 = append(chs2,
		ordering.Change{Table: other, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(1), ordering.String("o")}},
		ordering.Change{Table: parents, Op: ordering.OpUpdate, Before: []ordering.Value{ordering.Int(200000), ordering.Unchanged()},
			After: []ordering.Value{ordering.Int(7), ordering.String("moved")}},
		ordering.Change{Table: wide, Op: ordering.OpInsert, After: []ordering.Value{ordering.Int(8), ordering.String("w"), ordering.Int(3)}},
		ordering.Change{Table: other, Op: ordering.OpDelete, Before: []ordering.Value{ordering.Int(1), ordering.Null()}})
	publish(p, txn2, chs2)
	txn3, chs3 := testTxn(3, 40) // big: streamed by the reader
	publish(p, txn3, chs3)
	txn4, chs4 := testTxn(4, 1)
	publish(p, txn4, chs4)
	waitDurable(t, p, 4)

	want := [][]ordering.Change{chs1, chs2, chs3, chs4}
	read := func(r *Reader, from int) Offsets {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var resume Offsets
		for i := from; i < len(want); i++ {
			txn, err := r.Next(rctx)
			if err != nil {
				t.Fatal(err)
			}
			got := txn.Changes
			if txn.Stream != nil {
				for ch, err := range txn.Stream {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, *ch)
				}
			}
			if txn.End.Seq.Pos != uint64(i+1) || len(got) != len(want[i]) {
				t.Fatalf("txn %d: seq %v, %d changes, want %d", i+1, txn.End.Seq, len(got), len(want[i]))
			}
			for k, ch := range got {
				w := want[i][k]
				if ch.Op != w.Op || ch.Table.QualifiedName() != w.Table.QualifiedName() || len(ch.Table.Columns) != len(w.Table.Columns) ||
					fmt.Sprint(ch.Before) != fmt.Sprint(w.Before) || fmt.Sprint(ch.After) != fmt.Sprint(w.After) {
					t.Fatalf("txn %d change %d: %v %v %v, want %v %v %v", i+1, k, ch.Op, ch.Before, ch.After, w.Op, w.Before, w.After)
				}
			}
			if i == 1 {
				resume = txn.Offsets
			}
		}
		return resume
	}
	r := NewReader(ReaderConfig{Brokers: []string{broker}, Prefix: prefix, BigTxn: 35})
	resume := read(r, 0)
	r.Close()
	r = NewReader(ReaderConfig{Brokers: []string{broker}, Prefix: prefix, Resume: resume, After: txn2.Seq, BigTxn: 35})
	defer r.Close()
	read(r, 2)
}

// TestReaderFencesEarlierEpochs: two owners of one source write its log
// (package cluster): the earlier (epoch 3) goes on writing after the later
// (epoch 4) began, with other content for the same transactions. The
// reader assembles every transaction from the later owner's records alone:
// an END of epoch 3 after one of epoch 4 is ignored, and so are epoch 3's
// events of a transaction whose END is epoch 4's.
func TestReaderFencesEarlierEpochs(t *testing.T) {
	for _, rows := range []bool{false, true} {
		t.Run(fmt.Sprintf("rows=%v", rows), func(t *testing.T) {
			broker := testenv.Kafka(t)
			prefix := fmt.Sprintf("epochtest%d", time.Now().UnixNano())
			enc := envelope.NewEncoder(envelope.Source{Name: "pg", Connector: "postgresql", Logical: prefix}, envelope.Options{})
			ctx := context.Background()
			owner := func(epoch int64) *Publisher {
				return NewPublisher(Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 3, Rows: rows, Epoch: epoch}, enc)
			}
			publish := func(p *Publisher, i int, tag string) {
				txn, chs := testTxn(i, 4)
				for k := range chs {
					chs[k].After[1] = ordering.String(tag)
				}
				if err := p.Publish(ctx, txn, len(chs), changes(chs)); err != nil {
					t.Fatal(err)
				}
				waitDurable(t, p, uint64(i))
			}
			a, b := owner(3), owner(4)
			defer a.Close(ctx)
			defer b.Close(ctx)
			publish(a, 1, "a")
			publish(a, 2, "a")
			publish(b, 3, "b")
			publish(b, 4, "b")
			// The earlier owner, paused meanwhile, resumes and writes on.
			publish(a, 4, "zombie")
			publish(a, 5, "zombie")
			publish(a, 6, "zombie")
			publish(b, 5, "b")
			publish(b, 6, "b")
			rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			want := []string{"a", "a", "b", "b", "b", "b"}
			check := func(r *Reader, from int) *Txn {
				var txn *Txn
				for i := from; i < len(want); i++ {
					var err error
					if txn, err = r.Next(rctx); err != nil {
						t.Fatal(err)
					}
					if txn.End.Seq.Pos != uint64(i+1) || len(txn.Changes) != 4 {
						t.Fatalf("txn %d: seq %v with %d changes", i+1, txn.End.Seq, len(txn.Changes))
					}
					for _, ch := range txn.Changes {
						if got := ch.After[1].Text(); got != want[i] {
							t.Fatalf("txn %d holds %q, want %q's", i+1, got, want[i])
						}
					}
					if i == 3 {
						return txn // the sink "restarts" after applying 4
					}
				}
				return txn
			}
			r := NewReader(ReaderConfig{Brokers: []string{broker}, Prefix: prefix})
			four := check(r, 0)
			r.Close()
			// A reader resumed after 4 has not seen an END of epoch 4 since
			// (the earlier owner's 4, 5 and 6 come first): it learns the
			// epoch from the spine before its offset.
			r = NewReader(ReaderConfig{Brokers: []string{broker}, Prefix: prefix, Resume: four.Offsets, After: four.End.Seq})
			defer r.Close()
			check(r, 4)
			defer testenv.DropTopics(t, prefix+".")
		})
	}
}
