package sources

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/supervise"
)

// TxnBuffer holds one transaction's changes until its commit: in memory up
// to memLimit bytes, then in a spill file under dir. Changes of aborted
// subtransactions are dropped when the buffer is read. It also collects
// the transaction's writeset as changes arrive.
type TxnBuffer struct {
	xid      uint32
	dir      string
	memLimit int64

	mem      []bufChange
	memBytes int64
	memKept  []bufChange // mem's array, emptied by Close, for Reset

	file    *os.File
	w       *bufio.Writer
	scratch []byte

	tables   []*ordering.Table
	tableIdx map[*ordering.Table]int

	count   int
	perSub  map[uint32]int
	aborted map[uint32]bool
	// Writeset collects the keys of every change added, but in a chunk
	// buffer (NewChunkBuffer).
	Writeset ordering.Writeset
	// chunk: no writeset, only the tables (chunkTables) of the changes.
	chunk       bool
	chunkTables []*ordering.Table
	// filter, when set, decides what of each change is held (Filtered).
	filter ChangeFilter
	at     string
}

// ChangeFilter decides what of each change enters the log (package filter:
// a source's columns: and where: rules). Filter rewrites ch in place and
// reports whether it is kept.
type ChangeFilter interface {
	Filter(ch *ordering.Change) (bool, error)
}

// Filtered makes b pass each change through f before it holds it (nil
// keeps every change as it is); at says where the changes come from (a
// transaction, a snapshot), for f's errors, which stop the source.
func (b *TxnBuffer) Filtered(f ChangeFilter, at string) *TxnBuffer {
	b.filter, b.at = f, at
	return b
}

// XID is the transaction id the buffer was made for.
func (b *TxnBuffer) XID() uint32 { return b.xid }

type bufChange struct {
	sub uint32
	ch  ordering.Change
}

func NewTxnBuffer(xid uint32, dir string, memLimit int64) *TxnBuffer {
	return &TxnBuffer{xid: xid, dir: dir, memLimit: memLimit, tableIdx: map[*ordering.Table]int{}, perSub: map[uint32]int{}}
}

// NewChunkBuffer is a TxnBuffer for a snapshot chunk: rows each read once,
// ordered by ordering.Tracker.CommitChunk on the tables of its changes
// (SnapshotDependsOn), so it collects no writeset.
func NewChunkBuffer(dir string, memLimit int64) *TxnBuffer {
	b := NewTxnBuffer(0, dir, memLimit)
	b.chunk = true
	return b
}

// SnapshotDependsOn records a snapshot's transaction seq held in b with t
// and returns its depends_on: the snapshot's last chunk (last) is a
// barrier that every later transaction follows, a chunk buffer is ordered
// by its tables (Tracker.CommitChunk), and any other (a redo's truncates)
// by its writeset.
func (b *TxnBuffer) SnapshotDependsOn(t *ordering.Tracker, seq offsets.Seq, last bool) offsets.Seq {
	switch {
	case last:
		return t.CommitBarrier(seq)
	case b.chunk:
		return t.CommitChunk(seq, b.chunkTables)
	default:
		return t.Commit(seq, &b.Writeset)
	}
}

// Add appends a change made by subtransaction sub (the top xid for
// changes of the transaction itself).
func (b *TxnBuffer) Add(sub uint32, ch ordering.Change) error {
	if b.filter != nil {
		keep, err := b.filter.Filter(&ch)
		if err != nil {
			return supervise.Permanent(fmt.Errorf("%s: %w (fix the rule, or the source, and start again)", b.at, err))
		}
		if !keep {
			return nil
		}
	}
	b.count++
	b.perSub[sub]++
	if b.chunk {
		if n := len(b.chunkTables); n == 0 || b.chunkTables[n-1] != ch.Table {
			if !slices.Contains(b.chunkTables, ch.Table) {
				b.chunkTables = append(b.chunkTables, ch.Table)
			}
		}
	} else {
		b.Writeset.Add(&ch)
	}
	if b.file == nil {
		b.mem = append(b.mem, bufChange{sub, ch})
		b.memBytes += changeSize(&ch)
		if b.memBytes <= b.memLimit {
			return nil
		}
		if err := b.spill(); err != nil {
			return err
		}
		return nil
	}
	return b.write(sub, &ch)
}

func changeSize(ch *ordering.Change) int64 {
	n := int64(64)
	for _, v := range ch.Before {
		n += int64(v.Size())
	}
	for _, v := range ch.After {
		n += int64(v.Size())
	}
	return n
}

