package offsets

import (
	"errors"
	"testing"
)

func TestLSN(t *testing.T) {
	for _, s := range []string{"0/0", "0/16B3748", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		l, err := ParseLSN(s)
		if err != nil {
			t.Fatal(err)
		}
		if l.String() != s {
			t.Errorf("round trip %q -> %q", s, l)
		}
	}
	if l, _ := ParseLSN("1/0"); l != 1<<32 {
		t.Errorf("1/0 = %d", l)
	}
	for _, bad := range []string{"", "16B3748", "0/", "/1", "G/1", "123456789/0", "0/1/2"} {
		if _, err := ParseLSN(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseLSN(%q) err = %v", bad, err)
		}
	}
	var l LSN
	if err := l.Scan("0/10"); err != nil || l != 16 {
		t.Errorf("Scan: %v %v", l, err)
	}
}

func TestSeqOrderAndText(t *testing.T) {
	snap0 := Seq{Pos: 100, Sub: 0}
	snap1 := Seq{Pos: 100, Sub: 1}
	stream := Seq{Pos: 100, Sub: StreamSub}
	next := Seq{Pos: 101, Sub: StreamSub}
	order := []Seq{{}, snap0, snap1, stream, next}
	for i := 1; i < len(order); i++ {
		if !order[i-1].Less(order[i]) {
			t.Errorf("%v should sort before %v", order[i-1], order[i])
		}
		if order[i-1].String() >= order[i].String() {
			t.Errorf("text order broken: %v vs %v", order[i-1], order[i])
		}
	}
	for _, s := range order {
		got, err := ParseSeq(s.String())
		if err != nil || got != s {
			t.Errorf("round trip %v -> %v, %v", s, got, err)
		}
	}
	if _, err := ParseSeq("12.3"); !errors.Is(err, ErrMalformed) {
		t.Errorf("short seq accepted: %v", err)
	}
}

// TestGTIDSeqAboveBinlogSeq: a MariaDB GTID-derived Seq sorts above every
// binlog-derived one (a source that switches never goes backwards), in
// number and in text, and the GTID sequence numbers keep their order.
func TestGTIDSeqAboveBinlogSeq(t *testing.T) {
	maxBinlog, err := BinlogSeqPos(BinlogPos{File: "mysql-bin.8388607", Pos: 1<<40 - 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BinlogSeqPos(BinlogPos{File: "mysql-bin.8388608", Pos: 4}); !errors.Is(err, ErrMalformed) {
		t.Errorf("file index 2^23 packed: %v", err)
	}
	var prev Seq
	for _, n := range []uint64{0, 1, 2, 135884, 1<<63 - 1} {
		pos, err := GTIDSeqPos(n)
		if err != nil {
			t.Fatal(err)
		}
		s := Seq{Pos: pos, Sub: StreamSub}
		if !s.FromGTID() || pos&^GTIDSeqBit != n {
			t.Errorf("GTIDSeqPos(%d) = %#x", n, pos)
		}
		old := Seq{Pos: maxBinlog, Sub: StreamSub}
		if old.FromGTID() || !old.Less(Seq{Pos: pos}) || old.String() >= s.String() {
			t.Errorf("binlog seq %s not below GTID seq %s", old, s)
		}
		if !prev.IsZero() && !prev.Less(s) {
			t.Errorf("GTID seqs out of order: %s, %s", prev, s)
		}
		prev = s
	}
	if _, err := GTIDSeqPos(1 << 63); !errors.Is(err, ErrMalformed) {
		t.Errorf("GTIDSeqPos(2^63): %v", err)
	}
}

func TestGTIDSetDomains(t *testing.T) {
	g, err := ParseGTIDSet(FlavorMariaDB, "0-1-42,1-2-7")
	if err != nil {
		t.Fatal(err)
	}
	if d := g.Domains(); len(d) != 2 || d[0] != 42 || d[1] != 7 {
		t.Errorf("domains %v", d)
	}
	empty, _ := ParseGTIDSet(FlavorMariaDB, "")
	if d := empty.Domains(); d == nil || len(d) != 0 {
		t.Errorf("empty set domains %v", d)
	}
	my, _ := ParseGTIDSet(FlavorMySQL, "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5")
	if d := my.Domains(); d != nil {
		t.Errorf("MySQL set domains %v", d)
	}
}

func TestBinlogPos(t *testing.T) {
	a, err := ParseBinlogPos("mysql-bin.000009:4000")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ParseBinlogPos("mysql-bin.000010:4")
	if a.Compare(b) >= 0 || b.Compare(a) <= 0 || a.Compare(a) != 0 {
		t.Errorf("compare wrong")
	}
	pa, _ := BinlogSeqPos(a)
	pb, _ := BinlogSeqPos(b)
	if pa >= pb {
		t.Errorf("packed order wrong: %d %d", pa, pb)
	}
	if _, err := ParseBinlogPos("nofile"); !errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v", err)
	}
}

func TestGTIDSets(t *testing.T) {
	big, err := ParseGTIDSet(FlavorMariaDB, "0-1-42,1-2-7")
	if err != nil {
		t.Fatal(err)
	}
	small, _ := ParseGTIDSet(FlavorMariaDB, "0-1-40")
	if !big.Contains(small) || small.Contains(big) {
		t.Errorf("mariadb containment wrong")
	}
	my, err := ParseGTIDSet(FlavorMySQL, "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5")
	if err != nil {
		t.Fatal(err)
	}
	my3, _ := ParseGTIDSet(FlavorMySQL, "3E11FA47-71CA-11E1-9E33-C80AA9429562:3")
	if !my.Contains(my3) || my3.Contains(my) || big.Contains(my3) {
		t.Errorf("mysql containment wrong")
	}
	if _, err := ParseGTIDSet(FlavorMariaDB, "zz"); !errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v", err)
	}
	if !(GTIDSet{}).IsEmpty() || !big.Contains(GTIDSet{}) {
		t.Errorf("empty set semantics wrong")
	}
}

