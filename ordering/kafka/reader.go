package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sort"
	"strconv"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
)

// Offsets is where a Reader resumes: the next spine offset and, per data
// partition ("topic/partition"), the offset of the first event not yet
// consumed. Sinks store it with the applied position, in the same follower
// transaction.
type Offsets struct {
	Spine      int64            `json:"spine"`
	Partitions map[string]int64 `json:"partitions,omitempty"`
	// Whole says the reader read the log from its beginning: a data
	// partition Partitions does not name is needed from offset 0 (each
	// event in it belongs to a transaction from there on), not from the
	// first offset retention left. Positions stored before it existed
	// lack it, and keep the old reading.
	Whole bool `json:"whole,omitempty"`
}

func (o Offsets) clone() Offsets {
	c := Offsets{Spine: o.Spine, Whole: o.Whole, Partitions: make(map[string]int64, len(o.Partitions))}
	for k, v := range o.Partitions {
		c.Partitions[k] = v
	}
	return c
}

// ErrRetention is returned when the log no longer holds offsets the reader
// needs (retention deleted them): the follower must be rebuilt.
var ErrRetention = errors.New("the log no longer holds what this follower needs")

// TrimmedError is ErrRetention for a reader that starts at the beginning
// of the log (a follower without recorded positions) when retention
// removed it, from the spine or from a data partition found on the way:
// the follower would miss the snapshot and every row not changed since.
// Only a start from a snapshot can build it.
type TrimmedError struct {
	Topic     string
	Partition int
	First     int64 // the first offset the partition holds
}

func (e *TrimmedError) Error() string {
	return fmt.Sprintf("%v: %s/%d starts at offset %d: retention removed the beginning of the log, which a follower built from the start of the log needs (the snapshot, and every row not changed since); build it from a snapshot instead, into an empty follower: walship replay --resnapshot takes a new one, walship replay --from snapshot starts from the newest one the log still holds",
		ErrRetention, e.Topic, e.Partition, e.First)
}

// Unwrap makes a TrimmedError match ErrRetention.
func (e *TrimmedError) Unwrap() error { return ErrRetention }

// ErrEnd is returned by Next once the spine was read up to ReaderConfig.End.
var ErrEnd = errors.New("end of the log reached")

// ReaderConfig configures a Reader.
type ReaderConfig struct {
	Brokers []string
	// Prefix is the source's topic prefix: the spine is Prefix.transaction.
	Prefix string
	// Resume is where to start. Its offsets are exact: the spine and each
	// data partition it names must still hold them. A spine offset of 0 is
	// the beginning of the log: the reader then needs every partition from
	// offset 0 (the spine, and the data partitions Resume does not name), and
	// a log whose beginning retention removed is a *TrimmedError, never a
	// silent start at the first offset left. So does a reader resumed with
	// Resume.Whole (it started at the beginning in an earlier run). A reader
	// that started later (replay --from) starts a data partition Resume does
	// not name at its first held offset.
	Resume Offsets
	// After: transactions with Seq <= After are consumed but not returned.
	After offsets.Seq
	// BigTxn is the event count above which a transaction is streamed
	// rather than held in memory. Default: 10000.
	BigTxn int
	// MaxLookahead bounds events held because they arrived before the
	// transaction being assembled (after a torn write). Default: 1000000.
	MaxLookahead int
	// DialTimeout bounds connecting to a broker. Default: 10s.
	DialTimeout time.Duration
	// Security is TLS and SASL to the brokers.
	Security Security
	// MaxMessageBytes is the largest record in the log: every fetch asks
	// for at least a megabyte more. Default: 32 MiB.
	MaxMessageBytes int
	// End, when > 0, bounds the log: Next returns ErrEnd once every spine
	// message before offset End was consumed (walship replay reads up to
	// the end offset the spine had when it started). 0: unbounded.
	End int64
}

