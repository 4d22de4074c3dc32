package validate

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
)

// SlotCheck polls a PostgreSQL slot's confirmed_flush_lsn and the newest
// position the log holds in Kafka (the spine's last markers, read after
// the slot): the slot must never be confirmed past it.
type SlotCheck struct {
	Source   *sql.DB
	Slot     string
	Brokers  []string
	Prefix   string // the source's topic prefix
	V        *Violations
	Interval time.Duration // default 500ms
	polls    int
}

// Polls is how many polls compared both positions.
func (c *SlotCheck) Polls() int { return c.polls }

// Run polls until ctx ends.
func (c *SlotCheck) Run(ctx context.Context) {
	if c.Interval == 0 {
		c.Interval = 500 * time.Millisecond
	}
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var confirmed sql.NullString
		if err := c.Source.QueryRowContext(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", c.Slot).Scan(&confirmed); err != nil || !confirmed.Valid {
			continue
		}
		conf, err := offsets.ParseLSN(confirmed.String)
		if err != nil {
			continue
		}
		logged, ok, err := newestLogged(ctx, c.Brokers, kafka.TransactionTopic(c.Prefix))
		if err != nil || !ok {
			continue
		}
		c.polls++
		if uint64(conf) > logged {
			c.V.Add("positions: slot %s confirmed %s, past the newest position in Kafka %s", c.Slot, confirmed.String, offsets.LSN(logged))
		}
	}
}

