package replay

import (
	"context"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

// spineBounds reads the source's transaction topic bounds: the log as of
// now is what the replay applies.
func (s *source) spineBounds(ctx context.Context, brokers []string, sec kafka.Security, timeout time.Duration) error {
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	topic := kafka.TransactionTopic(s.prefix)
	n, err := kafka.Partitions(ctx, brokers, sec, timeout, topic)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	s.exists = n > 0
	if !s.exists {
		return nil // the source never wrote: nothing to replay
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := sec.Dialer(timeout)
	var conn *kafkago.Conn
	for _, b := range brokers {
		if conn, err = d.DialLeader(dctx, "tcp", b, topic, 0); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("source %s: connect to the leader of %s/0: %w", s.name, topic, err)
	}
	defer conn.Close()
	s.first, s.end, err = conn.ReadOffsets()
	if err != nil {
		return fmt.Errorf("source %s: offsets of %s/0: %w", s.name, topic, err)
	}
	return nil
}

// eachMarker calls fn with each END and HEARTBEAT marker on the source's
// spine at offsets from..to-1, in log order, until fn returns false.
func (j *job) eachMarker(ctx context.Context, s *source, from, to int64, fn func(off int64, mk envelope.Marker) bool) error {
	if from >= to {
		return nil
	}
	topic := kafka.TransactionTopic(s.prefix)
	kr := kafkago.NewReader(kafkago.ReaderConfig{Brokers: j.cfg.Kafka.Brokers, Topic: topic, Partition: 0,
		Dialer:   j.o.Kafka.Dialer(10 * time.Second),
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond,
		// Records deleted under the scan are an error, not a silent jump.
		OffsetOutOfRangeError: true})
	defer kr.Close()
	if err := kr.SetOffset(from); err != nil {
		return err
	}
	for next := from; next < to; {
		m, err := kr.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("%s/0 offset %d: %w", topic, next, err)
		}
		if m.Offset != next {
			return fmt.Errorf("%w: %s/0 gave offset %d where the scan expected %d: records were deleted meanwhile", kafka.ErrRetention, topic, m.Offset, next)
		}
		next = m.Offset + 1
		rec := envelope.Record{Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, envelope.Header{Key: h.Key, Value: h.Value})
		}
		mk, err := envelope.DecodeMarker(rec)
		if err != nil {
			return fmt.Errorf("%s/0 offset %d: %w", topic, m.Offset, err)
		}
		if mk.Status != envelope.StatusEnd && mk.Status != envelope.StatusHeartbeat {
			continue
		}
		if !fn(m.Offset, mk) {
			return nil
		}
	}
	return nil
}