// Txn is one transaction read from the log.
type Txn struct {
	End envelope.Marker
	// Changes holds the changes in order, unless the transaction is big:
	// then Stream yields them and must be drained before the next Next.
	Changes []ordering.Change
	Stream  iter.Seq2[*ordering.Change, error]
	// Offsets is where a reader resumes once this transaction and every
	// earlier one are applied.
	Offsets Offsets
	// Bytes approximates the memory Changes holds.
	Bytes int
	// Heartbeat marks a HEARTBEAT marker: no changes; End.Pos is where the
	// source was, with nothing more to send, after transaction End.Seq.
	Heartbeat bool
}

// Reader assembles one source's transactions from Kafka in log order,
// using the transaction topic as the spine. It is used by one goroutine.
type Reader struct {
	cfg   ReaderConfig
	spine *kafkago.Reader
	parts map[string]*partition
	offs  Offsets
	last  offsets.Seq // newest transaction assembled
	// epoch is the highest cluster epoch seen on the spine; fenced counts
	// the END markers of lower epochs ignored (envelope.HeaderEpoch).
	epoch  int64
	fenced int64
	closed bool
	// fromStart: Resume.Spine is 0, the reader starts at the beginning of
	// the log, and needs all of it (see startAt). whole: it started there
	// in this run or an earlier one (Offsets.Whole).
	fromStart, whole bool
	shapes           envelope.Shapes
}

// partition is one data partition being consumed. Its prefetcher
// goroutine fetches and decodes ahead of the reader, in offset order,
// into in (bounded by prefetchEvents and prefetchBytes), so decoding runs
// in parallel across partitions and with the follower's apply.
type partition struct {
	key       string
	topic     string
	part      int
	r         *kafkago.Reader
	ahead     []pendingEvent // events received but not yet used, in offset order
	next      int64          // offset after the last event received from in
	lookahead int

	in     chan fetched
	budget *semaphore.Weighted
	stop   context.CancelFunc
	done   chan struct{} // closed when the prefetcher returned
	idle   *time.Timer
}

// fetched is one message as the prefetcher passes it on: decoded, or the
// error that ended the prefetch.
type fetched struct {
	offset int64
	d      envelope.Decoded
	size   int64
	err    error
}

// Bounds of each partition's prefetch.
const (
	prefetchEvents = 512
	prefetchBytes  = 4 << 20
	readerQueue    = 16
)

// idleFetchWait is how long the broker holds a fetch of a partition with
// nothing new (see newKafkaReader).
const idleFetchWait = time.Second

type pendingEvent struct {
	offset int64
	d      envelope.Decoded
}

// NewReader returns a Reader; it connects lazily.
func NewReader(cfg ReaderConfig) *Reader {
	if cfg.BigTxn == 0 {
		cfg.BigTxn = 10000
	}
	if cfg.MaxLookahead == 0 {
		cfg.MaxLookahead = 1_000_000
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	offs := cfg.Resume.clone()
	return &Reader{cfg: cfg, parts: map[string]*partition{}, offs: offs, last: cfg.After, fromStart: cfg.Resume.Spine == 0,
		whole: cfg.Resume.Spine == 0 || cfg.Resume.Whole}
}

// newKafkaReader opens topic/part at offset, checked against what the
// partition holds; it returns the offset it starts at. named says the
// offset is a position (the spine's, or one Resume names); an unnamed data
// partition starts at 0 when the reader starts at the beginning of the
// log, and otherwise at the first offset the partition still holds.
func (r *Reader) newKafkaReader(topic string, part int, offset int64, named bool) (*kafkago.Reader, int64, error) {
	first, last, err := r.bounds(topic, part)
	if err != nil {
		return nil, 0, err
	}
	if offset, err = r.startAt(topic, part, offset, named, first, last); err != nil {
		return nil, 0, err
	}
	kr := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: r.cfg.Brokers, Topic: topic, Partition: part,
		// MaxWait is the broker's long poll: a fetch returns as soon as
		// one byte is there (MinBytes), so it bounds no latency; it is how
		// often an idle partition asks again. At 50 ms, a daemon reading
		// 100 idle partitions sent 2000 fetches a second; during make test
		// the broker's CPU went from about 46% of a core to 19% at 1 s.
		MinBytes: 1, MaxBytes: max(64<<20, r.cfg.MaxMessageBytes+1<<20), MaxWait: idleFetchWait,
		// kafka-go's own queue of fetched messages, ahead of the
		// prefetcher's (prefetchBytes): its default of 100 row batches of
		// 256 KiB held up to 25 MiB per partition, which took a 5M-row
		// load's peak RSS past 512 MiB.
		QueueCapacity: readerQueue,
		Dialer:        r.cfg.Security.Dialer(r.cfg.DialTimeout),
		// An offset out of range is an error, not a silent endless retry.
		OffsetOutOfRangeError: true,
	})
	if err := kr.SetOffset(offset); err != nil {
		kr.Close()
		return nil, 0, err
	}
	return kr, offset, nil
}

