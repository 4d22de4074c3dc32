package envelope

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/offsets"
	o "github.com/walship/walship/ordering"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var fixedNow = func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC) }

// allKinds is a table with one column of every kind.
var allKinds = &o.Table{
	Schema: "public", Name: "all_kinds",
	Columns: []o.Column{
		{Name: "id", Kind: o.KindInt, Type: "bigint"},
		{Name: "flag", Kind: o.KindBool, Type: "boolean", Nullable: true},
		{Name: "small", Kind: o.KindInt, Type: "smallint", Nullable: true},
		{Name: "big_unsigned", Kind: o.KindUint, Type: "bigint unsigned", Nullable: true},
		{Name: "ratio", Kind: o.KindFloat, Type: "double precision", Nullable: true},
		{Name: "nan", Kind: o.KindFloat, Type: "real", Nullable: true},
		{Name: "price", Kind: o.KindDecimal, Type: "numeric(30,10)", Precision: 30, Scale: 10, Nullable: true},
		{Name: "price_nan", Kind: o.KindDecimal, Type: "numeric", Nullable: true},
		{Name: "name", Kind: o.KindString, Type: "character varying(40)", Length: 40, Nullable: true},
		{Name: "blob", Kind: o.KindBytes, Type: "bytea", Nullable: true},
		{Name: "day", Kind: o.KindDate, Type: "date", Nullable: true},
		{Name: "forever", Kind: o.KindDate, Type: "date", Nullable: true},
		{Name: "at", Kind: o.KindTime, Type: "time without time zone", Nullable: true},
		{Name: "ts", Kind: o.KindTimestamp, Type: "timestamp without time zone", Nullable: true},
		{Name: "tstz", Kind: o.KindTimestampTZ, Type: "timestamp with time zone", Nullable: true},
		{Name: "span", Kind: o.KindInterval, Type: "interval", Nullable: true},
		{Name: "uid", Kind: o.KindUUID, Type: "uuid", Nullable: true},
		{Name: "doc", Kind: o.KindJSON, Type: "jsonb", Nullable: true},
		{Name: "mood", Kind: o.KindEnum, Type: "mood", Enum: []string{"sad", "ok", "happy"}, Nullable: true},
		{Name: "tags", Kind: o.KindArray, Elem: o.KindString, Type: "text[]", Nullable: true},
		{Name: "grid", Kind: o.KindArray, Elem: o.KindInt, Type: "integer[]", Nullable: true},
		{Name: "place", Kind: o.KindText, Type: "point", Nullable: true},
		{Name: "big_text", Kind: o.KindString, Type: "text", Nullable: true},
	},
	PrimaryKey: []string{"id"},
}

func allKindsRow() []o.Value {
	return []o.Value{
		o.Int(42), o.Bool(true), o.Int(-7), o.Uint(math.MaxUint64), o.Float(0.1), o.Float(math.NaN()),
		o.Decimal("12345678901234567890.0123456789"), o.Decimal("NaN"),
		o.String("héllo \"wörld\"\n\t\x01 🚀 NULL"), o.Bytes([]byte{0, 0xff, 'a', 0x80}),
		o.Date(19737), o.Special(o.KindDate, "infinity"), o.Time(45296000000), o.Timestamp(1529507596945104),
		o.TimestampTZ(1529501823945104), o.Interval("P1Y2M3DT4H5M6.78S"), o.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		o.JSON(`{"k": [1, 2.50, "x"]}`), o.Enum("happy"), o.Array(o.String("a"), o.Null(), o.String("")),
		o.Array(o.Array(o.Int(1), o.Int(2)), o.Array(o.Int(3), o.Null())), o.Text("(1,2)"), o.Unchanged(),
	}
}

var pgSource = Source{Name: "pg-main", Connector: "postgresql", Logical: "shop", Database: "shop"}

