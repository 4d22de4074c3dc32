package envelope

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// Source describes the source of the events an Encoder writes; it fills
// Debezium's source block.
type Source struct {
	// Name is the configured source name (the walship.source header).
	Name string
	// Connector is Debezium's connector name: "postgresql", "mysql" or
	// "mariadb".
	Connector string
	// Logical is Debezium's logical server name (source.name): the topic
	// prefix.
	Logical string
	// Database is the PostgreSQL database; for MySQL the table's schema
	// is used.
	Database string
	// ServerID is the MySQL/MariaDB server_id of the source server.
	ServerID uint32
}

// Options select the value format.
type Options struct {
	// Schemas wraps key and value in Kafka Connect's {"schema","payload"}
	// form. Default: false.
	Schemas bool
	// Version is source.version. Default: "walship".
	Version string
	// Now is the clock for ts_ms (processing time). Default: time.Now.
	Now func() time.Time
}

// Encoder turns changes of one source into records. It is safe for
// concurrent use.
type Encoder struct {
	src  Source
	opts Options
	// schemas caches the walship.schema header per table shape (shapes are
	// immutable); txnHdrs the headers shared by one transaction's records.
	schemas sync.Map // *ordering.Table -> []byte
	txnHdrs atomic.Pointer[txnHeaders]
	// sizeHint is the largest value encoded so far (capped), the starting
	// capacity of the next one.
	sizeHint atomic.Int64
}

type txnHeaders struct {
	txn     *ordering.Txn
	count   int
	headers []Header // source, seq, [depends_on], count, position, [snapshot]
}

// NewEncoder returns an Encoder for src.
func NewEncoder(src Source, opts Options) *Encoder {
	if opts.Version == "" {
		opts.Version = "walship"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Encoder{src: src, opts: opts}
}

// Event places one change in its transaction.
type Event struct {
	Txn    *ordering.Txn
	Change *ordering.Change
	// Index is the 0-based position of the change in the transaction;
	// CollectionIndex its 0-based position among the transaction's changes
	// to the same table; Count the transaction's number of changes.
	Index, CollectionIndex, Count int
}

// Encode builds the record for one change.
func (e *Encoder) Encode(ev Event) (Record, error) {
	ch, txn := ev.Change, ev.Txn
	t := ch.Table
	if !ch.Op.Valid() {
		return Record{}, fmt.Errorf("envelope: invalid op %q", ch.Op)
	}
	if err := checkRow(t, ch.Before, "before"); err != nil {
		return Record{}, err
	}
	if err := checkRow(t, ch.After, "after"); err != nil {
		return Record{}, err
	}

	var r Record
	r.Key = e.key(t, ch)

	b := make([]byte, 0, e.sizeHint.Load()+64)
	if e.opts.Schemas {
		b = append(b, `{"schema":`...)
		b = appendEnvelopeSchema(b, e.src, t)
		b = append(b, `,"payload":`...)
	}
	b = append(b, `{"before":`...)
	b = appendRow(b, t, ch.Before)
	b = append(b, `,"after":`...)
	b = appendRow(b, t, ch.After)
	b = append(b, `,"source":`...)
	b = e.appendSource(b, txn, t)
	b = append(b, `,"op":`...)
	b = appendString(b, ch.Op.String())
	b = appendTimes(b, e.opts.Now())
	b = append(b, `,"transaction":{"id":`...)
	b = appendString(b, TxnID(txn))
	b = append(b, `,"total_order":`...)
	b = strconv.AppendInt(b, int64(ev.Index+1), 10)
	b = append(b, `,"data_collection_order":`...)
	b = strconv.AppendInt(b, int64(ev.CollectionIndex+1), 10)
	b = append(b, "}}"...)
	if e.opts.Schemas {
		b = append(b, '}')
	}
	r.Value = b
	if n := int64(len(b)); n > e.sizeHint.Load() {
		e.sizeHint.Store(min(n, 1<<20)) // start the next buffer big enough
	}

	schema, err := e.schema(t)
	if err != nil {
		return Record{}, err
	}
	shared, err := e.shared(txn, ev.Count)
	if err != nil {
		return Record{}, err
	}
	r.Headers = make([]Header, 0, len(shared)+4)
	r.Headers = append(r.Headers, shared...)
	r.Headers = append(r.Headers,
		Header{HeaderIndex, strconv.AppendInt(nil, int64(ev.Index), 10)},
		Header{HeaderSchema, schema},
	)
	if u := unchangedColumns(t, ch.After); u != "" {
		r.Headers = append(r.Headers, Header{HeaderUnchanged, []byte(u)})
	}
	if u := unchangedColumns(t, ch.Before); u != "" {
		r.Headers = append(r.Headers, Header{HeaderUnchangedBefore, []byte(u)})
	}
	return r, nil
}

// schema is the walship.schema header of t, encoded once per shape.
func (e *Encoder) schema(t *ordering.Table) ([]byte, error) {
	if b, ok := e.schemas.Load(t); ok {
		return b.([]byte), nil
	}
	b, err := json.Marshal(tableJSON(t))
	if err != nil {
		return nil, fmt.Errorf("envelope: encode schema of %s: %w", t.QualifiedName(), err)
	}
	e.schemas.Store(t, b)
	return b, nil
}

// shared returns the headers every record of txn carries, built once per
// transaction.
func (e *Encoder) shared(txn *ordering.Txn, count int) ([]Header, error) {
	if h := e.txnHdrs.Load(); h != nil && h.txn == txn && h.count == count {
		return h.headers, nil
	}
	pos, err := txn.Pos.MarshalText()
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	hs := []Header{{HeaderSource, []byte(txn.Source)}, {HeaderSeq, []byte(txn.Seq.String())}}
	if !txn.DependsOn.IsZero() {
		hs = append(hs, Header{HeaderDependsOn, []byte(txn.DependsOn.String())})
	}
	hs = append(hs, Header{HeaderCount, []byte(strconv.Itoa(count))}, Header{HeaderPosition, pos})
	if s := snapshotMark(txn); s != "false" {
		hs = append(hs, Header{HeaderSnapshot, []byte(s)})
	}
	e.txnHdrs.Store(&txnHeaders{txn: txn, count: count, headers: hs})
	return hs, nil
}

func checkRow(t *ordering.Table, row []ordering.Value, which string) error {
	if row != nil && len(row) != len(t.Columns) {
		return fmt.Errorf("envelope: %s image of %s has %d values for %d columns", which, t.QualifiedName(), len(row), len(t.Columns))
	}
	return nil
}

func unchangedColumns(t *ordering.Table, row []ordering.Value) string {
	var names []string
	for i, v := range row {
		if v.IsUnchanged() {
			names = append(names, t.Columns[i].Name)
		}
	}
	return strings.Join(names, ",")
}

// key is the JSON object of the primary key columns, from the after image,
// or the before image for deletes. Tables without a key have a null key.
func (e *Encoder) key(t *ordering.Table, ch *ordering.Change) []byte {
	if len(t.PrimaryKey) == 0 || ch.Op == ordering.OpTruncate {
		return nil
	}
	row := ch.After
	if row == nil {
		row = ch.Before
	}
	if row == nil {
		return nil
	}
	b := make([]byte, 0, 64)
	if e.opts.Schemas {
		b = append(b, `{"schema":`...)
		b = appendKeySchema(b, e.src, t)
		b = append(b, `,"payload":`...)
	}
	b = append(b, '{')
	for i, name := range t.PrimaryKey {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, ':')
		b = appendValue(b, row[t.ColumnIndex(name)])
	}
	b = append(b, '}')
	if e.opts.Schemas {
		b = append(b, '}')
	}
	return b
}

