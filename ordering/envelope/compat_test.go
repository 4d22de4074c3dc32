package envelope

import (
	"bufio"
	"bytes"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	o "github.com/walship/walship/ordering"
)

// parseRendered reads records written by render (the golden format).
func parseRendered(t *testing.T, data []byte) []Record {
	t.Helper()
	var out []Record
	var cur *Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "key: "):
			out = append(out, Record{})
			cur = &out[len(out)-1]
			if k := strings.TrimPrefix(line, "key: "); k != "" {
				cur.Key = []byte(k)
			}
		case strings.HasPrefix(line, "value: "):
			if v := strings.TrimPrefix(line, "value: "); v != "" {
				cur.Value = []byte(v)
			}
		case strings.HasPrefix(line, "  "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "  "), ": ")
			cur.Headers = append(cur.Headers, Header{k, []byte(v)})
		}
	}
	return out
}

// Records and markers of the first log format (testdata/v1, as the
// previous walship wrote them: the walship.schema header a bare JSON
// object, decimals as strings, no tombstones, key changes as one update,
// END partitions as JSON) decode to the same changes as today's records.
func TestDecodesFirstLogFormat(t *testing.T) {
	for name, c := range cases() {
		path := filepath.Join("testdata", "v1", name+".golden")
		data, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue // a case added with the second format
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			recs := parseRendered(t, data)
			if len(recs) != 1 {
				t.Fatalf("%d records in %s", len(recs), path)
			}
			d, err := Decode(recs[0])
			if err != nil {
				t.Fatal(err)
			}
			assertChange(t, c.ev.Change, &d.Change)
		})
	}
	data, err := os.ReadFile(filepath.Join("testdata", "v1", "markers.golden"))
	if err != nil {
		t.Fatal(err)
	}
	recs := parseRendered(t, data)
	end, err := DecodeMarker(recs[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(end.Partitions) != 2 || end.Partitions[1] != (PartitionCount{"shop.public.b", 5, 1}) {
		t.Errorf("END partitions of the first format: %+v", end.Partitions)
	}
}

func TestDecimalModesRoundTrip(t *testing.T) {
	fixed := o.Column{Name: "p", Kind: o.KindDecimal, Type: "numeric(12,3)", Precision: 12, Scale: 3, Nullable: true}
	free := o.Column{Name: "q", Kind: o.KindDecimal, Type: "numeric", Nullable: true}
	tbl := &o.Table{Schema: "s", Name: "d", Columns: []o.Column{{Name: "id", Kind: o.KindInt, Type: "bigint"}, fixed, free}, PrimaryKey: []string{"id"}}
	texts := []string{"0", "0.000", "1.500", "-1.500", "-0.001", "123456789.123", "1.5", "NaN", "Infinity", "-Infinity",
		"99999999999999999999999999999999999999.000000000000000000001", "-128", "-129", "255", "0.10"}
	for _, mode := range []DecimalMode{DecimalPrecise, DecimalString, DecimalDouble} {
		for _, schemas := range []bool{false, true} {
			enc := NewEncoder(pgSource, Options{Decimal: mode, Schemas: schemas})
			for _, text := range texts {
				ch := o.Change{Table: tbl, Op: o.OpUpdate, Before: []o.Value{o.Int(1), o.Decimal(text), o.Decimal(text)},
					After: []o.Value{o.Int(1), o.Decimal(text), o.Null()}}
				recs, err := enc.Encode(Event{Txn: pgTxn(ch), Change: &ch, Count: 1})
				if err != nil {
					t.Fatal(err)
				}
				d := decodeAll(t, recs)
				assertChange(t, &ch, &d.Change)
			}
		}
	}
}

// Precise mode writes what Kafka Connect's Decimal and Debezium's
// VariableScaleDecimal read: BigInteger.toByteArray of the unscaled value.
func TestTwosComplement(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want []byte
	}{{0, []byte{0}}, {1, []byte{1}}, {127, []byte{0x7f}}, {128, []byte{0, 0x80}}, {-1, []byte{0xff}},
		{-128, []byte{0x80}}, {-129, []byte{0xff, 0x7f}}, {255, []byte{0, 0xff}}, {-256, []byte{0xff, 0}}} {
		got := twosComplement(big.NewInt(c.n))
		if !bytes.Equal(got, c.want) {
			t.Errorf("%d: % x, want % x", c.n, got, c.want)
		}
		if back := fromTwosComplement(got); back.Int64() != c.n {
			t.Errorf("%d came back %s", c.n, back)
		}
	}
	var b []byte
	b, exact := appendDecimal(b, o.Column{Precision: 10, Scale: 2}, "1.5", DecimalPrecise)
	if string(b) != `"AJY="` || exact {
		t.Errorf("1.5 at scale 2: %s exact=%v (want 150 and the exact text in a header)", b, exact)
	}
	b, exact = appendDecimal(nil, o.Column{}, "-12.340", DecimalPrecise)
	if string(b) != `{"scale":3,"value":"z8w="}` || !exact {
		t.Errorf("-12.340 variable: %s exact=%v", b, exact)
	}
}

