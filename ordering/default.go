package ordering

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Default says what the rows a table held when a column was added read in
// that column at the source. A column without one (nil) reads NULL in
// them, as do columns of log records written before walship carried
// defaults. A sink that adds the column to a follower table holding rows
// gives them Value (ADD COLUMN … DEFAULT), or stops when only Expr is
// known.
type Default struct {
	// Value is the constant the existing rows read: never NULL, never
	// unchanged. It is NULL when Expr is set.
	Value Value
	// Expr is the source's default expression when the existing rows' value
	// is not a constant the log can carry: a volatile expression evaluated
	// per row (gen_random_uuid(), uuid(), nextval), or one the source
	// rewrote the table with. Schema text, never row data.
	Expr string
}

// Constant reports whether d carries a value (not only an expression).
func (d *Default) Constant() bool { return d != nil && d.Expr == "" && !d.Value.IsNull() }

type defaultJSON struct {
	Value *valueJSON `json:"value,omitempty"`
	Expr  string     `json:"expr,omitempty"`
}

// valueJSON is a Value in the schema header: its kind and a text form that
// loses nothing (base64 for bytes, shortest round-trip for floats,
// microseconds or days for temporal values).
type valueJSON struct {
	Kind    Kind        `json:"kind"`
	Text    *string     `json:"text,omitempty"`
	Special string      `json:"special,omitempty"`
	Elems   []valueJSON `json:"elems,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (d Default) MarshalJSON() ([]byte, error) {
	out := defaultJSON{Expr: d.Expr}
	if !d.Value.IsNull() {
		v, err := toValueJSON(d.Value)
		if err != nil {
			return nil, err
		}
		out.Value = &v
	}
	return json.Marshal(out)
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Default) UnmarshalJSON(b []byte) error {
	var in defaultJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*d = Default{Expr: in.Expr}
	if in.Value != nil {
		v, err := fromValueJSON(*in.Value)
		if err != nil {
			return fmt.Errorf("%w: column default: %v", ErrMalformed, err)
		}
		d.Value = v
	}
	return nil
}

func toValueJSON(v Value) (valueJSON, error) {
	out := valueJSON{Kind: v.kind}
	text := func(s string) { out.Text = &s }
	switch v.kind {
	case KindNull:
	case KindUnchanged:
		return out, fmt.Errorf("an unchanged value has no JSON form")
	case KindBool:
		text(strconv.FormatBool(v.Bool()))
	case KindInt, KindTime:
		text(strconv.FormatInt(v.Int(), 10))
	case KindUint:
		text(strconv.FormatUint(v.Uint(), 10))
	case KindFloat:
		// The bits: NaN payloads and -0 survive.
		text(strconv.FormatUint(math.Float64bits(v.Float()), 16))
	case KindBytes:
		text(base64.StdEncoding.EncodeToString(v.Bytes()))
	case KindDate, KindTimestamp, KindTimestampTZ:
		if v.IsSpecial() {
			out.Special = v.Special()
		} else {
			text(strconv.FormatInt(v.Int(), 10))
		}
	case KindArray:
		out.Elems = []valueJSON{}
		for _, e := range v.elems {
			ej, err := toValueJSON(e)
			if err != nil {
				return out, err
			}
			out.Elems = append(out.Elems, ej)
		}
	default:
		text(v.str)
	}
	return out, nil
}

func fromValueJSON(j valueJSON) (Value, error) {
	s := ""
	if j.Text != nil {
		s = *j.Text
	}
	need := func() error {
		if j.Text == nil {
			return fmt.Errorf("%s value without text", j.Kind)
		}
		return nil
	}
	switch j.Kind {
	case KindNull:
		return Null(), nil
	case KindBool:
		b, err := strconv.ParseBool(s)
		return Bool(b), err
	case KindInt, KindTime:
		i, err := strconv.ParseInt(s, 10, 64)
		return Value{kind: j.Kind, num: uint64(i)}, err
	case KindUint:
		u, err := strconv.ParseUint(s, 10, 64)
		return Uint(u), err
	case KindFloat:
		u, err := strconv.ParseUint(s, 16, 64)
		return Float(math.Float64frombits(u)), err
	case KindBytes:
		b, err := base64.StdEncoding.DecodeString(s)
		return Bytes(b), err
	case KindDate, KindTimestamp, KindTimestampTZ:
		if j.Special != "" {
			return Special(j.Kind, j.Special), nil
		}
		i, err := strconv.ParseInt(s, 10, 64)
		return Value{kind: j.Kind, num: uint64(i)}, err
	case KindArray:
		elems := make([]Value, len(j.Elems))
		for i, e := range j.Elems {
			v, err := fromValueJSON(e)
			if err != nil {
				return Value{}, err
			}
			elems[i] = v
		}
		return Array(elems...), nil
	case KindDecimal, KindString, KindInterval, KindUUID, KindJSON, KindEnum, KindText:
		return Value{kind: j.Kind, str: s}, need()
	}
	return Value{}, fmt.Errorf("kind %s cannot be a default", j.Kind)
}
