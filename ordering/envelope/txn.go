package envelope

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// Marker is a record of the transaction topic (<prefix>.transaction):
// Debezium's BEGIN and END transaction metadata, plus what walship's sinks
// need to know when they hold a whole transaction.
type Marker struct {
	Status string // StatusBegin or StatusEnd
	// ID is TxnID of the transaction.
	ID string
	// Time is the commit time.
	Time time.Time
	// EventCount and Collections are set on END.
	EventCount  int
	Collections []Collection
	// Partitions (END only) counts the transaction's events in each data
	// topic-partition, so a sink knows when every event has arrived.
	Partitions []PartitionCount

	Source    string
	Seq       offsets.Seq
	DependsOn offsets.Seq
	Pos       offsets.Position
	// Snapshot and LastSnapshot mark snapshot chunks.
	Snapshot, LastSnapshot bool
	// Epoch is the cluster epoch of the writer (HeaderEpoch; 0: none).
	Epoch int64
}

// The marker statuses. HEARTBEAT is walship's own: the source had nothing
// more to send up to Pos (its Seq is the last transaction's), so a sink
// that applied that transaction has applied everything up to Pos.
const (
	StatusBegin     = "BEGIN"
	StatusEnd       = "END"
	StatusHeartbeat = "HEARTBEAT"
)

// Collection counts a transaction's events on one table ("schema.table").
type Collection struct {
	DataCollection string `json:"data_collection"`
	EventCount     int    `json:"event_count"`
}

// PartitionCount counts a transaction's events in one topic-partition.
type PartitionCount struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Count     int    `json:"count"`
}

// HeaderPartitions carries an END marker's []PartitionCount as text,
// "topic/partition=count" joined by commas (topic names have none of "/=,"),
// so Kafka Connect's default header converter reads it as a string. END
// markers of the first log format carry a JSON array; DecodeMarker reads
// both.
const HeaderPartitions = "walship.partitions"

func appendPartitions(b []byte, parts []PartitionCount) []byte {
	for i, p := range parts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p.Topic...)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(p.Partition), 10)
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(p.Count), 10)
	}
	return b
}

func parsePartitions(b []byte) ([]PartitionCount, error) {
	if len(b) > 0 && b[0] == '[' || string(b) == "null" { // the first log format
		var parts []PartitionCount
		err := json.Unmarshal(b, &parts)
		return parts, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	var parts []PartitionCount
	for _, item := range strings.Split(string(b), ",") {
		tp, count, ok := strings.Cut(item, "=")
		i := strings.LastIndexByte(tp, '/')
		if !ok || i <= 0 {
			return nil, fmt.Errorf("%q: want topic/partition=count", item)
		}
		part, err := strconv.Atoi(tp[i+1:])
		if err != nil {
			return nil, fmt.Errorf("%q: %v", item, err)
		}
		n, err := strconv.Atoi(count)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", item, err)
		}
		parts = append(parts, PartitionCount{Topic: tp[:i], Partition: part, Count: n})
	}
	return parts, nil
}

// NewMarker starts a marker for txn.
func NewMarker(status string, txn *ordering.Txn) Marker {
	return Marker{Status: status, ID: TxnID(txn), Time: txn.CommitTime, Source: txn.Source,
		Seq: txn.Seq, DependsOn: txn.DependsOn, Pos: txn.Pos, Snapshot: txn.Snapshot, LastSnapshot: txn.LastSnapshot}
}

