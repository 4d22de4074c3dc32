// Package logread reads a walship log back from Kafka for tests and
// verification tools: every topic of a prefix, from the first offset to
// the end offsets taken when Read starts, decoded and grouped into
// transactions along the transaction-topic spine.
package logread

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

// Txn is one transaction as the log holds it.
type Txn struct {
	Begin, End envelope.Marker
	Events     []envelope.Decoded // in index order; a key change's halves merged into its update
	// Records counts the data records read (Debezium's events, as END
	// counts them): a key change is two, tombstones none.
	Records int
}

// Log is everything read.
type Log struct {
	// Txns in spine order; a transaction re-sent after a restart appears
	// again (same Seq).
	Txns []Txn
	// Partitions holds each data partition's events in offset order, keyed
	// "topic/partition".
	Partitions map[string][]envelope.Decoded
}

// Read reads the log of prefix on broker.
func Read(ctx context.Context, broker, prefix string) (*Log, error) {
	conn, err := kafkago.DialContext(ctx, "tcp", broker)
	if err != nil {
		return nil, err
	}
	parts, err := conn.ReadPartitions()
	conn.Close()
	if err != nil {
		return nil, err
	}
	l := &Log{Partitions: map[string][]envelope.Decoded{}}
	spine := kafka.TransactionTopic(prefix)
	var markers []envelope.Marker
	for _, p := range parts {
		if !strings.HasPrefix(p.Topic, prefix+".") {
			continue
		}
		recs, err := readPartition(ctx, broker, p.Topic, p.ID)
		if err != nil {
			return nil, err
		}
		key := fmt.Sprintf("%s/%d", p.Topic, p.ID)
		for _, r := range recs {
			if p.Topic == spine {
				m, err := envelope.DecodeMarker(r)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", key, err)
				}
				markers = append(markers, m)
				continue
			}
			if envelope.IsTombstone(r) {
				continue // tombstones follow deletes; no change
			}
			d, err := envelope.Decode(r)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			l.Partitions[key] = append(l.Partitions[key], d)
		}
	}
	// Walk the spine. An END is written only after all the events it
	// counts are durable, so they are in the partitions; a write torn by a
	// restart may have left copies, and events of later transactions may
	// sit before them. Take, per partition, the first unused events of the
	// transaction with distinct indexes, looking past later ones.
	used := map[string][]bool{}
	for key, evs := range l.Partitions {
		used[key] = make([]bool, len(evs))
	}
	begins := map[string]envelope.Marker{}
	for _, m := range markers {
		if m.Status == envelope.StatusBegin {
			begins[m.Seq.String()] = m
			continue
		}
		if m.Status != envelope.StatusEnd {
			continue // heartbeats
		}
		t := Txn{Begin: begins[m.Seq.String()], End: m}
		seen := map[int]bool{}
		for _, pc := range m.Partitions {
			key := fmt.Sprintf("%s/%d", pc.Topic, pc.Partition)
			evs, u := l.Partitions[key], used[key]
			n := 0
			for i := 0; i < len(evs) && n < pc.Count; i++ {
				e := evs[i]
				if u[i] || e.Seq != m.Seq {
					continue
				}
				u[i] = true       // a copy of an index already taken is used up too
				id := 2 * e.Index // a key change's two halves share the index
				if e.KeyChange == envelope.KeyChangeCreate {
					id++
				}
				if seen[id] {
					continue
				}
				seen[id] = true
				t.Events = append(t.Events, e)
				n++
			}
			if n < pc.Count {
				return nil, fmt.Errorf("transaction %s: %s has %d of its %d events", m.Seq, key, n, pc.Count)
			}
		}
		sort.Slice(t.Events, func(i, j int) bool {
			ei, ej := t.Events[i], t.Events[j]
			return ei.Index < ej.Index || ei.Index == ej.Index && ei.KeyChange == envelope.KeyChangeDelete
		})
		t.Records = len(t.Events)
		merged := t.Events[:0]
		for i := 0; i < len(t.Events); i++ {
			e := t.Events[i]
			if e.KeyChange == envelope.KeyChangeDelete && i+1 < len(t.Events) {
				m, err := envelope.MergeKeyChange(e, t.Events[i+1])
				if err != nil {
					return nil, fmt.Errorf("transaction %s: %w", e.Seq, err)
				}
				e = m
				i++
			}
			merged = append(merged, e)
		}
		t.Events = merged
		l.Txns = append(l.Txns, t)
	}
	return l, nil
}

func readPartition(ctx context.Context, broker, topic string, partition int) ([]envelope.Record, error) {
	conn, err := kafkago.DialLeader(ctx, "tcp", broker, topic, partition)
	if err != nil {
		return nil, err
	}
	first, last, err := conn.ReadOffsets()
	conn.Close()
	if err != nil {
		return nil, err
	}
	if last <= first {
		return nil, nil
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: partition,
		MaxBytes: 64 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return nil, err
	}
	var out []envelope.Record
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s/%d at %d of %d: %w", topic, partition, len(out), last-first, err)
		}
		rec := envelope.Record{Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, envelope.Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, rec)
		if m.Offset >= last-1 {
			return out, nil
		}
	}
}
