package offsets

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Seq is the per-source sequence of a transaction in the log. It is an
// ordered pair derived from the source position, so a transaction re-sent
// after a source restart carries the same Seq and sinks drop it.
//
//   - PostgreSQL: Pos is the commit LSN.
//   - MariaDB with one GTID domain: Pos is 1<<63 | the GTID's sequence
//     number (GTIDSeqPos), which the whole replication topology shares, so
//     it survives a change of server (a promoted replica).
//   - MySQL, and MariaDB sources that keep it: Pos is the binlog file
//     index << 40 | end offset (BinlogSeqPos). It orders one server's
//     binlog only: another server numbers its files differently.
//
// The high bit (GTIDSeqBit) sets the MariaDB GTID form above every binlog
// form, so a source that switches from the binlog form to the GTID form
// (see sources/mysql) never sorts a new transaction below an old one.
//
// Sub orders what shares a Pos: snapshot chunks at the consistent point
// have Sub 0, 1, 2, ... and a streamed transaction has Sub StreamSub, so
// the snapshot sorts before the stream that starts there.
type Seq struct {
	Pos uint64
	Sub uint32
}

// StreamSub is the Sub of every streamed (non-snapshot) transaction.
const StreamSub = ^uint32(0)

// IsZero reports whether s is the zero Seq, which precedes every
// transaction and means "none" in depends_on.
func (s Seq) IsZero() bool { return s == Seq{} }

// Compare returns -1, 0 or +1.
func (s Seq) Compare(o Seq) int {
	return cmp.Or(cmp.Compare(s.Pos, o.Pos), cmp.Compare(s.Sub, o.Sub))
}

// Less reports s < o.
func (s Seq) Less(o Seq) bool { return s.Compare(o) < 0 }

// String is fixed-width hexadecimal "PPPPPPPPPPPPPPPP.SSSSSSSS", so the
// text order is the numeric order (it is used in Kafka headers).
func (s Seq) String() string { return fmt.Sprintf("%016X.%08X", s.Pos, s.Sub) }

// ParseSeq parses the String form.
func ParseSeq(str string) (Seq, error) {
	p, sub, ok := strings.Cut(str, ".")
	if !ok || len(p) != 16 || len(sub) != 8 {
		return Seq{}, fmt.Errorf("%w: sequence %q is not PPPPPPPPPPPPPPPP.SSSSSSSS", ErrMalformed, str)
	}
	pos, err1 := strconv.ParseUint(p, 16, 64)
	s, err2 := strconv.ParseUint(sub, 16, 32)
	if err1 != nil || err2 != nil {
		return Seq{}, fmt.Errorf("%w: sequence %q is not hexadecimal", ErrMalformed, str)
	}
	return Seq{Pos: pos, Sub: uint32(s)}, nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Seq) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Seq) UnmarshalText(b []byte) error {
	v, err := ParseSeq(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// BinlogSeqPos packs a binlog position into Seq.Pos: file index << 40 |
// offset. The file index must be below 2^23 (mysql-bin.8388608), so the
// result stays below GTIDSeqBit.
func BinlogSeqPos(b BinlogPos) (uint64, error) {
	idx, err := b.FileIndex()
	if err != nil {
		return 0, err
	}
	if idx >= 1<<23 || b.Pos >= 1<<40 {
		return 0, fmt.Errorf("%w: binlog position %s is out of the packable range", ErrMalformed, b)
	}
	return idx<<40 | b.Pos, nil
}

// GTIDSeqBit is set in the Seq.Pos of every MariaDB GTID-derived Seq and
// in no binlog-derived one.
const GTIDSeqBit = uint64(1) << 63

// GTIDSeqPos packs a MariaDB GTID sequence number (the N of domain-server-N)
// into Seq.Pos: GTIDSeqBit | n.
func GTIDSeqPos(n uint64) (uint64, error) {
	if n&GTIDSeqBit != 0 {
		return 0, fmt.Errorf("%w: GTID sequence number %d is out of the packable range", ErrMalformed, n)
	}
	return GTIDSeqBit | n, nil
}

// FromGTID reports whether s is a MariaDB GTID-derived Seq (GTIDSeqPos).
func (s Seq) FromGTID() bool { return s.Pos&GTIDSeqBit != 0 }
