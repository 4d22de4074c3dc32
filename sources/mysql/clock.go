package mysql

import (
	"sort"

	"github.com/walship/walship/offsets"
)

// logicalClock turns MySQL's binlog logical clock (the last_committed and
// sequence_number of each GTID event) into an extra lower bound on a
// transaction's depends_on, on top of walship's own writesets.
//
// MySQL numbers transactions per binlog file: sequence_number counts from 1
// in each file, and last_committed L means the transaction may run in
// parallel only with transactions whose sequence_number is greater than L.
// So its bound is the Seq of the last published transaction with
// sequence_number <= L; and, since the numbering restarts in each file,
// never less than the last transaction published from an earlier file
// (MySQL's own applier waits at every rotate too).
//
// Only published transactions are remembered: a depends_on must name a Seq
// that is in the log, or a sink's watermark could never reach it. History
// is bounded; a last_committed older than what is remembered yields the
// newest forgotten Seq, which is later than the exact bound (safe: more
// waiting, never less).
//
// MariaDB's GTID events carry no logical clock; the clock then stays empty
// and bounds nothing.
type logicalClock struct {
	capacity int
	floor    offsets.Seq // bound of every transaction: earlier files, forgotten history
	entries  []clockEntry
}

type clockEntry struct {
	sn  int64
	seq offsets.Seq
}

func newLogicalClock(capacity int) *logicalClock {
	if capacity <= 0 {
		capacity = 1 << 16
	}
	return &logicalClock{capacity: capacity}
}

// rotate starts a new binlog file: its numbering restarts, and every one of
// its transactions follows everything published from earlier files.
func (c *logicalClock) rotate() {
	if n := len(c.entries); n > 0 {
		if c.floor.Less(c.entries[n-1].seq) {
			c.floor = c.entries[n-1].seq
		}
		c.entries = c.entries[:0]
	}
}

// bound is the Seq a transaction with this last_committed must follow. ok
// is false when the event carried no logical clock (MariaDB, or MySQL
// before 5.7).
func (c *logicalClock) bound(lastCommitted, sequenceNumber int64) (offsets.Seq, bool) {
	if sequenceNumber <= 0 {
		return offsets.Seq{}, false
	}
	// The last entry with sn <= lastCommitted.
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].sn > lastCommitted })
	if i == 0 {
		return c.floor, true
	}
	b := c.entries[i-1].seq
	if b.Less(c.floor) {
		b = c.floor
	}
	return b, true
}

// published records that the transaction numbered sequenceNumber in the
// current file was published as seq.
func (c *logicalClock) published(sequenceNumber int64, seq offsets.Seq) {
	if sequenceNumber <= 0 {
		return
	}
	if n := len(c.entries); n > 0 && c.entries[n-1].sn >= sequenceNumber {
		// Out of order within a file (should not happen): forget the
		// history rather than answer from a list that is not sorted.
		c.rotate()
	}
	if len(c.entries) >= c.capacity {
		drop := len(c.entries) / 2
		if c.floor.Less(c.entries[drop-1].seq) {
			c.floor = c.entries[drop-1].seq
		}
		c.entries = append(c.entries[:0], c.entries[drop:]...)
	}
	c.entries = append(c.entries, clockEntry{sequenceNumber, seq})
}
