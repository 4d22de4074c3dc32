package envelope

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/walship/walship/ordering"
)

// DecimalMode is how decimal columns travel in the value, as Debezium's
// decimal.handling.mode. Whatever the mode, walship's own sinks get every
// decimal exactly: where the value cannot carry it (NaN and ±Infinity in
// precise mode, every value in double mode), the exact text travels in a
// HeaderExactAfter/HeaderExactBefore header.
type DecimalMode uint8

const (
	// DecimalPrecise is Debezium's default: Kafka Connect's
	// org.apache.kafka.connect.data.Decimal logical type (the unscaled value
	// as big-endian two's-complement bytes, base64 in JSON, with the scale
	// as a schema parameter) for columns with a declared scale, and
	// io.debezium.data.VariableScaleDecimal (a struct of scale and value)
	// for PostgreSQL numeric without one. NaN and ±Infinity, which neither
	// can hold, are null (Debezium's connectors stop on them in this mode).
	DecimalPrecise DecimalMode = iota
	// DecimalString is the decimal's exact text; NaN and ±Infinity are
	// "NAN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY" (Debezium's spelling).
	DecimalString
	// DecimalDouble is a JSON number (a double: may round); NaN and
	// ±Infinity are "NaN", "Infinity", "-Infinity".
	DecimalDouble
)

// String is the config spelling: precise, string or double.
func (m DecimalMode) String() string {
	switch m {
	case DecimalString:
		return "string"
	case DecimalDouble:
		return "double"
	}
	return "precise"
}

// ParseDecimalMode parses precise, string or double ("" is precise).
func ParseDecimalMode(s string) (DecimalMode, error) {
	switch s {
	case "", "precise":
		return DecimalPrecise, nil
	case "string":
		return DecimalString, nil
	case "double":
		return DecimalDouble, nil
	}
	return 0, fmt.Errorf("decimal handling %q: want precise, string or double", s)
}

// fixedScale reports the scale a precise-mode column travels with as
// Connect's Decimal; ok is false for io.debezium.data.VariableScaleDecimal
// (no declared scale, or a negative one).
func fixedScale(c ordering.Column) (scale int, ok bool) {
	if c.Precision > 0 && c.Scale >= 0 {
		return c.Scale, true
	}
	return 0, false
}

// splitDecimal parses a finite decimal's text into its unscaled integer and
// scale ("-12.340" is -12340 and 3). ok is false for anything else (NaN,
// Infinity, exponents).
func splitDecimal(text string) (unscaled *big.Int, scale int, ok bool) {
	digits := text
	if i := strings.IndexByte(text, '.'); i >= 0 {
		digits = text[:i] + text[i+1:]
		scale = len(text) - i - 1
	}
	if digits == "" || digits == "-" || digits == "+" {
		return nil, 0, false
	}
	for j, c := range digits {
		if (c < '0' || c > '9') && !(j == 0 && (c == '-' || c == '+')) {
			return nil, 0, false
		}
	}
	u, ok := new(big.Int).SetString(digits, 10)
	return u, scale, ok
}

var ten = big.NewInt(10)

// rescale sets u (at scale from) to scale to, without rounding; ok is false
// when that would drop a non-zero digit.
func rescale(u *big.Int, from, to int) (*big.Int, bool) {
	switch {
	case from < to:
		return new(big.Int).Mul(u, new(big.Int).Exp(ten, big.NewInt(int64(to-from)), nil)), true
	case from > to:
		q, r := new(big.Int).QuoRem(u, new(big.Int).Exp(ten, big.NewInt(int64(from-to)), nil), new(big.Int))
		return q, r.Sign() == 0
	}
	return u, true
}

// twosComplement is x as Java's BigInteger.toByteArray: big-endian two's
// complement in the fewest bytes.
func twosComplement(x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -x - 1, inverted.
	y := new(big.Int).Neg(x)
	y.Sub(y, big.NewInt(1))
	b := y.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// fromTwosComplement is the inverse of twosComplement.
func fromTwosComplement(b []byte) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x
}