// epochLookback is how many spine records before its resume offset a
// reader reads for the highest epoch (recentEpoch).
const epochLookback = 256

// recentEpoch is the highest cluster epoch (envelope.HeaderEpoch) of the
// epochLookback spine records before offset (0: none carries one).
func (r *Reader) recentEpoch(ctx context.Context, topic string, offset int64) (int64, error) {
	first, _, err := r.bounds(topic, 0)
	if err != nil {
		return 0, err
	}
	from := max(first, offset-epochLookback)
	if from >= offset {
		return 0, nil
	}
	conn, err := r.cfg.Security.Dialer(r.cfg.DialTimeout).DialLeader(ctx, "tcp", r.cfg.Brokers[0], topic, 0)
	if err != nil {
		return 0, fmt.Errorf("%s/0: read the epochs before offset %d: %w", topic, offset, err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var top int64
	for next := from; next < offset; {
		if _, err := conn.Seek(next, kafkago.SeekAbsolute); err != nil {
			return 0, fmt.Errorf("%s/0: read the epochs before offset %d: %w", topic, offset, err)
		}
		batch := conn.ReadBatch(1, 16<<20)
		n := 0
		for next < offset {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			n++
			next = m.Offset + 1
			for _, h := range m.Headers {
				if h.Key == envelope.HeaderEpoch {
					if e, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil && e > top {
						top = e
					}
				}
			}
		}
		if err := batch.Close(); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("%s/0: read the epochs before offset %d: %w", topic, offset, err)
		}
		if n == 0 {
			break // nothing more below offset (a compacted or trimmed gap)
		}
	}
	return top, nil
}

// startAt checks a read of topic/part from offset against the offsets the
// partition holds, first..last (last: the next to be written), and returns
// the offset to read from. Every offset is exact, 0 included: the spine's
// and the data partitions' Resume names. A data partition Resume does not
// name is needed from 0 by a reader that read the log from its beginning
// (every event in it belongs to a transaction from there on); a reader
// that started later (replay --from) needs none of the events before its
// first transaction, and starts at first.
func (r *Reader) startAt(topic string, part int, offset int64, named bool, first, last int64) (int64, error) {
	if !named && !r.whole {
		return first, nil
	}
	switch {
	case offset < first && r.fromStart:
		return 0, &TrimmedError{Topic: topic, Partition: part, First: first}
	case offset < first:
		return 0, fmt.Errorf("%w: %s/%d starts at offset %d, but the follower needs it from %d; rebuild the follower from a snapshot, into an empty follower: walship replay --resnapshot (or --from snapshot, while the log holds one)",
			ErrRetention, topic, part, first, offset)
	case offset > last:
		return 0, fmt.Errorf("%w: %s/%d ends at offset %d, but the follower resumes at %d (was the topic deleted and recreated?); rebuild the follower (walship replay)",
			ErrRetention, topic, part, last, offset)
	}
	return offset, nil
}

func (r *Reader) topicExists(ctx context.Context, topic string) (bool, error) {
	n, err := Partitions(ctx, r.cfg.Brokers, r.cfg.Security, r.cfg.DialTimeout, topic)
	return n > 0, err
}

func (r *Reader) bounds(topic string, part int) (first, last int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.DialTimeout)
	defer cancel()
	d := r.cfg.Security.Dialer(r.cfg.DialTimeout)
	var conn *kafkago.Conn
	for _, b := range r.cfg.Brokers {
		if conn, err = d.DialLeader(ctx, "tcp", b, topic, part); err == nil {
			break
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("connect to the leader of %s/%d: %w", topic, part, err)
	}
	defer conn.Close()
	return conn.ReadOffsets()
}

// Next returns the next transaction after the last one returned (and
// after cfg.After). It blocks until one is complete or ctx is done.
func (r *Reader) Next(ctx context.Context) (*Txn, error) {
	if r.cfg.End > 0 && r.offs.Spine >= r.cfg.End {
		return nil, ErrEnd
	}
	for r.spine == nil {
		topic := TransactionTopic(r.cfg.Prefix)
		if r.offs.Spine == 0 {
			// The source may not have written anything yet: wait for its log.
			ok, err := r.topicExists(ctx, topic)
			if err != nil {
				return nil, err
			}
			if !ok {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Second):
					continue
				}
			}
		}
		kr, _, err := r.newKafkaReader(topic, 0, r.offs.Spine, true)
		if err != nil {
			return nil, err
		}
		if r.offs.Spine > 0 && r.epoch == 0 {
			// A resumed reader learns the epoch it had seen from the spine
			// records before its offset, so a zombie's records right after
			// a restart are fenced too.
			if r.epoch, err = r.recentEpoch(ctx, topic, r.offs.Spine); err != nil {
				kr.Close()
				return nil, err
			}
		}
		r.spine = kr
	}
	for {
		if r.cfg.End > 0 && r.offs.Spine >= r.cfg.End {
			return nil, ErrEnd
		}
		m, err := r.fetch(ctx, r.spine, TransactionTopic(r.cfg.Prefix), 0, r.offs.Spine)
		if err != nil {
			return nil, err
		}
		r.offs.Spine = m.Offset + 1
		mk, err := envelope.DecodeMarker(record(m))
		if err != nil {
			return nil, fmt.Errorf("%s/0 offset %d: %w", m.Topic, m.Offset, err)
		}
		if mk.Status == envelope.StatusHeartbeat {
			return &Txn{End: mk, Heartbeat: true, Offsets: r.snapshotOffsets()}, nil
		}
		if mk.Status != envelope.StatusEnd {
			continue
		}
		if mk.Epoch != 0 {
			if mk.Epoch < r.epoch {
				// Written by an earlier owner of the source after a later
				// one began (package cluster): fenced, never applied.
				r.fenced++
				continue
			}
			r.epoch = mk.Epoch
		}
		if !r.last.Less(mk.Seq) {
			// Applied before, or a re-sent duplicate: its events are dropped
			// as the partitions move past them.
			continue
		}
		r.last = mk.Seq
		txn := &Txn{End: mk}
		if mk.EventCount > r.cfg.BigTxn {
			txn.Stream = r.stream(ctx, mk, txn)
			return txn, nil
		}
		for ch, err := range r.stream(ctx, mk, txn) {
			if err != nil {
				return nil, err
			}
			txn.Changes = append(txn.Changes, *ch)
			txn.Bytes += 256
			for _, v := range ch.After {
				txn.Bytes += v.Size()
			}
			for _, v := range ch.Before {
				txn.Bytes += v.Size()
			}
		}
		if txn.Offsets.Partitions == nil {
			txn.Offsets = r.snapshotOffsets() // no events: the stream did not run
		}
		return txn, nil
	}
}