func pgTxn(changes ...o.Change) *o.Txn {
	return &o.Txn{
		Source: "pg-main", ID: "571", Seq: offsets.Seq{Pos: 0x16B3748, Sub: offsets.StreamSub},
		DependsOn:  offsets.Seq{Pos: 0x16B0000, Sub: offsets.StreamSub},
		Pos:        offsets.PGPosition(0x16B3748, 0x16B3780),
		CommitTime: time.Date(2026, 11, 26, 11, 59, 59, 987654000, time.UTC), Changes: changes,
	}
}

func mariaTxn(changes ...o.Change) *o.Txn {
	gs, _ := offsets.ParseGTIDSet(offsets.FlavorMariaDB, "0-1-42")
	return &o.Txn{
		Source: "maria-main", ID: "0-1-42", Seq: offsets.Seq{Pos: 3<<40 | 1234, Sub: offsets.StreamSub},
		Pos:        offsets.Position{Engine: offsets.EngineMariaDB, GTID: "0-1-42", GTIDs: gs, Binlog: offsets.BinlogPos{File: "mysql-bin.000003", Pos: 1234}},
		CommitTime: time.Date(2026, 11, 26, 11, 59, 58, 0, time.UTC), Changes: changes,
	}
}

var orders = &o.Table{Schema: "shop", Name: "orders", Columns: []o.Column{
	{Name: "id", Kind: o.KindInt, Type: "int(11)"},
	{Name: "state", Kind: o.KindEnum, Type: "enum('new','paid')", Enum: []string{"new", "paid"}, Nullable: true},
	{Name: "placed", Kind: o.KindTimestamp, Type: "datetime(6)", Precision: 6, Nullable: true},
}, PrimaryKey: []string{"id"}}

