package sinks

// The dependency-aware scheduler: which queued transactions form the
// next batch (take), handing batches to workers (dispatch), and the
// watermark over the committed prefix (advance). It runs on the
// dispatcher goroutine only, so it can be unit-tested against hand-built
// items (scheduler_test.go).

// arrive queues a transaction read from the log; a heartbeat, or one an
// earlier run applied above its watermark, counts as committed at once.
func (r *run) arrive(it *item) {
	st := it.src
	if it.heartbeat {
		it.state = committed
		st.items = append(st.items, it)
		if st.next == len(st.items)-1 {
			st.next++
		}
		if !it.seq.Less(st.newest.Seq) {
			st.newest.Pos = it.ap.Pos
		}
		r.advance(st)
		return
	}
	st.items = append(st.items, it)
	if it.ap.CommitTime.After(st.newest.CommitTime) || st.newest.Seq.Less(it.seq) {
		st.newest = it.ap
	}
	if st.above[it.seq] {
		// Applied by an earlier run, above its watermark.
		delete(st.above, it.seq)
		it.state = committed
		if it.big {
			for _, err := range it.txn.Stream {
				if err != nil {
					break
				}
			}
			close(it.done)
		}
		if st.next == len(st.items)-1 {
			st.next++
		}
		r.advance(st)
	}
}

// dispatch hands ready transactions to idle workers. A transaction may
// start when every transaction it depends on has committed: its
// depends_on is at or below the source's watermark, or nothing before it
// is still in flight. With CommitSource a batch is a contiguous range of
// the log, and commits in its turn (order.go). With CommitDependencies,
// transactions behind one that must wait may go first when they are ready
// themselves (look-ahead, within a window): a transaction that conflicts
// with the waiting one depends on it, so only independent transactions
// ever commit out of log order. A big transaction runs alone, once
// everything before it committed.
func (r *run) dispatch() {
	if r.s.paused() {
		return
	}
	for r.idle > 0 {
		sent := false
		for _, st := range r.streams {
			if r.idle == 0 {
				break
			}
			batch := r.take(st)
			if batch == nil {
				continue
			}
			for _, it := range batch {
				it.state, it.ticket = dispatched, st.issued
			}
			st.issued++
			st.inflight += len(batch)
			r.idle--
			r.work <- batch
			sent = true
		}
		if !sent {
			return
		}
	}
}

// take picks the next batch of a source: ready queued transactions in log
// order, skipping (within the look-ahead window) those that must wait.
func (r *run) take(st *stream) []*item {
	cfg := &r.s.cfg
	for st.next < len(st.items) && st.items[st.next].state != queued {
		st.next++
	}
	limit := min(len(st.items), st.next+4*cfg.Workers*cfg.BatchTxns)
	prefix := st.inflight == 0 // everything before st.next has committed
	maxTxns := cfg.BatchTxns
	if prefix && len(st.items)-st.next > cfg.BatchTxns {
		// Behind, and nothing in flight: a chain of transactions that
		// each depend on the batch (and could not go to another worker)
		// extends it, to catch up in fewer follower transactions.
		maxTxns = CatchUpBatches * cfg.BatchTxns
		limit = min(len(st.items), max(limit, st.next+maxTxns))
	}
	var batch []*item
	changes := 0
	for i := st.next; i < limit && len(batch) < maxTxns; i++ {
		n := st.items[i]
		if n.state != queued {
			continue
		}
		if n.big {
			if len(batch) == 0 && prefix && i == st.next {
				return []*item{n}
			}
			break // nothing passes a big transaction
		}
		if !prefix && st.w.Seq.Less(n.dep) {
			if r.ordered {
				break // batches are contiguous: commits follow the log
			}
			continue // it waits; look further
		}
		if len(batch) > 0 && changes+len(n.txn.Changes) > cfg.BatchChanges {
			break
		}
		if len(batch) >= cfg.BatchTxns && !st.w.Seq.Less(n.dep) {
			break // independent of the batch: another worker can take it
		}
		batch = append(batch, n)
		changes += len(n.txn.Changes)
	}
	return batch
}

// CatchUpBatches is how many times BatchTxns a batch may take when the
// sink is behind with nothing in flight (see Config.BatchTxns).
const CatchUpBatches = 10

// advance moves the watermark over the committed prefix.
func (r *run) advance(st *stream) {
	moved := false
	for len(st.items) > 0 && st.items[0].state == committed {
		it := st.items[0]
		switch {
		case !it.heartbeat:
			st.w, st.wOffsets = it.ap, it.txn.Offsets
			if it.txn.End.LastSnapshot {
				_, st.indexing = r.s.f.(IndexBuilder)
			}
		case !it.seq.Less(st.w.Seq) && !it.ap.Pos.IsZero():
			// Nothing after the watermark's transaction up to the heartbeat
			// (sent by a source that streams: its snapshot is over).
			st.w.Pos, st.wOffsets, st.w.Snapshotting = it.ap.Pos, it.txn.Offsets, false
		}
		st.items = st.items[1:]
		st.next--
		moved = true
		st.qmu.Lock()
		st.qbytes -= it.txn.Bytes
		st.qcond.Broadcast()
		st.qmu.Unlock()
	}
	if st.next < 0 {
		st.next = 0
	}
	if moved {
		r.s.mu.Lock()
		close(r.s.wake)
		r.s.wake = make(chan struct{})
		r.s.mu.Unlock()
		r.lag()
	}
}

// finished reports whether every source's log ended for this run and
// everything read from it is applied.
func (r *run) finished() bool {
	for _, st := range r.streams {
		if !st.ended || len(st.items) > 0 || st.inflight > 0 {
			return false
		}
	}
	return len(r.streams) > 0
}
