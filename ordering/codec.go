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

// RowDecoder reads rows written by AppendRow from one string, without an
// allocation per value: the values' text shares the string's memory, and
// the rows are cut from shared slabs (a row's capacity is its length, so
// appending to one copies it). A reader must not change a row it did not
// copy. Off is the next byte to read.
type RowDecoder struct {
	S    string
	Off  int
	slab []Value
}

// slabValues is the size of the slabs rows are cut from.
const slabValues = 1024

// Byte reads one byte.
func (d *RowDecoder) Byte() (byte, error) {
	if d.Off >= len(d.S) {
		return 0, io.ErrUnexpectedEOF
	}
	d.Off++
	return d.S[d.Off-1], nil
}

// Uvarint reads an unsigned varint.
func (d *RowDecoder) Uvarint() (uint64, error) {
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.Off >= len(d.S) {
			return 0, io.ErrUnexpectedEOF
		}
		b := d.S[d.Off]
		d.Off++
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, fmt.Errorf("%w: varint overflows 64 bits", ErrMalformed)
}

// Row reads a row as ReadRow does.
func (d *RowDecoder) Row() ([]Value, error) {
	present, err := d.Byte()
	if err != nil || present == 0 {
		return nil, err
	}
	n, err := d.Uvarint()
	if err != nil {
		return nil, err
	}
	if n > 1<<16 {
		return nil, fmt.Errorf("%w: row of %d columns", ErrMalformed, n)
	}
	row := d.values(int(n))
	for i := range row {
		if row[i], err = d.value(); err != nil {
			return nil, err
		}
	}
	return row, nil
}

// values cuts n values from the slab.
func (d *RowDecoder) values(n int) []Value {
	if n > len(d.slab) {
		d.slab = make([]Value, max(slabValues, n))
	}
	row := d.slab[:n:n]
	d.slab = d.slab[n:]
	return row
}

func (d *RowDecoder) value() (Value, error) {
	k, err := d.Byte()
	if err != nil {
		return Value{}, err
	}
	v := Value{kind: Kind(k)}
	if v.num, err = d.Uvarint(); err != nil {
		return Value{}, err
	}
	n, err := d.Uvarint()
	if err != nil {
		return Value{}, err
	}
	if n > uint64(len(d.S)-d.Off) {
		return Value{}, io.ErrUnexpectedEOF
	}
	v.str = d.S[d.Off : d.Off+int(n)]
	d.Off += int(n)
	if n, err = d.Uvarint(); err != nil {
		return Value{}, err
	}
	if n > 0 {
		if n > uint64(len(d.S)-d.Off) {
			return Value{}, io.ErrUnexpectedEOF // every element takes a byte at least
		}
		v.elems = make([]Value, n)
		for i := range v.elems {
			if v.elems[i], err = d.value(); err != nil {
				return Value{}, err
			}
		}
	}
	return v, nil
}