// cases are the golden events: name -> encoder and event.
func cases() map[string]struct {
	enc *Encoder
	ev  Event
} {
	pgJSON := NewEncoder(pgSource, Options{Now: fixedNow, Version: "walship-test"})
	pgSchema := NewEncoder(pgSource, Options{Now: fixedNow, Version: "walship-test", Schemas: true})
	maria := NewEncoder(Source{Name: "maria-main", Connector: "mariadb", Logical: "shop", ServerID: 1}, Options{Now: fixedNow, Version: "walship-test"})
	row := allKindsRow()
	before := make([]o.Value, len(row))
	copy(before, row)
	before[len(before)-1] = o.String("old")
	insert := o.Change{Table: allKinds, Op: o.OpInsert, After: row}
	update := o.Change{Table: allKinds, Op: o.OpUpdate, Before: before, After: row}
	keyOnly := make([]o.Value, len(row))
	keyOnly[0] = o.Int(42)
	for i := 1; i < len(keyOnly); i++ {
		keyOnly[i] = o.Unchanged()
	}
	del := o.Change{Table: allKinds, Op: o.OpDelete, Before: keyOnly}
	trunc := o.Change{Table: allKinds, Op: o.OpTruncate}
	myUpd := o.Change{Table: orders, Op: o.OpUpdate,
		Before: []o.Value{o.Int(7), o.Enum("new"), o.Special(o.KindTimestamp, "0000-00-00 00:00:00")},
		After:  []o.Value{o.Int(7), o.Enum("paid"), o.Timestamp(1529507596945104)}}
	// A key change under REPLICA IDENTITY DEFAULT: the old key alone.
	oldKey := make([]o.Value, len(row))
	oldKey[0] = o.Int(41)
	for i := 1; i < len(oldKey); i++ {
		oldKey[i] = o.Unchanged()
	}
	keyChange := o.Change{Table: allKinds, Op: o.OpUpdate, Before: oldKey, After: row}
	sameKey := make([]o.Value, len(oldKey))
	copy(sameKey, oldKey)
	sameKey[0] = o.Int(42)
	keyBefore := o.Change{Table: allKinds, Op: o.OpUpdate, Before: sameKey, After: row}
	myKey := o.Change{Table: orders, Op: o.OpUpdate,
		Before: []o.Value{o.Int(7), o.Enum("new"), o.Timestamp(1529507596945104)},
		After:  []o.Value{o.Int(8), o.Enum("new"), o.Timestamp(1529507596945104)}}
	pgString := NewEncoder(pgSource, Options{Now: fixedNow, Version: "walship-test", Decimal: DecimalString})
	pgDouble := NewEncoder(pgSource, Options{Now: fixedNow, Version: "walship-test", Decimal: DecimalDouble, Schemas: true})
	snap := pgTxn(insert)
	snap.Snapshot, snap.LastSnapshot, snap.Seq, snap.DependsOn = true, true, offsets.Seq{Pos: 0x16B0000, Sub: 3}, offsets.Seq{}
	return map[string]struct {
		enc *Encoder
		ev  Event
	}{
		"pg-insert":         {pgJSON, Event{Txn: pgTxn(insert), Change: &insert, Index: 0, Count: 4}},
		"pg-update":         {pgJSON, Event{Txn: pgTxn(update), Change: &update, Index: 1, CollectionIndex: 1, Count: 4}},
		"pg-delete":         {pgJSON, Event{Txn: pgTxn(del), Change: &del, Index: 2, CollectionIndex: 2, Count: 4}},
		"pg-truncate":       {pgJSON, Event{Txn: pgTxn(trunc), Change: &trunc, Index: 3, CollectionIndex: 3, Count: 4}},
		"pg-insert-schemas": {pgSchema, Event{Txn: pgTxn(insert), Change: &insert, Index: 0, Count: 1}},
		"pg-snapshot-last":  {pgJSON, Event{Txn: snap, Change: &insert, Index: 0, Count: 1}},
		"mariadb-update":    {maria, Event{Txn: mariaTxn(myUpd), Change: &myUpd, Index: 0, Count: 1}},
		"pg-keychange":      {pgJSON, Event{Txn: pgTxn(keyChange), Change: &keyChange, Index: 1, Count: 3, Order: 1, CollectionIndex: 1}},
		"pg-before-key":     {pgJSON, Event{Txn: pgTxn(keyBefore), Change: &keyBefore, Index: 0, Count: 1}},
		"mariadb-keychange": {maria, Event{Txn: mariaTxn(myKey), Change: &myKey, Index: 0, Count: 1}},
		"pg-insert-string":  {pgString, Event{Txn: pgTxn(insert), Change: &insert, Index: 0, Count: 1}},
		"pg-update-double":  {pgDouble, Event{Txn: pgTxn(update), Change: &update, Index: 0, Count: 1}},
	}
}

// render writes a record as three lines: key, value, headers.
func render(r Record) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "key: %s\nvalue: %s\nheaders:\n", r.Key, r.Value)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, "  %s: %s\n", h.Key, h.Value)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed; the format is persisted in Kafka. got:\n%s\nwant:\n%s", path, got, want)
	}
}

