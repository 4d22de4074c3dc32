package ordering

import (
	"bufio"
	"bytes"
	"math"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	row := []Value{Null(), Unchanged(), Bool(true), Int(-5), Uint(math.MaxUint64), Float(math.NaN()), Decimal("1.50"),
		String("é\x00"), Bytes([]byte{0, 1}), Special(KindDate, "infinity"), Array(Array(Int(1)), Null())}
	var b []byte
	b = AppendRow(b, row)
	b = AppendRow(b, nil)
	r := bufio.NewReader(bytes.NewReader(b))
	got, err := ReadRow(r)
	if err != nil {
		t.Fatal(err)
	}
	for i := range row {
		if !got[i].Equal(row[i]) {
			t.Errorf("%d: %v != %v", i, got[i], row[i])
		}
	}
	if none, err := ReadRow(r); err != nil || none != nil {
		t.Errorf("nil row: %v %v", none, err)
	}
}

func TestRowDecoder(t *testing.T) {
	row := []Value{Null(), Unchanged(), Bool(true), Int(-5), Uint(math.MaxUint64), Float(math.NaN()), Decimal("1.50"),
		String("é\x00"), Bytes([]byte{0, 1}), Special(KindDate, "infinity"), Array(Array(Int(1)), Null())}
	var b []byte
	for range 300 { // past a slab
		b = AppendRow(b, row)
	}
	b = AppendRow(b, nil)
	b = AppendRow(b, []Value{})
	d := RowDecoder{S: string(b)}
	for n := range 300 {
		got, err := d.Row()
		if err != nil {
			t.Fatalf("row %d: %v", n, err)
		}
		if len(got) != len(row) || cap(got) != len(row) {
			t.Fatalf("row %d: len %d cap %d", n, len(got), cap(got))
		}
		for i := range row {
			if !got[i].Equal(row[i]) {
				t.Errorf("row %d value %d: %v != %v", n, i, got[i], row[i])
			}
		}
	}
	if none, err := d.Row(); err != nil || none != nil {
		t.Errorf("nil row: %v %v", none, err)
	}
	if empty, err := d.Row(); err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("empty row: %v %v", empty, err)
	}
	if d.Off != len(b) {
		t.Errorf("read %d of %d bytes", d.Off, len(b))
	}
	// Every cut of a row fails, never panics.
	one := AppendRow(nil, row)
	for i := range len(one) - 1 {
		d := RowDecoder{S: string(one[:i])}
		if _, err := d.Row(); err == nil && i > 0 {
			t.Errorf("a row cut at %d of %d bytes read without an error", i, len(one))
		}
	}
}
