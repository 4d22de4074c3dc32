package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
)

// Decoded is a data record turned back into the change model.
type Decoded struct {
	Source       string
	TxnID        string
	Seq          offsets.Seq
	DependsOn    offsets.Seq
	Pos          offsets.Position
	Index, Count int
	CommitTime   time.Time
	Snapshot     bool
	LastSnapshot bool
	Change       ordering.Change
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ordering.ErrMalformed, fmt.Sprintf(format, args...))
}

type wireEvent struct {
	Before map[string]json.RawMessage `json:"before"`
	After  map[string]json.RawMessage `json:"after"`
	Op     string                     `json:"op"`
	Source struct {
		TsUs int64 `json:"ts_us"`
	} `json:"source"`
	Transaction struct {
		ID string `json:"id"`
	} `json:"transaction"`
}

// Decoder decodes records, interning table shapes: records of one shape
// share one *ordering.Table, as the source's did. Not safe for concurrent
// use.
type Decoder struct {
	tables map[string]*ordering.Table
}

// maxShapes bounds the interned shapes; past it the cache starts over.
const maxShapes = 10000

// Decode is the package-level Decode with shape interning.
func (d *Decoder) Decode(r Record) (Decoded, error) {
	return decode(r, d)
}

// table returns the interned table for a schema header.
func (d *Decoder) table(schema []byte) (*ordering.Table, error) {
	if d != nil {
		if t, ok := d.tables[string(schema)]; ok {
			return t, nil
		}
	}
	t := new(ordering.Table)
	if err := json.Unmarshal(schema, t); err != nil {
		return nil, err
	}
	if d != nil {
		if d.tables == nil || len(d.tables) >= maxShapes {
			d.tables = map[string]*ordering.Table{}
		}
		d.tables[string(schema)] = t
	}
	return t, nil
}

// Decode turns a data record written by Encode back into a Decoded. The
// schema header decides every value's kind, so the round trip is exact.
// Any record that does not decode is an error wrapping
// ordering.ErrMalformed; it is never skipped.
func Decode(r Record) (Decoded, error) { return decode(r, nil) }

func decode(r Record, dec *Decoder) (Decoded, error) {
	var d Decoded
	h := func(k string) (string, bool) {
		v, ok := r.Header(k)
		return string(v), ok
	}
	var ok bool
	var err error
	if d.Source, ok = h(HeaderSource); !ok {
		return d, malformed("no %s header", HeaderSource)
	}
	s, _ := h(HeaderSeq)
	if d.Seq, err = offsets.ParseSeq(s); err != nil {
		return d, malformed("%s: %v", HeaderSeq, err)
	}
	if s, ok := h(HeaderDependsOn); ok {
		if d.DependsOn, err = offsets.ParseSeq(s); err != nil {
			return d, malformed("%s: %v", HeaderDependsOn, err)
		}
	}
	s, _ = h(HeaderIndex)
	if d.Index, err = strconv.Atoi(s); err != nil {
		return d, malformed("%s %q", HeaderIndex, s)
	}
	s, _ = h(HeaderCount)
	if d.Count, err = strconv.Atoi(s); err != nil || d.Index >= d.Count {
		return d, malformed("%s %q for index %d", HeaderCount, s, d.Index)
	}
	s, _ = h(HeaderPosition)
	if d.Pos, err = offsets.ParsePosition(s); err != nil {
		return d, malformed("%s: %v", HeaderPosition, err)
	}
	switch s, _ := h(HeaderSnapshot); s {
	case "last":
		d.Snapshot, d.LastSnapshot = true, true
	case "true":
		d.Snapshot = true
	}
	schema, ok := r.Header(HeaderSchema)
	if !ok {
		return d, malformed("no %s header", HeaderSchema)
	}
	t, err := dec.table(schema)
	if err != nil {
		return d, malformed("%s: %v", HeaderSchema, err)
	}

	value := r.Value
	if bytes.HasPrefix(value, []byte(`{"schema":`)) {
		var wrapped struct{ Payload json.RawMessage }
		if err := json.Unmarshal(value, &wrapped); err != nil {
			return d, malformed("value: %v", err)
		}
		value = wrapped.Payload
	}
	var ev wireEvent
	if err := json.Unmarshal(value, &ev); err != nil {
		return d, malformed("value of %s: %v", t.QualifiedName(), err)
	}
	d.TxnID = ev.Transaction.ID
	d.CommitTime = time.UnixMicro(ev.Source.TsUs).UTC()
	d.Change = ordering.Change{Table: t, Op: ordering.Op(firstByte(ev.Op))}
	if !d.Change.Op.Valid() {
		return d, malformed("op %q", ev.Op)
	}
	unchangedAfter, _ := h(HeaderUnchanged)
	unchangedBefore, _ := h(HeaderUnchangedBefore)
	if d.Change.Before, err = decodeRow(t, ev.Before, unchangedBefore); err != nil {
		return d, malformed("before image of %s: %v", t.QualifiedName(), err)
	}
	if d.Change.After, err = decodeRow(t, ev.After, unchangedAfter); err != nil {
		return d, malformed("after image of %s: %v", t.QualifiedName(), err)
	}
	return d, nil
}

