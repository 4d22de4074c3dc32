package kafka

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// producer writes records to Kafka partitions with adaptive batching. Each
// partition has one goroutine that sends one produce request at a time,
// carrying everything queued while the previous request was in flight (up
// to maxBytes): an idle partition's first record goes out at once, with no
// linger, and under load the batches grow with the round trip.
//
// kafka-go's Writer instead cuts a batch per BatchTimeout and then sends
// its batches one at a time: under load a partition's backlog is a queue
// of small batches, each waiting a whole round trip, and the linger is
// paid even when idle (the binlog source spent half its time waiting on
// it).
//
// Records of one partition are written in the order they were enqueued. A
// request that fails is retried (transient errors only, maxAttempts in
// all, in place, so the order holds); once it has failed for good, the
// partition sends nothing more, and everything queued then or later
// completes with the error: the publisher is failed, and the stream
// restarts from its durable position.
type producer struct {
	client      *kafkago.Client
	compression kafkago.Compression
	maxBytes    int64
	maxAttempts int
	timeout     time.Duration
	// complete is called once per request, from the partition's goroutine,
	// with the records in order and the request's outcome.
	complete func([]kafkago.Message, error)

	mu     sync.Mutex
	parts  map[partKey]*partQueue
	closed bool
	wg     sync.WaitGroup
}

type partKey struct {
	topic string
	part  int
}

type partQueue struct {
	mu     sync.Mutex
	ready  *sync.Cond
	msgs   []kafkago.Message
	bytes  int64
	closed bool
	err    error // the failure that stopped the partition
}

// enqueue queues msgs (each with its Topic and Partition set) for
// writing. It never blocks on Kafka: the caller bounds what is in flight.
func (p *producer) enqueue(msgs ...kafkago.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	for i := range msgs {
		m := &msgs[i]
		k := partKey{m.Topic, m.Partition}
		q := p.parts[k]
		if q == nil {
			q = &partQueue{}
			q.ready = sync.NewCond(&q.mu)
			p.parts[k] = q
			p.wg.Add(1)
			go p.run(k, q)
		}
		q.mu.Lock()
		q.msgs = append(q.msgs, *m)
		q.bytes += int64(size(m))
		q.ready.Signal()
		q.mu.Unlock()
	}
	return nil
}

// run sends q's records until q is closed and empty.
func (p *producer) run(k partKey, q *partQueue) {
	defer p.wg.Done()
	for {
		q.mu.Lock()
		for len(q.msgs) == 0 && !q.closed {
			q.ready.Wait()
		}
		if len(q.msgs) == 0 {
			q.mu.Unlock()
			return
		}
		n, b := 0, int64(0)
		for n < len(q.msgs) && (n == 0 || b+int64(size(&q.msgs[n])) <= p.maxBytes) {
			b += int64(size(&q.msgs[n]))
			n++
		}
		batch := q.msgs[:n:n]
		q.msgs = q.msgs[n:]
		if len(q.msgs) == 0 {
			q.msgs = nil // let the backing array go
		}
		q.bytes -= b
		err := q.err
		q.mu.Unlock()
		if err == nil {
			err = p.send(k, batch)
			if err != nil {
				q.mu.Lock()
				q.err = err
				q.mu.Unlock()
			}
		}
		p.complete(batch, err)
	}
}

// send writes one batch, retrying transient errors in place.
func (p *producer) send(k partKey, batch []kafkago.Message) error {
	var err error
	for attempt := 0; attempt < p.maxAttempts; attempt++ {
		if attempt > 0 {
			time.Sleep(min(100*time.Millisecond<<(attempt-1), time.Second))
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		var res *kafkago.ProduceResponse
		res, err = p.client.Produce(ctx, &kafkago.ProduceRequest{
			Topic: k.topic, Partition: k.part, RequiredAcks: kafkago.RequireAll,
			Compression: p.compression, Records: &records{msgs: batch},
		})
		cancel()
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			return nil
		}
		if !transient(err) {
			return err
		}
	}
	return err
}

// transient reports whether a failed produce may succeed when retried:
// Kafka's retriable errors (a leader moving, say) and network failures.
func transient(err error) bool {
	var ke kafkago.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	return !errors.Is(err, ErrClosed)
}

// close sends what is queued and stops the partitions' goroutines; it
// returns once they have finished.
func (p *producer) close() {
	p.mu.Lock()
	p.closed = true
	for _, q := range p.parts {
		q.mu.Lock()
		q.closed = true
		q.ready.Signal()
		q.mu.Unlock()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// records reads a batch as the produce request's RecordReader.
type records struct {
	msgs  []kafkago.Message
	i     int
	rec   kafkago.Record
	key   bytesReader
	value bytesReader
}

func (r *records) ReadRecord() (*kafkago.Record, error) {
	if r.i >= len(r.msgs) {
		return nil, io.EOF
	}
	m := &r.msgs[r.i]
	r.i++
	r.rec = kafkago.Record{Time: m.Time, Headers: m.Headers}
	if m.Key != nil {
		r.key.Reset(m.Key)
		r.rec.Key = &r.key
	}
	if m.Value != nil {
		r.value.Reset(m.Value)
		r.rec.Value = &r.value
	}
	return &r.rec, nil
}

type bytesReader struct{ bytes.Reader }

func (*bytesReader) Close() error { return nil }