// EncodeMarker builds the transaction-topic record for m.
func EncodeMarker(m Marker) (Record, error) {
	if m.Status != StatusBegin && m.Status != StatusEnd && m.Status != StatusHeartbeat {
		return Record{}, fmt.Errorf("envelope: marker status %q", m.Status)
	}
	var r Record
	r.Key = appendString([]byte(`{"id":`), m.ID)
	r.Key = append(r.Key, '}')
	b := append(make([]byte, 0, 256), `{"status":`...)
	b = appendString(b, m.Status)
	b = append(b, `,"id":`...)
	b = appendString(b, m.ID)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, m.Time.UnixMilli(), 10)
	if m.Status == StatusEnd {
		b = append(b, `,"event_count":`...)
		b = strconv.AppendInt(b, int64(m.EventCount), 10)
		b = append(b, `,"data_collections":[`...)
		for i, c := range m.Collections {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"data_collection":`...)
			b = appendString(b, c.DataCollection)
			b = append(b, `,"event_count":`...)
			b = strconv.AppendInt(b, int64(c.EventCount), 10)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	} else {
		b = append(b, `,"event_count":null,"data_collections":null}`...)
	}
	r.Value = b
	pos, err := m.Pos.MarshalText()
	if err != nil {
		return Record{}, fmt.Errorf("envelope: %w", err)
	}
	r.Headers = []Header{{HeaderSource, []byte(m.Source)}, {HeaderSeq, []byte(m.Seq.String())}}
	if !m.DependsOn.IsZero() {
		r.Headers = append(r.Headers, Header{HeaderDependsOn, []byte(m.DependsOn.String())})
	}
	r.Headers = append(r.Headers, Header{HeaderPosition, pos})
	switch {
	case m.LastSnapshot:
		r.Headers = append(r.Headers, Header{HeaderSnapshot, []byte("last")})
	case m.Snapshot:
		r.Headers = append(r.Headers, Header{HeaderSnapshot, []byte("true")})
	}
	if m.Status == StatusEnd {
		r.Headers = append(r.Headers, Header{HeaderPartitions, appendPartitions(nil, m.Partitions)})
	}
	return r, nil
}

// DecodeMarker parses a transaction-topic record written by EncodeMarker.
func DecodeMarker(r Record) (Marker, error) {
	var m Marker
	var wire struct {
		Status      string       `json:"status"`
		ID          string       `json:"id"`
		TsMs        int64        `json:"ts_ms"`
		EventCount  *int         `json:"event_count"`
		Collections []Collection `json:"data_collections"`
	}
	if err := json.Unmarshal(r.Value, &wire); err != nil {
		return m, malformed("transaction marker: %v", err)
	}
	if wire.Status != StatusBegin && wire.Status != StatusEnd && wire.Status != StatusHeartbeat {
		return m, malformed("transaction marker status %q", wire.Status)
	}
	m.Status, m.ID, m.Time, m.Collections = wire.Status, wire.ID, time.UnixMilli(wire.TsMs).UTC(), wire.Collections
	if wire.EventCount != nil {
		m.EventCount = *wire.EventCount
	}
	src, ok := r.Header(HeaderSource)
	if !ok {
		return m, malformed("transaction marker without %s", HeaderSource)
	}
	m.Source = string(src)
	var err error
	seq, _ := r.Header(HeaderSeq)
	if m.Seq, err = offsets.ParseSeq(string(seq)); err != nil {
		return m, malformed("transaction marker %s: %v", HeaderSeq, err)
	}
	if dep, ok := r.Header(HeaderDependsOn); ok {
		if m.DependsOn, err = offsets.ParseSeq(string(dep)); err != nil {
			return m, malformed("transaction marker %s: %v", HeaderDependsOn, err)
		}
	}
	pos, _ := r.Header(HeaderPosition)
	if m.Pos, err = offsets.ParsePosition(string(pos)); err != nil {
		return m, malformed("transaction marker %s: %v", HeaderPosition, err)
	}
	snap, _ := r.Header(HeaderSnapshot)
	m.Snapshot, m.LastSnapshot = len(snap) > 0, string(snap) == "last"
	if e, ok := r.Header(HeaderEpoch); ok {
		if m.Epoch, err = strconv.ParseInt(string(e), 10, 64); err != nil || m.Epoch < 0 {
			return m, malformed("transaction marker %s %q", HeaderEpoch, e)
		}
	}
	if m.Status == StatusEnd {
		parts, ok := r.Header(HeaderPartitions)
		if !ok {
			return m, malformed("END marker without %s", HeaderPartitions)
		}
		if m.Partitions, err = parsePartitions(parts); err != nil {
			return m, malformed("END marker %s: %v", HeaderPartitions, err)
		}
	}
	return m, nil
}