// stream yields the transaction's changes in index order, merging its
// partitions; when it is drained, txn.Offsets is set.
func (r *Reader) stream(ctx context.Context, mk envelope.Marker, txn *Txn) iter.Seq2[*ordering.Change, error] {
	return func(yield func(*ordering.Change, error) bool) {
		var h eventHeap
		var slab []ordering.Change
		type src struct {
			p    *partition
			left int
			seen idSet // eventIDs
		}
		srcs := make([]*src, 0, len(mk.Partitions))
		for _, pc := range mk.Partitions {
			p, err := r.partition(pc.Topic, pc.Partition)
			if err != nil {
				yield(nil, err)
				return
			}
			srcs = append(srcs, &src{p: p, left: pc.Count})
		}
		pull := func(i int) error {
			s := srcs[i]
			if s.left == 0 {
				return nil
			}
			for {
				e, err := r.take(ctx, s.p, mk.Seq, mk.Epoch)
				if err != nil {
					return fmt.Errorf("transaction %s: %s: %w", mk.Seq, s.p.key, err)
				}
				id := eventID(e)
				if !s.seen.add(id) {
					continue // a copy left by a torn attempt
				}
				s.left--
				h.push(heapItem{e, i})
				return nil
			}
		}
		// The changes are cut from slabs: one allocation per slab, not
		// per change.
		emit := func(e envelope.Decoded) bool {
			if len(slab) == 0 {
				slab = make([]ordering.Change, min(256, max(1, mk.EventCount)))
			}
			ch := &slab[0]
			*ch, slab = e.Change, slab[1:]
			return yield(ch, nil)
		}
		// next returns the transaction's events in index order: from its
		// one partition as they come (a snapshot chunk, a small
		// transaction), or merged from several by the heap.
		var next func() (envelope.Decoded, bool, error)
		if len(srcs) == 1 {
			s := srcs[0]
			next = func() (envelope.Decoded, bool, error) {
				for s.left > 0 {
					e, err := r.take(ctx, s.p, mk.Seq, mk.Epoch)
					if err != nil {
						return e, false, fmt.Errorf("transaction %s: %s: %w", mk.Seq, s.p.key, err)
					}
					if s.seen.add(eventID(e)) {
						s.left--
						return e, true, nil
					}
				}
				return envelope.Decoded{}, false, nil
			}
		} else {
			for i := range srcs {
				if err := pull(i); err != nil {
					yield(nil, err)
					return
				}
			}
			next = func() (envelope.Decoded, bool, error) {
				if h.Len() == 0 {
					return envelope.Decoded{}, false, nil
				}
				it := h.pop()
				return it.e, true, pull(it.src)
			}
		}
		for {
			e, ok, err := next()
			if err != nil {
				yield(nil, err)
				return
			}
			if !ok {
				break
			}
			if e.KeyChange == envelope.KeyChangeDelete {
				// The create half has the same index and comes right after
				// (its partition's next event, or another partition's head).
				cre, _, err := next()
				if err != nil {
					yield(nil, err)
					return
				}
				if e, err = envelope.MergeKeyChange(e, cre); err != nil {
					yield(nil, fmt.Errorf("transaction %s: %w", mk.Seq, err))
					return
				}
			} else if e.KeyChange != "" {
				yield(nil, fmt.Errorf("transaction %s: event %d: %w: a key change's create without its delete", mk.Seq, e.Index, ordering.ErrMalformed))
				return
			}
			if !emit(e) {
				return
			}
		}
		txn.Offsets = r.snapshotOffsets()
	}
}