func TestPositionText(t *testing.T) {
	gs, _ := ParseGTIDSet(FlavorMariaDB, "0-1-42")
	for _, p := range []Position{
		PGPosition(0x16B3748, 0x16B3780),
		{Engine: EngineMariaDB, GTID: "0-1-42", GTIDs: gs, Binlog: BinlogPos{File: "mysql-bin.000003", Pos: 1234}},
	} {
		b, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var q Position
		if err := q.UnmarshalText(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		q2, _ := q.MarshalText()
		if string(q2) != string(b) || q.Engine != p.Engine || q.LSN != p.LSN || q.Binlog != p.Binlog || !q.GTIDs.Equal(p.GTIDs) {
			t.Errorf("round trip %s -> %s", b, q2)
		}
	}
	if b, _ := PGPosition(1<<32, 1<<32+8).MarshalText(); string(b) != "postgres:lsn=1/0;end=1/8" {
		t.Errorf("golden text changed: %s", b)
	}
	for _, bad := range []string{"oracle:lsn=0/1", "postgres:gtids=0-1-1", "postgres", "mariadb:gtids=zz"} {
		if _, err := ParsePosition(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParsePosition(%q) err = %v", bad, err)
		}
	}
}

func TestReached(t *testing.T) {
	applied := PGPosition(100, 120)
	for target, want := range map[string]bool{"0/78": true, "0/64": true, "0/79": false} {
		tp, err := ParseTarget(EnginePostgres, target)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := applied.Reached(tp); got != want {
			t.Errorf("Reached(%s) = %v", target, got)
		}
	}
	gs, _ := ParseGTIDSet(FlavorMariaDB, "0-1-42")
	ap := Position{Engine: EngineMariaDB, GTIDs: gs}
	tp, _ := ParseTarget(EngineMariaDB, "0-1-41")
	if ok, _ := ap.Reached(tp); !ok {
		t.Errorf("0-1-42 should reach 0-1-41")
	}
	tp, _ = ParseTarget(EngineMariaDB, "0-1-43")
	if ok, _ := ap.Reached(tp); ok {
		t.Errorf("0-1-42 should not reach 0-1-43")
	}
	if _, err := applied.Reached(ap); !errors.Is(err, ErrEngineMismatch) {
		t.Errorf("err = %v", err)
	}
	if _, err := ParseTarget(EnginePostgres, "nonsense"); !errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v", err)
	}
}
