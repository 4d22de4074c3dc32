package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

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
	// Epoch is the cluster epoch of the writer (HeaderEpoch; 0: none).
	Epoch  int64
	Change ordering.Change
	// KeyChange is "delete" or "create" on the halves of an update that
	// changed the primary key (HeaderKeyChange): Change is then that half's
	// delete or insert, and MergeKeyChange joins the two into the update.
	KeyChange string
}

// The values of HeaderKeyChange.
const (
	KeyChangeDelete = "delete"
	KeyChangeCreate = "create"
)

// MergeKeyChange joins the two halves of a primary-key change (the delete
// and then the create, same transaction and index) into the update the
// source made.
func MergeKeyChange(del, cre Decoded) (Decoded, error) {
	if del.KeyChange != KeyChangeDelete || cre.KeyChange != KeyChangeCreate || del.Seq != cre.Seq || del.Index != cre.Index ||
		del.Change.Table.QualifiedName() != cre.Change.Table.QualifiedName() {
		return Decoded{}, malformed("key change halves do not match: %s %s/%d and %s %s/%d",
			del.KeyChange, del.Seq, del.Index, cre.KeyChange, cre.Seq, cre.Index)
	}
	out := cre
	out.KeyChange = ""
	out.Change = ordering.Change{Table: cre.Change.Table, Op: ordering.OpUpdate, Before: del.Change.Before, After: cre.Change.After}
	return out, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ordering.ErrMalformed, fmt.Sprintf(format, args...))
}

// Decoder decodes records, interning table shapes: records of one shape
// share one *ordering.Table, as the source's did (Decoders that share
// Shapes share them too). It reuses its parser's memory between records.
// Not safe for concurrent use.
type Decoder struct {
	// Shapes, if set, is the shape cache; unset, the Decoder keeps its own.
	Shapes *Shapes
	parser fastjson.Parser
	// The headers every record of one transaction shares, parsed once.
	seq, dep parsed[offsets.Seq]
	pos      parsed[offsets.Position]
}

// parsed keeps the last header value parsed and what it parsed to.
type parsed[T any] struct {
	text string
	v    T
}

func (c *parsed[T]) parse(b []byte, parse func(string) (T, error)) (T, error) {
	if c.text != "" && string(b) == c.text {
		return c.v, nil
	}
	v, err := parse(string(b))
	if err != nil {
		c.text = ""
		return v, err
	}
	c.text, c.v = string(b), v
	return v, nil
}

// maxShapes bounds the interned shapes; past it the cache starts over.
const maxShapes = 10000

// Shapes interns table shapes by their schema header. It is safe for
// concurrent use.
type Shapes struct {
	mu     sync.RWMutex
	tables map[string]*ordering.Table
}