func TestParseDecimalMode(t *testing.T) {
	for _, s := range []string{"", "precise", "string", "double"} {
		m, err := ParseDecimalMode(s)
		if err != nil || (s != "" && m.String() != s) {
			t.Errorf("%q: %v %v", s, m, err)
		}
	}
	if _, err := ParseDecimalMode("float"); err == nil {
		t.Error("float accepted")
	}
}

// Tombstones follow deletes of keyed rows only, and never decode as a change.
func TestTombstones(t *testing.T) {
	keyless := &o.Table{Schema: "s", Name: "k", Columns: []o.Column{{Name: "v", Kind: o.KindInt, Type: "int"}}}
	enc := NewEncoder(pgSource, Options{})
	ch := o.Change{Table: keyless, Op: o.OpDelete, Before: []o.Value{o.Int(1)}}
	recs, err := enc.Encode(Event{Txn: pgTxn(ch), Change: &ch, Count: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("keyless delete: %d records, %v", len(recs), err)
	}
	c := cases()["pg-delete"]
	recs, err = c.enc.Encode(c.ev)
	if err != nil || len(recs) != 2 || !IsTombstone(recs[1]) || !bytes.Equal(recs[1].Key, recs[0].Key) || len(recs[1].Headers) != 0 {
		t.Fatalf("delete: %d records, %v", len(recs), err)
	}
	if _, err := Decode(recs[1]); err == nil {
		t.Error("a tombstone decoded")
	}
}

func TestMergeKeyChangeRejectsMismatch(t *testing.T) {
	c := cases()["pg-keychange"]
	recs, err := c.enc.Encode(c.ev)
	if err != nil {
		t.Fatal(err)
	}
	del, _ := Decode(recs[0])
	cre, _ := Decode(recs[2])
	if _, err := MergeKeyChange(cre, del); err == nil {
		t.Error("halves merged in the wrong order")
	}
	other := cre
	other.Index++
	if _, err := MergeKeyChange(del, other); err == nil {
		t.Error("halves of different changes merged")
	}
}

// The int64 fast path of decimalText agrees with the big.Int one.
func TestSmallDecimalText(t *testing.T) {
	for _, u := range []int64{0, 1, -1, 9, 10, -10, 1250, -12340, 1 << 62, -1 << 63, 1<<63 - 1} {
		for scale := -2; scale <= 25; scale++ {
			want := bigDecimalText(big.NewInt(u), scale)
			if got := smallDecimalText(u, scale); got != want {
				t.Errorf("%d at scale %d: %q, want %q", u, scale, got, want)
			}
		}
	}
}

// bigDecimalText is decimalText without the int64 fast path.
func bigDecimalText(unscaled *big.Int, scale int) string {
	s := new(big.Int).Abs(unscaled).String()
	if scale <= 0 {
		if scale < 0 && unscaled.Sign() != 0 {
			s += strings.Repeat("0", -scale)
		}
	} else {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if unscaled.Sign() < 0 {
		s = "-" + s
	}
	return s
}