// newestLogged is the greatest PostgreSQL position of the spine's last
// markers.
func newestLogged(ctx context.Context, brokers []string, topic string) (uint64, bool, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := kafkago.DialLeader(dctx, "tcp", brokers[0], topic, 0)
	if err != nil {
		return 0, false, err
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil || last == first {
		return 0, false, err
	}
	from := max(first, last-50)
	if _, err := conn.Seek(from, kafkago.SeekAbsolute); err != nil {
		return 0, false, err
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	batch := conn.ReadBatch(1, 16<<20)
	defer batch.Close()
	var best uint64
	found := false
	for off := from; off < last; off++ {
		m, err := batch.ReadMessage()
		if err != nil {
			break
		}
		mk, err := envelope.DecodeMarker(record(m))
		if err != nil || mk.Pos.Engine != offsets.EnginePostgres {
			continue
		}
		if mk.Status == envelope.StatusEnd || mk.Status == envelope.StatusHeartbeat {
			best, found = max(best, uint64(mk.Pos.LSN), uint64(mk.Pos.EndLSN)), true
		}
	}
	return best, found, nil
}

func record(m kafkago.Message) envelope.Record {
	r := envelope.Record{Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, envelope.Header{Key: h.Key, Value: h.Value})
	}
	return r
}

// LogStats summarizes CheckLog.
type LogStats struct {
	Txns, Events, Keys, Duplicates, Orphans int
}

// logEvent is one data event of the log, reduced to what the check needs.
type logEvent struct {
	seq     offsets.Seq
	index   int
	half    string
	table   string
	id      int64
	op      byte
	version int64
}

// CheckLog reads the log of a source (prefix; schema is the source schema:
// public, or the MariaDB database) as a sink does: transactions in the
// order of their END markers on the spine (a re-sent transaction counts
// once), each with its events wherever they sit in the data partitions.
// In that order every key's versions must go up by one per change: a jump
// is a gap, a step back a reorder. Events written twice (a re-sent run
// after a restart) are duplicates and allowed; events of transactions
// that never got an END (a torn write, re-sent later) are orphans and
// allowed too: no sink applies them.
func CheckLog(ctx context.Context, brokers []string, prefix, schema string, v *Violations) (LogStats, error) {
	var st LogStats
	order := map[offsets.Seq]int{}
	err := readPartition(ctx, brokers, kafka.TransactionTopic(prefix), 0, func(m kafkago.Message) error {
		mk, err := envelope.DecodeMarker(record(m))
		if err != nil {
			return err
		}
		if mk.Status != envelope.StatusEnd {
			return nil
		}
		if _, dup := order[mk.Seq]; !dup {
			order[mk.Seq] = len(order)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Txns = len(order)
	type eventID struct {
		seq   offsets.Seq
		index int
		half  string // a key change's delete and create share the index
	}
	seen := map[eventID]bool{}
	byKey := map[Key][]logEvent{}
	var dec envelope.Decoder
	for _, table := range Tables {
		topic := kafka.TopicName(prefix, schema, table)
		n, err := kafka.Partitions(ctx, brokers, kafka.Security{}, 10*time.Second, topic)
		if err != nil {
			return st, err
		}
		for part := 0; part < n; part++ {
			err := readPartition(ctx, brokers, topic, part, func(m kafkago.Message) error {
				if m.Value == nil {
					return nil // a tombstone after a delete
				}
				var evs []logEvent
				if rec := record(m); envelope.IsRows(rec) {
					if evs, err = decodeRowEvents(&dec, rec, table); err != nil {
						return fmt.Errorf("offset %d: %w", m.Offset, err)
					}
				} else {
					e, err := decodeLogEvent(m, table)
					if err != nil {
						return fmt.Errorf("offset %d: %w", m.Offset, err)
					}
					evs = []logEvent{e}
				}
				for _, e := range evs {
					if e.op == byte(ordering.OpPrune) {
						continue // an incremental snapshot's prune: no row of its own
					}
					st.Events++
					id := eventID{e.seq, e.index, e.half}
					if seen[id] {
						st.Duplicates++
						continue
					}
					seen[id] = true
					if _, ok := order[e.seq]; !ok {
						st.Orphans++
						continue
					}
					k := Key{table, e.id}
					byKey[k] = append(byKey[k], e)
				}
				return nil
			})
			if err != nil {
				return st, fmt.Errorf("%s/%d: %w", topic, part, err)
			}
		}
	}
	st.Keys = len(byKey)
	for k, evs := range byKey {
		sort.Slice(evs, func(i, j int) bool {
			oi, oj := order[evs[i].seq], order[evs[j].seq]
			if oi != oj {
				return oi < oj
			}
			return evs[i].index < evs[j].index
		})
		var newest int64
		deleted := false
		for i, e := range evs {
			switch {
			case deleted:
				v.Add("log order: %s %d has an event (op %c, transaction %s) after its delete", k.Table, k.ID, e.op, e.seq)
			case e.op == 'd':
				deleted = true
				continue
			case i == 0, e.op == 'r' && e.version >= newest:
			case e.version > newest+1:
				v.Add("log order: %s %d jumps from version %d to %d at transaction %s (a gap)", k.Table, k.ID, newest, e.version, e.seq)
			case e.version <= newest:
				v.Add("log order: %s %d goes from version %d to %d at transaction %s (a reorder)", k.Table, k.ID, newest, e.version, e.seq)
			}
			newest = max(newest, e.version)
		}
	}
	return st, nil
}

// readPartition calls f for every message of a partition, first to last.
func readPartition(ctx context.Context, brokers []string, topic string, part int, f func(kafkago.Message) error) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := kafkago.DialLeader(dctx, "tcp", brokers[0], topic, part)
	cancel()
	if err != nil {
		return err
	}
	first, last, err := conn.ReadOffsets()
	conn.Close()
	if err != nil || first == last {
		return err
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return err
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer rcancel()
	for off := first; off < last; {
		m, err := r.FetchMessage(rctx)
		if err != nil {
			return err
		}
		off = m.Offset + 1
		if err := f(m); err != nil {
			return err
		}
	}
	return nil
}

func decodeLogEvent(m kafkago.Message, table string) (logEvent, error) {
	e := logEvent{table: table}
	for _, h := range m.Headers {
		switch h.Key {
		case envelope.HeaderSeq:
			s, err := offsets.ParseSeq(string(h.Value))
			if err != nil {
				return e, err
			}
			e.seq = s
		case envelope.HeaderIndex:
			n, err := strconv.Atoi(string(h.Value))
			if err != nil {
				return e, err
			}
			e.index = n
		case envelope.HeaderKeyChange:
			e.half = string(h.Value)
		}
	}
	op, id, version, err := decodeEvent(m.Value)
	if err != nil {
		return e, err
	}
	e.op, e.id, e.version = op[0], id, version
	return e, nil
}

// decodeRowEvents reads the events of a row batch; an update that
// changed the key becomes the delete and create halves JSON records have.
func decodeRowEvents(dec *envelope.Decoder, rec envelope.Record, table string) ([]logEvent, error) {
	ds, err := dec.DecodeRows(rec, nil)
	if err != nil {
		return nil, err
	}
	var out []logEvent
	for _, d := range ds {
		if d.Change.Op == ordering.OpPrune {
			out = append(out, logEvent{seq: d.Seq, index: d.Index, table: table, op: byte(ordering.OpPrune)})
			continue
		}
		t := d.Change.Table
		col := func(row []ordering.Value, name string) (int64, bool) {
			i := t.ColumnIndex(name)
			if i < 0 || row == nil || i >= len(row) || row[i].Kind() != ordering.KindInt {
				return 0, false
			}
			return row[i].Int(), true
		}
		e := logEvent{seq: d.Seq, index: d.Index, table: table, op: byte(d.Change.Op)}
		switch d.Change.Op {
		case ordering.OpDelete:
			id, ok := col(d.Change.Before, "id")
			if !ok {
				return nil, fmt.Errorf("a delete without its id")
			}
			e.id = id
			out = append(out, e)
			continue
		}
		id, ok := col(d.Change.After, "id")
		if !ok {
			return nil, fmt.Errorf("op %c without its id", d.Change.Op)
		}
		if e.version, ok = col(d.Change.After, "version"); !ok {
			return nil, fmt.Errorf("op %c of id %d without its version", d.Change.Op, id)
		}
		e.id = id
		if old, ok := col(d.Change.Before, "id"); ok && old != id {
			out = append(out, logEvent{seq: d.Seq, index: d.Index, table: table, op: 'd', id: old, half: envelope.KeyChangeDelete})
			e.half, e.op = envelope.KeyChangeCreate, 'c'
		}
		out = append(out, e)
	}
	return out, nil
}

// decodeEvent reads op, id and version from a Debezium envelope value.
func decodeEvent(value []byte) (op string, id, version int64, err error) {
	var env struct {
		Payload json.RawMessage `json:"payload"`
		Op      string          `json:"op"`
		Before  map[string]any  `json:"before"`
		After   map[string]any  `json:"after"`
	}
	d := json.NewDecoder(bytes.NewReader(value))
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		return "", 0, 0, err
	}
	if len(env.Payload) > 0 && env.Op == "" {
		return decodeEvent(env.Payload)
	}
	if env.Op == string(ordering.OpPrune) {
		return env.Op, 0, 0, nil
	}
	row := env.After
	if env.Op == "d" {
		row = env.Before
	}
	num := func(k string) (int64, error) {
		n, ok := row[k].(json.Number)
		if !ok {
			return 0, fmt.Errorf("op %s: %s is %v", env.Op, k, row[k])
		}
		return n.Int64()
	}
	if id, err = num("id"); err != nil {
		return "", 0, 0, err
	}
	if env.Op != "d" {
		if version, err = num("version"); err != nil {
			return "", 0, 0, err
		}
	}
	return env.Op, id, version, nil
}

// Converge compares a follower with the source, table by table, in
// primary-key order; it returns one line per differing table.
func Converge(ctx context.Context, src *sql.DB, srcEngine string, f *Follower) ([]string, error) {
	var out []string
	for _, t := range Tables {
		want, err := readRows(ctx, src, compareQuery(t, t))
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", t, err)
		}
		got, err := readRows(ctx, f.DB, compareQuery(t, f.table(t)))
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", f.Name, t, err)
		}
		if missing, extra, differ := diffRows(want, got); missing+extra+differ > 0 {
			out = append(out, fmt.Sprintf("%s %s: %d missing, %d extra, %d different of %d source rows", f.Name, t, missing, extra, differ, len(want)))
		}
	}
	return out, nil
}

// readRows reads "id|col|col" lines keyed by id.
func readRows(ctx context.Context, db *sql.DB, q string) (map[string]string, error) {
	rs, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	out := map[string]string{}
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprintf("%v:%s", v.Valid, v.String)
		}
		out[vals[0].String] = strings.Join(parts, "|")
	}
	return out, rs.Err()
}

