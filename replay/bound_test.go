package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sinks"
)

func pgSrc() []*source { return []*source{{name: "pg", engine: offsets.EnginePostgres}} }

func TestParseBound(t *testing.T) {
	if b, err := parseBound("", pgSrc()); b != nil || err != nil {
		t.Errorf(`parseBound(""): %v, %v; want no bound`, b, err)
	}
	at := "2026-01-02T03:04:05.5Z"
	b, err := parseBound(at, pgSrc())
	if err != nil || !b.isTime || !b.time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC)) || b.text != at {
		t.Errorf("parseBound(%s): %+v, %v", at, b, err)
	}
	b, err = parseBound("0/16B3748", pgSrc())
	if err != nil || b.isTime || b.pos["pg"].LSN != 0x16B3748 {
		t.Errorf("parseBound(LSN): %+v, %v", b, err)
	}
	// A position is parsed for every source, by its engine.
	srcs := append(pgSrc(), &source{name: "maria", engine: offsets.EngineMariaDB})
	if _, err := parseBound("0/16B3748", srcs); err == nil || !strings.Contains(err.Error(), "source maria (mariadb)") {
		t.Errorf("an LSN for a MariaDB source: %v, want an error naming it", err)
	}
	if _, err := parseBound("yesterday", pgSrc()); err == nil || !strings.Contains(err.Error(), "neither an RFC 3339 time nor a position") {
		t.Errorf("parseBound(yesterday): %v", err)
	}
}

func pgTxn(lsn, end uint64, hb bool) *kafka.Txn {
	return &kafka.Txn{End: envelope.Marker{Pos: offsets.PGPosition(offsets.LSN(lsn), offsets.LSN(end))}, Heartbeat: hb}
}

func TestBeyondPostgres(t *testing.T) {
	b, err := parseBound("0/100", pgSrc())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lsn, end uint64
		hb       bool
		want     bool
	}{
		{0xff, 0x110, false, false},  // committed before the bound
		{0x100, 0x110, false, false}, // at it: applied
		{0x101, 0x110, false, true},  // after it
		{0, 0xff, true, false},       // a heartbeat before the bound says nothing
		{0, 0x100, true, true},       // one at it: every transaction up to it was sent
	} {
		if got := b.beyond("pg", pgTxn(c.lsn, c.end, c.hb)); got != c.want {
			t.Errorf("beyond(lsn %x end %x heartbeat %v) = %v, want %v", c.lsn, c.end, c.hb, got, c.want)
		}
	}
	// A transaction without a position, or of another engine, is never
	// taken as past the bound.
	if b.beyond("pg", &kafka.Txn{}) {
		t.Error("a transaction without a position is beyond the bound")
	}
}

func TestBeyondGTID(t *testing.T) {
	srcs := []*source{{name: "m", engine: offsets.EngineMariaDB}}
	b, err := parseBound("0-1-10", srcs)
	if err != nil {
		t.Fatal(err)
	}
	set := func(s string) offsets.GTIDSet {
		g, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, s)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	txn := func(gtid, gtids string, hb bool) *kafka.Txn {
		p := offsets.Position{Engine: offsets.EngineMariaDB, GTID: gtid}
		if gtids != "" {
			p.GTIDs = set(gtids)
		}
		return &kafka.Txn{End: envelope.Marker{Pos: p}, Heartbeat: hb}
	}
	for _, c := range []struct {
		what string
		txn  *kafka.Txn
		want bool
	}{
		{"a GTID inside the bound", txn("0-1-10", "0-1-10", false), false},
		{"a GTID after it", txn("0-1-11", "0-1-11", false), true},
		{"a set inside it, no GTID", txn("", "0-1-9", false), false},
		{"a heartbeat short of it", txn("", "0-1-9", true), false},
		{"a heartbeat covering it", txn("", "0-1-10", true), true},
	} {
		if got := b.beyond("m", c.txn); got != c.want {
			t.Errorf("%s: beyond = %v, want %v", c.what, got, c.want)
		}
	}
}

func TestBeyondTime(t *testing.T) {
	T := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b, _ := parseBound(T.Format(time.RFC3339Nano), pgSrc())
	at := func(d time.Duration) *kafka.Txn { return &kafka.Txn{End: envelope.Marker{Time: T.Add(d)}} }
	if b.beyond("pg", at(0)) || !b.beyond("pg", at(time.Nanosecond)) || b.beyond("pg", &kafka.Txn{}) {
		t.Error("a time bound: a commit at it is within, one after it beyond, one without a time never beyond")
	}
}

func TestReached(t *testing.T) {
	b, _ := parseBound("0/100", pgSrc())
	if b.reached("pg", sinks.Applied{Pos: offsets.PGPosition(0xf0, 0xff)}) {
		t.Error("a watermark before the bound reached it")
	}
	if !b.reached("pg", sinks.Applied{Pos: offsets.PGPosition(0xf0, 0x100)}) {
		t.Error("a watermark whose end is at the bound did not reach it")
	}
	T := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tb, _ := parseBound(T.Format(time.RFC3339), pgSrc())
	if tb.reached("pg", sinks.Applied{CommitTime: T.Add(-time.Second)}) || !tb.reached("pg", sinks.Applied{CommitTime: T}) {
		t.Error("a time bound is reached by a commit at it, not before it")
	}
}

func TestLimit(t *testing.T) {
	var none *bound
	if _, ok := none.limit("pg"); ok {
		t.Error("no bound has a limit")
	}
	b, _ := parseBound("0/100", pgSrc())
	if _, ok := b.limit("pg"); ok {
		t.Error("a position bound has no spine limit")
	}
	tb, _ := parseBound("2026-01-01T00:00:00Z", pgSrc())
	tb.ends = map[string]timeBound{"pg": {end: 7}}
	if l, ok := tb.limit("pg"); !ok || l.end != 7 {
		t.Errorf("a resolved time bound's limit: %+v, %v", l, ok)
	}
}

func TestTimeBoundDescribe(t *testing.T) {
	T := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := (timeBound{}).describe(T); got != "the log holds no transaction committed at or before 2026-01-01T00:00:00Z" {
		t.Errorf("nothing at or before: %q", got)
	}
	tb := timeBound{end: 10, txns: 5, later: 2, last: envelope.Marker{
		Seq: offsets.Seq{Pos: 500}, Pos: offsets.PGPosition(0x500, 0x500), Time: T.Add(-time.Second)}}
	got := tb.describe(T)
	for _, want := range []string{"up to spine offset 9", "0/500", "commit 2025-12-31T23:59:59Z", ": 5 transactions", "2 of them committed after 2026-01-01T00:00:00Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("describe: %q does not say %q", got, want)
		}
	}
}
