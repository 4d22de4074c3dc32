package envelope

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// The row-batch format (kafka.envelope: rows): one record carries many
// changes of one table in one transaction, in a compact binary encoding,
// so that the per-record costs (Kafka's record and batch framing, the
// walship.* headers, a JSON envelope per row) are paid once per batch. It
// is walship's own: only walship's sinks, replay and verify read it (the
// Debezium JSON envelope stays the default, for other consumers).
//
// Headers: HeaderFormat (FormatRows), the transaction's shared headers
// (source, seq, depends_on, count, position, snapshot), HeaderSchema (the
// table's shape, as on JSON records), HeaderTxnID and HeaderCommitTime.
// Value: a uvarint number of changes, then per change a uvarint index in
// the transaction, the op byte (Debezium's letter), the before and the
// after image (ordering.AppendRow: a presence byte, a uvarint column
// count, each value as kind byte, uvarint number, uvarint length and
// text, uvarint element count and elements). The kind numbering is
// ordering.Kind's, which is therefore append-only. The changes of one
// record are in index order; an update that changes the primary key is
// one change (no delete and create halves).

// Headers of row-batch records.
const (
	HeaderFormat     = "walship.format"    // FormatRows; absent: the Debezium JSON envelope
	HeaderTxnID      = "walship.txn"       // the transaction's id, as transaction.id of the JSON envelope
	HeaderCommitTime = "walship.commit_us" // the commit time, microseconds since 1970 UTC
)

// FormatRows is the HeaderFormat value of a row batch, with its version.
const FormatRows = "rows/1"

// RowEvent is one change of a row batch and its index in its transaction.
type RowEvent struct {
	Index  int
	Change *ordering.Change
}

// IsRows reports whether r is a row batch.
func IsRows(r Record) bool {
	v, ok := r.Header(HeaderFormat)
	return ok && string(v) == FormatRows
}

// EncodeRows builds the row batch of evs, changes of table t in txn (of
// count changes), in index order.
func (e *Encoder) EncodeRows(txn *ordering.Txn, count int, t *ordering.Table, evs []RowEvent) (Record, error) {
	schema, err := e.schema(t)
	if err != nil {
		return Record{}, err
	}
	shared, err := e.shared(txn, count)
	if err != nil {
		return Record{}, err
	}
	b := binary.AppendUvarint(make([]byte, 0, 64*len(evs)), uint64(len(evs)))
	for _, ev := range evs {
		ch := ev.Change
		if ch.Table != t {
			return Record{}, fmt.Errorf("envelope: a row batch of %s holds a change of %s", t.QualifiedName(), ch.Table.QualifiedName())
		}
		if !ch.Op.Valid() {
			return Record{}, fmt.Errorf("envelope: invalid op %q", ch.Op)
		}
		if err := checkRow(t, ch.Before, "before"); err != nil {
			return Record{}, err
		}
		if err := checkRow(t, ch.After, "after"); err != nil {
			return Record{}, err
		}
		b = binary.AppendUvarint(b, uint64(ev.Index))
		b = append(b, byte(ch.Op))
		b = ordering.AppendRow(b, ch.Before)
		b = ordering.AppendRow(b, ch.After)
	}
	r := Record{Value: b, Headers: make([]Header, 0, len(shared)+4)}
	r.Headers = append(r.Headers, Header{HeaderFormat, []byte(FormatRows)})
	r.Headers = append(r.Headers, shared...)
	r.Headers = append(r.Headers,
		Header{HeaderSchema, schema},
		Header{HeaderTxnID, []byte(TxnID(txn))},
		Header{HeaderCommitTime, strconv.AppendInt(nil, txn.CommitTime.UnixMicro(), 10)})
	return r, nil
}