func diffRows(want, got map[string]string) (missing, extra, differ int) {
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing++
		case g != w:
			differ++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra++
		}
	}
	return
}

// CheckLedger checks that every committed transaction reached the
// follower: each key's final version in the ledger is the follower's (a
// deleted key is absent). Keys in skip are not checked. It returns the
// keys that differ.
func CheckLedger(ctx context.Context, l *Ledger, f *Follower, v *Violations, skip map[Key]bool) (map[Key]bool, error) {
	l.mu.Lock()
	final := make(map[Key]int64, len(l.final))
	for k, x := range l.final {
		final[k] = x
	}
	l.mu.Unlock()
	have := map[Key]int64{}
	for _, t := range Tables {
		rs, err := f.DB.QueryContext(ctx, "SELECT id, version FROM "+f.table(t))
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var id, ver int64
			if err := rs.Scan(&id, &ver); err != nil {
				rs.Close()
				return nil, err
			}
			have[Key{t, id}] = ver
		}
		rs.Close()
	}
	differ := map[Key]bool{}
	for k, want := range final {
		if skip[k] {
			continue
		}
		got, ok := have[k]
		if (want == Deleted) == ok || want != Deleted && got != want {
			differ[k] = true
		}
		switch {
		case want == Deleted && ok:
			v.Add("%s: lost acknowledgement: %s %d was deleted at the source and is on the follower (version %d)", f.Name, k.Table, k.ID, got)
		case want != Deleted && !ok:
			v.Add("%s: lost acknowledgement: %s %d version %d committed at the source, missing on the follower", f.Name, k.Table, k.ID, want)
		case want != Deleted && got != want:
			v.Add("%s: lost acknowledgement: %s %d is at version %d on the follower, %d at the source", f.Name, k.Table, k.ID, got, want)
		}
	}
	return differ, nil
}
