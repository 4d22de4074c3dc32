package ordering

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/walship/walship/offsets"
)

// Writeset collects the keys one transaction touches: for every changed
// row, before and after image, the hash of its table and primary key, of
// each unique key, and of the parent key each foreign key references. A
// change whose keys cannot be computed (a table without a primary key, a
// truncate, an update without its old image on a table with unique or
// foreign keys) makes the writeset a barrier: the transaction must follow
// every earlier one, and every later one must follow it. So does a change
// that sets off a cascade the source did not log (Table.Cascading): the
// child rows it changes on the follower are known only there, so no key
// can stand for them.
//
// A Writeset is built by one goroutine; the zero value is ready to use.
type Writeset struct {
	keys    []uint64
	barrier bool
	// MaxKeys bounds memory for huge transactions: past it the writeset
	// becomes a barrier instead of growing. Default: 100000.
	MaxKeys int
}

// Barrier reports whether the transaction must run alone in order.
func (w *Writeset) Barrier() bool { return w.barrier }

// Reset returns an empty writeset with w's MaxKeys that reuses w's keys'
// array (unless it grew large); w must not be used after.
func (w *Writeset) Reset() Writeset {
	keys := w.keys[:0]
	if cap(keys) > 1<<14 {
		keys = nil
	}
	return Writeset{keys: keys, MaxKeys: w.MaxKeys}
}

// Len is the number of keys collected.
func (w *Writeset) Len() int { return len(w.keys) }

// Add adds the keys of one change.
func (w *Writeset) Add(ch *Change) {
	if w.barrier {
		return
	}
	t := ch.Table
	if ch.Op == OpTruncate || ch.Op == OpPrune || len(t.PrimaryKey) == 0 || t.Serial || (len(t.Cascades) > 0 && t.Cascading(ch)) {
		w.barrier, w.keys = true, nil
		return
	}
	if ch.Op == OpUpdate && ch.Before == nil && (len(t.UniqueKeys) > 0 || len(t.ForeignKeys) > 0) {
		// No old image (PostgreSQL's default replica identity, key
		// unchanged): the unique values it freed and the parent it left
		// are unknown, so a later transaction taking that value or
		// deleting that parent could not be ordered after it.
		w.barrier, w.keys = true, nil
		return
	}
	start, mid := len(w.keys), len(w.keys)
	for i, row := range [][]Value{ch.Before, ch.After} {
		if row == nil {
			continue
		}
		if i == 1 {
			mid = len(w.keys)
		}
		w.addKey(t.Schema, t.Name, t, t.PrimaryKey, t.PrimaryKey, row)
		for _, uk := range t.UniqueKeys {
			w.addKey(t.Schema, t.Name, t, uk, uk, row)
		}
		for _, fk := range t.ForeignKeys {
			w.addKey(fk.ParentSchema, fk.ParentTable, t, fk.Columns, fk.ParentColumns, row)
		}
	}
	if mid > start && slices.Equal(w.keys[start:mid], w.keys[mid:]) {
		// An update that keeps its keys: once is enough.
		w.keys = w.keys[:mid]
	}
	max := w.MaxKeys
	if max == 0 {
		max = 100000
	}
	if len(w.keys) > max {
		w.barrier, w.keys = true, nil
	}
}

// addKey hashes (schema, table, sorted name=value pairs). The values come
// from cols of row; the names are keyNames, the columns of the table the key
// belongs to, so a child's foreign key hashes like its parent's key. A key
// with a NULL part is skipped (NULLs never conflict in a unique index); an
// unchanged part makes the writeset a barrier, being unknown.
func (w *Writeset) addKey(schema, table string, t *Table, cols, keyNames []string, row []Value) {
	if len(cols) != len(keyNames) {
		w.barrier = true
		return
	}
	type part struct {
		name string
		v    Value
	}
	var small [4]part // most keys: no allocation
	parts := small[:0]
	if len(cols) > len(small) {
		parts = make([]part, 0, len(cols))
	}
	parts = parts[:len(cols)]
	for i, c := range cols {
		idx := t.ColumnIndex(c)
		if idx < 0 {
			w.barrier = true
			return
		}
		v := row[idx]
		switch {
		case v.IsNull():
			return
		case v.IsUnchanged():
			w.barrier = true
			return
		}
		parts[i] = part{keyNames[i], v}
	}
	if len(parts) > 1 {
		slices.SortFunc(parts, func(a, b part) int { return strings.Compare(a.name, b.name) })
	}
	var d xxhash.Digest
	d.Reset()
	d.WriteString(schema)
	d.Write([]byte{0})
	d.WriteString(table)
	var buf [9]byte
	for _, p := range parts {
		d.Write([]byte{0})
		d.WriteString(p.name)
		d.Write([]byte{0})
		hashValue(&d, p.v, buf[:])
	}
	w.keys = append(w.keys, d.Sum64())
}

