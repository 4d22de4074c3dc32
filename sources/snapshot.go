package sources

import (
	"context"
	"errors"
	"sync"
)

// SnapshotPart is one piece of a snapshot read: a whole table, or one key
// or page range of it. Parts are published in their order in the list
// given to ReadSnapshot, whatever order they are read in.
type SnapshotPart interface {
	// Read reads the part on worker's connection (0 to workers-1) and
	// hands its rows to emit, one chunk at a time, in the order they are
	// to be published. emit blocks while the publisher is behind; it
	// returns an error once the snapshot is failing or ctx is done, which
	// Read must return. Read owns a buffer until it hands it to emit.
	Read(ctx context.Context, worker int, emit func(*TxnBuffer) error) error
}

// ErrSnapshotStopped is what emit returns once another part failed.
var ErrSnapshotStopped = errors.New("snapshot stopped")

// ReadSnapshot reads parts on workers goroutines (worker i uses the i-th
// connection of the caller's) and calls publish with each chunk, on the
// calling goroutine, in part order and, within a part, in Read's order:
// the log sees exactly the sequence one worker reading the parts one
// after another would have produced. Parts start in list order, so the
// part being published is always being read or done; at most workers
// parts are in flight (taken and not yet all published), and a worker
// whose part is ahead waits once ahead chunks of it are queued: at most
// workers*(ahead+1) chunks are held at once, besides the one publish has.
// publish owns (and closes) every buffer it is given; ReadSnapshot closes
// those it never passes on. The first error, of a Read or of publish,
// stops every worker and is returned.
func ReadSnapshot(ctx context.Context, workers, ahead int, parts []SnapshotPart, publish func(*TxnBuffer) error) error {
	if workers < 1 {
		workers = 1
	}
	if ahead < 1 {
		ahead = 1
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		chunks chan *TxnBuffer
		err    error // set before chunks is closed
	}
	results := make([]*result, len(parts))
	for i := range results {
		results[i] = &result{chunks: make(chan *TxnBuffer, ahead)}
	}
	var firstErr error // the first failure of a Read, not a stop it caused
	var errOnce sync.Once
	next := make(chan int) // part indexes, in order
	// inFlight holds a token for each part taken by a worker and not yet
	// all published: a worker done with a part takes the next only while
	// fewer than workers parts are in flight, so finished parts' queued
	// chunks cannot pile up behind a slow one.
	inFlight := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range next {
				res := results[i]
				emit := func(b *TxnBuffer) error {
					select {
					case res.chunks <- b:
						return nil
					case <-ctx.Done():
						b.Close()
						return ErrSnapshotStopped
					}
				}
				err := parts[i].Read(ctx, w, emit)
				if err == nil && ctx.Err() != nil {
					err = ErrSnapshotStopped
				}
				if err != nil && ctx.Err() == nil {
					errOnce.Do(func() { firstErr = err })
					cancel()
				}
				res.err = err
				close(res.chunks)
			}
		}(w)
	}
	go func() {
		defer close(next)
		for i := range parts {
			select {
			case inFlight <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	stop := func() {
		cancel()
		wg.Wait()
		for _, res := range results { // buffers read but never published
		drain:
			for {
				select {
				case b, ok := <-res.chunks:
					if !ok {
						break drain
					}
					b.Close()
				default:
					break drain
				}
			}
		}
	}
	failed := func(err error) error {
		stop()
		switch {
		case firstErr != nil:
			return firstErr
		case parent.Err() != nil:
			return parent.Err()
		}
		return err
	}
	for _, res := range results {
		for {
			var b *TxnBuffer
			var ok bool
			select {
			case b, ok = <-res.chunks:
			case <-ctx.Done(): // the part may never have been taken
				return failed(ErrSnapshotStopped)
			}
			if !ok {
				break
			}
			if err := publish(b); err != nil {
				stop()
				return err
			}
		}
		if res.err != nil {
			return failed(res.err)
		}
		<-inFlight
	}
	stop()
	return nil
}