// decodeAll decodes the records of one change as a sink does: tombstones
// skipped, a key change's halves merged.
func decodeAll(t *testing.T, recs []Record) Decoded {
	t.Helper()
	var ds []Decoded
	for _, r := range recs {
		if IsTombstone(r) {
			continue
		}
		d, err := Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	switch len(ds) {
	case 1:
		if ds[0].KeyChange != "" {
			t.Fatalf("a lone key change half %q", ds[0].KeyChange)
		}
		return ds[0]
	case 2:
		m, err := MergeKeyChange(ds[0], ds[1])
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Fatalf("%d data records for one change", len(ds))
	return Decoded{}
}

// encode1 encodes an event that makes one data record (and maybe its
// tombstone), and returns that record.
func encode1(t testing.TB, enc *Encoder, ev Event) Record {
	t.Helper()
	recs, err := enc.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || IsTombstone(recs[0]) {
		t.Fatalf("got %d records, the first a tombstone", len(recs))
	}
	return recs[0]
}

func TestGoldenAndRoundTrip(t *testing.T) {
	for name, c := range cases() {
		t.Run(name, func(t *testing.T) {
			recs, err := c.enc.Encode(c.ev)
			if err != nil {
				t.Fatal(err)
			}
			var all []byte
			for _, r := range recs {
				all = append(all, render(r)...)
				if r.Value != nil && !json.Valid(r.Value) || (r.Key != nil && !json.Valid(r.Key)) {
					t.Fatalf("invalid JSON:\n%s", render(r))
				}
				for _, h := range r.Headers {
					if len(h.Value) > 0 && (h.Value[0] == '{' || h.Value[0] == '[') {
						t.Errorf("header %s is a JSON object or array, which Kafka Connect's default header converter cannot give a schema", h.Key)
					}
				}
			}
			golden(t, name, all)
			d := decodeAll(t, recs)
			txn := c.ev.Txn
			if d.Source != txn.Source || d.Seq != txn.Seq || d.DependsOn != txn.DependsOn || d.Index != c.ev.Index ||
				d.Count != c.ev.Count || d.Snapshot != txn.Snapshot || d.LastSnapshot != txn.LastSnapshot ||
				!d.CommitTime.Equal(txn.CommitTime.Truncate(time.Microsecond)) || d.TxnID != TxnID(txn) {
				t.Errorf("metadata differs: %+v", d)
			}
			if p1, _ := d.Pos.MarshalText(); string(p1) != mustText(txn.Pos) {
				t.Errorf("position %s != %s", p1, mustText(txn.Pos))
			}
			assertChange(t, c.ev.Change, &d.Change)
		})
	}
}

func mustText(p offsets.Position) string { b, _ := p.MarshalText(); return string(b) }

func assertChange(t *testing.T, want, got *o.Change) {
	t.Helper()
	if got.Op != want.Op || got.Table.QualifiedName() != want.Table.QualifiedName() {
		t.Fatalf("op/table: %v %s", got.Op, got.Table.QualifiedName())
	}
	wt, _ := json.Marshal(want.Table)
	gt, _ := json.Marshal(got.Table)
	if !bytes.Equal(wt, gt) {
		t.Errorf("schema differs:\n%s\n%s", gt, wt)
	}
	for _, img := range []struct {
		name      string
		want, got []o.Value
	}{{"before", want.Before, got.Before}, {"after", want.After, got.After}} {
		if (img.want == nil) != (img.got == nil) || len(img.want) != len(img.got) {
			t.Fatalf("%s: %v vs %v", img.name, img.got, img.want)
		}
		for i := range img.want {
			if !img.got[i].Equal(img.want[i]) {
				t.Errorf("%s.%s: got %v (%s), want %v (%s)", img.name, want.Table.Columns[i].Name,
					img.got[i], img.got[i].Kind(), img.want[i], img.want[i].Kind())
			}
		}
	}
}

// A real string equal to Debezium's placeholder stays a string.
func TestPlaceholderStringIsNotUnchanged(t *testing.T) {
	tbl := &o.Table{Schema: "s", Name: "t", Columns: []o.Column{{Name: "id", Kind: o.KindInt}, {Name: "v", Kind: o.KindString}}, PrimaryKey: []string{"id"}}
	ch := o.Change{Table: tbl, Op: o.OpInsert, After: []o.Value{o.Int(1), o.String(Unavailable)}}
	r := encode1(t, NewEncoder(pgSource, Options{}), Event{Txn: pgTxn(ch), Change: &ch, Count: 1})
	d, err := Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Change.After[1]; v.Kind() != o.KindString || v.Text() != Unavailable {
		t.Errorf("got %v (%s)", v, v.Kind())
	}
}

func TestMarkers(t *testing.T) {
	txn := pgTxn()
	begin := NewMarker(StatusBegin, txn)
	end := NewMarker(StatusEnd, txn)
	end.EventCount = 3
	end.Collections = []Collection{{"public.a", 2}, {"public.b", 1}}
	end.Partitions = []PartitionCount{{"shop.public.a", 0, 2}, {"shop.public.b", 5, 1}}
	var all []byte
	for _, m := range []Marker{begin, end} {
		r, err := EncodeMarker(m)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, render(r)...)
		got, err := DecodeMarker(r)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		m.Time = m.Time.Truncate(time.Millisecond)
		wj, _ := json.Marshal(m)
		if !bytes.Equal(gj, wj) {
			t.Errorf("marker round trip:\n%s\n%s", gj, wj)
		}
	}
	golden(t, "markers", all)
}

func TestDecodeRejectsMalformed(t *testing.T) {
	c := cases()["pg-insert"]
	good := encode1(t, c.enc, c.ev)
	mutate := map[string]func(r *Record){
		"no source":     func(r *Record) { r.Headers = r.Headers[1:] },
		"bad seq":       func(r *Record) { r.Headers[1].Value = []byte("x") },
		"bad json":      func(r *Record) { r.Value = r.Value[:len(r.Value)-3] },
		"bad op":        func(r *Record) { r.Value = bytes.Replace(r.Value, []byte(`"op":"c"`), []byte(`"op":"x"`), 1) },
		"wrong type":    func(r *Record) { r.Value = bytes.Replace(r.Value, []byte(`"id":42`), []byte(`"id":"42"`), 1) },
		"missing col":   func(r *Record) { r.Value = bytes.Replace(r.Value, []byte(`"small":-7,`), nil, 1) },
		"no schema hdr": func(r *Record) { r.Headers = filter(r.Headers, HeaderSchema) },
	}
	for name, m := range mutate {
		r := good
		r.Headers = append([]Header(nil), good.Headers...)
		r.Value = append([]byte(nil), good.Value...)
		m(&r)
		if _, err := Decode(r); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func filter(hs []Header, drop string) []Header {
	var out []Header
	for _, h := range hs {
		if h.Key != drop {
			out = append(out, h)
		}
	}
	return out
}

// appendString must agree with encoding/json on every input.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f\u2028", "\xff\xfe", "🚀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q: got %q want %q", s, back, wantBack)
		}
	})
}

