package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/supervise"
)

// Config configures a Publisher.
type Config struct {
	Brokers           []string
	TopicPrefix       string
	Partitions        int // for created data topics. Default: 8.
	ReplicationFactor int // for created topics. Default: 1.
	// MaxMessageBytes is the largest record (and record batch): created
	// topics get it as max.message.bytes. Default: 32 MiB.
	MaxMessageBytes int
	// MaxInFlightBytes bounds unacknowledged records. Default: 64 MiB.
	MaxInFlightBytes int64
	// DialTimeout bounds connecting to a broker. Default: 10s.
	DialTimeout time.Duration
	// WriteTimeout bounds one produce request. Default: 30s.
	WriteTimeout time.Duration
	// Compression of record batches. Default: none.
	Compression kafkago.Compression
	// Security is TLS and SASL to the brokers. Default: neither.
	Security Security
	// Rows writes row batches (envelope.EncodeRows, kafka.envelope: rows)
	// instead of one Debezium JSON record per change: each transaction's
	// changes of a table go to one partition of its topic (chosen by the
	// transaction's Seq, so consecutive transactions spread over the
	// partitions), in records of up to RowBatchBytes. Only walship reads
	// them. Default: false.
	Rows bool
	// RowBatchBytes bounds the encoded changes of one row batch. Default:
	// 256 KiB (or MaxMessageBytes/4, if smaller): large enough to pay the
	// per-record costs once per thousands of rows, small enough that a
	// reader decodes one record at a time within its memory bound.
	RowBatchBytes int
	// Epoch, when not 0, is written on every record (envelope.HeaderEpoch):
	// the cluster epoch under which this member owns the source (package
	// cluster), so readers ignore what an earlier owner still writes.
	Epoch int64
}