// take returns the next event of transaction seq in p, holding events of
// later transactions and dropping those of earlier (applied or re-sent).
func (r *Reader) take(ctx context.Context, p *partition, seq offsets.Seq, epoch int64) (envelope.Decoded, error) {
	for i := 0; i < len(p.ahead); i++ {
		e := p.ahead[i]
		switch c := e.d.Seq.Compare(seq); {
		case c == 0 && e.d.Epoch != epoch:
			// The same transaction written under another epoch (by
			// another owner of the source): only the END's writer's
			// events make it.
			p.ahead = append(p.ahead[:i], p.ahead[i+1:]...)
			p.lookahead--
			i--
		case c == 0:
			p.ahead = append(p.ahead[:i], p.ahead[i+1:]...)
			p.lookahead--
			return e.d, nil
		case c < 0:
			p.ahead = append(p.ahead[:i], p.ahead[i+1:]...)
			p.lookahead--
			i--
		}
	}
	for {
		f, err := r.receive(ctx, p, seq)
		if err != nil {
			return envelope.Decoded{}, err
		}
		p.next = f.offset + 1
		switch c := f.d.Seq.Compare(seq); {
		case c == 0 && f.d.Epoch != epoch:
			// Another owner's copy (above): dropped.
		case c == 0:
			return f.d, nil
		case c > 0:
			if p.lookahead >= r.cfg.MaxLookahead {
				return envelope.Decoded{}, fmt.Errorf("more than %d events of later transactions precede the events of %s", r.cfg.MaxLookahead, seq)
			}
			p.ahead = append(p.ahead, pendingEvent{f.offset, f.d})
			p.lookahead++
		}
	}
}

