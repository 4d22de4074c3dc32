package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/offsets"
)

// Mirror keeps the sources' state (checkpoint, notes, sequence scheme) in
// the cluster's compacted state topic, so that the member that takes a
// source over resumes where the last owner's durable checkpoint was.
//
// Each owner of a source writes under an epoch one above every epoch the
// topic held for it when it took the source (Claim), keyed
// "<source>#<epoch>". A takeover imports the state of the highest epoch
// (its newest record): the writes of an earlier owner that still runs
// (paused, cut off) carry a lower epoch and are never read again. The
// local checkpoint store stays the one the source reads and writes; every
// write to it is copied to the topic before it returns, so a source
// acknowledges upstream only what the topic holds too.
type Mirror struct {
	cfg    Config
	store  *offsets.Store
	member string
	client *kafkago.Client

	mu     sync.Mutex
	epochs map[string]int64
}

// NewMirror mirrors store into cluster cfg's state topic.
func NewMirror(cfg Config, store *offsets.Store, member string) *Mirror {
	return &Mirror{cfg: cfg, store: store, member: member, epochs: map[string]int64{},
		client: &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: cfg.Transport, Timeout: 30 * time.Second}}
}

// stateRecord is a record's value.
type stateRecord struct {
	Epoch  int64               `json:"epoch"`
	Member string              `json:"member"`
	At     time.Time           `json:"at"`
	State  offsets.SourceState `json:"state"`
}

func stateKey(source string, epoch int64) string { return source + "#" + strconv.FormatInt(epoch, 10) }

func parseStateKey(k string) (string, int64, bool) {
	i := strings.LastIndexByte(k, '#')
	if i < 0 {
		return "", 0, false
	}
	e, err := strconv.ParseInt(k[i+1:], 10, 64)
	return k[:i], e, err == nil
}

// Epoch is the epoch this member holds source under (0: not claimed).
func (m *Mirror) Epoch(source string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epochs[source]
}

// Claim takes source over: it reads the state topic, imports the newest
// state of the highest epoch into the local store (a source the topic
// never held keeps the local state: a daemon that joins a cluster brings
// its checkpoints), and writes it back under a higher epoch, then drops
// the older epochs' records.
func (m *Mirror) Claim(ctx context.Context, source string) error {
	recs, err := m.read(ctx)
	if err != nil {
		return fmt.Errorf("source %s: take over its checkpoint: %w", source, err)
	}
	var top int64 = -1
	var newest *stateRecord
	var older []string
	for _, r := range recs {
		src, epoch, ok := parseStateKey(r.key)
		if !ok || src != source {
			continue
		}
		if epoch > top {
			top = epoch
		}
		older = append(older, r.key)
		if r.value == nil {
			continue
		}
		var v stateRecord
		if err := json.Unmarshal(r.value, &v); err != nil {
			return fmt.Errorf("source %s: the state topic's record %s at offset %d: %w: %v", source, r.key, r.offset, offsets.ErrMalformed, err)
		}
		if newest == nil || v.Epoch >= newest.Epoch {
			newest = &v
		}
	}
	if newest != nil {
		if err := m.store.Import(ctx, source, newest.State); err != nil {
			return fmt.Errorf("source %s: take over its checkpoint: %w", source, err)
		}
	}
	epoch := max(top+1, 1)
	m.mu.Lock()
	m.epochs[source] = epoch
	m.mu.Unlock()
	if err := m.publish(ctx, source); err != nil {
		return err
	}
	var tomb []kafkago.Record
	seen := map[string]bool{}
	for _, k := range older {
		if !seen[k] && k != stateKey(source, epoch) {
			seen[k] = true
			tomb = append(tomb, kafkago.Record{Key: kafkago.NewBytes([]byte(k))})
		}
	}
	if len(tomb) > 0 {
		if err := m.produce(ctx, tomb...); err != nil {
			return fmt.Errorf("source %s: drop its older checkpoints: %w", source, err)
		}
	}
	return nil
}