func (c *Config) defaults() {
	if c.Partitions == 0 {
		c.Partitions = 8
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 1
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 32 << 20
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = 64 << 20
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.RowBatchBytes == 0 {
		c.RowBatchBytes = min(256<<10, c.MaxMessageBytes/4)
	}
}

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("publisher closed")

// ErrRecordTooLarge: one change does not fit in a record of
// Config.MaxMessageBytes. Permanent: retrying cannot shrink it.
var ErrRecordTooLarge = errors.New("a change is larger than the record limit")

// ErrTopicCollision: two tables map to one topic (their names differ only
// in characters Kafka does not allow, which become '_'), so the log would
// mix their rows under one key space. Permanent: exclude or rename one.
var ErrTopicCollision = errors.New("two tables map to the same topic")

// WriteError is the sticky error of a Publisher whose write failed.
type WriteError struct {
	Topic     string
	Partition int
	Err       error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("kafka write to %s/%d failed: %v", e.Topic, e.Partition, e.Err)
}
func (e *WriteError) Unwrap() error { return e.Err }

// Publisher writes one source's transactions. Publish is called from one
// goroutine; Durable, Err and Close from any.
type Publisher struct {
	cfg    Config
	enc    *envelope.Encoder
	topics *Topics
	prod   *producer
	txnTop string

	mu       sync.Mutex
	space    *sync.Cond // signalled when in-flight bytes drop or an error lands
	inflight int64
	queue    []*pending // published, not yet durable, in Publish order
	durSeq   offsets.Seq
	durPos   offsets.Position
	durBeat  offsets.Position // newest heartbeat acknowledged
	err      error
	closed   bool
	owners   map[string][2]string // topic -> the schema and table it carries
	notify   chan struct{}
	stats    Stats
	// ends holds END records ready to be written, in publish order; the
	// end loop hands them to the writer.
	ends    []kafkago.Message
	endWake chan struct{}
	endDone chan struct{}
	// endW writes END markers synchronously, one call at a time, and none
	// after a failure: an async writer can let a later batch through after
	// an earlier one failed, which would put an END on the spine before an
	// END it must follow (found by the reliability suite: a Kafka crash
	// left ENDs of later transactions on the spine without the END of an
	// earlier one, and sinks then skipped the earlier one as a duplicate).
	endW      *kafkago.Writer
	endClosed bool
}

// Stats counts what the publisher made durable.
type Stats struct {
	Txns, Events, Bytes int64
}

type pending struct {
	seq       offsets.Seq
	pos       offsets.Position
	remaining int  // data records (and BEGIN) not yet acknowledged
	sealed    bool // every data record handed to the writer
	end       kafkago.Message
	endQueued bool
	endAcked  bool
	events    int
}

// endMark tags an END record in the writer's completion callback.
type endMark struct{ p *pending }

// beatMark tags a HEARTBEAT record.
type beatMark struct{ pos offsets.Position }

// NewPublisher connects nothing yet; topics are created on first use.
func NewPublisher(cfg Config, enc *envelope.Encoder) *Publisher {
	cfg.defaults()
	transport := cfg.Security.Transport(cfg.DialTimeout, 10*time.Second)
	p := &Publisher{
		cfg: cfg, enc: enc, txnTop: TransactionTopic(cfg.TopicPrefix),
		notify: make(chan struct{}, 1),
		topics: &Topics{
			client:            &kafkago.Client{Addr: brokerAddr(cfg.Brokers), Timeout: cfg.WriteTimeout, Transport: transport},
			partitions:        cfg.Partitions,
			replicationFactor: cfg.ReplicationFactor,
			maxMessageBytes:   cfg.MaxMessageBytes,
			known:             map[string]int{},
		},
	}
	p.space = sync.NewCond(&p.mu)
	p.endWake, p.endDone = make(chan struct{}, 1), make(chan struct{})
	p.prod = &producer{
		client:      &kafkago.Client{Addr: brokerAddr(cfg.Brokers), Timeout: cfg.WriteTimeout, Transport: transport},
		compression: cfg.Compression,
		maxBytes:    min(int64(cfg.MaxMessageBytes)*9/10, 4<<20),
		maxAttempts: 5,
		timeout:     cfg.WriteTimeout,
		complete:    p.complete,
		parts:       map[partKey]*partQueue{},
	}
	p.endW = &kafkago.Writer{
		Addr:         brokerAddr(cfg.Brokers),
		Balancer:     chosenPartition{},
		MaxAttempts:  5,
		BatchSize:    endChunk,
		BatchBytes:   int64(cfg.MaxMessageBytes),
		BatchTimeout: time.Millisecond,
		ReadTimeout:  cfg.WriteTimeout,
		WriteTimeout: cfg.WriteTimeout,
		RequiredAcks: kafkago.RequireAll,
		Transport:    transport,
	}
	go p.endLoop()
	return p
}

// endLoop writes END markers once their transaction's data is durable, so a
// durable END always means every event it counts is in Kafka before it.
func (p *Publisher) endLoop() {
	defer close(p.endDone)
	for range p.endWake {
		p.mu.Lock()
		ends := p.ends
		p.ends = nil
		p.mu.Unlock()
		// One synchronous write at a time, in order; after a failure
		// nothing more: the source restarts from its durable position.
		for len(ends) > 0 && p.Err() == nil {
			chunk := ends[:min(endChunk, len(ends))]
			ends = ends[len(chunk):]
			err := p.endW.WriteMessages(context.Background(), chunk...)
			p.endsWritten(chunk, err)
		}
	}
}

// endChunk bounds the ENDs of one synchronous write (one batch).
const endChunk = 1000

// endsWritten records the outcome of a synchronous END write, as
// complete does for the async writer.
func (p *Publisher) endsWritten(msgs []kafkago.Message, err error) {
	if err != nil {
		p.fail(fmt.Errorf("kafka: write END markers: %w", err))
		p.mu.Lock()
		for i := range msgs {
			p.inflight -= int64(size(&msgs[i]))
		}
		p.space.Broadcast()
		p.mu.Unlock()
		p.signal()
		return
	}
	p.complete(msgs, nil)
}

// chosenPartition keeps the partition the Publisher computed.
type chosenPartition struct{}

func (chosenPartition) Balance(m kafkago.Message, partitions ...int) int { return m.Partition }

// Durable returns the newest transaction all of whose records, and all
// earlier transactions' records, Kafka has acknowledged.
func (p *Publisher) Durable() (offsets.Seq, offsets.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.durSeq, p.durPos
}

// abandon drops a transaction whose Publish stopped part way (its context
// ended at shutdown, or the log failed): its END will never be written, so
// it must not hold Pending up (a shutdown would wait for it in vain, and
// found by the reliability suite: SIGTERM then overran the shutdown
// timeout). The source sends it again after its restart.
func (p *Publisher) abandon(pend *pending) {
	p.mu.Lock()
	for i, q := range p.queue {
		if q == pend {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			break
		}
	}
	p.space.Broadcast()
	p.mu.Unlock()
	p.signal()
}

// DurableHeartbeat is the position of the newest heartbeat Kafka has
// acknowledged (zero before the first).
func (p *Publisher) DurableHeartbeat() offsets.Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.durBeat
}