// receive returns the next message of p from its prefetcher. need is the
// transaction whose events the reader looks for. While nothing arrives,
// the partition is checked every idleCheck (idleProblem): deleted,
// recreated shorter, or ending without need's events is ErrRetention.
func (r *Reader) receive(ctx context.Context, p *partition, need offsets.Seq) (fetched, error) {
	for {
		var f fetched
		select {
		case f = <-p.in:
		default:
			p.idle.Reset(idleCheck)
			select {
			case f = <-p.in:
				p.idle.Stop()
			case <-ctx.Done():
				p.idle.Stop()
				return fetched{}, ctx.Err()
			case <-p.idle.C:
				if err := r.idleProblem(ctx, p.topic, p.part, p.next, need); err != nil {
					return fetched{}, err
				}
				continue
			}
		}
		p.budget.Release(f.size)
		return f, f.err
	}
}

// prefetch fetches and decodes p's messages from offset next on, in
// order, until ctx ends or an error, which it passes on last.
func (r *Reader) prefetch(ctx context.Context, p *partition, next int64) {
	defer close(p.done)
	dec := envelope.Decoder{Shapes: &r.shapes}
	var batch []envelope.Decoded
	for {
		var f fetched
		// No watchdog here: while the reader waits for this partition,
		// receive checks it; an idle partition nobody waits for costs the
		// broker nothing.
		m, err := p.r.FetchMessage(ctx)
		m, err = checkFetched(m, err, p.topic, p.part, next)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.err = err
		} else {
			next = m.Offset + 1
			if m.Value == nil {
				// A tombstone after a delete: no event (the END does not
				// count it); a resumed reader may meet it again and skip it
				// again.
				continue
			}
			f.offset = m.Offset
			f.size = min(int64(len(m.Key)+len(m.Value)+256), prefetchBytes)
			if rec := record(m); envelope.IsRows(rec) {
				// A row batch: its changes are events of their own, at one
				// offset (all of one transaction).
				if batch, err = dec.DecodeRows(rec, batch[:0]); err != nil {
					f.err = fmt.Errorf("offset %d: %w", m.Offset, err)
				} else if len(batch) > 0 {
					// Each change counts what it holds decoded, several
					// times its encoded bytes.
					for _, d := range batch[:len(batch)-1] {
						each := decodedSize(d)
						if err := p.budget.Acquire(ctx, each); err != nil {
							return
						}
						select {
						case p.in <- fetched{offset: m.Offset, d: d, size: each}:
						case <-ctx.Done():
							return
						}
					}
					f.d = batch[len(batch)-1]
					f.size = decodedSize(f.d)
				} else {
					continue
				}
			} else if f.d, err = dec.Decode(rec); err != nil {
				f.err = fmt.Errorf("offset %d: %w", m.Offset, err)
			}
		}
		if err := p.budget.Acquire(ctx, f.size); err != nil {
			return
		}
		select {
		case p.in <- f:
		case <-ctx.Done():
			return
		}
		if f.err != nil {
			return
		}
	}
}