func TestZonedYearsOutsideFourDigits(t *testing.T) {
	for _, s := range []string{"-00043-03-15T12:00:00Z", "+10000-01-01T00:00:00Z", "+294246-12-31T23:59:59.999999Z", "-04712-02-29T00:00:00.5Z", "2024-02-29T01:02:03.000004Z"} {
		tm, err := parseZoned(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := formatZoned(tm.UnixMicro()); got != s {
			t.Errorf("%s -> %s", s, got)
		}
	}
}

// benchRows is the table of the pipeline benchmarks (make bench).
var benchRows = &o.Table{Schema: "public", Name: "bench_rows", Columns: []o.Column{
	{Name: "id", Kind: o.KindInt, Type: "bigint"},
	{Name: "a", Kind: o.KindString, Type: "text"},
	{Name: "b", Kind: o.KindInt, Type: "bigint"},
	{Name: "c", Kind: o.KindTimestampTZ, Type: "timestamp with time zone"},
}, PrimaryKey: []string{"id"}}

func benchDecode(b *testing.B, ch o.Change) {
	enc := NewEncoder(pgSource, Options{Now: fixedNow})
	rec := encode1(b, enc, Event{Txn: pgTxn(ch), Change: &ch, Index: 0, Count: 1})
	var dec Decoder
	b.SetBytes(int64(len(rec.Value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dec.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeInsert is the sink's per-event decode cost for a
// bench_rows insert.
func BenchmarkDecodeInsert(b *testing.B) {
	benchDecode(b, o.Change{Table: benchRows, Op: o.OpInsert,
		After: []o.Value{o.Int(42), o.String("a0eebc999c0b4ef8bb6d6bb9bd380a11"), o.Int(42), o.TimestampTZ(1529501823945104)}})
}

// BenchmarkDecodeAllKinds decodes an update of every kind.
func BenchmarkDecodeAllKinds(b *testing.B) {
	row := allKindsRow()
	row[len(row)-1] = o.String("x")
	benchDecode(b, o.Change{Table: allKinds, Op: o.OpUpdate, Before: row, After: row})
}
