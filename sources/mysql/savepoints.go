package mysql

import "strings"

// abortable is the part of sources.TxnBuffer savepoints drives.
type abortable interface{ Abort(sub uint32) }

// savepoints tracks the savepoints of the open binlog transaction.
//
// The transaction's changes are added to its TxnBuffer in segments
// (TxnBuffer's subtransaction ids): segment 0 up to the first savepoint,
// and a new segment after every SAVEPOINT and every ROLLBACK TO. Segments
// are numbered in binlog order, so the changes made after savepoint x are
// exactly those of the segments numbered from x's on: ROLLBACK TO x
// aborts them. MariaDB writes ROLLBACK TO into the binlog only when the
// transaction also changed a non-transactional table; then the
// transactional rows it rolls back are in the binlog before it, and must
// not reach the log.
type savepoints struct {
	last  uint32      // the segment changes go to now (the highest so far)
	live  []uint32    // segments not aborted, ascending; live[len-1] == last
	named []savepoint // set and not released or rolled past, oldest first
}

type savepoint struct {
	name string
	seg  uint32 // the first segment after it
}

// reset starts a new transaction: segment 0, no savepoints.
func (s *savepoints) reset() {
	s.last, s.live, s.named = 0, append(s.live[:0], 0), s.named[:0]
}

// segment is the segment a change added now belongs to.
func (s *savepoints) segment() uint32 { return s.last }

// set is SAVEPOINT name. A savepoint of the same name is replaced.
func (s *savepoints) set(name string) {
	if i := s.find(name); i >= 0 {
		s.named = append(s.named[:i], s.named[i+1:]...)
	}
	s.next()
	s.named = append(s.named, savepoint{name: name, seg: s.last})
}

// rollbackTo is ROLLBACK TO name: it aborts every change made since the
// savepoint and forgets the savepoints set after it; the savepoint
// itself stays. It reports false for a savepoint it does not know.
func (s *savepoints) rollbackTo(name string, buf abortable) bool {
	i := s.find(name)
	if i < 0 {
		return false
	}
	from := s.named[i].seg
	for len(s.live) > 0 && s.live[len(s.live)-1] >= from {
		buf.Abort(s.live[len(s.live)-1])
		s.live = s.live[:len(s.live)-1]
	}
	s.named = s.named[:i+1]
	s.next()
	return true
}

// release is RELEASE SAVEPOINT name: it forgets the savepoint and those
// set after it, and keeps their changes. It reports false for a savepoint
// it does not know.
func (s *savepoints) release(name string) bool {
	i := s.find(name)
	if i < 0 {
		return false
	}
	s.named = s.named[:i]
	return true
}

func (s *savepoints) next() {
	s.last++
	s.live = append(s.live, s.last)
}

// find is the index of the savepoint called name; savepoint names are
// not case-sensitive.
func (s *savepoints) find(name string) int {
	for i := len(s.named) - 1; i >= 0; i-- {
		if strings.EqualFold(s.named[i].name, name) {
			return i
		}
	}
	return -1
}