// hashValue feeds a key value into d. Strings are folded to lower case
// with trailing spaces trimmed, so keys equal under MySQL's default
// case-insensitive, pad-space collations hash alike: extra conflicts are
// safe, missed ones are not. Integer kinds hash alike, so an int4 foreign
// key matches an int8 parent key.
func hashValue(d *xxhash.Digest, v Value, buf []byte) {
	k := v.Kind()
	switch k {
	case KindUint:
		k = KindInt
	case KindText, KindEnum, KindUUID:
		k = KindString
	}
	buf[0] = byte(k)
	switch v.Kind() {
	case KindString, KindText, KindEnum, KindUUID:
		d.Write(buf[:1])
		d.WriteString(strings.ToLower(strings.TrimRight(v.Text(), " ")))
	case KindArray:
		d.Write(buf[:1])
		for _, e := range v.Elems() {
			hashValue(d, e, buf)
		}
	default:
		binary.LittleEndian.PutUint64(buf[1:], v.num)
		d.Write(buf[:9])
		d.WriteString(v.str)
	}
}

// Tracker assigns depends_on to transactions in sequence order, like
// MySQL's WRITESET logical clock: a transaction depends on the greatest
// earlier Seq that touched any of its keys, and never on less than the last
// barrier.
//
// depends_on D means: every transaction of the source with Seq <= D must
// have committed on the follower before this one starts. A sink's scheduler
// therefore waits for its low watermark to reach D, which is what makes
// the dependency transitive.
//
// History is bounded: when more than Capacity keys are remembered, the
// history is dropped and the floor rises to the newest Seq, so later
// transactions conservatively depend on everything before. A Tracker is
// used by one goroutine.
type Tracker struct {
	capacity int
	last     map[uint64]offsets.Seq
	floor    offsets.Seq // every transaction depends on at least this
	prev     offsets.Seq // the previous transaction's Seq
	// chunks is the last snapshot chunk of each table (CommitChunk).
	chunks map[string]offsets.Seq
}

// NewTracker returns a tracker remembering up to capacity keys. floor is
// the Seq the stream resumes after (the zero Seq on a fresh start): what
// came before a restart is not in the history, so everything depends on it.
func NewTracker(capacity int, floor offsets.Seq) *Tracker {
	if capacity <= 0 {
		capacity = 1 << 20
	}
	return &Tracker{capacity: capacity, last: make(map[uint64]offsets.Seq), floor: floor, prev: floor}
}

// Commit records the writeset of the transaction seq (which must be greater
// than every earlier one) and returns its depends_on.
func (t *Tracker) Commit(seq offsets.Seq, w *Writeset) offsets.Seq {
	dep := t.floor
	if w.barrier {
		dep = t.prev
		t.floor = seq
	} else {
		for _, k := range w.keys {
			if s, ok := t.last[k]; ok && dep.Less(s) {
				dep = s
			}
		}
		if len(t.last)+len(w.keys) > t.capacity {
			clear(t.last)
			t.floor = t.prev
			if dep.Less(t.floor) {
				dep = t.floor
			}
		}
		for _, k := range w.keys {
			t.last[k] = seq
		}
	}
	t.prev = seq
	return dep
}

// CommitChunk records a snapshot chunk, whose rows (of tables) are each
// read once by exactly one chunk, and returns its depends_on without
// hashing a key: chunks of one table never touch the same row, so a chunk
// depends only on the last chunk of every table its tables' foreign keys
// reference (a table that references itself: its own previous chunk), and
// never on less than the floor. Hashing each row cost a third of a
// snapshot's CPU, and a snapshot larger than the capacity dropped the
// history anyway. A snapshot ends with CommitBarrier, so every transaction
// after it depends on every chunk.
func (t *Tracker) CommitChunk(seq offsets.Seq, tables []*Table) offsets.Seq {
	if t.chunks == nil {
		t.chunks = map[string]offsets.Seq{}
	}
	dep := t.floor
	for _, tb := range tables {
		for _, fk := range tb.ForeignKeys {
			if s, ok := t.chunks[fk.ParentSchema+"."+fk.ParentTable]; ok && dep.Less(s) {
				dep = s
			}
		}
	}
	for _, tb := range tables {
		t.chunks[tb.QualifiedName()] = seq
	}
	t.prev = seq
	return dep
}

// CommitBarrier records a transaction that must follow every earlier one
// and precede every later one (a snapshot's last chunk, a redo's truncates)
// and returns its depends_on.
func (t *Tracker) CommitBarrier(seq offsets.Seq) offsets.Seq {
	dep := t.prev
	t.floor, t.prev = seq, seq
	clear(t.last)
	clear(t.chunks)
	return dep
}
