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