// DecodeRows decodes a row batch into its changes, each as Decode returns
// one change of the JSON envelope, appended to out.
func (dec *Decoder) DecodeRows(r Record, out []Decoded) ([]Decoded, error) {
	var d Decoded
	var src, seq, dep, pos, count, snapshot, schema, txnID, commit []byte
	have := false
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderSource:
			src, have = h.Value, true
		case HeaderEpoch:
			e, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil || e < 0 {
				return out, malformed("%s %q", HeaderEpoch, h.Value)
			}
			d.Epoch = e
		case HeaderSeq:
			seq = h.Value
		case HeaderDependsOn:
			dep = h.Value
		case HeaderCount:
			count = h.Value
		case HeaderPosition:
			pos = h.Value
		case HeaderSnapshot:
			snapshot = h.Value
		case HeaderSchema:
			schema = h.Value
		case HeaderTxnID:
			txnID = h.Value
		case HeaderCommitTime:
			commit = h.Value
		}
	}
	if !have {
		return out, malformed("no %s header", HeaderSource)
	}
	var err error
	d.Source, d.TxnID = string(src), string(txnID)
	if d.Seq, err = dec.seq.parse(seq, offsets.ParseSeq); err != nil {
		return out, malformed("%s: %v", HeaderSeq, err)
	}
	if dep != nil {
		if d.DependsOn, err = dec.dep.parse(dep, offsets.ParseSeq); err != nil {
			return out, malformed("%s: %v", HeaderDependsOn, err)
		}
	}
	if d.Count, err = atoi(count); err != nil {
		return out, malformed("%s %q", HeaderCount, count)
	}
	if d.Pos, err = dec.pos.parse(pos, offsets.ParsePosition); err != nil {
		return out, malformed("%s: %v", HeaderPosition, err)
	}
	us, err := strconv.ParseInt(string(commit), 10, 64)
	if err != nil {
		return out, malformed("%s %q", HeaderCommitTime, commit)
	}
	d.CommitTime = time.UnixMicro(us).UTC()
	switch string(snapshot) {
	case "last":
		d.Snapshot, d.LastSnapshot = true, true
	case "true":
		d.Snapshot = true
	}
	if schema == nil {
		return out, malformed("no %s header", HeaderSchema)
	}
	t, err := dec.table(schema)
	if err != nil {
		return out, malformed("%s: %v", HeaderSchema, err)
	}
	// One copy of the record: the values' text and the rows share it.
	rd := ordering.RowDecoder{S: string(r.Value)}
	n, err := rd.Uvarint()
	if err != nil || n > uint64(len(r.Value)) {
		return out, malformed("row batch of %s: its length", t.QualifiedName())
	}
	last := -1
	for range n {
		idx, err := rd.Uvarint()
		if err != nil || idx >= uint64(d.Count) || int(idx) <= last {
			return out, malformed("row batch of %s: index %d of %d after %d (%v)", t.QualifiedName(), idx, d.Count, last, err)
		}
		op, err := rd.Byte()
		if err != nil || !ordering.Op(op).Valid() {
			return out, malformed("row batch of %s: op %q (%v)", t.QualifiedName(), op, err)
		}
		e := d
		e.Index, last = int(idx), int(idx)
		e.Change = ordering.Change{Table: t, Op: ordering.Op(op)}
		if e.Change.Before, err = rd.Row(); err != nil {
			return out, malformed("row batch of %s: before image: %v", t.QualifiedName(), err)
		}
		if e.Change.After, err = rd.Row(); err != nil {
			return out, malformed("row batch of %s: after image: %v", t.QualifiedName(), err)
		}
		if err := checkRow(t, e.Change.Before, "before"); err != nil {
			return out, malformed("row batch: %v", err)
		}
		if err := checkRow(t, e.Change.After, "after"); err != nil {
			return out, malformed("row batch: %v", err)
		}
		out = append(out, e)
	}
	if rd.Off != len(rd.S) {
		return out, malformed("row batch of %s: %d bytes after its last change", t.QualifiedName(), len(rd.S)-rd.Off)
	}
	return out, nil
}
