package sourcetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/sources"
)

// BenchLoad is a source benchmark's Kafka broker and the size of its
// load, inserts in transactions of PerTxn rows; after every 10th
// transaction, one more updates the rows just inserted.
type BenchLoad struct {
	Broker  string
	Rows    int // WALSHIP_BENCH_ROWS, default 200000
	PerTxn  int // WALSHIP_BENCH_TXN, default 100
	Changes int // the row changes the load makes
}

func benchLoad(b *testing.B) BenchLoad {
	l := BenchLoad{Broker: testenv.Kafka(b), Rows: benchkit.EnvInt(b, "WALSHIP_BENCH_ROWS", 200000),
		PerTxn: benchkit.EnvInt(b, "WALSHIP_BENCH_TXN", 100)}
	l.Changes = l.Rows
	for i := 0; i < l.Rows; {
		i += l.PerTxn
		if i%(l.PerTxn*10) == 0 {
			l.Changes += min(i, l.Rows) - (i - l.PerTxn)
		}
	}
	return l
}

// Bench runs run on the [BenchLoad] of the environment b.N times (one
// iteration is one whole measurement), averages each run's rates of the
// ceiling (what walship is measured against) and of walship, and reports
// them as ceilingUnit, "walship_rows/s" and ratioUnit (walship over the
// ceiling).
func Bench[R any](b *testing.B, ceilingUnit, ratioUnit string, run func(BenchLoad) R, rates func(R) (ceiling, walship float64)) (runs []R, ceiling, walship float64) {
	l := benchLoad(b)
	for i := 0; i < b.N; i++ {
		runs = append(runs, run(l))
	}
	for _, r := range runs {
		c, w := rates(r)
		ceiling += c
		walship += w
	}
	ceiling, walship = ceiling/float64(len(runs)), walship/float64(len(runs))
	b.ReportMetric(0, "ns/op") // one op is a whole measurement: meaningless
	b.ReportMetric(ceiling, ceilingUnit)
	b.ReportMetric(walship, "walship_rows/s")
	b.ReportMetric(walship/ceiling, ratioUnit)
	return runs, ceiling, walship
}

// BenchSource is the part of a source a benchmark runs and watches.
type BenchSource interface {
	Run(ctx context.Context, ready func()) error
	Status() sources.Status
}

// BenchTimes is one timed run of a source, from its start.
type BenchTimes struct {
	Streaming time.Duration // the source called ready (streaming started)
	Published time.Duration // every change handed to the Log
	Elapsed   time.Duration // caughtUp held
	CPU       time.Duration // this process's user+sys CPU meanwhile
}

// RunBench runs src until caughtUp holds of its status (polled every
// 2 ms, for 10 minutes at most: then never's message fails the benchmark,
// as does the source stopping early), stops it, and checks it published
// changes row changes. A non-empty cpuProfile profiles the run alone.
func RunBench(b *testing.B, src BenchSource, changes int, cpuProfile string, caughtUp func(sources.Status) bool, never func(sources.Status) string) BenchTimes {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := false
	stopSource := func() {
		if !stopped {
			stopped = true
			stop()
			if err := <-done; err != nil {
				b.Errorf("source stopped with %v", err)
			}
		}
	}
	defer stopSource()
	defer benchkit.CPUProfile(b, cpuProfile)()
	var r BenchTimes
	var streamingAt atomic.Int64 // ns after t0
	cpu0 := benchkit.ProcessCPU()
	t0 := time.Now()
	go func() { done <- src.Run(ctx, func() { streamingAt.Store(int64(time.Since(t0))) }) }()
	deadline := t0.Add(10 * time.Minute)
	for {
		st := src.Status()
		if r.Published == 0 && st.Events >= int64(changes) {
			r.Published = time.Since(t0)
		}
		if caughtUp(st) {
			break
		}
		select {
		case err := <-done:
			stopped = true
			b.Fatalf("source stopped early: %v; status %+v", err, st)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatal(never(st))
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.Elapsed, r.CPU = time.Since(t0), benchkit.ProcessCPU()-cpu0
	stopSource()
	r.Streaming = time.Duration(streamingAt.Load())
	if st := src.Status(); st.Events != int64(changes) {
		b.Errorf("walship published %d row changes in %d transactions, want %d", st.Events, st.Txns, changes)
	}
	return r
}