// spill moves the in-memory changes to a new file; later ones go there too.
func (b *TxnBuffer) spill() error {
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return fmt.Errorf("spill directory: %w", err)
	}
	f, err := os.CreateTemp(b.dir, fmt.Sprintf("txn-%d-*.spill", b.xid))
	if err != nil {
		return fmt.Errorf("spill transaction %d: %w", b.xid, err)
	}
	// The file is private to this process: unlink it now so a crash leaves
	// nothing behind.
	os.Remove(f.Name())
	b.file, b.w = f, bufio.NewWriterSize(f, 1<<20)
	for i := range b.mem {
		if err := b.write(b.mem[i].sub, &b.mem[i].ch); err != nil {
			return err
		}
	}
	b.mem, b.memBytes = nil, 0
	return nil
}

func (b *TxnBuffer) write(sub uint32, ch *ordering.Change) error {
	idx, ok := b.tableIdx[ch.Table]
	if !ok {
		idx = len(b.tables)
		b.tables = append(b.tables, ch.Table)
		b.tableIdx[ch.Table] = idx
	}
	s := b.scratch[:0]
	s = binary.AppendUvarint(s, uint64(sub))
	s = binary.AppendUvarint(s, uint64(idx))
	s = append(s, byte(ch.Op))
	s = ordering.AppendRow(s, ch.Before)
	s = ordering.AppendRow(s, ch.After)
	b.scratch = s
	var n [binary.MaxVarintLen64]byte
	if _, err := b.w.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))]); err != nil {
		return fmt.Errorf("spill transaction %d: %w", b.xid, err)
	}
	if _, err := b.w.Write(s); err != nil {
		return fmt.Errorf("spill transaction %d: %w", b.xid, err)
	}
	return nil
}

// Abort drops the changes of subtransaction sub.
func (b *TxnBuffer) Abort(sub uint32) {
	if b.aborted == nil {
		b.aborted = map[uint32]bool{}
	}
	b.aborted[sub] = true
}

// Live is the number of changes that survive the aborts.
func (b *TxnBuffer) Live() int {
	n := b.count
	for sub := range b.aborted {
		n -= b.perSub[sub]
	}
	return n
}

// Spilled reports whether the buffer went to disk.
func (b *TxnBuffer) Spilled() bool { return b.file != nil }

// Changes iterates the surviving changes in order. It may be called once.
func (b *TxnBuffer) Changes() iter.Seq2[*ordering.Change, error] {
	return func(yield func(*ordering.Change, error) bool) {
		if b.file == nil {
			for i := range b.mem {
				if !b.aborted[b.mem[i].sub] && !yield(&b.mem[i].ch, nil) {
					return
				}
			}
			return
		}
		if err := b.w.Flush(); err != nil {
			yield(nil, err)
			return
		}
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			yield(nil, err)
			return
		}
		r := bufio.NewReaderSize(b.file, 1<<20)
		for {
			ch, sub, err := b.read(r)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("read spill of transaction %d: %w", b.xid, err))
				return
			}
			if !b.aborted[sub] && !yield(ch, nil) {
				return
			}
		}
	}
}

func (b *TxnBuffer) read(r *bufio.Reader) (*ordering.Change, uint32, error) {
	if _, err := binary.ReadUvarint(r); err != nil { // record length
		return nil, 0, err
	}
	sub, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, 0, unexpected(err)
	}
	idx, err := binary.ReadUvarint(r)
	if err != nil || idx >= uint64(len(b.tables)) {
		return nil, 0, fmt.Errorf("bad table index: %v", unexpected(err))
	}
	op, err := r.ReadByte()
	if err != nil {
		return nil, 0, unexpected(err)
	}
	ch := &ordering.Change{Table: b.tables[idx], Op: ordering.Op(op)}
	if ch.Before, err = ordering.ReadRow(r); err != nil {
		return nil, 0, unexpected(err)
	}
	if ch.After, err = ordering.ReadRow(r); err != nil {
		return nil, 0, unexpected(err)
	}
	return ch, uint32(sub), nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Reset empties b for the next transaction, as NewTxnBuffer(xid, dir,
// memLimit) would make it, and keeps the memory
// that held the changes (unless it grew large): a source that publishes
// each transaction before it reads the next reuses one buffer. The changes
// it yielded must no longer be in use.
func (b *TxnBuffer) Reset(xid uint32, dir string, memLimit int64) {
	b.Close()
	mem := b.memKept[:0]
	if cap(mem) > 1<<14 {
		mem = nil
	}
	clear(b.tableIdx)
	clear(b.perSub)
	keys := b.Writeset.Reset()
	*b = TxnBuffer{xid: xid, dir: dir, memLimit: memLimit, mem: mem, scratch: b.scratch,
		tableIdx: b.tableIdx, perSub: b.perSub, Writeset: keys}
}

// Close releases the spill file.
func (b *TxnBuffer) Close() {
	if b.file != nil {
		b.file.Close()
		b.file = nil
	}
	// The changes go (clear), the array stays for Reset.
	if b.mem != nil {
		clear(b.mem)
		b.memKept, b.mem = b.mem[:0], nil
	}
}