func firstByte(s string) byte {
	if len(s) != 1 {
		return 0
	}
	return s[0]
}

func decodeRow(t *ordering.Table, raw map[string]json.RawMessage, unchanged string) ([]ordering.Value, error) {
	if raw == nil {
		return nil, nil
	}
	if len(raw) != len(t.Columns) {
		return nil, fmt.Errorf("%d fields for %d columns", len(raw), len(t.Columns))
	}
	var skip map[string]bool
	if unchanged != "" {
		skip = map[string]bool{}
		for _, n := range strings.Split(unchanged, ",") {
			skip[n] = true
		}
	}
	row := make([]ordering.Value, len(t.Columns))
	for i, c := range t.Columns {
		msg, ok := raw[c.Name]
		if !ok {
			return nil, fmt.Errorf("column %s missing", c.Name)
		}
		if skip[c.Name] {
			row[i] = ordering.Unchanged()
			continue
		}
		v, err := decodeValue(msg, c.Kind, c.Elem)
		if err != nil {
			return nil, fmt.Errorf("column %s (%s): %v", c.Name, c.Kind, err)
		}
		row[i] = v
	}
	return row, nil
}

func decodeValue(msg json.RawMessage, k, elem ordering.Kind) (ordering.Value, error) {
	if string(msg) == "null" {
		return ordering.Null(), nil
	}
	str := func() (string, error) {
		var s string
		err := json.Unmarshal(msg, &s)
		return s, err
	}
	isString := len(msg) > 0 && msg[0] == '"'
	switch k {
	case ordering.KindBool:
		var b bool
		err := json.Unmarshal(msg, &b)
		return ordering.Bool(b), err
	case ordering.KindInt:
		i, err := strconv.ParseInt(string(msg), 10, 64)
		return ordering.Int(i), err
	case ordering.KindUint:
		u, err := strconv.ParseUint(string(msg), 10, 64)
		return ordering.Uint(u), err
	case ordering.KindFloat:
		if isString {
			s, err := str()
			switch s {
			case "NaN":
				return ordering.Float(math.NaN()), err
			case "Infinity":
				return ordering.Float(math.Inf(1)), err
			case "-Infinity":
				return ordering.Float(math.Inf(-1)), err
			}
			return ordering.Value{}, fmt.Errorf("float %s", msg)
		}
		f, err := strconv.ParseFloat(string(msg), 64)
		return ordering.Float(f), err
	case ordering.KindBytes:
		s, err := str()
		if err != nil {
			return ordering.Value{}, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		return ordering.Bytes(b), err
	case ordering.KindDate, ordering.KindTime, ordering.KindTimestamp:
		if isString {
			s, err := str()
			return ordering.Special(k, s), err
		}
		i, err := strconv.ParseInt(string(msg), 10, 64)
		switch k {
		case ordering.KindDate:
			return ordering.Date(i), err
		case ordering.KindTime:
			return ordering.Time(i), err
		}
		return ordering.Timestamp(i), err
	case ordering.KindTimestampTZ:
		s, err := str()
		if err != nil {
			return ordering.Value{}, err
		}
		ts, perr := parseZoned(s)
		if perr != nil {
			return ordering.Special(k, s), nil
		}
		return ordering.TimestampTZ(ts.UnixMicro()), nil
	case ordering.KindArray:
		var elems []json.RawMessage
		if err := json.Unmarshal(msg, &elems); err != nil {
			return ordering.Value{}, err
		}
		vals := make([]ordering.Value, len(elems))
		for i, e := range elems {
			ek := elem
			if len(e) > 0 && e[0] == '[' {
				ek = ordering.KindArray // a further dimension, same element kind
			}
			v, err := decodeValue(e, ek, elem)
			if err != nil {
				return ordering.Value{}, fmt.Errorf("element %d: %v", i, err)
			}
			vals[i] = v
		}
		return ordering.Array(vals...), nil
	}
	s, err := str()
	if err != nil {
		return ordering.Value{}, err
	}
	switch k {
	case ordering.KindDecimal:
		return ordering.Decimal(decimalIn(s)), nil
	case ordering.KindString:
		return ordering.String(s), nil
	case ordering.KindInterval:
		return ordering.Interval(s), nil
	case ordering.KindUUID:
		return ordering.UUID(s), nil
	case ordering.KindJSON:
		return ordering.JSON(s), nil
	case ordering.KindEnum:
		return ordering.Enum(s), nil
	case ordering.KindText:
		return ordering.Text(s), nil
	}
	return ordering.Value{}, fmt.Errorf("cannot decode kind %s", k)
}
