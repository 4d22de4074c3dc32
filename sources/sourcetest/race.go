package sourcetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
)

// RaceSnapshot runs writers goroutines of writer, which writes until ctx
// ends and calls committed for each transaction committed. After 200 ms
// it calls start (which starts the source and waits until it streams),
// lets the writers go on for a second, then stops them and returns the
// count of committed transactions.
func RaceSnapshot(writers int, writer func(ctx context.Context, committed func()), start func()) int64 {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writer(ctx, func() { writes.Add(1) })
		}()
	}
	time.Sleep(200 * time.Millisecond)
	start()
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	return writes.Load()
}

// SnapshotKeys is the set of keys ([RowKey]) of the snapshot's rows in
// l; a key snapshotted twice fails the test.
func SnapshotKeys(t testing.TB, l *logread.Log) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, txn := range l.Txns {
		if !txn.End.Snapshot {
			continue
		}
		for _, e := range txn.Events {
			k := RowKey(e.Change.Table, e.Change.After)
			if seen[k] {
				t.Fatalf("key %s snapshotted twice", k)
			}
			seen[k] = true
		}
	}
	return seen
}

// SnapshotJoinsStream: writers writers race the snapshot of table (read in
// chunks of 1000 rows, [RaceSnapshot]); once the source caught up, the
// snapshot plus the stream converge with the source, with no key
// snapshotted twice. It returns the log and the snapshot's keys.
func SnapshotJoinsStream(t *testing.T, r Source, table string, writers int, writer func(ctx context.Context, committed func())) (*logread.Log, map[string]bool) {
	t.Helper()
	writes := RaceSnapshot(writers, writer, func() { r.StartChunked(1000) })
	r.CaughtUp()
	t.Logf("%d write transactions raced the snapshot", writes)
	l := r.Read()
	r.Converged(l, table)
	return l, SnapshotKeys(t, l)
}
