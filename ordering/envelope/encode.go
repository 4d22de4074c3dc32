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
	// Decimal is how decimals travel. Default: DecimalPrecise (Debezium's
	// default decimal.handling.mode).
	Decimal DecimalMode
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
	// Index is the 0-based position of the change in the transaction, and
	// Count the transaction's number of changes (walship's own
	// numbering). Order is the number of data records (Debezium's events:
	// tombstones are not events) the transaction's earlier changes made,
	// and CollectionIndex the number of those on the same table: they set
	// transaction.total_order and data_collection_order.
	Index, Count           int
	Order, CollectionIndex int
}

// Encode builds the records of one change, in the order they are written:
//   - one record for an insert, update, snapshot read or truncate;
//   - for a delete, the record and its tombstone (the key and a null
//     value, as Debezium's tombstones.on.delete=true sends it; none for a
//     table without a key);
//   - for an update that changes the primary key, as Debezium's PostgreSQL
//     and MySQL connectors send it: a delete of the old key (with the
//     __debezium.newkey header), its tombstone, and a create of the new key
//     (with __debezium.oldkey). Both data records carry HeaderKeyChange,
//     so walship's sinks apply them as the one update they were.
//
// Tombstones carry no headers; every other record carries the walship.*
// headers. A tombstone has a nil Value (see IsTombstone).
func (e *Encoder) Encode(ev Event) ([]Record, error) {
	ch := ev.Change
	t := ch.Table
	if !ch.Op.Valid() {
		return nil, fmt.Errorf("envelope: invalid op %q", ch.Op)
	}
	if err := checkRow(t, ch.Before, "before"); err != nil {
		return nil, err
	}
	if err := checkRow(t, ch.After, "after"); err != nil {
		return nil, err
	}
	if keyChanged(t, ch) {
		del := ordering.Change{Table: t, Op: ordering.OpDelete, Before: ch.Before}
		cre := ordering.Change{Table: t, Op: ordering.OpInsert, After: ch.After}
		d, err := e.record(ev, &del, 0, e.key(t, ch.Before))
		if err != nil {
			return nil, err
		}
		c, err := e.record(ev, &cre, 1, e.key(t, ch.After))
		if err != nil {
			return nil, err
		}
		d.Headers = append(d.Headers, Header{HeaderKeyChange, []byte("delete")}, Header{HeaderDebeziumNewKey, structText(t, ch.After)})
		c.Headers = append(c.Headers, Header{HeaderKeyChange, []byte("create")}, Header{HeaderDebeziumOldKey, structText(t, ch.Before)})
		return []Record{d, {Key: d.Key}, c}, nil
	}
	r, err := e.record(ev, ch, 0, e.key(t, keyRow(ch)))
	if err != nil {
		return nil, err
	}
	if ch.Op == ordering.OpDelete && r.Key != nil {
		return []Record{r, {Key: r.Key}}, nil
	}
	return []Record{r}, nil
}

// IsTombstone reports whether r is a tombstone: a key and a null value,
// which walship's sinks skip.
func IsTombstone(r Record) bool { return r.Value == nil }

// keyChanged reports an update whose before image has a primary key value
// other than the after image's.
func keyChanged(t *ordering.Table, ch *ordering.Change) bool {
	if ch.Op != ordering.OpUpdate || ch.Before == nil || ch.After == nil || len(t.PrimaryKey) == 0 {
		return false
	}
	for _, k := range t.PrimaryKey {
		i := t.ColumnIndex(k)
		if b := ch.Before[i]; !b.IsUnchanged() && !b.Equal(ch.After[i]) {
			return true
		}
	}
	return false
}

// beforeIsKey reports an update whose before image is the key columns
// alone, equal to the after image's (every other column not sent).
func beforeIsKey(t *ordering.Table, ch *ordering.Change) bool {
	if ch.Op != ordering.OpUpdate || ch.Before == nil || ch.After == nil || len(t.PrimaryKey) == 0 {
		return false
	}
	for i, v := range ch.Before {
		if isKey(t, t.Columns[i].Name) {
			if v.IsUnchanged() || !v.Equal(ch.After[i]) {
				return false
			}
		} else if !v.IsUnchanged() {
			return false
		}
	}
	return true
}

// record builds the data record of ch; n is its place among the records
// of the event (the create of a key change is 1).
func (e *Encoder) record(ev Event, ch *ordering.Change, n int, key []byte) (Record, error) {
	txn, t := ev.Txn, ch.Table
	r := Record{Key: key}
	var exact []Header
	b := make([]byte, 0, e.sizeHint.Load()+64)
	if e.opts.Schemas {
		b = append(b, `{"schema":`...)
		b = appendEnvelopeSchema(b, e.src, t, e.opts.Decimal)
		b = append(b, `,"payload":`...)
	}
	before := ch.Before
	beforeKey := beforeIsKey(t, ch)
	if beforeKey {
		before = nil
	}
	b = append(b, `{"before":`...)
	b = e.appendImage(b, t, before, HeaderExactBefore, &exact)
	b = append(b, `,"after":`...)
	b = e.appendImage(b, t, ch.After, HeaderExactAfter, &exact)
	b = append(b, `,"source":`...)
	b = e.appendSource(b, txn, t)
	b = append(b, `,"op":`...)
	b = appendString(b, ch.Op.String())
	b = appendTimes(b, e.opts.Now())
	b = append(b, `,"transaction":{"id":`...)
	b = appendString(b, TxnID(txn))
	b = append(b, `,"total_order":`...)
	b = strconv.AppendInt(b, int64(ev.Order+n+1), 10)
	b = append(b, `,"data_collection_order":`...)
	b = strconv.AppendInt(b, int64(ev.CollectionIndex+n+1), 10)
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
	r.Headers = make([]Header, 0, len(shared)+6+len(exact))
	r.Headers = append(r.Headers, shared...)
	r.Headers = append(r.Headers,
		Header{HeaderIndex, strconv.AppendInt(nil, int64(ev.Index), 10)},
		Header{HeaderSchema, schema},
	)
	if u := unchangedColumns(t, ch.After); u != "" {
		r.Headers = append(r.Headers, Header{HeaderUnchanged, []byte(u)})
	}
	if beforeKey {
		r.Headers = append(r.Headers, Header{HeaderBeforeKey, []byte("key")})
	} else if u := unchangedColumns(t, ch.Before); u != "" {
		r.Headers = append(r.Headers, Header{HeaderUnchangedBefore, []byte(u)})
	}
	r.Headers = append(r.Headers, exact...)
	return r, nil
}

