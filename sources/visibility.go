package sources

// Commit order and visibility (PostgreSQL). A transaction's commit record
// enters the WAL before the transaction becomes visible to new snapshots:
// between the two, its backend flushes the WAL and updates the commit log,
// and another backend's commit (a low watermark's) can be written after it,
// become visible first and return. A chunk read right after that low
// watermark then misses the earlier transaction, whose changes the stream
// placed before the window: nothing would drop the chunk's stale rows. The
// read reports its snapshot (XidSnapshot); the decoder notes the xid of
// every transaction it decodes (NoteCommit); at the high watermark a chunk
// whose snapshot did not see a transaction decoded before its low
// watermark is read again.

// commitRing is how many of the newest transactions decoded the stream
// keeps the xids of. A transaction that stayed invisible for longer than
// this many later commits, the last of them the low watermark, is not
// found: the chunk is then read again when no older xid is left to check
// (BackfillStream.hiddenBefore).
const commitRing = 1 << 16

// XidSnapshot is what a chunk read could see, in PostgreSQL's terms
// (pg_current_snapshot, xids cut to 32 bits as the stream carries them):
// every transaction below Xmin that committed, none at or above Xmax, and
// none in Xip.
type XidSnapshot struct {
	Xmin, Xmax uint32
	Xip        map[uint32]bool
}

// Invisible reports whether a transaction that committed was not visible
// to the snapshot.
func (s *XidSnapshot) Invisible(xid uint32) bool {
	if int32(xid-s.Xmin) < 0 {
		return false
	}
	return int32(xid-s.Xmax) >= 0 || s.Xip[xid]
}

// NoteCommit records the xid of a transaction the stream decoded, in
// commit order (decoder).
func (b *BackfillStream) NoteCommit(xid uint32) {
	if b.commits == nil {
		b.commits = make([]uint32, commitRing)
	}
	b.commits[b.ncommits%commitRing] = xid
	b.ncommits++
}

// hiddenBefore reports whether a transaction decoded before the mark (a
// count of NoteCommit) was invisible to snap (decoder, mu held).
func (b *BackfillStream) hiddenBefore(mark uint64, snap *XidSnapshot) bool {
	if mark == 0 {
		return false
	}
	lo := uint64(0)
	if b.ncommits > commitRing {
		lo = b.ncommits - commitRing
	}
	if mark <= lo {
		return true // the newest commits before the mark are gone: cannot tell
	}
	for i := lo; i < mark; i++ {
		if snap.Invisible(b.commits[i%commitRing]) {
			return true
		}
	}
	return false
}