// Stats returns counters of durable work.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Notify receives a value whenever Durable may have advanced or the
// publisher failed.
func (p *Publisher) Notify() <-chan struct{} { return p.notify }

// Err returns the sticky write error, if any.
func (p *Publisher) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Pending reports how many published transactions are not yet durable.
func (p *Publisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

func (p *Publisher) signal() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// complete is kafka-go's Completion callback, called once per batch.
func (p *Publisher) complete(msgs []kafkago.Message, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil && p.err == nil && len(msgs) > 0 {
		p.err = &WriteError{Topic: msgs[0].Topic, Partition: msgs[0].Partition, Err: err}
	}
	for i := range msgs {
		p.inflight -= int64(size(&msgs[i]))
		if err != nil {
			continue
		}
		switch d := msgs[i].WriterData.(type) {
		case *pending:
			d.remaining--
		case endMark:
			d.p.endAcked = true
		case beatMark:
			p.durBeat = d.pos // one partition: acknowledged in write order
		}
	}
	if p.err == nil {
		// Queue the ENDs whose data is all acknowledged, in order.
		queued := false
		for _, q := range p.queue {
			if q.endQueued {
				continue
			}
			if !q.sealed || q.remaining > 0 {
				break
			}
			q.endQueued = true
			p.inflight += int64(size(&q.end))
			p.ends = append(p.ends, q.end)
			queued = true
		}
		if queued && !p.endClosed {
			select {
			case p.endWake <- struct{}{}:
			default:
			}
		}
	}
	for len(p.queue) > 0 && p.err == nil {
		head := p.queue[0]
		if !head.endAcked {
			break
		}
		p.queue = p.queue[1:]
		p.durSeq, p.durPos = head.seq, head.pos
		p.stats.Txns++
		p.stats.Events += int64(head.events)
	}
	p.space.Broadcast()
	p.signal()
}

func size(m *kafkago.Message) int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Publish writes one transaction: BEGIN, its count changes from the
// iterator, END. It returns once every record is handed to the writer (not
// when durable: see Durable). An error means the transaction may be
// partially written; the publisher is then unusable.
func (p *Publisher) Publish(ctx context.Context, txn *ordering.Txn, count int, changes iter.Seq2[*ordering.Change, error]) error {
	if err := p.usable(); err != nil {
		return err
	}
	if _, err := p.topics.Ensure(ctx, p.txnTop, 1); err != nil {
		return p.fail(err)
	}
	pend := &pending{seq: txn.Seq, pos: txn.Pos, events: count}
	p.mu.Lock()
	p.queue = append(p.queue, pend)
	p.mu.Unlock()
	sealed := false
	defer func() {
		if !sealed {
			p.abandon(pend)
		}
	}()

	b := batch{p: p, pend: pend}
	begin, err := envelope.EncodeMarker(envelope.NewMarker(envelope.StatusBegin, txn))
	if err != nil {
		return p.fail(err)
	}
	if err := b.add(ctx, p.txnTop, 0, begin); err != nil {
		return err
	}

	perTable := map[string]int{}
	var tables []string
	type tp struct {
		topic string
		part  int
	}
	perPart := map[tp]int{}
	var parts []tp
	i, events := 0, 0
	// Rows: the open batch of each table, and their bytes.
	type rowBatch struct {
		name, topic string
		part        int
		t           *ordering.Table
		held        []ordering.Change // copies: a change may be reused once yielded
		idx         []int             // their indexes in the transaction
		bytes       int
	}
	open := map[string]*rowBatch{}
	var openOrder []*rowBatch
	openBytes := 0
	flushRows := func(rb *rowBatch) error {
		if len(rb.held) == 0 {
			return nil
		}
		evs := make([]envelope.RowEvent, len(rb.held))
		for j := range rb.held {
			evs[j] = envelope.RowEvent{Index: rb.idx[j], Change: &rb.held[j]}
		}
		rec, err := p.enc.EncodeRows(txn, count, rb.t, evs)
		if err != nil {
			return p.fail(err)
		}
		// Counted per batch, not per row: the maps cost more than the
		// rows' encoding.
		k := tp{rb.topic, rb.part}
		if _, ok := perPart[k]; !ok {
			parts = append(parts, k)
		}
		perPart[k] += len(rb.held)
		perTable[rb.name] += len(rb.held)
		openBytes -= rb.bytes
		// The record holds the encoded rows: the copies are reused.
		rb.held, rb.idx, rb.bytes = rb.held[:0], rb.idx[:0], 0
		return b.add(ctx, rb.topic, rb.part, rec)
	}
	var lastTable *ordering.Table
	var name, topic string
	var n int         // topic's partitions
	var cur *rowBatch // rows: lastTable's open batch
	for ch, err := range changes {
		if err != nil {
			return p.fail(fmt.Errorf("read transaction %s: %w", txn.Seq, err))
		}
		if i >= count {
			return p.fail(fmt.Errorf("transaction %s has more than the %d changes announced", txn.Seq, count))
		}
		if ch.Table != lastTable {
			// Names, the topic and the open batch are looked up once per
			// run of one table's changes, not per change.
			lastTable, name, topic = ch.Table, ch.Table.QualifiedName(), TopicName(p.cfg.TopicPrefix, ch.Table.Schema, ch.Table.Name)
			if _, ok := perTable[name]; !ok {
				perTable[name] = 0
				tables = append(tables, name)
				// Once per table and transaction.
				if err := p.claim(topic, ch.Table); err != nil {
					return p.fail(err)
				}
			}
			if n, err = p.topics.Ensure(ctx, topic, 0); err != nil {
				return p.fail(err)
			}
			cur = nil
			if p.cfg.Rows {
				cur = open[name]
				if cur != nil && cur.t != ch.Table {
					// A new shape: the old one's rows go first, in index order.
					if err := flushRows(cur); err != nil {
						return err
					}
					cur.t = ch.Table
				}
			}
		}
		if p.cfg.Rows {
			rb := cur
			if rb == nil {
				part := int((txn.Seq.Pos ^ uint64(txn.Seq.Sub)*0x9E3779B97F4A7C15) % uint64(n))
				c := min(count-i, 1024)
				rb = &rowBatch{name: name, topic: topic, part: part, t: ch.Table, held: make([]ordering.Change, 0, c), idx: make([]int, 0, c)}
				open[name], cur = rb, rb
				openOrder = append(openOrder, rb)
			}
			rb.held, rb.idx = append(rb.held, *ch), append(rb.idx, i)
			size := 16
			for _, v := range ch.Before {
				size += v.Size() - 30
			}
			for _, v := range ch.After {
				size += v.Size() - 30
			}
			rb.bytes += size
			openBytes += size
			events++
			if rb.bytes >= p.cfg.RowBatchBytes {
				if err := flushRows(rb); err != nil {
					return err
				}
				// The table's next batch goes to the next partition: a big
				// transaction is written and read on all of them at once
				// (each partition still holds its changes in index order).
				rb.part = (rb.part + 1) % n
			} else if openBytes >= 8*p.cfg.RowBatchBytes {
				for _, o := range openOrder {
					if err := flushRows(o); err != nil {
						return err
					}
				}
			}
			i++
			continue
		}
		recs, err := p.enc.Encode(envelope.Event{Txn: txn, Change: ch, Index: i, Count: count, Order: events, CollectionIndex: perTable[name]})
		if err != nil {
			return p.fail(err)
		}
		for _, rec := range recs {
			key := rec.Key
			if key == nil {
				key = []byte(name) // keyless rows and truncates: by table
			}
			part := kafkago.Murmur2Balancer{Consistent: true}.Balance(kafkago.Message{Key: key}, seq(n)...)
			// Tombstones are written beside their delete but are not
			// events: neither Debezium's counts nor the END's per-partition
			// counts (sinks skip them) include them.
			if !envelope.IsTombstone(rec) {
				k := tp{topic, part}
				if _, ok := perPart[k]; !ok {
					parts = append(parts, k)
				}
				perPart[k]++
				perTable[name]++
				events++
			}
			if err := b.add(ctx, topic, part, rec); err != nil {
				return err
			}
		}
		i++
	}
	if i != count {
		return p.fail(fmt.Errorf("transaction %s announced %d changes but had %d", txn.Seq, count, i))
	}
	for _, rb := range openOrder {
		if err := flushRows(rb); err != nil {
			return err
		}
	}

	end := envelope.NewMarker(envelope.StatusEnd, txn)
	end.EventCount = events
	for _, t := range tables {
		end.Collections = append(end.Collections, envelope.Collection{DataCollection: t, EventCount: perTable[t]})
	}
	for _, k := range parts {
		end.Partitions = append(end.Partitions, envelope.PartitionCount{Topic: k.topic, Partition: k.part, Count: perPart[k]})
	}
	endRec, err := envelope.EncodeMarker(end)
	if err != nil {
		return p.fail(err)
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	pend.end = p.message(p.txnTop, 0, endRec, endMark{pend})
	pend.sealed = true
	p.mu.Unlock()
	sealed = true
	// If every data record was acknowledged before sealing, the END is
	// ready now.
	p.complete(nil, nil)
	return nil
}

// message is the Kafka message of r, with the epoch header when the
// publisher has an epoch (Config.Epoch).
func (p *Publisher) message(topic string, part int, r envelope.Record, data any) kafkago.Message {
	m := message(topic, part, r, data)
	if p.cfg.Epoch != 0 {
		m.Headers = append(m.Headers, kafkago.Header{Key: envelope.HeaderEpoch, Value: strconv.AppendInt(nil, p.cfg.Epoch, 10)})
	}
	return m
}

func message(topic string, part int, r envelope.Record, data any) kafkago.Message {
	m := kafkago.Message{Topic: topic, Partition: part, Key: r.Key, Value: r.Value, WriterData: data}
	m.Headers = make([]kafkago.Header, len(r.Headers))
	for i, h := range r.Headers {
		m.Headers[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	return m
}

var partitionLists sync.Map // int -> []int

// seq returns [0, n).
func seq(n int) []int {
	if v, ok := partitionLists.Load(n); ok {
		return v.([]int)
	}
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	partitionLists.Store(n, s)
	return s
}

func (p *Publisher) usable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if p.closed {
		return ErrClosed
	}
	return nil
}

// claim records which table a topic carries; a second table on the same
// topic is ErrTopicCollision.
func (p *Publisher) claim(topic string, t *ordering.Table) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.owners == nil {
		p.owners = map[string][2]string{}
	}
	owner, ok := p.owners[topic]
	switch {
	case !ok:
		p.owners[topic] = [2]string{t.Schema, t.Name}
		return nil
	case owner == [2]string{t.Schema, t.Name}:
		return nil
	}
	return supervise.Permanent(fmt.Errorf("%w: %q.%q and %q.%q both map to %s: exclude one from tables: or rename it",
		ErrTopicCollision, owner[0], owner[1], t.Schema, t.Name, topic))
}

func (p *Publisher) fail(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		// A broker that cannot be reached: say which (kafka-go's errors
		// often name none, or only an internal address).
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("kafka brokers %s: %w", strings.Join(p.cfg.Brokers, ","), err)
		}
		p.err = err
	}
	p.space.Broadcast()
	p.signal()
	return p.err
}