// decimalText is the text of unscaled at scale ("-12340", 3 is "-12.340").
func decimalText(unscaled *big.Int, scale int) string {
	if unscaled.IsInt64() {
		return smallDecimalText(unscaled.Int64(), scale)
	}
	if scale <= 0 {
		s := unscaled.String()
		if scale < 0 && unscaled.Sign() != 0 {
			s += strings.Repeat("0", -scale)
		}
		return s
	}
	neg := unscaled.Sign() < 0
	digits := new(big.Int).Abs(unscaled).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	s := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// smallDecimalText is decimalText for an unscaled value that fits an int64.
func smallDecimalText(u int64, scale int) string {
	var dbuf [24]byte
	if scale <= 0 {
		b := strconv.AppendInt(dbuf[:0], u, 10)
		if scale < 0 && u != 0 {
			b = append(b, strings.Repeat("0", -scale)...)
		}
		return string(b)
	}
	digits := strconv.AppendUint(dbuf[:0], absU(u), 10)
	out := make([]byte, 0, len(digits)+scale+3)
	if u < 0 {
		out = append(out, '-')
	}
	if len(digits) <= scale {
		out = append(out, '0', '.')
		for range scale - len(digits) {
			out = append(out, '0')
		}
		out = append(out, digits...)
	} else {
		out = append(out, digits[:len(digits)-scale]...)
		out = append(out, '.')
		out = append(out, digits[len(digits)-scale:]...)
	}
	return string(out)
}

func absU(u int64) uint64 {
	if u < 0 {
		return uint64(-(u + 1)) + 1
	}
	return uint64(u)
}

// appendDecimal appends a decimal of column c in mode m. exact reports
// that the value alone gives the text back; when it does not, the encoder
// adds the text in an exact header.
func appendDecimal(b []byte, c ordering.Column, text string, m DecimalMode) (_ []byte, exact bool) {
	switch m {
	case DecimalString:
		return appendString(b, decimalOut(text)), true
	case DecimalDouble:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return append(b, "null"...), false
		}
		return appendValue(b, ordering.Float(f)), false
	}
	u, scale, ok := splitDecimal(text)
	if !ok || decimalText(u, scale) != text {
		return append(b, "null"...), false // NaN, ±Infinity, or a spelling the bytes cannot keep
	}
	if want, fixed := fixedScale(c); fixed {
		r, ok := rescale(u, scale, want)
		if !ok {
			return append(b, "null"...), false
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, twosComplement(r))
		return append(b, '"'), want == scale
	}
	b = append(b, `{"scale":`...)
	b = strconv.AppendInt(b, int64(scale), 10)
	b = append(b, `,"value":"`...)
	b = base64.StdEncoding.AppendEncode(b, twosComplement(u))
	return append(b, `"}`...), true
}

// decodeDecimal reads a decimal of column c written in mode m (not null).
// A value that was not exact is overridden by its exact header afterwards.
func decodeDecimal(msg *fastjson.Value, c ordering.Column, m DecimalMode) (ordering.Value, error) {
	switch m {
	case DecimalDouble:
		if msg.Type() == fastjson.TypeString {
			s, err := msg.StringBytes()
			return ordering.Decimal(string(s)), err // NaN, Infinity, -Infinity
		}
		s, err := number(msg)
		return ordering.Decimal(s), err
	case DecimalPrecise:
		if msg.Type() == fastjson.TypeObject {
			scale, err := msg.Get("scale").Int()
			if err != nil {
				return ordering.Value{}, fmt.Errorf("variable-scale decimal: scale: %v", err)
			}
			b, err := base64Field(msg.Get("value"))
			if err != nil {
				return ordering.Value{}, fmt.Errorf("variable-scale decimal: value: %v", err)
			}
			return ordering.Decimal(decimalText(fromTwosComplement(b), scale)), nil
		}
		scale, fixed := fixedScale(c)
		if !fixed {
			return ordering.Value{}, fmt.Errorf("decimal without a declared scale is not a variable-scale struct")
		}
		b, err := base64Field(msg)
		if err != nil {
			return ordering.Value{}, err
		}
		return ordering.Decimal(decimalText(fromTwosComplement(b), scale)), nil
	}
	s, err := msg.StringBytes()
	return ordering.Decimal(decimalIn(string(s))), err
}

func base64Field(v *fastjson.Value) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("missing")
	}
	s, err := v.StringBytes()
	if err != nil {
		return nil, err
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, s)
	return b[:n], err
}