// appendImage appends a row image (null for none). In a before image a
// value the source did not send is null, as Debezium writes it; in an
// after image it is Debezium's placeholder where the field's type can hold
// it (see unavailable). Decimals follow the DecimalMode; one the value does
// not hold exactly adds a header named prefix + column to exact.
func (e *Encoder) appendImage(b []byte, t *ordering.Table, row []ordering.Value, prefix string, exact *[]Header) []byte {
	if row == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, c := range t.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, c.Name)
		b = append(b, ':')
		v := row[i]
		switch {
		case v.IsUnchanged() && prefix == HeaderExactBefore:
			b = append(b, "null"...)
		case v.IsUnchanged():
			b = appendUnavailable(b, c)
		case v.Kind() == ordering.KindDecimal && c.Kind == ordering.KindDecimal:
			var ok bool
			if b, ok = appendDecimal(b, c, v.Text(), e.opts.Decimal); !ok {
				*exact = append(*exact, Header{prefix + c.Name, []byte(v.Text())})
			}
		default:
			b = appendValue(b, v)
		}
	}
	return append(b, '}')
}

// appendUnavailable appends Debezium's placeholder for an unchanged
// (TOASTed) value of column c: the text for character-like fields, its
// bytes for binary ones, a one-element list for arrays of text, and null
// for every other type, which cannot hold it. walship's sinks read the
// HeaderUnchanged header, not the value.
func appendUnavailable(b []byte, c ordering.Column) []byte {
	switch c.Kind {
	case ordering.KindString, ordering.KindText, ordering.KindJSON, ordering.KindEnum, ordering.KindUUID, ordering.KindInterval:
		return appendString(b, Unavailable)
	case ordering.KindBytes:
		return appendValue(b, ordering.Bytes([]byte(Unavailable)))
	case ordering.KindArray:
		switch c.Elem {
		case ordering.KindString, ordering.KindText, ordering.KindJSON, ordering.KindEnum, ordering.KindUUID, ordering.KindInterval, ordering.KindDecimal:
			b = append(b, '[')
			b = appendString(b, Unavailable)
			return append(b, ']')
		}
	}
	return append(b, "null"...)
}

// structText is Kafka Connect's Struct text of row's key ("Struct{id=20}").
func structText(t *ordering.Table, row []ordering.Value) []byte {
	b := []byte("Struct{")
	for i, k := range t.PrimaryKey {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, k...)
		b = append(b, '=')
		v := row[t.ColumnIndex(k)]
		switch v.Kind() {
		case ordering.KindInt:
			b = strconv.AppendInt(b, v.Int(), 10)
		case ordering.KindUint:
			b = strconv.AppendUint(b, v.Uint(), 10)
		case ordering.KindString, ordering.KindText, ordering.KindDecimal, ordering.KindUUID, ordering.KindEnum:
			b = append(b, v.Text()...)
		default:
			b = append(b, v.String()...)
		}
	}
	return append(b, '}')
}

// schema is the walship.schema header of t, encoded once per shape.
func (e *Encoder) schema(t *ordering.Table) ([]byte, error) {
	if b, ok := e.schemas.Load(t); ok {
		return b.([]byte), nil
	}
	j, err := json.Marshal(tableJSON(t))
	if err != nil {
		return nil, fmt.Errorf("envelope: encode schema of %s: %w", t.QualifiedName(), err)
	}
	b := append([]byte(SchemaPrefix), j...)
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
	if e.opts.Decimal != DecimalString {
		hs = append(hs, Header{HeaderDecimal, []byte(e.opts.Decimal.String())})
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

// keyRow is the image the key of ch comes from: the after image, or the
// before image for deletes; nil for truncates.
func keyRow(ch *ordering.Change) []ordering.Value {
	if ch.Op == ordering.OpTruncate || ch.Op == ordering.OpPrune {
		return nil
	}
	if ch.After != nil {
		return ch.After
	}
	return ch.Before
}

// key is the JSON object of the primary key columns of row. Tables without
// a key, and a nil row, have a null key.
func (e *Encoder) key(t *ordering.Table, row []ordering.Value) []byte {
	if len(t.PrimaryKey) == 0 || row == nil {
		return nil
	}
	b := make([]byte, 0, 64)
	if e.opts.Schemas {
		b = append(b, `{"schema":`...)
		b = appendKeySchema(b, e.src, t, e.opts.Decimal)
		b = append(b, `,"payload":`...)
	}
	b = append(b, '{')
	for i, name := range t.PrimaryKey {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, ':')
		c := t.Columns[t.ColumnIndex(name)]
		v := row[t.ColumnIndex(name)]
		if v.Kind() == ordering.KindDecimal && c.Kind == ordering.KindDecimal {
			b, _ = appendDecimal(b, c, v.Text(), e.opts.Decimal)
		} else {
			b = appendValue(b, v)
		}
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