// idleCheck is how long a fetch waits for a message before checking that
// the partition is still there.
var idleCheck = 5 * time.Second

// fetch is FetchMessage with a watchdog. kafka-go's reader retries a
// deleted topic forever without a word; while nothing arrives, the
// partition is checked every idleCheck, and a topic deleted under the
// reader, or recreated and shorter than the reader's offset next, is
// ErrRetention: never a silent wait.
func (r *Reader) fetch(ctx context.Context, kr *kafkago.Reader, topic string, part int, next int64) (kafkago.Message, error) {
	for {
		fctx, cancel := context.WithTimeout(ctx, idleCheck)
		m, err := kr.FetchMessage(fctx)
		cancel()
		m, err = checkFetched(m, err, topic, part, next)
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return m, err
		}
		if err := r.idleProblem(ctx, topic, part, next, offsets.Seq{}); err != nil {
			return kafkago.Message{}, err
		}
	}
}

// checkFetched turns what kafka-go does silently on lost records into
// ErrRetention: an offset out of range, or a jump in offsets.
func checkFetched(m kafkago.Message, err error, topic string, part int, next int64) (kafkago.Message, error) {
	if err == nil && next > 0 && m.Offset != next {
		// Offsets of a partition are contiguous (no compaction, no
		// transactions): kafka-go jumped, as it silently does when its
		// offset went out of range.
		return kafkago.Message{}, fmt.Errorf("%w: %s/%d gave offset %d where the follower expected %d: records were deleted (retention, or the topic was deleted and recreated); rebuild the follower (walship replay, with --resnapshot if the source's log restarted)",
			ErrRetention, topic, part, m.Offset, next)
	}
	if errors.Is(err, kafkago.OffsetOutOfRange) {
		return kafkago.Message{}, fmt.Errorf("%w: %s/%d no longer holds offset %d: records were deleted (retention, or the topic was deleted and recreated); rebuild the follower (walship replay, with --resnapshot if the source's log restarted)",
			ErrRetention, topic, part, next)
	}
	return m, err
}

// idleProblem is checked while nothing arrives from a partition the
// reader waits on: the topic deleted under the reader, or recreated and
// shorter than next, is ErrRetention. need, when set, is the transaction
// whose events the reader looks for there: its END is on the spine, so
// they were durable before it; reaching the partition's end without them
// means the partition lost them (a topic recreated with as many records,
// say). A broker that does not answer is no problem here: the fetch
// retries.
func (r *Reader) idleProblem(ctx context.Context, topic string, part int, next int64, need offsets.Seq) error {
	exists, err := r.topicExists(ctx, topic)
	if err != nil {
		return nil
	}
	if !exists {
		return fmt.Errorf("%w: topic %s was deleted while the follower read it (at offset %d of partition %d); rebuild the follower (walship replay, with --resnapshot if the source's log restarted)",
			ErrRetention, topic, next, part)
	}
	_, last, err := r.bounds(topic, part)
	switch {
	case err != nil:
	case last < next:
		return fmt.Errorf("%w: %s/%d ends at offset %d, before the follower's offset %d: the topic was deleted and recreated; rebuild the follower (walship replay --resnapshot)",
			ErrRetention, topic, part, last, next)
	case !need.IsZero() && last <= next:
		return fmt.Errorf("%w: %s/%d ends at offset %d without the events of transaction %s, which its END marker says are there: the partition lost records (was the topic deleted and recreated?); rebuild the follower (walship replay --resnapshot)",
			ErrRetention, topic, part, last, need)
	}
	return nil
}