func snapshotMark(txn *ordering.Txn) string {
	switch {
	case txn.LastSnapshot:
		return "last"
	case txn.Snapshot:
		return "true"
	}
	return "false"
}

// TxnID is Debezium's transaction id: "xid:lsn" for PostgreSQL, the GTID
// for MySQL and MariaDB (file:pos when there is none), and for snapshot
// chunks "snapshot:" and the Seq.
func TxnID(txn *ordering.Txn) string {
	if txn.Snapshot {
		return "snapshot:" + txn.Seq.String()
	}
	switch txn.Pos.Engine {
	case offsets.EnginePostgres:
		return txn.ID + ":" + strconv.FormatUint(uint64(txn.Pos.LSN), 10)
	default:
		if txn.ID != "" {
			return txn.ID
		}
		return txn.Pos.Binlog.String()
	}
}

func (e *Encoder) appendSource(b []byte, txn *ordering.Txn, t *ordering.Table) []byte {
	b = append(b, `{"version":`...)
	b = appendString(b, e.opts.Version)
	b = append(b, `,"connector":`...)
	b = appendString(b, e.src.Connector)
	b = append(b, `,"name":`...)
	b = appendString(b, e.src.Logical)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, txn.CommitTime.UnixMilli(), 10)
	b = append(b, `,"snapshot":`...)
	b = appendString(b, snapshotMark(txn))
	b = append(b, `,"db":`...)
	if txn.Pos.Engine == offsets.EnginePostgres {
		b = appendString(b, e.src.Database)
		b = append(b, `,"sequence":`...)
		b = appendString(b, `[null,"`+strconv.FormatUint(uint64(txn.Pos.LSN), 10)+`"]`)
		b = appendSourceTimes(b, txn.CommitTime)
		b = append(b, `,"schema":`...)
		b = appendString(b, t.Schema)
		b = append(b, `,"table":`...)
		b = appendString(b, t.Name)
		b = append(b, `,"txId":`...)
		if _, err := strconv.ParseUint(txn.ID, 10, 64); err == nil {
			b = append(b, txn.ID...)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"lsn":`...)
		b = strconv.AppendUint(b, uint64(txn.Pos.LSN), 10)
		b = append(b, `,"xmin":null}`...)
		return b
	}
	b = appendString(b, t.Schema)
	b = append(b, `,"sequence":null`...)
	b = appendSourceTimes(b, txn.CommitTime)
	b = append(b, `,"table":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"server_id":`...)
	b = strconv.AppendUint(b, uint64(e.src.ServerID), 10)
	b = append(b, `,"gtid":`...)
	if txn.ID != "" && !txn.Snapshot {
		b = appendString(b, txn.ID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"file":`...)
	b = appendString(b, txn.Pos.Binlog.File)
	b = append(b, `,"pos":`...)
	b = strconv.AppendUint(b, txn.Pos.Binlog.Pos, 10)
	b = append(b, `,"row":0,"thread":null,"query":null}`...)
	return b
}

// appendTimes appends the envelope's processing times ts_ms, ts_us, ts_ns.
func appendTimes(b []byte, t time.Time) []byte {
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, t.UnixMilli(), 10)
	b = append(b, `,"ts_us":`...)
	b = strconv.AppendInt(b, t.UnixMicro(), 10)
	b = append(b, `,"ts_ns":`...)
	return strconv.AppendInt(b, t.UnixNano(), 10)
}

// appendSourceTimes appends source.ts_us and source.ts_ns (ts_ms comes
// earlier, in Debezium's field order).
func appendSourceTimes(b []byte, t time.Time) []byte {
	b = append(b, `,"ts_us":`...)
	b = strconv.AppendInt(b, t.UnixMicro(), 10)
	b = append(b, `,"ts_ns":`...)
	return strconv.AppendInt(b, t.UnixNano(), 10)
}