// batch accumulates records and hands them to the writer in order.
type batch struct {
	p     *Publisher
	pend  *pending
	msgs  []kafkago.Message
	bytes int64
}

const handoff = 256

func (b *batch) add(ctx context.Context, topic string, part int, r envelope.Record) error {
	m := b.p.message(topic, part, r, b.pend)
	if n := size(&m); n > b.p.cfg.MaxMessageBytes-1024 {
		return b.p.fail(supervise.Permanent(fmt.Errorf("%w: a change to %s in transaction %s (position %s) is %d bytes, over the %d-byte record limit: "+
			"raise kafka.max_message_bytes (the broker must allow it too), or exclude the table or its large column, and restart",
			ErrRecordTooLarge, topic, b.pend.seq, b.pend.pos, n, b.p.cfg.MaxMessageBytes)))
	}
	b.msgs = append(b.msgs, m)
	b.bytes += int64(size(&m))
	if len(b.msgs) >= handoff || b.bytes >= 1<<20 {
		return b.flush(ctx)
	}
	return nil
}

// flush waits for in-flight room, then enqueues the records.
func (b *batch) flush(ctx context.Context) error {
	if len(b.msgs) == 0 {
		return nil
	}
	p := b.p
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.space.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	for p.err == nil && ctx.Err() == nil && p.inflight > 0 && p.inflight+b.bytes > p.cfg.MaxInFlightBytes {
		p.space.Wait()
	}
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		return err
	}
	if err := ctx.Err(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.inflight += b.bytes
	b.pend.remaining += len(b.msgs)
	p.mu.Unlock()
	if err := p.prod.enqueue(b.msgs...); err != nil {
		return p.fail(fmt.Errorf("kafka: enqueue: %w", err))
	}
	b.msgs, b.bytes = nil, 0
	return nil
}

