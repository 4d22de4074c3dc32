package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
)

// Header keys a dead-letter record adds to the record of the change as
// its source topic holds it (Kafka Connect's DLQ context headers, in
// walship's names).
const (
	HeaderDLQSink     = "walship.dlq.sink"     // the sink that rejected the transaction
	HeaderDLQError    = "walship.dlq.error"    // the follower's error text
	HeaderDLQTopic    = "walship.dlq.topic"    // the topic the change was read from
	HeaderDLQRejected = "walship.dlq.rejected" // RFC 3339 time of the rejection
)

// DeadLetterConfig configures a DeadLetters writer.
type DeadLetterConfig struct {
	Brokers []string
	// Topic receives the records; it is created (one partition, so the
	// records keep their order) when missing.
	Topic string
	// Sink names the sink, in the walship.dlq.sink header.
	Sink string
	// Prefixes maps each source name to its topic prefix.
	Prefixes          map[string]string
	ReplicationFactor int           // of the created topic. Default: 1.
	DialTimeout       time.Duration // Default: 10s.
	Security          Security
}

// DeadLetters writes transactions a sink skipped to a dead-letter topic:
// one record per change, its key, value and headers as the source's topic
// holds them (Debezium envelope), plus the walship.dlq.* headers. Writes
// are synchronous with acks=all: when Send returns nil the records are
// durable, and only then may the sink record the transaction as done.
// A crash between the two sends them again on restart (at least once).
type DeadLetters struct {
	cfg    DeadLetterConfig
	w      *kafkago.Writer
	topics *Topics

	mu   sync.Mutex
	encs map[string]*envelope.Encoder
}

// NewDeadLetters returns a writer; it connects on first use.
func NewDeadLetters(cfg DeadLetterConfig) *DeadLetters {
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = 1
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	transport := cfg.Security.Transport(cfg.DialTimeout, 10*time.Second)
	return &DeadLetters{
		cfg: cfg,
		w: &kafkago.Writer{
			Addr: brokerAddr(cfg.Brokers), Topic: cfg.Topic, Balancer: chosenPartition{},
			MaxAttempts: 5, BatchSize: 1000, BatchTimeout: time.Millisecond, RequiredAcks: kafkago.RequireAll,
			BatchBytes: 32 << 20, Transport: transport,
		},
		topics: &Topics{
			client:     &kafkago.Client{Addr: brokerAddr(cfg.Brokers), Timeout: 30 * time.Second, Transport: transport},
			partitions: 1, replicationFactor: cfg.ReplicationFactor, maxMessageBytes: 32 << 20,
			known: map[string]int{},
		},
		encs: map[string]*envelope.Encoder{},
	}
}

// Send writes the changes of transaction m of source, rejected with cause.
func (d *DeadLetters) Send(ctx context.Context, source string, m envelope.Marker, changes []ordering.Change, cause error) error {
	if _, err := d.topics.Ensure(ctx, d.cfg.Topic, 1); err != nil {
		return fmt.Errorf("dead-letter topic %s: %w", d.cfg.Topic, err)
	}
	d.mu.Lock()
	enc := d.encs[source]
	if enc == nil {
		enc = envelope.NewEncoder(envelope.Source{Name: source, Logical: d.cfg.Prefixes[source]}, envelope.Options{})
		d.encs[source] = enc
	}
	d.mu.Unlock()
	txn := &ordering.Txn{Source: source, ID: m.ID, Seq: m.Seq, DependsOn: m.DependsOn, Pos: m.Pos, CommitTime: m.Time, Snapshot: m.Snapshot}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	perTable := map[*ordering.Table]int{}
	msgs := make([]kafkago.Message, 0, len(changes))
	events := 0
	for i := range changes {
		ch := &changes[i]
		recs, err := enc.Encode(envelope.Event{Txn: txn, Change: ch, Index: i, Count: len(changes), Order: events, CollectionIndex: perTable[ch.Table]})
		if err != nil {
			return fmt.Errorf("dead-letter: encode change %d: %w", i, err)
		}
		for _, r := range recs {
			if envelope.IsTombstone(r) {
				continue // the dead-letter topic holds the changes, not their tombstones
			}
			perTable[ch.Table]++
			events++
			r.Headers = append(r.Headers,
				envelope.Header{Key: HeaderDLQSink, Value: []byte(d.cfg.Sink)},
				envelope.Header{Key: HeaderDLQError, Value: []byte(cause.Error())},
				envelope.Header{Key: HeaderDLQTopic, Value: []byte(TopicName(d.cfg.Prefixes[source], ch.Table.Schema, ch.Table.Name))},
				envelope.Header{Key: HeaderDLQRejected, Value: []byte(now)},
			)
			msgs = append(msgs, message("", 0, r, nil))
		}
	}
	if err := d.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("dead-letter topic %s: write %d records: %w", d.cfg.Topic, len(msgs), err)
	}
	return nil
}

// Close flushes and closes the writer.
func (d *DeadLetters) Close() error { return d.w.Close() }
