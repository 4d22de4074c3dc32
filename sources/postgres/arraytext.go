package postgres

// A parser for PostgreSQL's array text format, as array_out writes it and
// array_in reads it:
//
//	{1,2,NULL}                    NULL unquoted (any case) is SQL NULL
//	{"a b","c\"d",NULL,"NULL"}    "NULL" quoted is the four-letter string
//	{{1,2},{3,4}}                 one brace level per dimension
//	{}                            empty
//	[0:1]={1,2}                   explicit bounds when a lower bound is not 1
//
// Elements are quoted when empty, equal to NULL, or containing braces,
// quotes, backslashes, the delimiter or white space; inside quotes and in
// unquoted elements a backslash escapes the next byte. The delimiter is the
// element type's typdelim: ',' for every built-in type except box (';').
// Dimension bounds are dropped: a Value array has no lower bound.
// Sub-arrays become nested ordering.Array values.

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/walship/walship/ordering"
)

// maxArrayDims is PostgreSQL's MAXDIM: arrays never have more dimensions,
// and the parser's recursion is bounded by it.
const maxArrayDims = 6

// parseArray parses the array text s. Each non-NULL element's unescaped
// text goes through elem (which must not keep the slice); unquoted NULL becomes ordering.Null(). Errors
// name offsets, never data.
func parseArray(s []byte, delim byte, elem func([]byte) (ordering.Value, error)) (ordering.Value, error) {
	if delim == 0 {
		delim = ','
	}
	if delim == '"' || delim == '\\' || delim == '{' || delim == '}' || isArraySpace(delim) {
		return ordering.Value{}, errors.New("array: unusable delimiter")
	}
	p := arrayParser{s: s, delim: delim, elem: elem}
	p.space()
	if p.peek() == '[' {
		if err := p.bounds(); err != nil {
			return ordering.Value{}, err
		}
		p.space()
	}
	v, err := p.level(1)
	if err != nil {
		return ordering.Value{}, err
	}
	p.space()
	if p.i != len(s) {
		return ordering.Value{}, p.fail("trailing characters after array")
	}
	return v, nil
}

type arrayParser struct {
	s     []byte
	i     int
	delim byte
	elem  func([]byte) (ordering.Value, error)
	buf   []byte // scratch for unescaping, reused across elements
}

func (p *arrayParser) fail(what string) error {
	return errors.New("array: " + what + " at offset " + strconv.Itoa(p.i))
}

func (p *arrayParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// isArraySpace is array_isspace: the white space array_in skips.
func isArraySpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

func (p *arrayParser) space() {
	for p.i < len(p.s) && isArraySpace(p.s[p.i]) {
		p.i++
	}
}

// bounds skips a dimension decoration "[lo:hi][lo:hi]=" after checking
// its shape.
func (p *arrayParser) bounds() error {
	for p.peek() == '[' {
		p.i++
		for part := 0; ; part++ {
			if p.peek() == '-' || p.peek() == '+' {
				p.i++
			}
			start := p.i
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
			}
			if p.i == start {
				return p.fail("dimension bound expected")
			}
			if part == 0 && p.peek() == ':' {
				p.i++
				continue
			}
			break
		}
		if p.peek() != ']' {
			return p.fail("']' expected")
		}
		p.i++
	}
	if p.peek() != '=' {
		return p.fail("'=' expected after dimensions")
	}
	p.i++
	return nil
}

// level parses one brace level, starting at '{'.
func (p *arrayParser) level(depth int) (ordering.Value, error) {
	if depth > maxArrayDims {
		return ordering.Value{}, p.fail("too many dimensions")
	}
	if p.peek() != '{' {
		return ordering.Value{}, p.fail("'{' expected")
	}
	p.i++
	p.space()
	if p.peek() == '}' {
		p.i++
		return ordering.Array(), nil
	}
	var elems []ordering.Value
	subs := 0 // how many elements are sub-arrays
	for {
		p.space()
		var v ordering.Value
		var err error
		if p.peek() == '{' {
			subs++
			v, err = p.level(depth + 1)
		} else {
			v, err = p.scalar()
		}
		if err != nil {
			return ordering.Value{}, err
		}
		elems = append(elems, v)
		p.space()
		switch p.peek() {
		case p.delim:
			p.i++
			continue
		case '}':
			p.i++
		default:
			return ordering.Value{}, p.fail("delimiter or '}' expected")
		}
		break
	}
	if subs != 0 && subs != len(elems) {
		return ordering.Value{}, errors.New("array: sub-arrays mixed with elements")
	}
	return ordering.Array(elems...), nil
}

// scalar parses one element, quoted or not, and decodes it.
func (p *arrayParser) scalar() (ordering.Value, error) {
	p.buf = p.buf[:0]
	if p.peek() == '"' {
		p.i++
		for {
			if p.i >= len(p.s) {
				return ordering.Value{}, p.fail("unterminated quoted element")
			}
			b := p.s[p.i]
			p.i++
			if b == '"' {
				break
			}
			if b == '\\' {
				if p.i >= len(p.s) {
					return ordering.Value{}, p.fail("dangling backslash")
				}
				b = p.s[p.i]
				p.i++
			}
			p.buf = append(p.buf, b)
		}
		return p.decode()
	}
	// Unquoted: up to the delimiter or '}', trailing unescaped space cut.
	keep := 0 // length of buf up to its last escaped or non-space byte
	escaped := false
	for p.i < len(p.s) {
		b := p.s[p.i]
		if b == p.delim || b == '}' {
			break
		}
		if b == '{' || b == '"' {
			return ordering.Value{}, p.fail("unexpected character in unquoted element")
		}
		p.i++
		if b == '\\' {
			if p.i >= len(p.s) {
				return ordering.Value{}, p.fail("dangling backslash")
			}
			b = p.s[p.i]
			p.i++
			escaped = true
			p.buf = append(p.buf, b)
			keep = len(p.buf)
			continue
		}
		p.buf = append(p.buf, b)
		if !isArraySpace(b) {
			keep = len(p.buf)
		}
	}
	p.buf = p.buf[:keep]
	if len(p.buf) == 0 {
		return ordering.Value{}, p.fail("empty unquoted element")
	}
	if !escaped && len(p.buf) == 4 && isNULL(p.buf) {
		return ordering.Null(), nil
	}
	return p.decode()
}

func isNULL(b []byte) bool {
	return (b[0]|0x20) == 'n' && (b[1]|0x20) == 'u' && (b[2]|0x20) == 'l' && (b[3]|0x20) == 'l'
}

// decode hands the unescaped element to the element decoder, which must
// not keep the slice.
func (p *arrayParser) decode() (ordering.Value, error) {
	v, err := p.elem(p.buf)
	if err != nil {
		return ordering.Value{}, fmt.Errorf("array element ending at offset %d: %w", p.i, err)
	}
	return v, nil
}