func (r *Reader) partition(topic string, part int) (*partition, error) {
	key := topic + "/" + strconv.Itoa(part)
	if p := r.parts[key]; p != nil {
		return p, nil
	}
	start, named := r.offs.Partitions[key]
	kr, start, err := r.newKafkaReader(topic, part, start, named)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	idle := time.NewTimer(idleCheck)
	idle.Stop()
	p := &partition{key: key, topic: topic, part: part, r: kr, next: start,
		in: make(chan fetched, prefetchEvents), budget: semaphore.NewWeighted(prefetchBytes), stop: stop, done: make(chan struct{}), idle: idle}
	r.parts[key] = p
	go r.prefetch(ctx, p, start)
	return p, nil
}

// snapshotOffsets: the spine resumes after the END just read; each
// partition at its first event not yet used.
func (r *Reader) snapshotOffsets() Offsets {
	o := Offsets{Spine: r.offs.Spine, Whole: r.whole, Partitions: make(map[string]int64, len(r.parts)+len(r.offs.Partitions))}
	for k, v := range r.offs.Partitions {
		o.Partitions[k] = v
	}
	for k, p := range r.parts {
		low := p.next
		for _, e := range p.ahead {
			low = min(low, e.offset)
		}
		o.Partitions[k] = low
	}
	return o
}

// Lag reports, per partition read so far and for the spine, how many
// messages the reader is behind the partition's end.
func (r *Reader) Lag() map[string]int64 {
	out := map[string]int64{}
	if r.spine != nil {
		out[TransactionTopic(r.cfg.Prefix)+"/0"] = r.spine.Stats().Lag
	}
	for k, p := range r.parts {
		out[k] = p.r.Stats().Lag
	}
	return out
}

// Close releases the connections.
func (r *Reader) Close() error {
	keys := make([]string, 0, len(r.parts))
	for k := range r.parts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.parts[k].stop()
	}
	// A kafka-go reader's Close waits out its fetch in flight (up to
	// idleFetchWait): close them all at once.
	errs := make([]error, len(keys)+1)
	var wg sync.WaitGroup
	if r.spine != nil {
		wg.Go(func() { errs[len(keys)] = r.spine.Close() })
	}
	for i, k := range keys {
		wg.Go(func() {
			<-r.parts[k].done
			errs[i] = r.parts[k].r.Close()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func record(m kafkago.Message) envelope.Record {
	rec := envelope.Record{Key: m.Key, Value: m.Value, Headers: make([]envelope.Header, len(m.Headers))}
	for i, h := range m.Headers {
		rec.Headers[i] = envelope.Header{Key: h.Key, Value: h.Value}
	}
	return rec
}

type heapItem struct {
	e   envelope.Decoded
	src int
}

// idSet is a set of small non-negative integers.
type idSet []uint64

// add adds id and reports whether it was not there.
func (s *idSet) add(id int) bool {
	w, bit := id/64, uint64(1)<<(id%64)
	if w >= len(*s) {
		*s = append(*s, make([]uint64, w+1-len(*s))...)
	}
	if (*s)[w]&bit != 0 {
		return false
	}
	(*s)[w] |= bit
	return true
}

// eventHeap is a min-heap of events by eventID, typed (container/heap
// would copy each event into an interface).
type eventHeap []heapItem

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) less(i, j int) bool { return eventID(h[i].e) < eventID(h[j].e) }

// eventID orders a transaction's events: by index, and a key change's
// delete half before its create half (they share the index).
func eventID(e envelope.Decoded) int {
	id := 2 * e.Index
	if e.KeyChange == envelope.KeyChangeCreate {
		id++
	}
	return id
}

func (h *eventHeap) push(it heapItem) {
	*h = append(*h, it)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *eventHeap) pop() heapItem {
	s := *h
	n := len(s) - 1
	s[0], s[n] = s[n], s[0]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	it := s[n]
	s[n] = heapItem{} // drop its references
	*h = s[:n]
	return it
}

// decodedSize approximates the memory a decoded change holds, within the
// prefetch bound.
func decodedSize(d envelope.Decoded) int64 {
	n := 256
	for _, v := range d.Change.Before {
		n += v.Size()
	}
	for _, v := range d.Change.After {
		n += v.Size()
	}
	return int64(min(n, prefetchBytes))
}