// table returns the interned table for a schema header.
func (d *Decoder) table(schema []byte) (*ordering.Table, error) {
	if d.Shapes == nil {
		d.Shapes = new(Shapes)
	}
	sh := d.Shapes
	sh.mu.RLock()
	t, ok := sh.tables[string(schema)]
	sh.mu.RUnlock()
	if ok {
		return t, nil
	}
	j := schema
	switch {
	case bytes.HasPrefix(schema, []byte(SchemaPrefix)):
		j = schema[len(SchemaPrefix):]
	case len(schema) > 0 && schema[0] == '{': // the first log format
	default:
		return nil, fmt.Errorf("unknown format %.20q (written by a newer walship?)", schema)
	}
	t = new(ordering.Table)
	if err := json.Unmarshal(j, t); err != nil {
		return nil, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if prev, ok := sh.tables[string(schema)]; ok {
		return prev, nil
	}
	if sh.tables == nil || len(sh.tables) >= maxShapes {
		sh.tables = map[string]*ordering.Table{}
	}
	sh.tables[string(schema)] = t
	return t, nil
}

// Decode turns a data record written by Encode back into a Decoded. The
// schema header decides every value's kind, so the round trip is exact.
// Any record that does not decode is an error wrapping
// ordering.ErrMalformed; it is never skipped.
func Decode(r Record) (Decoded, error) { return new(Decoder).Decode(r) }

// Decode decodes one record; see the package-level Decode.
func (dec *Decoder) Decode(r Record) (Decoded, error) {
	var d Decoded
	var ok bool
	var err error
	if IsTombstone(r) {
		return d, malformed("a tombstone (null value) is no change: skip it (IsTombstone)")
	}
	var src, seq, dep, pos, index, count, snapshot, unchangedAfter, unchangedBefore, schema, keyChange, beforeKey, decimal []byte
	var exact map[string]string // "after."/"before." + column -> text
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderKeyChange:
			keyChange = h.Value
		case HeaderBeforeKey:
			beforeKey = h.Value
		case HeaderDecimal:
			decimal = h.Value
		default:
			if rest, ok := strings.CutPrefix(h.Key, "walship.exact."); ok {
				if exact == nil {
					exact = map[string]string{}
				}
				exact[rest] = string(h.Value)
			}
		case HeaderSource:
			src, ok = h.Value, true
		case HeaderEpoch:
			if d.Epoch, err = strconv.ParseInt(string(h.Value), 10, 64); err != nil || d.Epoch < 0 {
				return d, malformed("%s %q", HeaderEpoch, h.Value)
			}
		case HeaderSeq:
			seq = h.Value
		case HeaderDependsOn:
			dep = h.Value
		case HeaderIndex:
			index = h.Value
		case HeaderCount:
			count = h.Value
		case HeaderPosition:
			pos = h.Value
		case HeaderSnapshot:
			snapshot = h.Value
		case HeaderSchema:
			schema = h.Value
		case HeaderUnchanged:
			unchangedAfter = h.Value
		case HeaderUnchangedBefore:
			unchangedBefore = h.Value
		}
	}
	if !ok {
		return d, malformed("no %s header", HeaderSource)
	}
	d.Source = string(src)
	if d.Seq, err = dec.seq.parse(seq, offsets.ParseSeq); err != nil {
		return d, malformed("%s: %v", HeaderSeq, err)
	}
	if dep != nil {
		if d.DependsOn, err = dec.dep.parse(dep, offsets.ParseSeq); err != nil {
			return d, malformed("%s: %v", HeaderDependsOn, err)
		}
	}
	if d.Index, err = atoi(index); err != nil {
		return d, malformed("%s %q", HeaderIndex, index)
	}
	if d.Count, err = atoi(count); err != nil || d.Index >= d.Count {
		return d, malformed("%s %q for index %d", HeaderCount, count, d.Index)
	}
	if d.Pos, err = dec.pos.parse(pos, offsets.ParsePosition); err != nil {
		return d, malformed("%s: %v", HeaderPosition, err)
	}
	switch string(snapshot) {
	case "last":
		d.Snapshot, d.LastSnapshot = true, true
	case "true":
		d.Snapshot = true
	}
	if schema == nil {
		return d, malformed("no %s header", HeaderSchema)
	}
	var mode DecimalMode
	switch string(decimal) {
	case "": // absent: the first log format's
		mode = DecimalString
	case "precise":
		mode = DecimalPrecise
	case "double":
		mode = DecimalDouble
	default:
		return d, malformed("%s %q", HeaderDecimal, decimal)
	}
	switch string(keyChange) {
	case "", KeyChangeDelete, KeyChangeCreate:
		d.KeyChange = string(keyChange)
	default:
		return d, malformed("%s %q", HeaderKeyChange, keyChange)
	}
	t, err := dec.table(schema)
	if err != nil {
		return d, malformed("%s: %v", HeaderSchema, err)
	}

	ev, err := dec.parser.ParseBytes(r.Value)
	if err != nil {
		return d, malformed("value of %s: %v", t.QualifiedName(), err)
	}
	if ev.Exists("schema") && ev.Exists("payload") {
		ev = ev.Get("payload")
	}
	if ev.Type() != fastjson.TypeObject {
		return d, malformed("value of %s: not an object", t.QualifiedName())
	}
	d.TxnID = string(ev.GetStringBytes("transaction", "id"))
	d.CommitTime = time.UnixMicro(ev.GetInt64("source", "ts_us")).UTC()
	d.Change = ordering.Change{Table: t, Op: ordering.Op(firstByte(ev.GetStringBytes("op")))}
	if !d.Change.Op.Valid() {
		return d, malformed("op %q", ev.GetStringBytes("op"))
	}
	if d.Change.Before, err = decodeRow(t, ev.Get("before"), string(unchangedBefore), mode, exact, "before."); err != nil {
		return d, malformed("before image of %s: %v", t.QualifiedName(), err)
	}
	if d.Change.After, err = decodeRow(t, ev.Get("after"), string(unchangedAfter), mode, exact, "after."); err != nil {
		return d, malformed("after image of %s: %v", t.QualifiedName(), err)
	}
	if len(beforeKey) > 0 {
		if string(beforeKey) != "key" || d.Change.After == nil || d.Change.Before != nil {
			return d, malformed("%s %q on this record", HeaderBeforeKey, beforeKey)
		}
		d.Change.Before = make([]ordering.Value, len(t.Columns))
		for i, c := range t.Columns {
			if isKey(t, c.Name) {
				d.Change.Before[i] = d.Change.After[i]
			} else {
				d.Change.Before[i] = ordering.Unchanged()
			}
		}
	}
	return d, nil
}