// Resume implements sources.Log: Durable reports at least seq.
func (p *Publisher) Resume(seq offsets.Seq) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.durSeq.Less(seq) {
		p.durSeq = seq
	}
}

// Heartbeat writes a HEARTBEAT marker saying the source had nothing more
// to send up to pos. It is written only when every published transaction
// is durable (else it returns false without writing), so it follows their
// ENDs on the spine.
func (p *Publisher) Heartbeat(ctx context.Context, source string, pos offsets.Position, at time.Time) (bool, error) {
	if err := p.usable(); err != nil {
		return false, err
	}
	if p.Pending() > 0 {
		return false, nil
	}
	if _, err := p.topics.Ensure(ctx, p.txnTop, 1); err != nil {
		return false, p.fail(err)
	}
	seq, _ := p.Durable()
	rec, err := envelope.EncodeMarker(envelope.Marker{Status: envelope.StatusHeartbeat, Source: source, Seq: seq, Pos: pos, Time: at})
	if err != nil {
		return false, p.fail(err)
	}
	m := p.message(p.txnTop, 0, rec, beatMark{pos})
	p.mu.Lock()
	p.inflight += int64(size(&m))
	p.mu.Unlock()
	if err := p.prod.enqueue(m); err != nil {
		return false, p.fail(fmt.Errorf("kafka: heartbeat: %w", err))
	}
	return true, nil
}

// Close flushes what was enqueued, waits for the acknowledgements (bounded
// by ctx) and releases the connections.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		// Let the ENDs of fully acknowledged transactions out first.
		for p.Err() == nil && p.Pending() > 0 && ctx.Err() == nil {
			select {
			case <-p.Notify():
			case <-ctx.Done():
			}
		}
		p.mu.Lock()
		p.endClosed = true
		p.mu.Unlock()
		close(p.endWake)
		<-p.endDone
		p.endW.Close()
		p.prod.close()
		done <- nil
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Describe returns a short description for logs (no row data).
func (p *Publisher) Describe() string {
	s, pos := p.Durable()
	return "durable " + s.String() + " at " + pos.String() + ", pending " + strconv.Itoa(p.Pending())
}