// publish copies the local state of source to the topic under its epoch.
func (m *Mirror) publish(ctx context.Context, source string) error {
	epoch := m.Epoch(source)
	if epoch == 0 {
		return fmt.Errorf("source %s: its checkpoint is written before this member took the source over", source)
	}
	st, err := m.store.Export(ctx, source)
	if err != nil {
		return err
	}
	b, err := json.Marshal(stateRecord{Epoch: epoch, Member: m.member, At: time.Now().UTC(), State: st})
	if err != nil {
		return err
	}
	if err := m.produce(ctx, kafkago.Record{Key: kafkago.NewBytes([]byte(stateKey(source, epoch))), Value: kafkago.NewBytes(b)}); err != nil {
		return fmt.Errorf("source %s: copy its checkpoint to %s: %w", source, StateTopic(m.cfg.Name), err)
	}
	return nil
}

func (m *Mirror) produce(ctx context.Context, recs ...kafkago.Record) error {
	return produceState(ctx, m.client, m.cfg, recs...)
}

// produceState writes recs to cluster cfg's state topic, acknowledged by
// every in-sync replica.
func produceState(ctx context.Context, client *kafkago.Client, cfg Config, recs ...kafkago.Record) error {
	resp, err := client.Produce(ctx, &kafkago.ProduceRequest{
		Topic: StateTopic(cfg.Name), Partition: 0, RequiredAcks: kafkago.RequireAll,
		Records: kafkago.NewRecordReader(recs...),
	})
	if err != nil {
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	for _, e := range resp.RecordErrors {
		return e
	}
	return nil
}

type rawRecord struct {
	key    string
	value  []byte // nil: a tombstone
	offset int64
}

// read returns every record of the state topic, in offset order.
func (m *Mirror) read(ctx context.Context) ([]rawRecord, error) {
	out, _, err := readState(ctx, m.cfg, -1)
	return out, err
}

// readState returns the records of cluster cfg's state topic from offset
// from (-1: its first) to its end, in offset order, and the offset after
// the last.
func readState(ctx context.Context, cfg Config, from int64) ([]rawRecord, int64, error) {
	conn, err := cfg.Dialer.DialLeader(ctx, "tcp", cfg.Brokers[0], StateTopic(cfg.Name), 0)
	if err != nil {
		return nil, from, err
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return nil, from, err
	}
	var out []rawRecord
	off := max(first, from)
	for off < last {
		if _, err := conn.Seek(off, kafkago.SeekAbsolute); err != nil {
			return nil, from, err
		}
		if dl, ok := ctx.Deadline(); ok {
			conn.SetReadDeadline(dl)
		} else {
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		}
		batch := conn.ReadBatch(1, 16<<20)
		n := 0
		for {
			msg, err := batch.ReadMessage()
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				batch.Close()
				return nil, from, err
			}
			n++
			out = append(out, rawRecord{key: string(msg.Key), value: msg.Value, offset: msg.Offset})
			off = msg.Offset + 1
		}
		if err := batch.Close(); err != nil && !errors.Is(err, io.EOF) {
			return nil, from, err
		}
		if n == 0 {
			return nil, from, fmt.Errorf("%s: no record between offsets %d and %d", StateTopic(cfg.Name), off, last)
		}
	}
	return out, max(off, last), nil
}

// Store is the checkpoint store of one source: the local store, whose
// writes are copied to the state topic under the source's epoch.
func (m *Mirror) Store(source string) *SourceStore {
	return &SourceStore{Store: m.store, m: m, source: source}
}

// SourceStore is an offsets.Store whose writes are mirrored.
type SourceStore struct {
	*offsets.Store
	m      *Mirror
	source string
}

// Epoch is the epoch this member owns the source under (0 before Claim):
// the source's log writes it on every record (kafka.Config.Epoch).
func (s *SourceStore) Epoch() int64 { return s.m.Epoch(s.source) }

// Save saves locally, then in the state topic.
func (s *SourceStore) Save(ctx context.Context, source string, cp offsets.Checkpoint) error {
	if err := s.Store.Save(ctx, source, cp); err != nil {
		return err
	}
	return s.m.publish(ctx, source)
}

// SaveNote saves locally, then in the state topic.
func (s *SourceStore) SaveNote(ctx context.Context, source, name string, value []byte) error {
	if err := s.Store.SaveNote(ctx, source, name, value); err != nil {
		return err
	}
	return s.m.publish(ctx, source)
}

// Delete deletes locally, then in the state topic.
func (s *SourceStore) Delete(ctx context.Context, source string) error {
	if err := s.Store.Delete(ctx, source); err != nil {
		return err
	}
	return s.m.publish(ctx, source)
}