// atoi is strconv.Atoi on bytes without a copy.
func atoi(b []byte) (int, error) {
	if len(b) == 0 || len(b) > 18 {
		return strconv.Atoi(string(b))
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return strconv.Atoi(string(b))
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func firstByte(s []byte) byte {
	if len(s) != 1 {
		return 0
	}
	return s[0]
}

// decodeRow decodes one image; exact holds the exact-header texts, by
// image prefix ("after.", "before.") and column.
func decodeRow(t *ordering.Table, raw *fastjson.Value, unchanged string, mode DecimalMode, exact map[string]string, image string) ([]ordering.Value, error) {
	if raw == nil || raw.Type() == fastjson.TypeNull {
		return nil, nil
	}
	obj, err := raw.Object()
	if err != nil {
		return nil, err
	}
	if obj.Len() != len(t.Columns) {
		return nil, fmt.Errorf("%d fields for %d columns", obj.Len(), len(t.Columns))
	}
	var skip map[string]bool
	if unchanged != "" {
		skip = map[string]bool{}
		for _, n := range strings.Split(unchanged, ",") {
			skip[n] = true
		}
	}
	// The encoder writes the columns in order: visit once, and look a name
	// up only where the order differs.
	vals := make([]*fastjson.Value, 0, len(t.Columns))
	inOrder := true
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if i := len(vals); i >= len(t.Columns) || string(key) != t.Columns[i].Name {
			inOrder = false
		}
		vals = append(vals, v)
	})
	row := make([]ordering.Value, len(t.Columns))
	for i, c := range t.Columns {
		msg := vals[i]
		if !inOrder {
			if msg = obj.Get(c.Name); msg == nil {
				return nil, fmt.Errorf("column %s missing", c.Name)
			}
		}
		if skip[c.Name] {
			row[i] = ordering.Unchanged()
			continue
		}
		if exact != nil {
			if text, ok := exact[image+c.Name]; ok {
				row[i] = ordering.Decimal(text)
				continue
			}
		}
		var v ordering.Value
		var err error
		if c.Kind == ordering.KindDecimal && msg.Type() != fastjson.TypeNull {
			v, err = decodeDecimal(msg, c, mode)
		} else {
			v, err = decodeValue(msg, c.Kind, c.Elem)
		}
		if err != nil {
			return nil, fmt.Errorf("column %s (%s): %v", c.Name, c.Kind, err)
		}
		row[i] = v
	}
	return row, nil
}

// number is the text of a JSON number, as written.
func number(v *fastjson.Value) (string, error) {
	if v.Type() != fastjson.TypeNumber {
		return "", fmt.Errorf("%s is not a number", v.Type())
	}
	return string(v.MarshalTo(nil)), nil
}

func decodeValue(msg *fastjson.Value, k, elem ordering.Kind) (ordering.Value, error) {
	if msg.Type() == fastjson.TypeNull {
		return ordering.Null(), nil
	}
	str := func() (string, error) {
		b, err := msg.StringBytes()
		return string(b), err
	}
	isString := msg.Type() == fastjson.TypeString
	switch k {
	case ordering.KindBool:
		b, err := msg.Bool()
		return ordering.Bool(b), err
	case ordering.KindInt:
		s, err := number(msg)
		if err != nil {
			return ordering.Value{}, err
		}
		i, err := strconv.ParseInt(s, 10, 64)
		return ordering.Int(i), err
	case ordering.KindUint:
		s, err := number(msg)
		if err != nil {
			return ordering.Value{}, err
		}
		u, err := strconv.ParseUint(s, 10, 64)
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
		s, err := number(msg)
		if err != nil {
			return ordering.Value{}, err
		}
		f, err := strconv.ParseFloat(s, 64)
		return ordering.Float(f), err
	case ordering.KindBytes:
		s, err := msg.StringBytes()
		if err != nil {
			return ordering.Value{}, err
		}
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(b, s)
		return ordering.Bytes(b[:n]), err
	case ordering.KindDate, ordering.KindTime, ordering.KindTimestamp:
		if isString {
			s, err := str()
			return ordering.Special(k, s), err
		}
		s, err := number(msg)
		if err != nil {
			return ordering.Value{}, err
		}
		i, err := strconv.ParseInt(s, 10, 64)
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
		elems, err := msg.Array()
		if err != nil {
			return ordering.Value{}, err
		}
		vals := make([]ordering.Value, len(elems))
		for i, e := range elems {
			ek := elem
			if e.Type() == fastjson.TypeArray {
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
