package ordering

import (
	"encoding/binary"
	"fmt"
	"io"
)

// A compact binary form of changes, for spilling transactions to local
// disk. It is not a wire or storage format: it is read back only by the
// process that wrote it.

// AppendValue appends v's binary form to b.
func AppendValue(b []byte, v Value) []byte {
	b = append(b, byte(v.kind))
	b = binary.AppendUvarint(b, v.num)
	b = binary.AppendUvarint(b, uint64(len(v.str)))
	b = append(b, v.str...)
	b = binary.AppendUvarint(b, uint64(len(v.elems)))
	for _, e := range v.elems {
		b = AppendValue(b, e)
	}
	return b
}

// ByteReader is what the decoders read from (bufio.Reader satisfies it).
type ByteReader interface {
	io.Reader
	io.ByteReader
}

// ReadValue reads a value written by AppendValue.
func ReadValue(r ByteReader) (Value, error) {
	k, err := r.ReadByte()
	if err != nil {
		return Value{}, err
	}
	v := Value{kind: Kind(k)}
	if v.num, err = binary.ReadUvarint(r); err != nil {
		return Value{}, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return Value{}, err
	}
	if n > 0 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Value{}, err
		}
		v.str = string(buf)
	}
	if n, err = binary.ReadUvarint(r); err != nil {
		return Value{}, err
	}
	if n > 0 {
		v.elems = make([]Value, n)
		for i := range v.elems {
			if v.elems[i], err = ReadValue(r); err != nil {
				return Value{}, err
			}
		}
	}
	return v, nil
}

// AppendRow appends a row image (nil stays distinct from empty).
func AppendRow(b []byte, row []Value) []byte {
	if row == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(row)))
	for _, v := range row {
		b = AppendValue(b, v)
	}
	return b
}

// ReadRow reads a row written by AppendRow.
func ReadRow(r ByteReader) ([]Value, error) {
	present, err := r.ReadByte()
	if err != nil || present == 0 {
		return nil, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > 1<<16 {
		return nil, fmt.Errorf("%w: row of %d columns", ErrMalformed, n)
	}
	row := make([]Value, n)
	for i := range row {
		if row[i], err = ReadValue(r); err != nil {
			return nil, err
		}
	}
	return row, nil
}

// Size estimates the memory a value holds, for buffer accounting.
func (v Value) Size() int {
	n := 40 + len(v.str)
	for _, e := range v.elems {
		n += e.Size()
	}
	return n
}
